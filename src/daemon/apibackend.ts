// The Engine API's view of this daemon (httpapi's ApiBackend) and the API wired to it: httpapi
// knows no Daemon; the node builds the app and hands it what the routes need.
import type { FastifyInstance } from 'fastify';
import type { Server } from 'node:http';
import { unavailable, type Cluster } from '../api/index.js';
import type { LogLine, LogOptions } from '../agent/index.js';
import {
  buildApp,
  runForwarded,
  type ApiBackend,
  type ForwardedRequest,
  type ForwardedResponse,
  type InitRequest,
  type JoinRequest,
  type LeaderLink,
  type LocalNodeState,
  type ManagerAccess,
} from '../httpapi/index.js';
import type { EventLog, LogRequest, LogSink } from '../manager/index.js';
import type { Daemon } from './daemon.js';
import { NO_LEADER } from './forward.js';

/** A follower's writes travel to the leader over the cluster port (`ManagerService.ForwardApi`). */
class DaemonLeaderLink implements LeaderLink {
  readonly #d: Daemon;
  constructor(d: Daemon) {
    this.#d = d;
  }
  get forwardsWrites(): boolean {
    return this.#d.forwardsWrites;
  }
  forwardToLeader(req: ForwardedRequest): Promise<ForwardedResponse> {
    return this.#d.forwardToLeader(req);
  }
  noLeader(): Error {
    return unavailable(NO_LEADER);
  }
}

export class DaemonApiBackend implements ApiBackend {
  readonly #d: Daemon;
  readonly leader: LeaderLink;
  constructor(d: Daemon) {
    this.#d = d;
    this.leader = new DaemonLeaderLink(d);
  }

  get state(): LocalNodeState {
    return this.#d.state;
  }
  get isManager(): boolean {
    return this.#d.isManager;
  }
  get nodeId(): string | undefined {
    return this.#d.nodeId;
  }
  get nodeAddr(): string {
    return this.#d.nodeAddr;
  }
  get managers(): readonly string[] {
    return this.#d.managers;
  }
  get hostname(): string {
    return this.#d.hostname;
  }
  get dataRoot(): string {
    return this.#d.dataRoot;
  }
  get startedAt(): number {
    return this.#d.startedAt;
  }
  get raftLeader(): { self: number; leader: number } | undefined {
    return this.#d.raftLeader;
  }
  get engineHost(): string {
    return this.#d.engineHost;
  }
  get events(): EventLog {
    return this.#d.events;
  }
  standaloneDns(networks: readonly string[]): string[] {
    return this.#d.standaloneDns(networks);
  }
  prepareStandalone(networks: readonly string[]): Promise<void> {
    return this.#d.prepareStandalone(networks);
  }

  manager(): ManagerAccess {
    const { store, manager } = this.#d.manager;
    return { store, control: manager.control };
  }
  cluster(): Cluster | undefined {
    return this.#d.cluster();
  }

  init(req: InitRequest): Promise<string> {
    return this.#d.init(req);
  }
  join(req: JoinRequest): Promise<void> {
    return this.#d.join(req);
  }
  leave(force: boolean): Promise<void> {
    return this.#d.leave(force);
  }
  unlock(unlockKey: string): Promise<void> {
    return this.#d.unlock(unlockKey);
  }
  unlockKey(): string {
    return this.#d.unlockKey();
  }
  syncKeys(): Promise<void> {
    return this.#d.syncKeys();
  }

  localLogs(): ((taskId: string, opts: LogOptions) => AsyncIterable<LogLine>) | undefined {
    const executor = this.#d.executor;
    return executor?.logs?.bind(executor);
  }
  remoteLogs(request: LogRequest, sink: LogSink): () => void {
    return this.#d.remoteLogs(request, sink);
  }
}

/**
 * The Engine API of `daemon`: the routes over its backend, and, while it leads, the runner of the
 * writes other managers forward to it.
 */
export function daemonApi(daemon: Daemon): FastifyInstance<Server> {
  const app = buildApp(new DaemonApiBackend(daemon));
  daemon.setApiHandler((req) => runForwarded(app, req));
  return app;
}
