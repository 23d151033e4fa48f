// The updater: rolls a service's out-of-date tasks over to its current spec, `Parallelism` slots
// at a time, with `Delay` between batches and `Monitor` watching for failures, then applies the
// FailureAction (pause, continue, rollback). UpdateStatus follows Docker's states. Stop-first
// marks the old task for shutdown and lets the replicated/global planner fill the slot once the
// old task has stopped; start-first starts the new task first and stops the old one after.
import { isoTime, type Clock } from '../../platform/index.js';
import type { Service, Task, UpdateStatus } from '../../api/index.js';
import type { MemoryStore } from '../../state/index.js';
import {
  isJob,
  isLive,
  isStopping,
  isTaskDirty,
  isTerminal,
  newTask,
  slotKey,
  updateConfig,
  withDesired,
} from './tasks.js';

const POLL_MS = 50;

export function isUpdating(s: Service): boolean {
  return s.UpdateStatus?.State === 'updating' || s.UpdateStatus?.State === 'rollback_started';
}

function taskFailed(t: Task, job: boolean): boolean {
  if (t.Status.State === 'failed' || t.Status.State === 'rejected' || t.Status.State === 'orphaned')
    return true;
  // A service task that stops by itself while it should run terminated early.
  return !job && isLive(t) && isTerminal(t.Status.State);
}

export class Updater {
  #runs = new Map<string, AbortController>();
  constructor(
    private readonly store: MemoryStore,
    private readonly clock: Clock,
    private readonly log: (msg: string) => void,
  ) {}

  /** Starts (or keeps) the update loop of a service that is in an updating state. */
  ensure(serviceId: string): void {
    if (this.#runs.has(serviceId)) return;
    const ac = new AbortController();
    this.#runs.set(serviceId, ac);
    void this.#run(serviceId, ac.signal)
      .catch((e: unknown) => this.log(`updater for ${serviceId}: ${(e as Error).message}`))
      .finally(() => {
        if (this.#runs.get(serviceId) === ac) this.#runs.delete(serviceId);
      });
  }

  stop(serviceId?: string): void {
    for (const [id, ac] of this.#runs) {
      if (serviceId === undefined || id === serviceId) {
        ac.abort();
        this.#runs.delete(id);
      }
    }
  }

  #service(id: string): Service | undefined {
    return this.store.view((tx) => tx.get('services', id));
  }

  async #setStatus(id: string, status: UpdateStatus, rollback?: boolean): Promise<void> {
    await this.store.update((tx) => {
      const s = tx.get('services', id);
      if (!s) return;
      const next = structuredClone(s) as Service;
      if (rollback && s.PreviousSpec) {
        next.Spec = structuredClone(s.PreviousSpec);
        next.PreviousSpec = structuredClone(s.Spec);
        // The registry credentials go back with their spec, as a manual rollback takes them.
        delete next.RegistryAuth;
        delete next.PreviousRegistryAuth;
        if (s.PreviousRegistryAuth) next.RegistryAuth = s.PreviousRegistryAuth;
        if (s.RegistryAuth) next.PreviousRegistryAuth = s.RegistryAuth;
      }
      next.UpdateStatus = status;
      next.UpdatedAt = isoTime(this.clock.now());
      tx.update('services', next);
    });
  }

  async #run(serviceId: string, signal: AbortSignal): Promise<void> {
    /** Task ID → when it was seen running; watched for Monitor after that. */
    const monitored = new Map<string, number>();
    /** Task ID → when it failed. Fed by store events, so a failure is seen even if the task is reaped at once. */
    const failures = new Map<string, number>();
    const failed = new Set<string>();
    /** Slots whose up-to-date task failed in this update: they do not hold its completion back. */
    const failedSlots = new Set<string>();
    let startedFor = this.#service(serviceId)?.UpdateStatus?.StartedAt;
    const unsubscribe = this.store.subscribe((e) => {
      if (e.kind !== 'change' || e.change.table !== 'tasks') return;
      const t = e.change.object as Task;
      if (t.ServiceID !== serviceId || failures.has(t.ID)) return;
      if (startedFor !== undefined && t.CreatedAt < startedFor) return;
      const svc = this.#service(serviceId);
      if (svc && !isTaskDirty(svc, t) && taskFailed(t, isJob(svc))) {
        failures.set(t.ID, this.clock.now());
        failedSlots.add(slotKey(t));
      }
    });
    try {
      await this.#loop(serviceId, signal, {
        monitored,
        failures,
        failed,
        failedSlots,
        totalDirty: undefined,
        startedFor,
      });
    } finally {
      unsubscribe();
    }
  }

  async #loop(
    serviceId: string,
    signal: AbortSignal,
    st: {
      monitored: Map<string, number>;
      failures: Map<string, number>;
      failed: Set<string>;
      failedSlots: Set<string>;
      /** Slots out of date when this update began: the denominator of MaxFailureRatio, as in Swarm. */
      totalDirty: number | undefined;
      startedFor: string | undefined;
    },
  ): Promise<void> {
    const { monitored, failures, failed } = st;
    while (!signal.aborted) {
      const svc = this.#service(serviceId);
      if (!svc || !isUpdating(svc)) return;
      if (svc.UpdateStatus?.StartedAt !== st.startedFor) {
        // A newer update or a rollback began: count afresh.
        st.startedFor = svc.UpdateStatus?.StartedAt;
        monitored.clear();
        failures.clear();
        failed.clear();
        st.failedSlots.clear();
        st.totalDirty = undefined;
      }
      const startedFor = st.startedFor;
      const rollback = svc.UpdateStatus?.State === 'rollback_started';
      const cfg = updateConfig(rollback ? svc.Spec.RollbackConfig : svc.Spec.UpdateConfig);
      const job = isJob(svc);
      const monitorMs = cfg.Monitor / 1e6;
      const now = this.clock.now();
      const tasks = this.store.view((tx) => tx.tasksByService(serviceId));

      // A failure counts unless the task had already run through its monitor window.
      for (const [id, at] of failures) {
        const since = monitored.get(id);
        if (since === undefined || at - since <= monitorMs) failed.add(id);
      }
      failures.clear();
      if (failed.size > 0 && failed.size / Math.max(1, st.totalDirty ?? 1) > cfg.MaxFailureRatio) {
        const culprit = [...failed][0]!;
        if (cfg.FailureAction === 'pause') {
          await this.#setStatus(serviceId, {
            State: rollback ? 'rollback_paused' : 'paused',
            StartedAt: svc.UpdateStatus?.StartedAt ?? isoTime(now),
            Message: `${rollback ? 'rollback' : 'update'} paused due to failure or early termination of task ${culprit}`,
          });
          return;
        }
        if (cfg.FailureAction === 'rollback' && !rollback && svc.PreviousSpec) {
          await this.#setStatus(
            serviceId,
            {
              State: 'rollback_started',
              StartedAt: isoTime(now),
              Message: `update rolled back due to failure or early termination of task ${culprit}`,
            },
            true,
          );
          continue;
        }
        failed.clear(); // continue
      }

      // Slots that still hold out-of-date live tasks.
      const bySlot = new Map<string, Task[]>();
      for (const t of tasks) if (isLive(t)) bySlot.set(slotKey(t), [...(bySlot.get(slotKey(t)) ?? []), t]);
      const dirty = [...bySlot.entries()].filter(([, ts]) => ts.some((t) => isTaskDirty(svc, t)));
      st.totalDirty ??= dirty.length;
      if (dirty.length === 0) {
        // Everything is up to date: finish once the last tasks have passed their monitor window
        // and the slots are running again. A slot whose new task failed, a failure the failure
        // action let pass (continue, or within MaxFailureRatio), does not hold completion back:
        // waiting for a crash-looping task to be seen running could stall the update for ever.
        const pendingMonitor = [...monitored.values()].some((since) => now - since < monitorMs);
        // Stop-first slots whose old task is still stopping have no new task yet: not done (a
        // task on a down node is not waited for; the restart supervisor replaces it).
        const up = (t: Task): boolean =>
          this.store.view((tx) => (t.NodeID ? tx.get('nodes', t.NodeID)?.Status.State : 'ready')) !== 'down';
        const refilled =
          job ||
          (!tasks.some((t) => isStopping(t) && up(t)) &&
            bySlot.size >= (svc.Spec.Mode?.Replicated ? (svc.Spec.Mode.Replicated.Replicas ?? 1) : 0));
        const settled =
          refilled &&
          [...bySlot.entries()].every(
            ([key, ts]) => job || st.failedSlots.has(key) || ts.some((t) => t.Status.State === 'running'),
          );
        if (!pendingMonitor && settled) {
          await this.store.update((tx) => {
            const s = tx.get('services', serviceId);
            if (!s || s.UpdateStatus?.StartedAt !== startedFor || !isUpdating(s)) return;
            const next = structuredClone(s) as Service;
            next.UpdateStatus = {
              State: rollback ? 'rollback_completed' : 'completed',
              StartedAt: s.UpdateStatus?.StartedAt ?? isoTime(now),
              CompletedAt: isoTime(this.clock.now()),
              Message: rollback ? 'rollback completed' : 'update completed',
            };
            tx.update('services', next);
          });
          return;
        }
        this.#noteRunning(serviceId, monitored, startedFor);
        await this.clock.sleep(POLL_MS, signal);
        continue;
      }

      const batch = dirty.slice(0, cfg.Parallelism === 0 ? dirty.length : cfg.Parallelism);
      // A failure anywhere ends the wait, so the failure action is taken at once.
      const stop = (): boolean => failures.size > 0;
      await Promise.all(
        batch.map(([key, olds]) => this.#updateSlot(svc, key, olds, cfg.Order, signal, stop)),
      );
      this.#noteRunning(serviceId, monitored, startedFor);
      if (cfg.Delay > 0) await this.clock.sleep(cfg.Delay / 1e6, signal);
    }
  }

  /** Starts the monitor clock of up-to-date tasks once they run. */
  #noteRunning(serviceId: string, monitored: Map<string, number>, startedFor: string | undefined): void {
    const svc = this.#service(serviceId);
    if (!svc) return;
    for (const t of this.store.view((tx) => tx.tasksByService(serviceId))) {
      if (startedFor !== undefined && t.CreatedAt < startedFor) continue;
      if (isLive(t) && !isTaskDirty(svc, t) && t.Status.State === 'running' && !monitored.has(t.ID)) {
        monitored.set(t.ID, this.clock.now());
      }
    }
  }

  async #updateSlot(
    svc: Service,
    key: string,
    olds: Task[],
    order: string,
    signal: AbortSignal,
    stop: () => boolean,
  ): Promise<void> {
    const now = this.clock.now();
    const dirtyOld = olds.filter((t) => isTaskDirty(svc, t));
    if (order === 'start-first') {
      const sample = olds[0]!;
      const fresh = newTask(svc, {
        now,
        ...(sample.Slot !== undefined ? { slot: sample.Slot } : {}),
        ...(sample.Slot === undefined && sample.NodeID ? { nodeId: sample.NodeID } : {}),
      });
      // `olds` came from a view taken before this transaction. If another writer (the restart
      // supervisor replacing a task of a down node) put an up-to-date task in the slot meanwhile,
      // that one is the new task; if the old ones are gone, there is nothing to do.
      const still = await this.store.update((tx) => {
        const current = tx.tasksByService(svc.ID).filter((t) => slotKey(t) === key && isLive(t));
        if (!dirtyOld.some((o) => current.some((t) => t.ID === o.ID))) return false;
        if (!current.some((t) => !isTaskDirty(svc, t))) tx.create('tasks', fresh);
        return true;
      });
      if (!still) return;
      // A newer update took over: its own pass decides about these old tasks.
      if (!(await this.#waitSlotRunning(svc, key, signal, stop))) return;
      await this.store.update((tx) => {
        for (const o of dirtyOld) {
          const cur = tx.get('tasks', o.ID);
          if (cur && isLive(cur)) tx.update('tasks', withDesired(cur, 'shutdown', this.clock.now()));
        }
      });
      return;
    }
    await this.store.update((tx) => {
      for (const o of dirtyOld) {
        const cur = tx.get('tasks', o.ID);
        if (cur && isLive(cur)) tx.update('tasks', withDesired(cur, 'shutdown', now));
      }
    });
    await this.#waitSlotRunning(svc, key, signal, stop);
  }

  /**
   * Waits until the slot has an up-to-date task that runs or has failed, or the slot is gone.
   * False when the wait was cut short: the update was stopped, or a newer one (or a rollback)
   * began, against whose spec this update's new task is out of date and would never count.
   */
  async #waitSlotRunning(
    from: Service,
    key: string,
    signal: AbortSignal,
    stop: () => boolean,
  ): Promise<boolean> {
    const serviceId = from.ID;
    const startedFor = from.UpdateStatus?.StartedAt;
    let emptySince: number | undefined;
    for (;;) {
      if (signal.aborted) return false;
      if (stop()) return true;
      const svc = this.#service(serviceId);
      if (!svc || !isUpdating(svc) || svc.UpdateStatus?.StartedAt !== startedFor) return false;
      const inSlot = this.store.view((tx) => tx.tasksByService(serviceId)).filter((t) => slotKey(t) === key);
      // Only a task made for this update counts: after a rollback the slot's history holds
      // tasks of the restored spec, long stopped, which must not read as a given-up new task.
      const fresh = inSlot.filter(
        (t) => !isTaskDirty(svc, t) && (startedFor === undefined || t.CreatedAt >= startedFor),
      );
      if (
        fresh.some(
          (t) =>
            t.Status.State === 'running' || (isTerminal(t.Status.State) && t.Status.State !== 'shutdown'),
        )
      )
        return true;
      // The new task was given up (shut down with its node, and the slot held by an old task, so
      // nothing replaced it): plan the slot again rather than wait for it forever.
      if (fresh.length > 0 && !fresh.some((t) => isLive(t))) return false;
      // A slot that nobody refills (scaled down meanwhile, or a node that left) has nothing to wait for.
      const busy = inSlot.some((t) => isLive(t) || !isTerminal(t.Status.State));
      if (busy) emptySince = undefined;
      else if (emptySince === undefined) emptySince = this.clock.now();
      else if (this.clock.now() - emptySince > 1000) return true;
      await this.clock.sleep(POLL_MS, signal);
    }
  }
}
