// Templated secrets and configs (template driver "golang"), expanded for one task as swarmkit's
// templated getters do: the task's context, its own container environment (after the spec's
// templates), and the raw data of its own secrets and configs, found by their file target.
// The expanded value goes only to the task's tmpfs file; errors name the template, never a value.
import {
  expandPayload,
  expandTask,
  MAX_CONFIG_SIZE,
  payloadError,
  swarmContext,
  TemplateError,
  type NodeAssignment,
  type Payload,
} from '../../api/index.js';

/** The bytes a task's file holds: the payload itself, or its template expanded for the task. */
export function expandedPayload(
  a: NodeAssignment,
  kind: 'secret' | 'config',
  p: Payload,
  payloads: ReadonlyMap<string, Payload>,
): Uint8Array {
  if (!p.templating) return p.data;
  const failed = (msg: string): Error => new Error(`failed to expand templated ${kind} ${p.id}: ${msg}`);
  if (p.templating !== 'golang') throw failed('unrecognized template type');
  // The spec's own templates first: a task whose env cannot expand fails with that error.
  const task = expandTask(a, a.node?.ID ?? '');
  const cs = task.task.Spec.ContainerSpec;
  const raw = (what: 'secret' | 'config', id: string): string => {
    const found = payloads.get(id);
    if (!found) throw payloadError(`${what} ${id} not found`);
    return Buffer.from(found.data).toString('utf8');
  };
  try {
    return expandPayload(
      p.data,
      swarmContext(task),
      {
        env: cs?.Env ?? [],
        secret: (target) => {
          const ref = (cs?.Secrets ?? []).find((r) => r.File?.Name === target);
          if (!ref) throw payloadError(`secret target ${target} not found`);
          return raw('secret', ref.SecretID);
        },
        config: (target) => {
          const ref = (cs?.Configs ?? []).find((r) => r.File?.Name === target);
          if (!ref) throw payloadError(`config target ${target} not found`);
          return raw('config', ref.ConfigID);
        },
      },
      MAX_CONFIG_SIZE,
    ).data;
  } catch (e) {
    if (e instanceof TemplateError) throw failed(e.message);
    throw e;
  }
}
