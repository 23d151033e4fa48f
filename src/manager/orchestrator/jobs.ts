// Jobs run tasks to completion. Replicated jobs: TotalCompletions slots, at most MaxConcurrent at a
// time. Global jobs: one completion per eligible node. Only tasks of the current JobIteration count.
import type { Node, Service, Task } from '../../api/index.js';
import { eligibleNodes } from './global.js';
import { isLive, isTerminal, jobIteration, newTask, withDesired } from './tasks.js';
import type { Plan } from './plan.js';

function currentIteration(service: Service, tasks: readonly Task[]): { current: Task[]; stale: Task[] } {
  const it = jobIteration(service);
  const current: Task[] = [];
  const stale: Task[] = [];
  for (const t of tasks) ((t.JobIteration?.Index ?? 0) === it ? current : stale).push(t);
  return { current, stale };
}

export function planReplicatedJob(service: Service, tasks: readonly Task[], now: number): Plan {
  const plan: Plan = { create: [], update: [] };
  const mode = service.Spec.Mode?.ReplicatedJob ?? {};
  const total = mode.TotalCompletions ?? 1;
  const maxConcurrent = Math.max(1, mode.MaxConcurrent ?? 1);
  const { current, stale } = currentIteration(service, tasks);
  for (const t of stale)
    if (isLive(t) && !isTerminal(t.Status.State)) plan.update.push(withDesired(t, 'shutdown', now));
  const done = new Set<number>();
  const active = new Set<number>();
  for (const t of current) {
    const slot = t.Slot ?? 0;
    if (t.Status.State === 'complete') done.add(slot);
    else if (isLive(t)) active.add(slot);
  }
  let room = maxConcurrent - [...active].filter((s) => !done.has(s)).length;
  for (let slot = 0; slot < total && room > 0; slot++) {
    if (done.has(slot) || active.has(slot)) continue;
    plan.create.push(newTask(service, { now, slot }));
    room--;
  }
  return plan;
}

export function planGlobalJob(
  service: Service,
  tasks: readonly Task[],
  nodes: readonly Node[],
  now: number,
): Plan {
  const plan: Plan = { create: [], update: [] };
  const { current, stale } = currentIteration(service, tasks);
  for (const t of stale)
    if (isLive(t) && !isTerminal(t.Status.State)) plan.update.push(withDesired(t, 'shutdown', now));
  const covered = new Set(
    current.filter((t) => isLive(t) || t.Status.State === 'complete').map((t) => t.NodeID),
  );
  for (const n of eligibleNodes(service, nodes)) {
    if (!covered.has(n.ID) && n.Spec.Availability === 'active')
      plan.create.push(newTask(service, { now, nodeId: n.ID }));
  }
  return plan;
}
