// The agent: keeps a session with the dispatcher, runs one TaskRunner per assigned task, reports
// their status, and removes containers of tasks that are no longer assigned to this node. When
// the session breaks it goes on running its tasks and opens a new session with backoff; the
// complete assignment set that starts every session reconciles whatever changed meanwhile.
import type {
  NetworkView,
  AgentSession,
  NodeRole,
  Assignment,
  DispatcherAPI,
  NodeDescription,
  TaskStatus,
  TaskStatusUpdate,
  TlsTarget,
} from '../../api/index.js';
import type { Clock, Cancel } from '../../platform/index.js';
import type { Executor } from '../exec/executor.js';
import { TaskRunner } from './taskrunner.js';
import { Limiter } from './limit.js';
import { LogPublisher } from './logs.js';

export interface AgentOptions {
  nodeId: string;
  addr: string;
  dispatcher: DispatcherAPI;
  executor: Executor;
  clock: Clock;
  log?: (msg: string) => void;
  /** Engine operations (create, start) run at once; default 8. */
  engineConcurrency?: number;
  /** Told the cluster's TLS target when a session starts and when it changes (root rotation). */
  onTlsTarget?: (t: TlsTarget) => void;
  /** The role the cluster wants this node in. */
  onNodeRole?: (role: NodeRole) => void;
  /**
   * The views of the overlay networks this node needs (the node's data plane converges on them):
   * with each session's first message and whenever they change. A lost session leaves the last
   * ones in force; the next session's complete set replaces them.
   */
  onNetworks?: (views: NetworkView[]) => void;
  /** For heartbeat jitter; injected so simulations replay exactly. */
  random?: () => number;
}

const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5000;

export class Agent {
  #runners = new Map<string, TaskRunner>();
  #session: AgentSession | undefined;
  #heartbeat: Cancel | undefined;
  #reconnect: Cancel | undefined;
  #failures = 0;
  #stopped = false;
  #description: NodeDescription | undefined;
  #reports: TaskStatusUpdate[] = [];
  #reportScheduled = false;
  #firstSet = true;
  #networks: NetworkView[] = [];
  #log: (msg: string) => void;
  #limiter: Limiter;
  #logs: LogPublisher;

  constructor(private readonly o: AgentOptions) {
    this.#log = o.log ?? (() => undefined);
    this.#limiter = new Limiter(o.engineConcurrency ?? 8);
    this.#logs = new LogPublisher({
      nodeId: o.nodeId,
      executor: o.executor,
      dispatcher: o.dispatcher,
      log: this.#log,
    });
  }

  /**
   * Starts the executor and tries the first session. An engine that fails rejects; a session that
   * fails does not: it is retried like a lost one (a redirect to the leader at once).
   */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.o.executor.start();
    this.#description = await this.o.executor.describe();
    await this.#connect().catch((e: unknown) => this.#lost(e as Error));
  }

  /** The last network views the managers sent (kept across a lost session). */
  get networks(): NetworkView[] {
    return this.#networks;
  }

  get connected(): boolean {
    return this.#session !== undefined;
  }

  async #connect(): Promise<void> {
    let session: AgentSession | undefined;
    session = await this.o.dispatcher.openSession(this.o.nodeId, this.#description!, this.o.addr, {
      onAssignments: (set) => {
        if (session === undefined || this.#session === session) this.#offer(set);
      },
      onNetworks: (views) => {
        if (session !== undefined && this.#session !== session) return;
        this.#networks = views;
        this.o.onNetworks?.(views);
      },
      onTlsTarget: (t) => this.o.onTlsTarget?.(t),
      onNodeRole: (r) => this.o.onNodeRole?.(r),
      onLogSubscription: (sub) => this.#logs.subscribe(sub),
      onLogCancel: (id) => this.#logs.cancel(id),
      onClose: (err) => {
        if (session !== undefined && this.#session !== session) return;
        this.#lost(err);
      },
    });
    if (this.#stopped) {
      session.close();
      return;
    }
    this.#session = session;
    this.#failures = 0;
    this.#heartbeat?.();
    this.#beat(session.heartbeatMs);
  }

  /** The session is gone: keep the tasks running and try again with backoff. */
  #lost(err: Error): void {
    this.#session?.close();
    this.#session = undefined;
    this.#heartbeat?.();
    this.#heartbeat = undefined;
    if (this.#stopped || this.#reconnect) return;
    // A manager that named the leader is not a failure: go there at once.
    const delay = (err as { redirect?: boolean }).redirect
      ? RECONNECT_MIN_MS
      : Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.#failures++);
    this.#log(`session with the manager lost (${err.message}); reconnecting in ${delay} ms`);
    this.#reconnect = this.o.clock.setTimer(delay, () => {
      this.#reconnect = undefined;
      if (this.#stopped) return;
      this.#connect().catch((e: unknown) => this.#lost(e as Error));
    });
  }

  #latest: Assignment[] | undefined;
  #applying = false;
  /**
   * Sets are applied one at a time and only the newest waiting one is applied next: applying an
   * older set after a newer one would close runners of tasks it does not know yet.
   */
  #offer(set: Assignment[]): void {
    this.#latest = set;
    if (this.#applying) return;
    this.#applying = true;
    void (async () => {
      while (this.#latest) {
        const next = this.#latest;
        this.#latest = undefined;
        try {
          await this.#onSet(next);
        } catch (e) {
          this.#log(`applying assignments failed: ${(e as Error).message}`);
        }
      }
      this.#applying = false;
    })();
  }

  /**
   * Heartbeats once a period (±10% jitter, so a fleet restarted together does not beat in
   * lockstep), as swarmkit's agent: the dispatcher waits three periods, so two late or lost beats
   * never cost the node its liveness. Beating twice a period doubled the leader's heartbeat CPU
   * (BENCHMARKS.md, "The dispatcher heartbeat at scale").
   */
  #beat(ms: number): void {
    const session = this.#session;
    const jitter = 0.9 + 0.2 * (this.o.random ?? Math.random)();
    this.#heartbeat = this.o.clock.setTimer(ms * jitter, () => {
      this.o.dispatcher.heartbeat(this.o.nodeId).then(
        ({ heartbeatMs }) => {
          if (this.#session === session) this.#beat(heartbeatMs);
        },
        (e: unknown) => {
          if (this.#session === session) this.#lost(e as Error);
        },
      );
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#session?.close();
    this.#session = undefined;
    this.#reconnect?.();
    this.#reconnect = undefined;
    this.#heartbeat?.();
    this.#logs.stop();
    for (const r of this.#runners.values()) await r.close(false);
    this.#runners.clear();
    await this.#flushReports();
    await this.o.executor.stop();
  }

  async #onSet(set: Assignment[]): Promise<void> {
    const ids = new Set(set.map((a) => a.task.ID));
    for (const a of set) {
      let r = this.#runners.get(a.task.ID);
      if (!r) {
        r = new TaskRunner(
          a,
          this.o.executor.controller(a),
          this.o.clock,
          (id, s) => this.#report(id, s),
          this.#log,
          this.#limiter,
        );
        this.#runners.set(a.task.ID, r);
      }
      r.update(a);
    }
    for (const [id, r] of [...this.#runners]) {
      if (!ids.has(id)) {
        this.#runners.delete(id);
        await r.close(true);
      }
    }
    if (this.#firstSet) {
      // After a restart: containers of tasks this node no longer has are garbage.
      this.#firstSet = false;
      try {
        for (const [taskId, cid] of await this.o.executor.managedTaskIds()) {
          if (!ids.has(taskId) && !this.#runners.has(taskId)) await this.o.executor.removeContainer(cid);
        }
      } catch (e) {
        this.#log(`container garbage collection failed: ${(e as Error).message}`);
      }
    }
  }

  #report(taskId: string, status: TaskStatus): void {
    if (status.State === 'running') {
      const r = this.#runners.get(taskId);
      if (r) this.#logs.taskStarted(taskId, r.serviceId);
    }
    this.#reports.push({ taskId, status });
    if (this.#reportScheduled) return;
    this.#reportScheduled = true;
    setImmediate(() => void this.#flushReports());
  }

  async #flushReports(): Promise<void> {
    this.#reportScheduled = false;
    const batch = this.#reports.splice(0);
    if (batch.length === 0) return;
    try {
      await this.o.dispatcher.updateTaskStatus(this.o.nodeId, batch);
    } catch (e) {
      // A stopped agent gives up: a restarted one reports its tasks' state afresh.
      if (this.#stopped) return;
      this.#log(`status report failed, retrying: ${(e as Error).message}`);
      this.#reports.unshift(...batch);
      this.o.clock.setTimer(500, () => void this.#flushReports());
    }
  }
}
