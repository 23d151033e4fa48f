// A shoal node (shoald): moves between "inactive" (no swarm), "locked" (autolocked state waiting
// for its key) and "active" on swarm init / join / unlock / leave, and runs a manager's replica,
// cluster port and agent, or a worker's agent. This class is what the HTTP API and the CLI see;
// the work is done by the files named after it (lifecycle, managerrole, roles, renewal, forward,
// clusterport, forcenew, nodefile). Its state lives under --data-root:
//   node.json      who this node is (ID, role, addresses, known managers)
//   certificates/  its TLS identity (Docker's file names)
//   keys.json      the data key for the manager's state, wrapped by the unlock key when autolocked
//   raft/          the manager's durable log and snapshots, encrypted with the data key
import { mkdir } from 'node:fs/promises';
import { unavailable, type Cluster } from '../api/index.js';
import { isoTime, type Clock } from '../platform/index.js';
import type { MemoryStore } from '../state/index.js';
import type { EventLog, LogRequest, LogSink, Manager } from '../manager/index.js';
import type { Executor } from '../agent/index.js';
import type { ForwardApiRequest, TlsMaterial } from '../transport/index.js';
import type { InitRequest, JoinRequest, LocalNodeState } from '../httpapi/index.js';
import type { ApiHandler } from './clusterport.js';
import {
  NOT_A_MANAGER,
  SWARM_LOCKED,
  WORKER_NOT_A_MANAGER,
  init,
  joinSwarm,
  leave,
  restart,
  unlock,
} from './lifecycle.js';
import { unlockKeyOf } from './managerrole.js';
import { encryptionSupport } from '../network/index.js';
import type { DaemonOptions } from './options.js';
import { NodeRuntime } from './runtime.js';
import type { AttachmentDispatcher } from './attachments.js';

export class Daemon {
  readonly clock: Clock;
  readonly events: EventLog;
  readonly startedAt = Date.now();
  readonly #rt: NodeRuntime;

  constructor(o: DaemonOptions) {
    this.#rt = new NodeRuntime(o);
    this.clock = this.#rt.clock;
    this.events = this.#rt.events;
  }

  get state(): LocalNodeState {
    const rt = this.#rt;
    if (!rt.node) return 'inactive';
    return rt.node.role === 'manager' && !rt.replica ? 'locked' : 'active';
  }
  get isManager(): boolean {
    return this.#rt.node?.role === 'manager';
  }
  get nodeId(): string | undefined {
    return this.#rt.node?.nodeId;
  }
  get nodeAddr(): string {
    return this.#rt.node?.addr ?? '';
  }
  get listenAddr(): string {
    return this.#rt.node?.listenAddr ?? '';
  }
  /** The node's session client to the leader's dispatcher (over the cluster port), while in a swarm. */
  get dispatcherClient(): AttachmentDispatcher | undefined {
    return this.#rt.remote;
  }
  /** Cluster addresses of the managers this node knows. */
  get managers(): string[] {
    return this.#rt.node?.managers ?? [];
  }
  get hostname(): string {
    return this.#rt.hostname;
  }
  get executor(): Executor | undefined {
    return this.#rt.executor;
  }
  get dataRoot(): string {
    return this.#rt.dataRoot;
  }
  get engineHost(): string {
    return this.#rt.o.engineHost;
  }
  /** The resolvers of this node's attachable overlay networks among `networks` ([] without a data plane). */
  standaloneDns(networks: readonly string[]): string[] {
    return this.#rt.networking?.standaloneDns(networks) ?? [];
  }
  /** Attaches this node on demand to the attachable networks among `networks` it lacks (no-op without a data plane). */
  async prepareStandalone(networks: readonly string[]): Promise<void> {
    await this.#rt.networking?.prepareStandalone(networks);
  }
  /** This node's current TLS material (certificate chain, key, trusted roots). */
  get tls(): TlsMaterial | undefined {
    return this.#rt.tls;
  }
  /** The port the cluster server is bound to (tests listen on port 0). */
  get clusterPort(): number {
    return this.#rt.server?.port ?? 0;
  }

  /** The store and manager; throws Docker's 503 when this node is not an unlocked manager. */
  get manager(): { store: MemoryStore; manager: Manager } {
    const { replica, node } = this.#rt;
    if (replica) return { store: replica.store, manager: replica.manager };
    if (!node) throw unavailable(NOT_A_MANAGER);
    if (node.role === 'worker') throw unavailable(WORKER_NOT_A_MANAGER);
    throw unavailable(SWARM_LOCKED);
  }

  /** Takes up the swarm membership the data root holds, if any. */
  async start(): Promise<void> {
    await mkdir(this.#rt.dataRoot, { recursive: true, mode: 0o700 });
    // The kernel's encryption support is read once, now, so the node side can ask synchronously.
    void encryptionSupport();
    await restart(this.#rt);
  }

  /** Creates a new swarm with this node as its manager (or forces a new cluster); returns the node ID. */
  init(req: InitRequest): Promise<string> {
    return this.#rt.serial(() => init(this.#rt, req));
  }

  /** Joins an existing swarm through one of its managers. */
  join(req: JoinRequest): Promise<void> {
    return this.#rt.serial(() => joinSwarm(this.#rt, req));
  }

  unlock(unlockKey: string): Promise<void> {
    return this.#rt.serial(() => unlock(this.#rt, unlockKey));
  }

  leave(force: boolean): Promise<void> {
    return this.#rt.serial(() => leave(this.#rt, force));
  }

  /** Clean shutdown (SIGTERM): containers keep running; the raft log already holds every write. */
  shutdown(): Promise<void> {
    return this.#rt.serial(() => this.#rt.deactivate(false));
  }

  /**
   * The logs of tasks on other nodes (`service logs`): the leader's broker subscribes through
   * the agents' sessions, and a follower asks the leader to. Returns the cancel function.
   */
  remoteLogs(request: LogRequest, sink: LogSink): () => void {
    const broker = this.#rt.replica?.manager.leader?.dispatcher.logs;
    if (broker) return broker.subscribe(request, sink);
    return this.#rt.forwarder.subscribeLogs(request, sink);
  }

  /** Installs what runs Engine API requests other managers forward to this one while it leads. */
  setApiHandler(h: ApiHandler): void {
    this.#rt.apiHandler = h;
  }

  /** True on a manager that does not lead: its API writes go to the leader. */
  get forwardsWrites(): boolean {
    const replica = this.#rt.replica;
    return replica !== undefined && !replica.raft.isLeader;
  }

  /** The Raft ID of the leader and of this manager, for ManagerStatus.Leader. */
  get raftLeader(): { self: number; leader: number } | undefined {
    const r = this.#rt.replica?.raft;
    return r ? { self: r.id, leader: r.leader } : undefined;
  }

  /**
   * Runs an API write on the leader and answers once this manager has applied it too, so the
   * client reads its own write here. No leader: Docker's message for a swarm without quorum.
   */
  forwardToLeader(req: ForwardApiRequest): Promise<{ status: number; contentType: string; body: Buffer }> {
    return this.#rt.forwarder.forward(req);
  }

  /** Makes this manager's key store match the cluster's autolock setting. */
  syncKeys(): Promise<void> {
    return this.#rt.syncKeys();
  }

  /** The managers' unlock key (empty while autolock is off). */
  unlockKey(): string {
    const { store } = this.manager; // Docker's 503 unless this node is an unlocked manager
    return unlockKeyOf(store);
  }

  cluster(): Cluster | undefined {
    return this.#rt.replica?.store.view((tx) => tx.cluster());
  }

  now(): string {
    return isoTime(this.clock.now());
  }
}
