// The restart supervisor: a live task that stopped (or whose node went down) is replaced in the
// same slot when its RestartPolicy allows. Delayed restarts create the replacement with desired
// state READY (the agent prepares it) and flip it to RUNNING when the delay has passed.
import type { Node, Service, Task } from '../../api/index.js';
import {
  isJob,
  isLive,
  isTaskDirty,
  isTerminal,
  newTask,
  restartPolicy,
  slotKey,
  withDesired,
} from './tasks.js';
import type { Plan } from './plan.js';

/** Restart times per slot, kept in memory as swarmkit does, for MaxAttempts and Window. */
export class RestartHistory {
  #bySlot = new Map<string, number[]>();
  #limit = 1000;
  record(serviceId: string, key: string, now: number): void {
    const k = `${serviceId}/${key}`;
    const l = this.#bySlot.get(k) ?? [];
    l.push(now);
    if (l.length > 100) l.shift();
    this.#bySlot.set(k, l);
    if (this.#bySlot.size > this.#limit) this.#bySlot.delete(this.#bySlot.keys().next().value!);
  }
  count(serviceId: string, key: string, since: number): number {
    return (this.#bySlot.get(`${serviceId}/${key}`) ?? []).filter((t) => t >= since).length;
  }
  forget(serviceId: string): void {
    for (const k of this.#bySlot.keys()) if (k.startsWith(`${serviceId}/`)) this.#bySlot.delete(k);
  }
}

export interface RestartInput {
  service: Service;
  tasks: readonly Task[];
  nodes: ReadonlyMap<string, Node>;
  now: number;
  history: RestartHistory;
}

/**
 * Why a live task must be replaced, or undefined if it is fine. 'node': its node is gone, down
 * or drained, so the task must move whatever its restart policy says (as in Swarm).
 */
function stopReason(
  t: Task,
  nodes: ReadonlyMap<string, Node>,
  job: boolean,
): 'node' | 'failure' | 'success' | undefined {
  if (!isTerminal(t.Status.State)) {
    const node = t.NodeID ? nodes.get(t.NodeID) : undefined;
    if (t.NodeID && (!node || node.Status.State === 'down' || node.Spec.Availability === 'drain'))
      return 'node';
    return undefined;
  }
  if (t.Status.State === 'complete') return job ? undefined : 'success';
  return 'failure';
}

export function planRestarts({ service, tasks, nodes, now, history }: RestartInput): {
  plan: Plan;
  wakeAt?: number;
} {
  const plan: Plan = { create: [], update: [] };
  const job = isJob(service);
  const policy = restartPolicy(service);
  const delayMs = policy.Delay / 1e6;
  let wakeAt: number | undefined;
  // A slot gets one replacement at most, and none while another of its live tasks is fine: a
  // slot can hold two live tasks during a start-first update, and when both stop (their node
  // went down) one new task takes the slot, not two.
  // Only an up-to-date task fills a slot: during an update the old task must not stand in for a
  // new one that the updater waits for.
  const filled = new Set<string>();
  for (const t of tasks)
    if (isLive(t) && !stopReason(t, nodes, job) && !isTaskDirty(service, t)) filled.add(slotKey(t));
  const claim = (key: string): boolean => {
    if (filled.has(key)) return false;
    filled.add(key);
    return true;
  };
  for (const t of tasks) {
    if (!isLive(t)) continue;
    // A delayed replacement waiting for its start time.
    if (t.DesiredState === 'ready') {
      const startAt = Date.parse(t.CreatedAt) + delayMs;
      // Jobs run to completion, services keep running.
      if (now >= startAt) plan.update.push(withDesired(t, job ? 'complete' : 'running', now));
      else wakeAt = Math.min(wakeAt ?? Infinity, startAt);
      continue;
    }
    const why = stopReason(t, nodes, job);
    if (!why) continue;
    const key = slotKey(t);
    if (why === 'node') {
      plan.update.push(withDesired(t, 'shutdown', now));
      // Global tasks belong to their node: the global orchestrator decides about that node.
      if (t.Slot === undefined || !claim(key)) continue;
      // The task did not crash, so no crash-loop delay: the replacement starts at once (Swarm
      // waits the restart delay here too, which adds 5 s to every node failure).
      history.record(service.ID, key, now);
      plan.create.push(newTask(service, { now, slot: t.Slot }));
      continue;
    }
    const allowed = policy.Condition === 'any' || (policy.Condition === 'on-failure' && why === 'failure');
    const windowStart = policy.Window > 0 ? now - policy.Window / 1e6 : 0;
    const exhausted =
      policy.MaxAttempts > 0 && history.count(service.ID, key, windowStart) >= policy.MaxAttempts;
    if (!allowed || exhausted) continue;
    plan.update.push(withDesired(t, 'shutdown', now));
    if (!claim(key)) continue;
    history.record(service.ID, key, now);
    const replacement = newTask(service, {
      now,
      ...(t.Slot !== undefined ? { slot: t.Slot } : {}),
      ...(t.Slot === undefined && t.NodeID ? { nodeId: t.NodeID } : {}),
      ...(delayMs > 0 ? { desired: 'ready' as const } : {}),
    });
    if (delayMs > 0) wakeAt = Math.min(wakeAt ?? Infinity, now + delayMs);
    plan.create.push(replacement);
  }
  return wakeAt === undefined ? { plan } : { plan, wakeAt };
}
