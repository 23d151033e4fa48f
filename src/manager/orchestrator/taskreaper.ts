// The task reaper: bounds the tasks kept per slot (TaskHistoryRetentionLimit) and deletes the tasks
// of removed services and of slots removed by a scale-down once their containers are gone. Pure:
// returns the IDs to delete.
import type { Task } from '../../api/index.js';
import { isLive, isTerminal, slotKey, stateOrder } from './tasks.js';

export function tasksToReap(tasks: readonly Task[], historyLimit: number, serviceExists: boolean): string[] {
  const out: string[] = [];
  if (!serviceExists) {
    for (const t of tasks) {
      // Tasks that never reached a node, or whose container has stopped, can go.
      if (settledTask(t)) out.push(t.ID);
    }
    return out;
  }
  // As in Swarm, the limit counts every task of a slot, the running one included: with the
  // default of 5, `service ps` shows the running task and the 4 before it.
  const bySlot = new Map<string, Task[]>();
  for (const t of tasks) {
    const k = slotKey(t);
    bySlot.set(k, [...(bySlot.get(k) ?? []), t]);
  }
  for (const slot of bySlot.values()) {
    const removing = slot.filter((t) => t.DesiredState === 'remove');
    if (removing.length > 0 && !slot.some(isLive)) {
      // A slot removed by a scale-down goes whole, once its containers have stopped; one REMOVE
      // task stays as its mark while any other is still stopping.
      const settled = slot.filter(settledTask);
      if (settled.length === slot.length) out.push(...slot.map((t) => t.ID));
      else out.push(...settled.filter((t) => t.DesiredState !== 'remove').map((t) => t.ID));
      continue;
    }
    // A REMOVE task in a slot that lives on (the slot was filled again) goes once settled.
    const gone = new Set(removing.filter(settledTask).map((t) => t.ID));
    out.push(...gone);
    const kept = slot.filter((t) => !gone.has(t.ID));
    let excess = kept.length - historyLimit;
    if (excess <= 0) continue;
    const dead = kept
      .filter((t) => !isLive(t) && isTerminal(t.Status.State))
      .sort((a, b) => a.CreatedAt.localeCompare(b.CreatedAt) || a.ID.localeCompare(b.ID));
    for (const t of dead) {
      if (excess-- <= 0) break;
      out.push(t.ID);
    }
  }
  return out;
}

/** A task whose container is gone or never existed: stopped, or never given to a node. */
function settledTask(t: Task): boolean {
  return isTerminal(t.Status.State) || stateOrder(t.Status.State) < stateOrder('assigned');
}
