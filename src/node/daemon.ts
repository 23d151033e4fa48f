// A shoal node: wires the store, the manager loops and the agent together, and moves between
// "inactive" (no swarm) and "active" on swarm init / leave. Its state lives under --data-root.
import { mkdir, readFile, rm } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { newId, unavailable, type Cluster, type SwarmSpec } from '../api/index.js';
import { isoTime, systemClock, writeFileDurable, type Clock } from '../platform/index.js';
import { LocalLog, MemoryStore } from '../state/index.js';
import { EventLog, Manager } from '../manager/index.js';
import { Agent, DockerExecutor, type Executor } from '../agent/index.js';

export interface DaemonOptions {
  dataRoot: string;
  engineHost: string;
  clock?: Clock;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;
  /** For tests: run tasks through another executor than the Docker engine. */
  executorFactory?: (nodeId: string, events: EventLog) => Executor;
  hostname?: string;
  heartbeatMs?: number;
  /** Engine operations (container create, start) the agent runs at once. */
  engineConcurrency?: number;
}

interface NodeFile {
  nodeId: string;
  addr: string;
  listenAddr: string;
}

export type LocalNodeState = 'inactive' | 'active';

const ALREADY_IN_SWARM =
  'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.';
export const NOT_A_MANAGER =
  'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';

export class Daemon {
  readonly clock: Clock;
  readonly events: EventLog;
  #o: DaemonOptions;
  #node: NodeFile | undefined;
  #store: MemoryStore | undefined;
  #log: LocalLog | undefined;
  #manager: Manager | undefined;
  #agent: Agent | undefined;
  #executor: Executor | undefined;
  #busy: Promise<unknown> = Promise.resolve();
  readonly startedAt = Date.now();

  constructor(o: DaemonOptions) {
    this.#o = o;
    this.clock = o.clock ?? systemClock;
    this.events = new EventLog(this.clock);
  }

  #logf(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void {
    this.#o.log?.(level, msg);
  }

  get #nodeFile(): string {
    return join(this.#o.dataRoot, 'node.json');
  }

  get state(): LocalNodeState {
    return this.#store ? 'active' : 'inactive';
  }
  get nodeId(): string | undefined {
    return this.#node?.nodeId;
  }
  get nodeAddr(): string {
    return this.#node?.addr ?? '';
  }
  get listenAddr(): string {
    return this.#node?.listenAddr ?? '';
  }
  get hostname(): string {
    return this.#o.hostname ?? osHostname();
  }
  get executor(): Executor | undefined {
    return this.#executor;
  }
  get dataRoot(): string {
    return this.#o.dataRoot;
  }
  get engineHost(): string {
    return this.#o.engineHost;
  }

  /** The store and manager; throws Docker's 503 when this node is not in a swarm. */
  get manager(): { store: MemoryStore; manager: Manager } {
    if (!this.#store || !this.#manager) throw unavailable(NOT_A_MANAGER);
    return { store: this.#store, manager: this.#manager };
  }

  /** One state change at a time (init, leave, shutdown). */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#busy.then(fn, fn);
    this.#busy = p.catch(() => undefined);
    return p;
  }

  async start(): Promise<void> {
    await mkdir(this.#o.dataRoot, { recursive: true, mode: 0o700 });
    try {
      this.#node = JSON.parse(await readFile(this.#nodeFile, 'utf8')) as NodeFile;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      return;
    }
    await this.#activate();
    this.#logf('info', `rejoined swarm as node ${this.#node.nodeId}`);
  }

  async #activate(init?: { spec: SwarmSpec }): Promise<void> {
    const node = this.#node!;
    const log = new LocalLog(join(this.#o.dataRoot, 'raft'));
    const store = new MemoryStore(log);
    const { replayed, repairedBytes } = await log.open(store);
    if (repairedBytes > 0)
      this.#logf('warn', `cut ${repairedBytes} bytes of a torn write off the end of the log`);
    this.#logf('debug', `state restored at index ${store.index} (${replayed} log entries replayed)`);
    const logFn = (m: string): void => this.#logf('warn', m);
    const manager = new Manager({
      store,
      clock: this.clock,
      events: this.events,
      log: logFn,
      ...(this.#o.heartbeatMs !== undefined ? { heartbeatMs: this.#o.heartbeatMs } : {}),
    });
    const executor =
      this.#o.executorFactory?.(node.nodeId, this.events) ??
      new DockerExecutor({
        engineHost: this.#o.engineHost,
        nodeId: node.nodeId,
        hostname: this.hostname,
        log: logFn,
        onEngineEvent: (e) => {
          if (!e.Action || !e.Actor?.ID) return;
          this.events.emit({
            Type: 'container',
            Action: e.Action,
            id: e.Actor.ID,
            attrs: e.Actor.Attributes ?? {},
            scope: 'local',
            ...(e.timeNano ? { timeNano: e.timeNano } : {}),
          });
        },
      });
    if (init) {
      await executor.start();
      const description = await executor.describe();
      await manager.control.initCluster({
        nodeId: node.nodeId,
        hostname: this.hostname,
        addr: node.addr,
        listenAddr: node.listenAddr,
        spec: init.spec,
        description,
      });
    }
    this.#store = store;
    this.#log = log;
    this.#manager = manager;
    this.#executor = executor;
    manager.start();
    const agent = new Agent({
      nodeId: node.nodeId,
      addr: node.addr,
      dispatcher: manager.dispatcher,
      executor,
      clock: this.clock,
      log: logFn,
      ...(this.#o.engineConcurrency !== undefined ? { engineConcurrency: this.#o.engineConcurrency } : {}),
    });
    this.#agent = agent;
    if (init) {
      await agent.start();
      return;
    }
    // After a restart the manager serves the API even while the local engine is unreachable;
    // the agent keeps trying, with backoff, and catches up when the engine is back.
    const attempt = (n: number): void => {
      agent.start().catch((e: unknown) => {
        if (this.#agent !== agent) return;
        const delay = Math.min(30_000, 500 * 2 ** n);
        this.#logf('warn', `${(e as Error).message}; retrying in ${delay} ms`);
        this.clock.setTimer(delay, () => {
          if (this.#agent === agent) attempt(n + 1);
        });
      });
    };
    attempt(0);
  }

  init(req: {
    advertiseAddr?: string;
    listenAddr?: string;
    spec?: SwarmSpec;
    forceNewCluster?: boolean;
  }): Promise<string> {
    return this.#serial(async () => {
      if (this.#store) throw unavailable(ALREADY_IN_SWARM);
      const addr =
        (req.advertiseAddr ?? '').split(':')[0] || (req.listenAddr ?? '').split(':')[0] || '127.0.0.1';
      const listenHost = (req.listenAddr ?? '0.0.0.0:2377').split(':')[0] || '0.0.0.0';
      const listenPort = (req.listenAddr ?? '').split(':')[1] || '2377';
      const advHost = addr === '0.0.0.0' ? '127.0.0.1' : addr;
      this.#node = {
        nodeId: newId(),
        addr: advHost,
        listenAddr: `${listenHost === '0.0.0.0' ? advHost : listenHost}:${listenPort}`,
      };
      await rm(join(this.#o.dataRoot, 'raft'), { recursive: true, force: true });
      try {
        await this.#activate({ spec: req.spec ?? {} });
      } catch (e) {
        await this.#deactivate(true);
        this.#node = undefined;
        throw e;
      }
      await writeFileDurable(this.#nodeFile, JSON.stringify(this.#node));
      this.#logf('info', `swarm initialised; this node is ${this.#node.nodeId}`);
      return this.#node.nodeId;
    });
  }

  leave(force: boolean): Promise<void> {
    return this.#serial(async () => {
      if (!this.#store) throw unavailable('This node is not part of a swarm');
      if (!force) {
        throw unavailable(
          'You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message.',
        );
      }
      await this.#deactivate(true);
      await rm(join(this.#o.dataRoot, 'raft'), { recursive: true, force: true });
      await rm(this.#nodeFile, { force: true });
      this.#node = undefined;
      this.#logf('info', 'left the swarm');
    });
  }

  /** Stops everything; with removeTasks, also removes this node's task containers (swarm leave). */
  async #deactivate(removeTasks: boolean): Promise<void> {
    await this.#agent?.stop();
    await this.#manager?.stop();
    if (removeTasks && this.#executor) {
      try {
        for (const cid of (await this.#executor.managedTaskIds()).values())
          await this.#executor.removeContainer(cid);
      } catch (e) {
        this.#logf('warn', `removing task containers: ${(e as Error).message}`);
      }
    }
    await this.#log?.close();
    this.#agent = undefined;
    this.#manager = undefined;
    this.#store = undefined;
    this.#log = undefined;
    this.#executor = undefined;
  }

  /** Clean shutdown (SIGTERM): containers keep running, state is snapshotted. */
  shutdown(): Promise<void> {
    return this.#serial(async () => {
      await this.#log
        ?.snapshot()
        .catch((e: unknown) => this.#logf('warn', `snapshot at shutdown failed: ${(e as Error).message}`));
      await this.#deactivate(false);
    });
  }

  cluster(): Cluster | undefined {
    return this.#store?.view((tx) => tx.cluster());
  }

  now(): string {
    return isoTime(this.clock.now());
  }
}
