// The orchestrator loop: level-triggered and idempotent. Store events mark services dirty; a
// reconcile pass then reads each dirty service's tasks, computes one plan with the pure planners
// (restart supervisor, then the mode's planner, then the reaper) and writes it in one transaction.
import { isoTime, type Clock } from '../../platform/index.js';
import type { Node, Service, Task } from '../../api/index.js';
import type { MemoryStore, StoreEvent, WriteTx } from '../../state/index.js';
import { planGlobal } from './global.js';
import { planGlobalJob, planReplicatedJob } from './jobs.js';
import { emptyPlan, type Plan } from './plan.js';
import { planReplicated } from './replicated.js';
import { planRestarts, RestartHistory } from './restart.js';
import { tasksToReap } from './taskreaper.js';
import { isLive, modeOf, withDesired } from './tasks.js';
import { isUpdating, Updater } from './update.js';
import { WatchLoop } from '../watchloop.js';

export { planReplicated } from './replicated.js';
export { planGlobal, eligibleNodes } from './global.js';
export { planReplicatedJob, planGlobalJob } from './jobs.js';
export { planRestarts, RestartHistory } from './restart.js';
export { tasksToReap } from './taskreaper.js';
export {
  isTaskDirty,
  endpointDirty,
  hostModePorts,
  publishesIngress,
  isLive,
  isTerminal,
  stateOrder,
  modeOf,
  isJob,
  newTask,
  slotKey,
  sameJson,
  sameTemplate,
  updateConfig,
  restartPolicy,
  DEFAULT_UPDATE,
  DEFAULT_RESTART,
} from './tasks.js';
export { isUpdating } from './update.js';
export type { Plan } from './plan.js';

const DEFAULT_HISTORY_LIMIT = 5;
/** Bound on changes written by one reconcile transaction. */
const MAX_CHANGES_PER_PASS = 1500;

function applyPlan(tasks: Task[], plan: Plan): Task[] {
  const byId = new Map(tasks.map((t) => [t.ID, t]));
  for (const u of plan.update) byId.set(u.ID, u);
  for (const c of plan.create) byId.set(c.ID, c);
  return [...byId.values()];
}

export class Orchestrator {
  #dirty = new Set<string>();
  #all = true;
  #wakeTimer: (() => void) | undefined;
  #wakeAt = Infinity;
  #history = new RestartHistory();
  readonly #loop: WatchLoop;
  readonly updater: Updater;

  constructor(
    private readonly store: MemoryStore,
    private readonly clock: Clock,
    private readonly log: (msg: string) => void = () => undefined,
  ) {
    this.updater = new Updater(store, clock, log);
    this.#loop = new WatchLoop({
      store,
      onEvent: (e) => this.#onEvent(e),
      pass: () => this.#pass(),
      onError: (e) => {
        // A failed pass is retried in full shortly; reconciling is idempotent.
        this.log(`orchestrator pass failed: ${(e as Error).message}`);
        this.#all = true;
        this.#wake(this.clock.now() + 500);
      },
    });
  }

  start(): void {
    this.#all = true;
    this.#loop.start();
  }

  stop(): void {
    this.#loop.stop();
    this.#wakeTimer?.();
    this.updater.stop();
  }

  #onEvent(e: StoreEvent): void {
    if (e.kind === 'commit') {
      if (this.#dirty.size > 0 || this.#all) this.#loop.kick();
      return;
    }
    const { table, object } = e.change;
    if (table === 'services') this.#dirty.add(object.ID);
    else if (table === 'tasks') this.#dirty.add((object as Task).ServiceID);
    else if (table === 'nodes' || table === 'clusters') this.#all = true;
  }

  /** One reconcile pass over the dirty services, one bounded transaction at a time. */
  async #pass(): Promise<void> {
    const ids = this.#all
      ? new Set([...this.store.view((tx) => tx.all('services').map((s) => s.ID)), ...this.#dirty])
      : new Set(this.#dirty);
    if (this.#all) {
      // Tasks whose service is gone must be found too.
      for (const t of this.store.view((tx) => tx.all('tasks'))) ids.add(t.ServiceID);
    }
    this.#all = false;
    this.#dirty.clear();
    const queue = [...ids];
    while (queue.length > 0 && this.#loop.active) {
      let budget = MAX_CHANGES_PER_PASS;
      const leftover: string[] = [];
      await this.store.update((tx) => {
        while (queue.length > 0 && budget > 0) {
          const id = queue.shift()!;
          const used = this.#reconcile(tx, id, budget);
          if (used < 0) leftover.push(id);
          budget -= Math.abs(used);
        }
      });
      for (const id of leftover) this.#dirty.add(id);
    }
    if (this.#dirty.size > 0) this.#loop.kick();
  }

  #wake(at: number): void {
    if (at >= this.#wakeAt) return;
    this.#wakeTimer?.();
    this.#wakeAt = at;
    this.#wakeTimer = this.clock.setTimer(at - this.clock.now(), () => {
      this.#wakeAt = Infinity;
      this.#all = true;
      this.#loop.kick();
    });
  }

  /** Reconciles one service; returns the number of changes written (negative if it needs another pass). */
  #reconcile(tx: WriteTx, serviceId: string, budget: number): number {
    // Standalone containers' network attachments (no service) belong to their nodes' engines.
    if (serviceId === '') return 0;
    const now = this.clock.now();
    const service = tx.get('services', serviceId);
    let tasks = tx.tasksByService(serviceId);
    const historyLimit = tx.cluster()?.Spec.Orchestration?.TaskHistoryRetentionLimit ?? DEFAULT_HISTORY_LIMIT;
    let changes = 0;
    if (!service) {
      this.#history.forget(serviceId);
      this.updater.stop(serviceId);
      for (const t of tasks) {
        if (t.DesiredState !== 'remove') {
          tx.update('tasks', withDesired(t, 'remove', now));
          changes++;
        }
      }
      for (const id of tasksToReap(tx.tasksByService(serviceId), historyLimit, false)) {
        tx.remove('tasks', id);
        changes++;
      }
      return changes;
    }
    const nodes = tx.all('nodes');
    const nodeMap = new Map<string, Node>(nodes.map((n) => [n.ID, n]));
    const restarts = planRestarts({ service, tasks, nodes: nodeMap, now, history: this.#history });
    if (restarts.wakeAt !== undefined) this.#wake(restarts.wakeAt);
    let plan = restarts.plan;
    tasks = applyPlan(tasks, plan);
    const updating = isUpdating(service);
    const maxCreate = Math.max(1, budget - plan.create.length - plan.update.length);
    let modePlan: Plan = emptyPlan();
    switch (modeOf(service)) {
      case 'replicated':
        modePlan = planReplicated({ service, tasks, now, updating, maxCreate });
        break;
      case 'global':
        modePlan = planGlobal(service, tasks, nodes, now, updating);
        break;
      case 'replicated-job':
        modePlan = planReplicatedJob(service, tasks, now);
        break;
      case 'global-job':
        modePlan = planGlobalJob(service, tasks, nodes, now);
        break;
    }
    plan = { create: [...plan.create, ...modePlan.create], update: [...plan.update, ...modePlan.update] };
    tasks = applyPlan(tasks, modePlan);
    for (const t of plan.update) {
      const cur = tx.get('tasks', t.ID);
      if (cur) tx.update('tasks', { ...t, Version: cur.Version });
    }
    for (const t of plan.create) tx.create('tasks', t);
    changes += plan.create.length + plan.update.length;
    const reap = tasksToReap(
      tasks.filter((t) => tx.get('tasks', t.ID)),
      historyLimit,
      true,
    );
    for (const id of reap) tx.remove('tasks', id);
    changes += reap.length;
    if (updating) this.updater.ensure(serviceId);
    this.#maybeStampJob(tx, service, tasks, now);
    // The replicated planner caps its creations; come back for the rest.
    const replicas = service.Spec.Mode?.Replicated?.Replicas;
    if (
      replicas !== undefined &&
      tasks.filter(isLive).length < replicas &&
      modePlan.create.length >= maxCreate
    )
      return -changes - 1;
    return changes;
  }

  /** Jobs record when their current iteration last started tasks (JobStatus.LastExecution). */
  #maybeStampJob(tx: WriteTx, service: Service, tasks: Task[], now: number): void {
    if (!service.JobStatus || service.JobStatus.LastExecution) return;
    if (!tasks.some((t) => isLive(t))) return;
    const next = structuredClone(service) as Service;
    next.JobStatus = { ...next.JobStatus!, LastExecution: isoTime(now) };
    tx.update('services', next);
  }
}
