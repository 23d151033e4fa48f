// The scheduler's filter pipeline. Each filter accepts or rejects a node for a task and, when it
// rejects, says why in words a user can act on; the reasons are tallied into Status.Err.
import { matchConstraint, parseConstraints, type Constraint, type Node, type Task } from '../../api/index.js';

export interface NodeInfo {
  node: Node;
  /** Live tasks on the node, by service. */
  tasksByService: Map<string, number>;
  totalTasks: number;
  reservedCPU: number;
  reservedMemory: number;
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

export const readyFilter: Filter = {
  name: 'ready',
  enabled: () => true,
  check: (_t, i) => i.node.Status.State === 'ready',
  explain: (n) => `${plural(n, 'node', 'nodes')} not ready`,
};

export const availabilityFilter: Filter = {
  name: 'availability',
  enabled: () => true,
  check: (_t, i) => (i.node.Spec.Availability ?? 'active') === 'active',
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

export const cpuFilter: Filter = {
  name: 'cpu',
  enabled: (t) => (t.Spec.Resources?.Reservations?.NanoCPUs ?? 0) > 0,
  check: (t, i) =>
    i.node.Description.Resources.NanoCPUs - i.reservedCPU >= (t.Spec.Resources?.Reservations?.NanoCPUs ?? 0),
  explain: (n) => `${plural(n, 'node', 'nodes')} had insufficient CPU`,
};

export const memoryFilter: Filter = {
  name: 'memory',
  enabled: (t) => (t.Spec.Resources?.Reservations?.MemoryBytes ?? 0) > 0,
  check: (t, i) =>
    i.node.Description.Resources.MemoryBytes - i.reservedMemory >=
    (t.Spec.Resources?.Reservations?.MemoryBytes ?? 0),
  explain: (n) => `${plural(n, 'node', 'nodes')} had insufficient memory`,
};

export const maxReplicasFilter: Filter = {
  name: 'max-replicas',
  enabled: (t) => (t.Spec.Placement?.MaxReplicas ?? 0) > 0,
  check: (t, i) => (i.tasksByService.get(t.ServiceID) ?? 0) < (t.Spec.Placement?.MaxReplicas ?? 0),
  explain: (n) => `max replicas per node limit reached on ${plural(n, 'node', 'nodes')}`,
};

export const PIPELINE: readonly Filter[] = [
  readyFilter,
  availabilityFilter,
  platformFilter,
  constraintFilter,
  cpuFilter,
  memoryFilter,
  maxReplicasFilter,
];

/** Runs the pipeline; returns the nodes that pass, or the reason none does. */
export function filterNodes(task: Task, infos: readonly NodeInfo[]): { ok: NodeInfo[]; reason?: string } {
  const active = PIPELINE.filter((f) => f.enabled(task));
  const rejected = new Map<Filter, number>();
  const ok: NodeInfo[] = [];
  for (const info of infos) {
    const failing = active.find((f) => !f.check(task, info));
    if (failing) rejected.set(failing, (rejected.get(failing) ?? 0) + 1);
    else ok.push(info);
  }
  if (ok.length > 0) return { ok };
  if (infos.length === 0) return { ok, reason: 'no suitable node (no nodes in the cluster)' };
  const parts = active.filter((f) => rejected.has(f)).map((f) => f.explain(rejected.get(f)!));
  return { ok, reason: `no suitable node (${parts.join('; ')})` };
}
