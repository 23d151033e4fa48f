// Swarm's template contexts (swarmkit's template package): what {{.Service.Name}}, {{.Node.Hostname}},
// {{.Task.Slot}} … mean for one task on one node, which fields of a ContainerSpec are expanded,
// and how a templated secret or config payload is expanded with env, secret and config.
import { invalidArgument } from '../errors.js';
import type { Assignment } from '../dispatcher.js';
import type { ContainerSpec, Labels, Mount, Task } from '../types.js';
import { FuncError, type TemplateFunc } from './builtins.js';
import { Budget, compile } from './exec.js';

/** Bytes all of a spec's expanded fields may add up to (API bodies are at most 2 MiB). */
const SPEC_OUTPUT = 4 << 20;
import { TemplateError } from './parse.js';
import { BOOL, STRING, goQuote, str, stringMap, type GoType, type GoValue } from './values.js';

/** What a template may know of the node a task runs on. */
export interface TemplateNode {
  ID: string;
  Hostname: string;
  Platform: { Architecture: string; OS: string };
}

/** An assignment with the node it runs on, as the executor hands it to its controller. */
export type NodeAssignment = Assignment & { node?: TemplateNode };

/** The values of swarmkit's template.Context. */
export interface SwarmContext {
  service: { id: string; name: string; labels: Labels | undefined };
  node: TemplateNode;
  task: { id: string; name: string; slot: string };
}

const PLATFORM: GoType = {
  k: 'struct',
  name: 'template.Platform',
  fields: [
    { name: 'Architecture', type: STRING },
    { name: 'OS', type: STRING },
  ],
};
const SERVICE: GoType = {
  k: 'struct',
  fields: [
    { name: 'ID', type: STRING },
    { name: 'Name', type: STRING },
    { name: 'Labels', type: { k: 'map', key: STRING, elem: STRING } },
  ],
};
const NODE: GoType = {
  k: 'struct',
  fields: [
    { name: 'ID', type: STRING },
    { name: 'Hostname', type: STRING },
    { name: 'Platform', type: PLATFORM },
  ],
};
const TASK: GoType = {
  k: 'struct',
  fields: [
    { name: 'ID', type: STRING },
    { name: 'Name', type: STRING },
    { name: 'Slot', type: STRING },
  ],
};
const CONTEXT: GoType = {
  k: 'struct',
  name: 'template.Context',
  fields: [
    { name: 'Service', type: SERVICE },
    { name: 'Node', type: NODE },
    { name: 'Task', type: TASK },
  ],
};
// Its unexported fields are there so that {{.t}} fails as it does in Go.
const PAYLOAD_CONTEXT: GoType = {
  k: 'struct',
  name: 'template.PayloadContext',
  fields: [
    { name: 'Context', type: CONTEXT, embedded: true },
    { name: 't', type: { k: 'opaque', name: '*api.Task' } },
    { name: 'restrictedSecrets', type: { k: 'opaque', name: 'exec.SecretGetter' } },
    { name: 'restrictedConfigs', type: { k: 'opaque', name: 'exec.ConfigGetter' } },
    { name: 'sensitive', type: BOOL },
  ],
};

const struct = (t: GoType, fields: Record<string, GoValue>): GoValue => ({ t, v: fields });

function contextValue(c: SwarmContext): GoValue {
  return struct(CONTEXT, {
    Service: struct(SERVICE, {
      ID: str(c.service.id),
      Name: str(c.service.name),
      Labels: stringMap(c.service.labels),
    }),
    Node: struct(NODE, {
      ID: str(c.node.ID),
      Hostname: str(c.node.Hostname),
      Platform: struct(PLATFORM, {
        Architecture: str(c.node.Platform.Architecture),
        OS: str(c.node.Platform.OS),
      }),
    }),
    Task: struct(TASK, { ID: str(c.task.id), Name: str(c.task.name), Slot: str(c.task.slot) }),
  });
}

/** The context of a task on a node: Task.Name is `<service>.<slot or node ID>.<task ID>`. */
export function swarmContext(a: NodeAssignment, fallbackNodeId = ''): SwarmContext {
  const t: Task = a.task;
  const nodeId = t.NodeID ?? a.node?.ID ?? fallbackNodeId;
  const slot = t.Slot ? String(t.Slot) : nodeId;
  return {
    service: { id: t.ServiceID, name: a.serviceName, labels: a.serviceLabels },
    node: {
      ID: nodeId,
      Hostname: a.node?.Hostname ?? '',
      Platform: { Architecture: a.node?.Platform.Architecture ?? '', OS: a.node?.Platform.OS ?? '' },
    },
    task: { id: t.ID, name: `${a.serviceName}.${slot}.${t.ID}`, slot },
  };
}

/** The stand-in task swarmkit's API validates a spec's templates against. */
export const VALIDATION_CONTEXT: SwarmContext = {
  service: { id: 'serviceid', name: 'servicename', labels: undefined },
  node: { ID: 'nodeid', Hostname: 'nodeHostname', Platform: { Architecture: 'architecture', OS: 'os' } },
  task: { id: '', name: 'taskname', slot: '1' },
};

const SWARM_FUNCS: Record<string, TemplateFunc> = {
  // swarmkit's one extra function: the separator comes first.
  join: {
    params: [],
    variadic: 'string',
    call: (args) => {
      const [sep, ...rest] = args.map((a) => a!.v as string);
      if (sep === undefined) throw new FuncError('runtime error: index out of range [0] with length 0');
      return str(rest.join(sep));
    },
  },
};

/** Expands one string as a spec field (ctx.Expand in swarmkit). */
export function expandString(s: string, ctx: SwarmContext, budget = new Budget()): string {
  if (!s.includes('{{')) return s;
  return compile(s, SWARM_FUNCS).execute({ t: { k: 'ptr', elem: CONTEXT }, v: contextValue(ctx) }, budget);
}

const wrap = (prefix: string, e: unknown): never => {
  if (e instanceof TemplateError) throw new TemplateError(`${prefix}: ${e.message}`);
  throw e;
};

function expandMap(
  m: Record<string, string> | undefined,
  ctx: SwarmContext,
  b: Budget,
): Record<string, string> | undefined {
  if (!m) return m;
  const out: Record<string, string> = {};
  for (const k of Object.keys(m).sort()) {
    try {
      out[k] = expandString(m[k]!, ctx, b);
    } catch (e) {
      wrap(`expanding map entry ${goQuote(k)}=${goQuote(m[k]!)}`, e);
    }
  }
  return out;
}

function expandMount(m: Mount, ctx: SwarmContext, b: Budget): Mount {
  const out: Mount = { ...m };
  try {
    if (m.Source !== undefined) out.Source = expandString(m.Source, ctx, b);
  } catch (e) {
    wrap(`expanding mount source ${goQuote(m.Source ?? '')}`, e);
  }
  try {
    if (m.Target !== undefined) out.Target = expandString(m.Target, ctx, b);
  } catch (e) {
    wrap(`expanding mount target ${goQuote(m.Target ?? '')}`, e);
  }
  if (m.VolumeOptions) {
    const vo = { ...m.VolumeOptions };
    try {
      const labels = expandMap(vo.Labels, ctx, b);
      if (labels) vo.Labels = labels;
    } catch (e) {
      wrap('expanding volume labels', e);
    }
    if (vo.DriverConfig) {
      try {
        const options = expandMap(vo.DriverConfig.Options, ctx, b);
        vo.DriverConfig = { ...vo.DriverConfig, ...(options ? { Options: options } : {}) };
      } catch (e) {
        wrap('expanding volume driver config', e);
      }
    }
    out.VolumeOptions = vo;
  }
  return out;
}

/**
 * The ContainerSpec a task runs with: its Env values, Hostname and mounts (source, target, volume
 * labels and driver options) expanded, as swarmkit's ExpandContainerSpec; nothing else is.
 * Throws a TemplateError worded as swarmkit's ("expanding env failed: …").
 */
export function expandContainerSpec(cs: ContainerSpec, ctx: SwarmContext): ContainerSpec {
  // One budget for all the spec's fields: a body of many small templates costs what one does.
  const b = new Budget(1_000_000, SPEC_OUTPUT);
  const out: ContainerSpec = { ...cs };
  if (cs.Env) {
    out.Env = cs.Env.map((entry) => {
      const i = entry.indexOf('=');
      if (i < 0) return entry;
      try {
        return `${entry.slice(0, i)}=${expandString(entry.slice(i + 1), ctx, b)}`;
      } catch (e) {
        return wrap(`expanding env failed: expanding env ${goQuote(entry)}`, e);
      }
    });
  }
  if (cs.Mounts) {
    try {
      out.Mounts = cs.Mounts.map((m) => expandMount(m, ctx, b));
    } catch (e) {
      wrap('expanding mounts failed', e);
    }
  }
  if (cs.Hostname !== undefined) {
    try {
      out.Hostname = expandString(cs.Hostname, ctx, b);
    } catch (e) {
      wrap('expanding hostname failed', e);
    }
  }
  return out;
}

/** The task's spec with its templates expanded for the node it runs on. */
export function expandTask(a: NodeAssignment, nodeId: string): NodeAssignment {
  const cs = a.task.Spec.ContainerSpec;
  if (!cs) return a;
  const expanded = expandContainerSpec(cs, swarmContext(a, nodeId));
  return { ...a, task: { ...a.task, Spec: { ...a.task.Spec, ContainerSpec: expanded } } };
}

/** What a payload template reaches besides the context: the task's own secrets and configs. */
export interface PayloadSources {
  /** The task's container environment, after its own templates were expanded. */
  env: readonly string[];
  /** The raw data of the secret the task mounts at this target, or a reason it has none. */
  secret(target: string): string;
  config(target: string): string;
}

/**
 * Expands a templated secret or config for one task (swarmkit's PayloadContext): the spec's
 * context plus env, secret and config. `sensitive` is true when a secret's value went in.
 */
export function expandPayload(
  data: Uint8Array,
  ctx: SwarmContext,
  sources: PayloadSources,
  maxOutput: number,
): { data: Buffer; sensitive: boolean } {
  let sensitive = false;
  const lookup = (f: (name: string) => string, mark: boolean): TemplateFunc => ({
    params: ['string'],
    call: ([name]) => {
      const v = f(name!.v as string);
      if (mark) sensitive = true;
      return str(v);
    },
  });
  const funcs: Record<string, TemplateFunc> = {
    ...SWARM_FUNCS,
    env: {
      params: ['string'],
      call: ([name]) => {
        const prefix = `${name!.v as string}=`;
        const hit = sources.env.find((e) => e.startsWith(prefix) && e.indexOf('=') === prefix.length - 1);
        return str(hit === undefined ? '' : hit.slice(prefix.length));
      },
    },
    secret: lookup((n) => sources.secret(n), true),
    config: lookup((n) => sources.config(n), false),
  };
  const dot: GoValue = {
    t: { k: 'ptr', elem: PAYLOAD_CONTEXT },
    v: struct(PAYLOAD_CONTEXT, {
      Context: contextValue(ctx),
      t: { t: { k: 'opaque', name: '*api.Task' }, v: {} },
      restrictedSecrets: { t: { k: 'opaque', name: 'exec.SecretGetter' }, v: {} },
      restrictedConfigs: { t: { k: 'opaque', name: 'exec.ConfigGetter' }, v: {} },
      sensitive: { t: BOOL, v: false },
    }),
  };
  const src = Buffer.from(data).toString('utf8');
  const out = compile(src, funcs).execute(dot, new Budget(1_000_000, maxOutput));
  return { data: Buffer.from(out, 'utf8'), sensitive };
}

/** A function's own failure inside a payload template ("secret target x not found"). */
export const payloadError = (msg: string): FuncError => new FuncError(msg);

/**
 * Refuses a spec whose templates fail for swarmkit's stand-in task, as Docker's API does at
 * create and update (InvalidArgument): a bad template is a 400, not a task that never starts.
 */
export function checkSpecTemplates(cs: ContainerSpec): void {
  try {
    expandContainerSpec(cs, VALIDATION_CONTEXT);
  } catch (e) {
    if (e instanceof TemplateError) throw invalidArgument(e.message);
    throw e;
  }
}
