// The agent: keeps a session with the dispatcher, runs one TaskRunner per assigned task, reports
// their status, and removes containers of tasks that are no longer assigned to this node.
import type { Assignment, DispatcherAPI, TaskStatus, TaskStatusUpdate } from '../../api/index.js';
import type { Clock, Cancel } from '../../platform/index.js';
import type { Executor } from '../exec/executor.js';
import { TaskRunner } from './taskrunner.js';
import { Limiter } from './limit.js';

export interface AgentOptions {
  nodeId: string;
  addr: string;
  dispatcher: DispatcherAPI;
  executor: Executor;
  clock: Clock;
  log?: (msg: string) => void;
  /** Engine operations (create, start) run at once; default 8. */
  engineConcurrency?: number;
}

export class Agent {
  #runners = new Map<string, TaskRunner>();
  #stopSession: (() => void) | undefined;
  #heartbeat: Cancel | undefined;
  #reports: TaskStatusUpdate[] = [];
  #reportScheduled = false;
  #firstSet = true;
  #log: (msg: string) => void;
  #limiter: Limiter;

  constructor(private readonly o: AgentOptions) {
    this.#log = o.log ?? (() => undefined);
    this.#limiter = new Limiter(o.engineConcurrency ?? 8);
  }

  async start(): Promise<void> {
    await this.o.executor.start();
    const description = await this.o.executor.describe();
    const { heartbeatMs } = await this.o.dispatcher.register(this.o.nodeId, description, this.o.addr);
    this.#beat(heartbeatMs);
    this.#stopSession = this.o.dispatcher.assignments(this.o.nodeId, (set) => this.#offer(set));
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

  #beat(ms: number): void {
    this.#heartbeat = this.o.clock.setTimer(ms / 2, () => {
      this.o.dispatcher.heartbeat(this.o.nodeId).then(
        ({ heartbeatMs }) => this.#beat(heartbeatMs),
        () => this.#beat(ms),
      );
    });
  }

  async stop(): Promise<void> {
    this.#stopSession?.();
    this.#heartbeat?.();
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
      this.#log(`status report failed, retrying: ${(e as Error).message}`);
      this.#reports.unshift(...batch);
      this.o.clock.setTimer(500, () => void this.#flushReports());
    }
  }
}
