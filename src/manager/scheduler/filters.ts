// The scheduler's filter pipeline, swarmkit's: each filter accepts or rejects a node for a task
// and, when it rejects, says why in Docker's words; the reasons are tallied into Status.Err.
import { matchConstraint, parseConstraints, type Constraint, type Node, type Task } from '../../api/index.js';
import { fits, requestsOf, type GenericPool } from './generic.js';

export interface NodeInfo {
  node: Node;
  /** Live tasks on the node, by service. */
  tasksByService: Map<string, number>;
  totalTasks: number;
  reservedCPU: number;
  reservedMemory: number;
  /** The node's generic resources not held by its tasks. */
  generic: GenericPool;
  /** Host ports ("tcp/8080") its tasks bind (`--publish mode=host`), stopping ones included. */
  hostPorts: Set<string>;
}

/** A task's host-mode ports with a number, as "protocol/port": the engine picks the others. */
export function hostPortKeys(t: Task): string[] {
  return (t.HostPorts ?? []).flatMap((p) =>
    p.PublishMode === 'host' && p.PublishedPort ? [`${p.Protocol ?? 'tcp'}/${p.PublishedPort}`] : [],
  );
}

export interface Filter {
  name: string;
  /** Set up for one task; returns false if the filter does not apply to it. */
  enabled(task: Task): boolean;
  check(task: Task, info: NodeInfo): boolean;
  /** The explanation for `n` rejected nodes. */
  explain(n: number): string;
}

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

// A node that is down or not active takes nothing new: one filter and one reason, as Docker's.
export const readyFilter: Filter = {
  name: 'ready',
  enabled: () => true,
  check: (_t, i) => i.node.Status.State === 'ready' && (i.node.Spec.Availability ?? 'active') === 'active',
  explain: (n) => `${plural(n, 'node', 'nodes')} not available for new tasks`,
};

const constraintCache = new WeakMap<object, Constraint[]>();
function constraintsOf(t: Task): Constraint[] {
  const spec = t.Spec;
  let c = constraintCache.get(spec);
  if (!c) {
    c = parseConstraints(spec.Placement?.Constraints ?? []);
    constraintCache.set(spec, c);
  }
  return c;
}

export const constraintFilter: Filter = {
  name: 'constraints',
  enabled: (t) => (t.Spec.Placement?.Constraints?.length ?? 0) > 0,
  check: (t, i) => constraintsOf(t).every((c) => matchConstraint(i.node, c)),
  explain: (n) => `scheduling constraints not satisfied on ${plural(n, 'node', 'nodes')}`,
};

export const platformFilter: Filter = {
  name: 'platform',
  enabled: (t) => (t.Spec.Placement?.Platforms?.length ?? 0) > 0,
  check: (t, i) =>
    (t.Spec.Placement?.Platforms ?? []).some(
      (p) =>
        (!p.OS || p.OS === i.node.Description.Platform.OS) &&
        (!p.Architecture || p.Architecture === i.node.Description.Platform.Architecture),
    ),
  explain: (n) => `unsupported platform on ${plural(n, 'node', 'nodes')}`,
};

/** CPU, memory and generic resources reserved by the node's tasks, one filter as in Swarm. */
export const resourceFilter: Filter = {
  name: 'resources',
  enabled: (t) => {
    const r = t.Spec.Resources?.Reservations;
    return (r?.NanoCPUs ?? 0) > 0 || (r?.MemoryBytes ?? 0) > 0 || requestsOf(t).length > 0;
  },
  check: (t, i) => {
    const r = t.Spec.Resources?.Reservations;
    const res = i.node.Description.Resources;
    return (
      res.NanoCPUs - i.reservedCPU >= (r?.NanoCPUs ?? 0) &&
      res.MemoryBytes - i.reservedMemory >= (r?.MemoryBytes ?? 0) &&
      fits(i.generic, requestsOf(t))
    );
  },
  explain: (n) => `insufficient resources on ${plural(n, 'node', 'nodes')}`,
};

export const maxReplicasFilter: Filter = {
  name: 'max-replicas',
  enabled: (t) => (t.Spec.Placement?.MaxReplicas ?? 0) > 0,
  check: (t, i) => (i.tasksByService.get(t.ServiceID) ?? 0) < (t.Spec.Placement?.MaxReplicas ?? 0),
  explain: () => 'max replicas per node limit exceed',
};

/** swarmkit's HostPortFilter: a node whose tasks bind a host port takes no other task wanting it. */
export const hostPortFilter: Filter = {
  name: 'host-port',
  enabled: (t) => hostPortKeys(t).length > 0,
  check: (t, i) => !hostPortKeys(t).some((k) => i.hostPorts.has(k)),
  explain: (n) => `host-mode port already in use on ${plural(n, 'node', 'nodes')}`,
};

export const PIPELINE: readonly Filter[] = [
  readyFilter,
  resourceFilter,
  constraintFilter,
  platformFilter,
  hostPortFilter,
  maxReplicasFilter,
];

/**
 * Runs the pipeline; returns the nodes that pass, or why none does: the filters' reasons, most
 * rejections first (Swarm's order). A task bound to one node (global) gets the bare reason.
 */
export function filterNodes(
  task: Task,
  infos: readonly NodeInfo[],
  bound = false,
): { ok: NodeInfo[]; reason?: string } {
  const active = PIPELINE.filter((f) => f.enabled(task));
  const rejected = new Map<Filter, number>();
  const ok: NodeInfo[] = [];
  for (const info of infos) {
    const failing = active.find((f) => !f.check(task, info));
    if (failing) rejected.set(failing, (rejected.get(failing) ?? 0) + 1);
    else ok.push(info);
  }
  if (ok.length > 0) return { ok };
  const why = active
    .filter((f) => rejected.has(f))
    .sort((a, b) => rejected.get(b)! - rejected.get(a)!)
    .map((f) => f.explain(rejected.get(f)!))
    .join('; ');
  if (bound) return { ok, reason: why };
  return { ok, reason: why ? `no suitable node (${why})` : 'no suitable node' };
}
