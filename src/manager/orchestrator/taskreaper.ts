// The task reaper: bounds task history per slot (TaskHistoryRetentionLimit) and deletes tasks of
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
  const deadBySlot = new Map<string, Task[]>();
  for (const t of tasks) {
    if (t.DesiredState === 'remove' && isTerminal(t.Status.State)) {
      out.push(t.ID);
      continue;
    }
    if (isLive(t) || !isTerminal(t.Status.State)) continue;
    const k = slotKey(t);
    deadBySlot.set(k, [...(deadBySlot.get(k) ?? []), t]);
  }
  for (const dead of deadBySlot.values()) {
    if (dead.length <= historyLimit) continue;
    dead.sort((a, b) => b.CreatedAt.localeCompare(a.CreatedAt) || b.ID.localeCompare(a.ID));
    for (const t of dead.slice(historyLimit)) out.push(t.ID);
  }
  return out;
}
