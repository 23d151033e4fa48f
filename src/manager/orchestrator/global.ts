// Global services: one live task on every eligible node. Pure.
import { matchConstraint, parseConstraints, type Node, type Service, type Task } from '../../api/index.js';
import { isLive, isStopping, newTask, withDesired } from './tasks.js';
import type { Plan } from './plan.js';

/** Nodes that may run this service's tasks at all (not down, not drained, constraints met). */
export function eligibleNodes(service: Service, nodes: readonly Node[]): Node[] {
  const constraints = parseConstraints(service.Spec.TaskTemplate?.Placement?.Constraints ?? []);
  return nodes.filter(
    (n) =>
      n.Status.State !== 'down' &&
      n.Spec.Availability !== 'drain' &&
      constraints.every((c) => matchConstraint(n, c)),
  );
}

export function planGlobal(
  service: Service,
  tasks: readonly Task[],
  nodes: readonly Node[],
  now: number,
  /** While an update runs, a node whose old task is still stopping gets no new one yet (stop-first). */
  updating = false,
): Plan {
  const plan: Plan = { create: [], update: [] };
  const eligible = eligibleNodes(service, nodes);
  const eligibleIds = new Set(eligible.map((n) => n.ID));
  const liveByNode = new Map<string, Task[]>();
  const stopping = new Set<string>();
  for (const t of tasks) {
    if (!t.NodeID) continue;
    if (isLive(t)) liveByNode.set(t.NodeID, [...(liveByNode.get(t.NodeID) ?? []), t]);
    else if (updating && isStopping(t)) stopping.add(t.NodeID);
  }
  for (const [nodeId, live] of liveByNode) {
    if (!eligibleIds.has(nodeId)) for (const t of live) plan.update.push(withDesired(t, 'shutdown', now));
  }
  for (const n of eligible) {
    // A paused node keeps what it runs but gets nothing new.
    if (!liveByNode.has(n.ID) && !stopping.has(n.ID) && n.Spec.Availability !== 'pause')
      plan.create.push(newTask(service, { now, nodeId: n.ID }));
  }
  return plan;
}
