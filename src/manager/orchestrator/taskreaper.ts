// The task reaper: bounds the tasks kept per slot (TaskHistoryRetentionLimit) and deletes tasks of
// removed services once their containers are gone. Pure: returns the IDs to delete.
import type { Task } from '../../api/index.js';
import { isLive, isTerminal, slotKey, stateOrder } from './tasks.js';

export function tasksToReap(tasks: readonly Task[], historyLimit: number, serviceExists: boolean): string[] {
  const out: string[] = [];
  if (!serviceExists) {
    for (const t of tasks) {
      // Tasks that never reached a node, or whose container has stopped, can go.
      if (stateOrder(t.Status.State) < stateOrder('assigned') || isTerminal(t.Status.State)) out.push(t.ID);
    }
    return out;
  }
  // As in Swarm, the limit counts every task of a slot, the running one included: with the
  // default of 5, `service ps` shows the running task and the 4 before it.
  const bySlot = new Map<string, Task[]>();
  for (const t of tasks) {
    if (t.DesiredState === 'remove' && isTerminal(t.Status.State)) {
      out.push(t.ID);
      continue;
    }
    const k = slotKey(t);
    bySlot.set(k, [...(bySlot.get(k) ?? []), t]);
  }
  for (const slot of bySlot.values()) {
    let excess = slot.length - historyLimit;
    if (excess <= 0) continue;
    const dead = slot
      .filter((t) => !isLive(t) && isTerminal(t.Status.State))
      .sort((a, b) => a.CreatedAt.localeCompare(b.CreatedAt) || a.ID.localeCompare(b.ID));
    for (const t of dead) {
      if (excess-- <= 0) break;
      out.push(t.ID);
    }
  }
  return out;
}
