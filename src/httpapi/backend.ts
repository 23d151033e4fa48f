// What the Engine API needs from the node it runs on. The node implements it (node/apibackend.ts)
// and hands it to buildApp, so this module never imports the node: the arrow runs node → httpapi.
import type { Cluster, ClusterNetworkConfig, NodeAvailability, SwarmSpec } from '../api/index.js';
import type { LogLine, LogOptions } from '../agent/index.js';
import type { ControlAPI, EventLog, LogRequest, LogSink } from '../manager/index.js';
import type { MemoryStore } from '../state/index.js';

/** Docker's LocalNodeState as `docker info` shows it. */
export type LocalNodeState = 'inactive' | 'locked' | 'active';

/** The cluster's state as a manager holds it. */
export interface ManagerAccess {
  store: MemoryStore;
  control: ControlAPI;
}

export interface InitRequest {
  advertiseAddr?: string;
  listenAddr?: string;
  spec?: SwarmSpec;
  /** The overlay address pools and VXLAN port of a new swarm. */
  network?: ClusterNetworkConfig;
  forceNewCluster?: boolean;
}

export interface JoinRequest {
  remoteAddrs: string[];
  joinToken: string;
  advertiseAddr?: string;
  listenAddr?: string;
  availability?: NodeAvailability;
}

/** An Engine API request carried whole to the leader (`ManagerService.ForwardApi`). */
export interface ForwardedRequest {
  method: string;
  /** Path and query as the client sent them, version prefix included. */
  url: string;
  /** The headers the routes read (Content-Type, X-Registry-Auth), lower-case names. */
  headers: Record<string, string>;
  body: Buffer;
}

export interface ForwardedResponse {
  status: number;
  contentType: string;
  body: Buffer;
}

/** How a manager that does not lead reaches the one that does (see forwarding.ts). */
export interface LeaderLink {
  /** True on a manager that does not lead: its cluster writes are run by the leader. */
  readonly forwardsWrites: boolean;
  /**
   * Runs a write on the leader and answers once this manager has applied the leader's index, so
   * the client reads its own write here. No leader: Docker's 503 `noLeader()`.
   */
  forwardToLeader(req: ForwardedRequest): Promise<ForwardedResponse>;
  /** Docker's 503 "The swarm does not have a leader…". */
  noLeader(): Error;
}

export interface ApiBackend {
  // ---- this node ----
  readonly state: LocalNodeState;
  readonly isManager: boolean;
  readonly nodeId: string | undefined;
  readonly nodeAddr: string;
  /** Cluster addresses of the managers this node knows. */
  readonly managers: readonly string[];
  readonly hostname: string;
  readonly dataRoot: string;
  /** When the daemon started (ms since the epoch): `/version`'s BuildTime. */
  readonly startedAt: number;
  /** The Raft IDs of the leader and of this manager, for ManagerStatus.Leader. */
  readonly raftLeader: { self: number; leader: number } | undefined;
  /**
   * The node's container engine (unix:///path or tcp://host:port), which answers every route shoal
   * does not own; none: shoal answers alone (tests over a stand-in backend).
   */
  readonly engineHost?: string;
  /**
   * The resolvers of this node's attachable shoal networks among `networks` (names or IDs, as a
   * container create names them), in order; [] when none is one. A standalone container created
   * through shoal's socket without `--dns` gets them (httpapi/containercreate.ts).
   */
  standaloneDns?(networks: readonly string[]): string[];
  /**
   * Before such a create: the attachable shoal networks among `networks` that this node does not
   * hold yet are attached on demand, so their engine networks exist. Rejects with what the client
   * sees (a network that is not attachable).
   */
  prepareStandalone?(networks: readonly string[]): Promise<void>;

  // ---- the cluster ----
  /** The store and ControlAPI; throws Docker's 503 unless this node is an unlocked manager. */
  manager(): ManagerAccess;
  /** The cluster object when this node is an unlocked manager. */
  cluster(): Cluster | undefined;
  readonly leader: LeaderLink;
  readonly events: EventLog;

  // ---- swarm membership of this node ----
  /** Creates a swarm with this node as its manager; returns the node ID. */
  init(req: InitRequest): Promise<string>;
  join(req: JoinRequest): Promise<void>;
  leave(force: boolean): Promise<void>;
  unlock(unlockKey: string): Promise<void>;
  /** The managers' unlock key (empty while autolock is off); Docker's 503 unless a manager. */
  unlockKey(): string;
  /** Makes this manager's key store follow the cluster's autolock setting just written. */
  syncKeys(): Promise<void>;

  // ---- logs ----
  /** Task logs from this node's engine, when its executor can read them. */
  localLogs(): ((taskId: string, opts: LogOptions) => AsyncIterable<LogLine>) | undefined;
  /** Logs of tasks on other nodes, through the leader's log broker; returns the cancel function. */
  remoteLogs(request: LogRequest, sink: LogSink): () => void;
}
