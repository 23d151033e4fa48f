// The task model's shared rules: state order, slots, "dirty" (out of date) tasks and task creation.
import { isoTime } from '../../platform/index.js';
import {
  newId,
  stateOrder,
  isTerminal,
  type Service,
  type PortConfig,
  type Task,
  type TaskState,
  type UpdateConfig,
  type RestartPolicy,
} from '../../api/index.js';

export { stateOrder, isTerminal };
/** A task that is still meant to run (or, for jobs, to run to completion). */
export function isLive(t: Task): boolean {
  return stateOrder(t.DesiredState) <= stateOrder('complete') && t.DesiredState !== 'shutdown';
}

/** A task told to shut down whose container may still run: its slot is not free yet. */
export function isStopping(t: Task): boolean {
  return (
    t.DesiredState === 'shutdown' &&
    !isTerminal(t.Status.State) &&
    stateOrder(t.Status.State) >= stateOrder('assigned')
  );
}

export type ModeKind = 'replicated' | 'global' | 'replicated-job' | 'global-job';
export function modeOf(s: Service): ModeKind {
  const m = s.Spec.Mode ?? {};
  if (m.Global) return 'global';
  if (m.ReplicatedJob) return 'replicated-job';
  if (m.GlobalJob) return 'global-job';
  return 'replicated';
}
export function isJob(s: Service): boolean {
  const k = modeOf(s);
  return k === 'replicated-job' || k === 'global-job';
}

/** Replicated tasks are keyed by slot, global ones by node. */
export function slotKey(t: Task): string {
  return t.Slot !== undefined ? `s${t.Slot}` : `n${t.NodeID ?? ''}`;
}

export function jobIteration(s: Service): number {
  return s.JobStatus?.JobIteration.Index ?? 0;
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

const isEmpty = (v: unknown): boolean =>
  !!v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => x === undefined);

/**
 * A task template as compared: the empty defaults that shoal stored before it kept specs as sent
 * (`Init: false`, `DNSConfig: {}`, `Resources: {Limits: {}, Reservations: {}}`, `Placement: {}`)
 * mean what their absence means. Without this, the first unchanged `stack deploy` after an upgrade
 * would restart every task of every service.
 */
function comparableTemplate(t: object): string {
  const tt = t as Record<string, unknown> & { ContainerSpec?: Record<string, unknown> };
  const out: Record<string, unknown> = { ...tt };
  const res = tt.Resources as Record<string, unknown> | undefined;
  if (res) {
    const kept = Object.fromEntries(Object.entries(res).filter(([, v]) => !isEmpty(v) && v !== undefined));
    out.Resources = Object.keys(kept).length > 0 ? kept : undefined;
  }
  if (isEmpty(tt.Placement)) out.Placement = undefined;
  if (tt.ContainerSpec) {
    const cs = { ...tt.ContainerSpec };
    if (cs.Init === false) delete cs.Init;
    if (isEmpty(cs.DNSConfig)) delete cs.DNSConfig;
    out.ContainerSpec = cs;
  }
  return canonical(out);
}

/** Two task templates that run the same tasks (see comparableTemplate). */
export function sameTemplate(a: object | undefined, b: object | undefined): boolean {
  return comparableTemplate(a ?? NO_TEMPLATE) === comparableTemplate(b ?? NO_TEMPLATE);
}

// Every reconcile pass asks of every task whether it is dirty; comparing canonical JSON each time
// made a pass O(tasks × spec size). Stored objects are frozen and never change, so the answer
// for a (task spec, template) pair is kept until the service gets a new template.
const canonicalTemplate = new WeakMap<object, string>();
const dirtyMemo = new WeakMap<object, { template: object; dirty: boolean }>();
const NO_TEMPLATE = Object.freeze({});

/** The ports a service's tasks bind on their own node (`--publish mode=host`), as allocated. */
export function hostModePorts(s: Service): PortConfig[] {
  return (s.Endpoint.Ports ?? []).filter((p) => p.PublishMode === 'host').map((p) => ({ ...p }));
}

/** Whether a service publishes a port through the routing mesh (its tasks join ingress). */
export function publishesIngress(s: Service): boolean {
  return (s.Endpoint.Ports ?? []).some((p) => (p.PublishMode ?? 'ingress') === 'ingress');
}

/**
 * Whether the service's published ports changed what its allocated task holds: host-mode ports
 * its container binds, or joining the ingress network. As swarmkit (its task endpoint differs),
 * such a task is replaced by the update; a task still NEW is allocated from the service as it is.
 */
export function endpointDirty(service: Service, task: Task): boolean {
  if (task.Status.State === 'new' || task.ServiceID === '') return false;
  if (!sameJson(task.HostPorts ?? [], hostModePorts(service))) return true;
  const onIngress = (task.NetworksAttachments ?? []).some((a) => a.Network.Spec.Ingress === true);
  return onIngress !== publishesIngress(service);
}

/**
 * A task is dirty when it was made from another task template than the service has now, or
 * holds other published ports than its service's (endpointDirty).
 */
export function isTaskDirty(service: Service, task: Task): boolean {
  return templateDirty(service, task) || endpointDirty(service, task);
}

function templateDirty(service: Service, task: Task): boolean {
  const template: object = service.Spec.TaskTemplate ?? NO_TEMPLATE;
  const spec: object = task.Spec;
  if (!Object.isFrozen(template) || !Object.isFrozen(spec)) return !sameTemplate(spec, template);
  const memo = dirtyMemo.get(spec);
  if (memo?.template === template) return memo.dirty;
  let t = canonicalTemplate.get(template);
  if (t === undefined) canonicalTemplate.set(template, (t = comparableTemplate(template)));
  const dirty = comparableTemplate(spec) !== t;
  dirtyMemo.set(spec, { template, dirty });
  return dirty;
}

export const DEFAULT_RESTART: Required<Omit<RestartPolicy, 'Window'>> & { Window: number } = {
  Condition: 'any',
  Delay: 5e9,
  MaxAttempts: 0,
  Window: 0,
};
export function restartPolicy(s: Service): typeof DEFAULT_RESTART {
  const p = s.Spec.TaskTemplate?.RestartPolicy ?? {};
  return {
    Condition: p.Condition ?? DEFAULT_RESTART.Condition,
    Delay: p.Delay ?? DEFAULT_RESTART.Delay,
    MaxAttempts: p.MaxAttempts ?? 0,
    Window: p.Window ?? 0,
  };
}

export const DEFAULT_UPDATE: Required<UpdateConfig> = {
  Parallelism: 1,
  Delay: 0,
  FailureAction: 'pause',
  Monitor: 5e9,
  MaxFailureRatio: 0,
  Order: 'stop-first',
};
export function updateConfig(cfg: UpdateConfig | undefined): Required<UpdateConfig> {
  return {
    ...DEFAULT_UPDATE,
    ...Object.fromEntries(Object.entries(cfg ?? {}).filter(([, v]) => v !== undefined)),
  };
}

export function newTask(
  service: Service,
  opts: { now: number; slot?: number; nodeId?: string; desired?: TaskState; id?: string },
): Task {
  const ts = isoTime(opts.now);
  const job = isJob(service);
  const task: Task = {
    ID: opts.id ?? newId(),
    Version: { Index: 0 },
    CreatedAt: ts,
    UpdatedAt: ts,
    Labels: {},
    Spec: structuredClone(service.Spec.TaskTemplate ?? {}) as Task['Spec'],
    ServiceID: service.ID,
    Status: { Timestamp: ts, State: 'new', Message: 'created', PortStatus: {} },
    DesiredState: opts.desired ?? (job ? 'complete' : 'running'),
  };
  if (opts.slot !== undefined) task.Slot = opts.slot;
  if (opts.nodeId !== undefined) task.NodeID = opts.nodeId;
  if (job) task.JobIteration = service.JobStatus?.JobIteration.Index ? { Index: jobIteration(service) } : {};
  return task;
}

/** Returns a copy of a task with a new desired state. */
export function withDesired(t: Task, desired: TaskState, now: number): Task {
  return { ...structuredClone(t), DesiredState: desired, UpdatedAt: isoTime(now) } as Task;
}
