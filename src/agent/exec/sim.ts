// A cheap in-memory executor: containers are records, exits are triggered by tests. It lets one
// process host many simulated nodes, and lets orchestration tests run without an engine.
import type { Assignment, NodeDescription } from '../../api/index.js';
import type { Controller, Executor, ExitInfo, LogLine, LogOptions, Recovered } from './executor.js';

export interface SimContainer {
  taskId: string;
  serviceId: string;
  state: 'created' | 'running' | 'exited';
  exitCode: number;
  exit?: (e: ExitInfo) => void;
}

export class SimExecutor implements Executor {
  readonly containers = new Map<string, SimContainer>();
  constructor(
    private readonly description: NodeDescription,
    /** Exit code for a task that runs to completion on start (jobs); undefined keeps it running. */
    private readonly behaviour: (a: Assignment) => { exitCode?: number } = () => ({}),
  ) {}

  start(): Promise<void> {
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
  describe(): Promise<NodeDescription> {
    return Promise.resolve(structuredClone(this.description));
  }
  managedTaskIds(): Promise<Map<string, string>> {
    return Promise.resolve(new Map([...this.containers.keys()].map((id) => [id, id])));
  }
  removeContainer(id: string): Promise<void> {
    this.containers.delete(id);
    return Promise.resolve();
  }
  readonly #logs = new Map<string, LogLine[]>();
  readonly #printed = new Set<() => void>();

  /** Writes a line to a task's log, as its process would. */
  print(taskId: string, line: string, stream: 1 | 2 = 1): void {
    const l = this.#logs.get(taskId) ?? [];
    l.push({ stream, timestamp: new Date().toISOString(), line });
    this.#logs.set(taskId, l);
    for (const wake of [...this.#printed]) wake();
  }

  async *logs(taskId: string, opts: LogOptions): AsyncIterable<LogLine> {
    const fromMs = opts.since !== undefined ? opts.since * 1000 : -Infinity;
    const first = this.#logs.get(taskId) ?? [];
    let i = opts.tail !== undefined ? Math.max(0, first.length - opts.tail) : 0;
    for (;;) {
      const lines = this.#logs.get(taskId) ?? [];
      while (i < lines.length) {
        const l = lines[i++]!;
        if (Date.parse(l.timestamp) >= fromMs) yield l;
      }
      if (!opts.follow || opts.signal.aborted || !this.containers.has(taskId)) return;
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.#printed.delete(wake);
          opts.signal.removeEventListener('abort', wake);
          resolve();
        };
        this.#printed.add(wake);
        opts.signal.addEventListener('abort', wake, { once: true });
      });
    }
  }

  /** Readers following a log right now (a cancelled subscription leaves none behind). */
  get followers(): number {
    return this.#printed.size;
  }

  running(): SimContainer[] {
    return [...this.containers.values()].filter((c) => c.state === 'running');
  }
  /** Makes a running container exit, as a crash or `docker kill` would. */
  kill(taskId: string, exitCode = 137): void {
    const c = this.containers.get(taskId);
    if (!c || c.state !== 'running') return;
    c.state = 'exited';
    c.exitCode = exitCode;
    c.exit?.({ exitCode });
  }

  controller(a: Assignment): Controller {
    const id = a.task.ID;
    const ex = this;
    return {
      prepare() {
        if (!ex.containers.has(id))
          ex.containers.set(id, { taskId: id, serviceId: a.task.ServiceID, state: 'created', exitCode: 0 });
        return Promise.resolve(id);
      },
      start() {
        const c = ex.containers.get(id)!;
        c.state = 'running';
        const b = ex.behaviour(a);
        if (b.exitCode !== undefined) setImmediate(() => ex.kill(id, b.exitCode));
        return Promise.resolve({ pid: 1 });
      },
      healthy: () => Promise.resolve(undefined),
      wait(signal) {
        return new Promise((resolve, reject) => {
          const c = ex.containers.get(id);
          if (!c || c.state === 'exited') return resolve({ exitCode: c?.exitCode ?? -1 });
          c.exit = resolve;
          signal.addEventListener('abort', () => reject(new Error('cancelled')), { once: true });
        });
      },
      shutdown() {
        const c = ex.containers.get(id);
        if (c && c.state === 'running') {
          c.state = 'exited';
          c.exitCode = 143;
        }
        return Promise.resolve();
      },
      terminate() {
        return this.shutdown();
      },
      remove() {
        ex.containers.delete(id);
        return Promise.resolve();
      },
      recover(): Promise<Recovered> {
        const c = ex.containers.get(id);
        if (!c) return Promise.resolve({ kind: 'missing' });
        if (c.state === 'running') return Promise.resolve({ kind: 'running', containerId: id, pid: 1 });
        if (c.state === 'created') return Promise.resolve({ kind: 'created', containerId: id });
        return Promise.resolve({ kind: 'exited', containerId: id, exit: { exitCode: c.exitCode } });
      },
    };
  }
}
