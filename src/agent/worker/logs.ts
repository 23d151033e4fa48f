// The agent's side of `service logs`: a manager subscribes to the logs of some of this node's
// tasks; their lines are read from the engine and published back in batches. Each batch waits
// for the one before, so a slow subscriber slows the reading, not the agent's memory.
import type { DispatcherAPI, LogSubscription, TaskLogLine } from '../../api/index.js';
import type { Executor } from '../exec/executor.js';

/** Lines are sent once this many wait, or this long after the first of them. */
const BATCH_LINES = 500;
const BATCH_MS = 20;

interface Running {
  sub: LogSubscription;
  ac: AbortController;
  followed: Set<string>;
  buffer: TaskLogLine[];
  timer: NodeJS.Timeout | undefined;
  sending: Promise<void>;
}

export class LogPublisher {
  #subs = new Map<string, Running>();

  constructor(
    private readonly o: {
      nodeId: string;
      executor: Executor;
      dispatcher: DispatcherAPI;
      log: (msg: string) => void;
    },
  ) {}

  subscribe(sub: LogSubscription): void {
    // The same subscription again (sent anew after a session reconnect): it already runs.
    if (this.#subs.has(sub.id)) return;
    const r: Running = {
      sub,
      ac: new AbortController(),
      followed: new Set(),
      buffer: [],
      timer: undefined,
      sending: Promise.resolve(),
    };
    this.#subs.set(sub.id, r);
    const pumps = sub.taskIds.map((id) => this.#pump(r, id, false));
    if (sub.follow) return;
    void Promise.all(pumps).then(async () => {
      await this.#send(r, true);
      this.#subs.delete(sub.id);
    });
  }

  cancel(id: string): void {
    const r = this.#subs.get(id);
    if (!r) return;
    this.#subs.delete(id);
    r.ac.abort();
    if (r.timer) clearTimeout(r.timer);
  }

  /** A task of this node began running: subscriptions that follow its service follow it too. */
  taskStarted(taskId: string, serviceId: string): void {
    for (const r of this.#subs.values())
      if (r.sub.follow && r.sub.serviceId === serviceId) void this.#pump(r, taskId, true);
  }

  stop(): void {
    for (const id of [...this.#subs.keys()]) this.cancel(id);
  }

  async #pump(r: Running, taskId: string, fromStart: boolean): Promise<void> {
    if (r.followed.has(taskId)) return;
    r.followed.add(taskId);
    const logs = this.o.executor.logs?.bind(this.o.executor);
    if (!logs) return;
    const { sub } = r;
    try {
      const opts = fromStart
        ? { follow: true, signal: r.ac.signal }
        : {
            follow: sub.follow,
            signal: r.ac.signal,
            ...(sub.tail !== undefined ? { tail: sub.tail } : {}),
            ...(sub.since !== undefined ? { since: sub.since } : {}),
          };
      for await (const l of logs(taskId, opts)) {
        if (r.ac.signal.aborted) break;
        r.buffer.push({ taskId, ...l });
        if (r.buffer.length >= BATCH_LINES) await this.#send(r, false);
        else r.timer ??= setTimeout(() => void this.#send(r, false), BATCH_MS);
      }
    } catch (e) {
      // A container that is gone has no logs; a cancelled subscription ends its readers.
      if (!r.ac.signal.aborted) this.o.log(`logs of task ${taskId}: ${(e as Error).message}`);
    }
  }

  /** Sends what is buffered, after the batch before it; `done` ends the subscription there. */
  #send(r: Running, done: boolean): Promise<void> {
    if (r.timer) clearTimeout(r.timer);
    r.timer = undefined;
    r.sending = r.sending.then(async () => {
      const lines = r.buffer.splice(0);
      if (r.ac.signal.aborted || (lines.length === 0 && !done)) return;
      try {
        const wanted = await this.o.dispatcher.publishLogs(this.o.nodeId, r.sub.id, lines, done);
        if (!wanted) this.cancel(r.sub.id);
      } catch (e) {
        this.o.log(`publishing logs failed: ${(e as Error).message}`);
        this.cancel(r.sub.id);
      }
    });
    return r.sending;
  }
}
