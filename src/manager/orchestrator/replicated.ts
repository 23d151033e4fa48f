// Replicated services: keep exactly `Replicas` occupied slots. Pure: reads tasks, returns a plan.
import type { Service, Task } from '../../api/index.js';
import { isLive, isStopping, isTaskDirty, newTask, withDesired } from './tasks.js';
import type { Plan } from './plan.js';

export interface ReplicatedInput {
  service: Service;
  tasks: readonly Task[];
  now: number;
  /** While an update runs, a slot whose old task is still stopping is not refilled (stop-first). */
  updating: boolean;
  /** Upper bound on tasks created by one plan, so one entry stays small. */
  maxCreate?: number;
}

export function planReplicated({ service, tasks, now, updating, maxCreate = 1000 }: ReplicatedInput): Plan {
  const plan: Plan = { create: [], update: [] };
  const replicas = service.Spec.Mode?.Replicated?.Replicas ?? 1;
  const liveBySlot = new Map<number, Task[]>();
  const stopping = new Set<number>();
  for (const t of tasks) {
    if (t.Slot === undefined) continue;
    if (isLive(t)) {
      const l = liveBySlot.get(t.Slot) ?? [];
      l.push(t);
      liveBySlot.set(t.Slot, l);
    } else if (isStopping(t)) {
      stopping.add(t.Slot);
    }
  }
  // Two writers that each refilled a slot from an older view (say, the restart supervisor and a
  // start-first update) leave it with two up-to-date tasks. Outside an update, keep one: a
  // running one if any, else the newest.
  if (!updating) {
    for (const [slot, live] of liveBySlot) {
      if (live.length < 2 || live.some((t) => isTaskDirty(service, t))) continue;
      const keep = [...live].sort(
        (a, b) =>
          Number(b.Status.State === 'running') - Number(a.Status.State === 'running') ||
          (a.CreatedAt < b.CreatedAt ? 1 : a.CreatedAt > b.CreatedAt ? -1 : 0),
      )[0]!;
      for (const t of live) if (t !== keep) plan.update.push(withDesired(t, 'shutdown', now));
      liveBySlot.set(slot, [keep]);
    }
  }
  const occupied = [...liveBySlot.keys()];
  // While an update runs, a slot whose old task is still stopping stays reserved for its
  // replacement (stop-first): it is neither refilled early nor replaced by another slot.
  const reserved = updating ? [...stopping].filter((s) => !liveBySlot.has(s)) : [];
  if (occupied.length > replicas) {
    // Scale down: drop slots that are not running first, then the highest-numbered ones. As in
    // Swarm, a removed slot's tasks are marked REMOVE: the agent stops and removes the container,
    // and the reaper then deletes the slot's tasks, so `service ps` no longer lists it.
    const running = (slot: number): boolean =>
      liveBySlot.get(slot)!.some((t) => t.Status.State === 'running');
    const victims = occupied
      .sort((a, b) => Number(running(a)) - Number(running(b)) || b - a)
      .slice(0, occupied.length - replicas);
    for (const slot of victims)
      for (const t of liveBySlot.get(slot)!) plan.update.push(withDesired(t, 'remove', now));
  } else if (occupied.length + reserved.length < replicas) {
    let missing = Math.min(replicas - occupied.length - reserved.length, maxCreate);
    for (let slot = 1; missing > 0; slot++) {
      if (liveBySlot.has(slot) || reserved.includes(slot)) continue;
      plan.create.push(newTask(service, { now, slot }));
      missing--;
    }
  }
  return plan;
}
