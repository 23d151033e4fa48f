// A shoal node: wires the store, the manager loops, the cluster port and the agent together,
// and moves between "inactive" (no swarm), "locked" (autolocked state waiting for its key) and
// "active" on swarm init / join / unlock / leave. Its state lives under --data-root:
//   node.json      who this node is (ID, role, addresses, known managers)
//   certificates/  its TLS identity (Docker's file names)
//   keys.json      the data key for the manager's state, wrapped by the unlock key when autolocked
//   raft/          the manager's durable log and snapshots, encrypted with the data key
import { mkdir, readFile, rm } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import {
  ShoalError,
  badParameter,
  isShoalError,
  invalidArgument,
  newId,
  unavailable,
  type Cluster,
  type NodeAvailability,
  type SwarmSpec,
  type TlsTarget,
} from '../api/index.js';
import {
  aesGcmCipher,
  isoTime,
  systemClock,
  writeFileDurable,
  type Cancel,
  type Clock,
  type RecordCipher,
} from '../platform/index.js';
import { MemoryStore, RaftProposer, type Change } from '../state/index.js';
import {
  NodeRaftDisk,
  RaftNode,
  bootstrapSingleMember,
  raftTiming,
  readMemberLog,
  type RaftNodeOptions,
  type RaftTimingMs,
} from '../raft/index.js';
import {
  DEFAULT_NODE_CERT_VALIDITY_MS,
  KeyStore,
  createKeyAndCsr,
  createRootCA,
  identityOf,
  parseJoinToken,
  renewalDelayMs,
  signNodeCertificate,
  signedByRoot,
} from '../ca/index.js';
import {
  CAServiceService,
  ClusterServer,
  DispatcherServiceService,
  GrpcRaftTransport,
  ManagerServiceService,
  managerService,
  notLeaderError,
  registerRaftService,
  CLUSTER_CHANNEL_OPTIONS,
  ManagerServiceClient,
  leaderHint,
  fromServiceError,
  managerChannelCredentials,
  type ForwardApiRequest,
  type ForwardApiResponse,
  type SubscribeLogsRequest,
  type SubscribeLogsResponse,
  type TlsMaterial,
} from '../transport/index.js';
import { Metadata, status as grpcStatus } from '@grpc/grpc-js';
import {
  EventLog,
  Manager,
  dispatcherService,
  raftMembers,
  type LogRequest,
  type LogSink,
  type RaftGroup,
} from '../manager/index.js';
import { Agent, DockerExecutor, RemoteDispatcher, type Executor } from '../agent/index.js';
import { CertFiles, joinRaft, renewCertificate, requestJoinCertificate } from './certs.js';

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
  /** Where task secrets are mounted (tmpfs), outside the data root; default /var/run/shoal. */
  execRoot?: string;
  /** The cluster port address when swarm init/join gives none; Docker's is 0.0.0.0:2377 (tests use port 0). */
  defaultListenAddr?: string;
  /** Raft settings for managers. */
  raft?: RaftSettings;
}

export interface RaftSettings extends RaftTimingMs {
  snapshotInterval?: number;
  snapshotKeep?: number;
  /** Committed entries the operator chose to skip (`--raft-skip-entry`): see RaftNodeOptions. */
  skipEntries?: ReadonlySet<number>;
}

/** The manager's Raft timing (see raft/node/timing.ts) and snapshot settings. */
function raftSettings(
  o: RaftSettings = {},
): ReturnType<typeof raftTiming> &
  Pick<RaftNodeOptions, 'snapshotInterval' | 'snapshotKeep' | 'skipEntries'> {
  return {
    ...raftTiming(o),
    ...(o.snapshotInterval !== undefined ? { snapshotInterval: o.snapshotInterval } : {}),
    ...(o.snapshotKeep !== undefined ? { snapshotKeep: o.snapshotKeep } : {}),
    ...(o.skipEntries?.size ? { skipEntries: o.skipEntries } : {}),
  };
}

/** Runs an Engine API request forwarded from another manager; the HTTP API installs it. */
export type ApiHandler = (
  req: ForwardApiRequest,
) => Promise<{ status: number; contentType: string; body: Buffer }>;

/**
 * Raft ID → cluster address of every member: the store's node records, and until the store knows
 * them, the members the leader named at join. Recomputed only when nodes change.
 */
class RaftPeers {
  #cache: Map<number, string> | undefined;
  constructor(
    private readonly store: MemoryStore,
    private readonly bootstrap: () => readonly { raftId: number; addr: string }[],
  ) {
    store.subscribe((e) => {
      if (e.kind === 'change' && e.change.table === 'nodes') this.#cache = undefined;
    });
  }
  invalidate(): void {
    this.#cache = undefined;
  }
  get(): ReadonlyMap<number, string> {
    if (this.#cache) return this.#cache;
    const m = new Map<number, string>();
    for (const p of this.bootstrap()) m.set(p.raftId, p.addr);
    for (const r of raftMembers(this.store)) m.set(r.raftId, r.addr);
    this.#cache = m;
    return m;
  }
}

/** A follower's log request as the leader's broker takes it; bad JSON asks for nothing. */
function logRequestFromWire(req: SubscribeLogsRequest): LogRequest {
  let byNode: Record<string, unknown> = {};
  try {
    const v = JSON.parse(Buffer.from(req.tasksByNodeJson).toString('utf8')) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) byNode = v as Record<string, unknown>;
  } catch {
    /* nothing asked */
  }
  const tasksByNode = new Map<string, string[]>();
  for (const [node, ids] of Object.entries(byNode))
    if (Array.isArray(ids))
      tasksByNode.set(
        node,
        ids.filter((x): x is string => typeof x === 'string'),
      );
  return {
    tasksByNode,
    follow: req.follow,
    ...(req.serviceId ? { serviceId: req.serviceId } : {}),
    ...(req.tail >= 0 ? { tail: req.tail } : {}),
    ...(req.since > 0 ? { since: req.since } : {}),
    ...(req.excludeNode ? { excludeNode: req.excludeNode } : {}),
  };
}

/** The membership's view of the Raft node, which exists only once the manager has started it. */
function raftGroupOf(raft: () => RaftNode | undefined): RaftGroup {
  const r = (): RaftNode => {
    const n = raft();
    if (!n) throw unavailable('the raft node is not running');
    return n;
  };
  return {
    get id() {
      return r().id;
    },
    get leader() {
      return r().leader;
    },
    get confState() {
      return r().confState;
    },
    status: () => raft()?.status(),
    addLearner: (id) => r().addLearner(id),
    promote: (id) => r().promote(id),
    removeMember: (id) => r().removeMember(id),
    transferLeadership: (to) => r().transferLeadership(to),
  };
}

interface NodeFile {
  nodeId: string;
  role: 'manager' | 'worker';
  /** Advertised host of this node. */
  addr: string;
  /** Cluster port address (host:port) a manager listens on. */
  listenAddr: string;
  /** Cluster addresses of the managers, as last learned. */
  managers: string[];
  /** A manager's member ID in the Raft group (absent: 1, as written before managers replicated). */
  raftId?: number;
  /** The members the leader named when this manager joined, until its store knows them. */
  raftPeers?: { raftId: number; addr: string }[];
  /**
   * A manager that has not yet received the group's state (set when it starts to join, cleared
   * once it holds the state): only then may its Raft log be empty. Any other manager whose log is
   * missing or empty has lost it and refuses to start.
   */
  joining?: boolean;
}

/** What an operator does about a damaged or missing file under the data root. */
function recoverHint(dataRoot: string): string {
  return `restore it from a backup, or move ${dataRoot} aside and join the swarm again (for a manager, first remove this node on a healthy manager with docker node rm --force); see "Disk faults and recovery" in docs/ARCHITECTURE.md`;
}

/** node.json as read, checked field by field: a damaged file is refused naming it. */
function parseNodeFile(path: string, dataRoot: string, text: string): NodeFile {
  const damaged = (why: string): Error =>
    new Error(`${path} is damaged (${why}); it says who this node is in the swarm: ${recoverHint(dataRoot)}`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw damaged(text.trim() === '' ? 'it is empty' : `not JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw damaged('not a JSON object');
  const n = v as Record<string, unknown>;
  if (typeof n.role === 'string' && n.role !== 'manager' && n.role !== 'worker')
    throw new Error(
      `${path} was written by a shoal without cluster certificates; move ${dataRoot} aside and run "swarm init" again`,
    );
  const str = (k: string): boolean => typeof n[k] === 'string';
  const bad = [
    !str('nodeId') || n.nodeId === '' ? 'nodeId' : '',
    !str('role') ? 'role' : '',
    !str('addr') ? 'addr' : '',
    !str('listenAddr') ? 'listenAddr' : '',
    !Array.isArray(n.managers) || n.managers.some((m) => typeof m !== 'string') ? 'managers' : '',
    n.raftId !== undefined && !Number.isSafeInteger(n.raftId) ? 'raftId' : '',
    n.raftPeers !== undefined && !Array.isArray(n.raftPeers) ? 'raftPeers' : '',
    n.joining !== undefined && typeof n.joining !== 'boolean' ? 'joining' : '',
  ].filter((k) => k !== '');
  if (bad.length > 0) throw damaged(`bad or missing ${bad.join(', ')}`);
  return v as NodeFile;
}

export type LocalNodeState = 'inactive' | 'locked' | 'active';

const ALREADY_IN_SWARM =
  'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.';
export const NOT_A_MANAGER =
  'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
export const WORKER_NOT_A_MANAGER =
  "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.";
export const SWARM_LOCKED =
  'Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" to unlock it.';
/** setTimeout fires at once beyond this; longer delays are waited out in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const RENEW_RETRY_MS = 60_000;
/** The Raft member ID of a manager whose node.json predates replicated managers. */
const LEGACY_RAFT_ID = 1;
const LEADERSHIP_TIMEOUT_MS = 30_000;
/** Docker's message when a write finds no leader (too few managers online). */
export const NO_LEADER =
  "The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.";
const FORWARD_TIMEOUT_MS = 60_000;
/** How long a follower waits to apply a write it forwarded before answering anyway. */
const FORWARD_CATCH_UP_MS = 5_000;

/** The Raft ID the store records for a node, if any. */
function raftIdOf(store: MemoryStore, nodeId: string): number | undefined {
  return store.view((tx) => tx.get('nodes', nodeId)?.ManagerStatus?.RaftID);
}

/** Polls cond every 5 ms; resolves false if it is still false after timeoutMs. */
async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

/** A random member ID for a new Raft group's first manager (the leader picks them for joiners). */
function newRaftId(): number {
  return 1 + Math.floor(Math.random() * (2 ** 31 - 2));
}

/** Resolves once the store has applied `index`, or after timeoutMs. */
function waitForIndex(store: MemoryStore, index: number, timeoutMs: number): Promise<void> {
  if (store.index >= index) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      unsubscribe();
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    const unsubscribe = store.subscribe((e) => {
      if (e.kind === 'commit' && e.index >= index) done();
    });
  });
}
/** Nodes renew within this long of learning of a root rotation. */
const ROTATION_SPREAD_MS = 1000;

export class Daemon {
  readonly clock: Clock;
  readonly events: EventLog;
  #o: DaemonOptions;
  #node: NodeFile | undefined;
  #tls: TlsMaterial | undefined;
  #certs: CertFiles;
  #keys: KeyStore | undefined;
  #store: MemoryStore | undefined;
  #raft: RaftNode | undefined;
  #transport: GrpcRaftTransport | undefined;
  #apiHandler: ApiHandler | undefined;
  #manager: Manager | undefined;
  #server: ClusterServer | undefined;
  #remote: RemoteDispatcher | undefined;
  #agent: Agent | undefined;
  #executor: Executor | undefined;
  #renewTimer: Cancel | undefined;
  #renewing = false;
  #tlsTarget: TlsTarget | undefined;
  #busy: Promise<unknown> = Promise.resolve();
  readonly startedAt = Date.now();

  constructor(o: DaemonOptions) {
    this.#o = o;
    this.clock = o.clock ?? systemClock;
    this.events = new EventLog(this.clock);
    this.#certs = new CertFiles(o.dataRoot);
  }

  #logf(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void {
    this.#o.log?.(level, msg);
  }

  get #nodeFile(): string {
    return join(this.#o.dataRoot, 'node.json');
  }

  get state(): LocalNodeState {
    if (!this.#node) return 'inactive';
    return this.#node.role === 'manager' && !this.#store ? 'locked' : 'active';
  }
  get isManager(): boolean {
    return this.#node?.role === 'manager';
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
  /** Cluster addresses of the managers this node knows. */
  get managers(): string[] {
    return this.#node?.managers ?? [];
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
  /** This node's current TLS material (certificate chain, key, trusted roots). */
  get tls(): TlsMaterial | undefined {
    return this.#tls;
  }
  /** The port the cluster server is bound to (tests listen on port 0). */
  get clusterPort(): number {
    return this.#server?.port ?? 0;
  }

  /** The store and manager; throws Docker's 503 when this node is not an unlocked manager. */
  get manager(): { store: MemoryStore; manager: Manager } {
    if (this.#store && this.#manager) return { store: this.#store, manager: this.#manager };
    if (!this.#node) throw unavailable(NOT_A_MANAGER);
    if (this.#node.role === 'worker') throw unavailable(WORKER_NOT_A_MANAGER);
    throw unavailable(SWARM_LOCKED);
  }

  /** One state change at a time (init, join, unlock, leave, shutdown). */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#busy.then(fn, fn);
    this.#busy = p.catch(() => undefined);
    return p;
  }

  async start(): Promise<void> {
    await mkdir(this.#o.dataRoot, { recursive: true, mode: 0o700 });
    let text: string;
    try {
      text = await readFile(this.#nodeFile, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      return;
    }
    this.#node = parseNodeFile(this.#nodeFile, this.#o.dataRoot, text);
    if (this.#node.role === 'manager') {
      this.#keys = await KeyStore.open(this.#o.dataRoot);
      if (!this.#keys.exists) {
        const file = join(this.#o.dataRoot, 'keys.json');
        throw new Error(
          `${file} is missing, but ${this.#nodeFile} says this node is a manager (its state is sealed with the key kept there): ${recoverHint(this.#o.dataRoot)}`,
        );
      }
      if (this.#keys.locked) {
        this.#logf('warn', 'swarm state is locked; waiting for "docker swarm unlock"');
        return;
      }
      this.#tls = await this.#certs.load(this.#dataCipher());
      await this.#activateManager();
    } else {
      this.#tls = await this.#certs.load();
      await this.#activateWorker();
    }
    this.#logf('info', `rejoined swarm as ${this.#node.role} ${this.#node.nodeId}`);
  }

  #newExecutor(nodeId: string): Executor {
    const logFn = (m: string): void => this.#logf('warn', m);
    return (
      this.#o.executorFactory?.(nodeId, this.events) ??
      new DockerExecutor({
        engineHost: this.#o.engineHost,
        nodeId,
        hostname: this.hostname,
        execRoot: join(this.#o.execRoot ?? '/var/run/shoal', nodeId),
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
      })
    );
  }

  /**
   * Starts this node as a manager: its store on a Raft node, the cluster port, and its agent.
   * `init` creates the cluster (a one-member group); `joining` asks the leader for a place in the
   * group first (as a learner; the leader promotes it once it has caught up); otherwise the node
   * restarts from its Raft log.
   */
  async #activateManager(
    opts: {
      init?: { spec: SwarmSpec; clusterId: string; root: { certPem: string; keyPem: string } };
      joining?: boolean;
    } = {},
  ): Promise<void> {
    const { init, joining } = opts;
    const node = this.#node!;
    const logFn = (m: string): void => this.#logf('warn', m);
    const infoFn = (m: string): void => this.#logf('info', m);
    const store = new MemoryStore({ propose: () => Promise.reject(new Error('the store is not open yet')) });
    const members = new RaftPeers(store, () => this.#node?.raftPeers ?? []);
    store.subscribe((e) => {
      if (e.kind === 'change' && e.change.table === 'clusters' && this.#store === store) void this.syncKeys();
    });
    const proposer = new RaftProposer(store, {
      onRestore: () => {
        members.invalidate();
        void this.syncKeys();
        if (this.#raft?.running)
          this.#logf(
            'info',
            `installed a snapshot of the cluster state at index ${store.index} from the leader`,
          );
      },
    });
    store.setProposer(proposer);
    const group = raftGroupOf(() => this.#raft);
    const manager = new Manager({
      store,
      clock: this.clock,
      events: this.events,
      raft: group,
      log: infoFn,
      clusterId: identityOf(this.#tls!.certPem).clusterId,
      selfAddr: () => this.#node?.listenAddr ?? '',
      ...(this.#o.heartbeatMs !== undefined ? { heartbeatMs: this.#o.heartbeatMs } : {}),
    });
    const policy = manager.ca.policy();
    const requireLeader = (): void => {
      if (!this.#raft?.isLeader) throw notLeaderError(this.#leaderAddr());
    };
    const server = new ClusterServer(this.#tls!);
    server.addService(
      CAServiceService,
      manager.ca.service(() => this.unlockKey(), requireLeader),
    );
    server.addService(
      DispatcherServiceService,
      dispatcherService(
        () => {
          const d = manager.leader?.dispatcher;
          if (!d) throw notLeaderError(this.#leaderAddr());
          return d;
        },
        policy,
        logFn,
      ),
    );
    registerRaftService(server, {
      policy,
      // A manager speaks only for its own Raft ID: a message claiming another member's is dropped.
      deliver: (m, fromNode) => {
        const claimed = raftIdOf(store, fromNode);
        if (claimed !== undefined && claimed !== m.from) {
          logFn(`raft: dropped a ${m.type} from node ${fromNode} claiming to be member ${m.from}`);
          return;
        }
        this.#transport?.deliver(m);
      },
      log: logFn,
    });
    server.addService(
      ManagerServiceService,
      managerService({
        policy,
        log: logFn,
        joinRaft: async (nodeId, addr) => {
          const m = manager.leader?.membership;
          if (!m) throw notLeaderError(this.#leaderAddr());
          const r = await m.join(nodeId, addr);
          return { raftId: r.raftId, members: r.members };
        },
        forwardApi: async (req) => {
          requireLeader();
          if (!this.#apiHandler) throw unavailable('this manager is not serving its API yet');
          const res = await this.#apiHandler(req);
          return { ...res, appliedIndex: store.index };
        },
        subscribeLogs: (req, sink) => {
          const broker = manager.leader?.dispatcher.logs;
          if (!broker) throw notLeaderError(this.#leaderAddr());
          return broker.subscribe(logRequestFromWire(req), {
            lines: (lines) => sink.lines(lines.map((l) => ({ ...l }))),
            end: () => sink.end(),
          });
        },
      }),
    );
    this.#server = server;
    this.#store = store;
    this.#manager = manager;
    const port = await server.listen(node.listenAddr);
    if (node.listenAddr.endsWith(':0')) node.listenAddr = `${node.listenAddr.slice(0, -2)}:${port}`;
    if (joining) {
      const joined = await joinRaft(node.managers[0] ?? '', this.#tls!, node.listenAddr);
      node.raftId = joined.raftId;
      node.raftPeers = joined.members.map((m) => ({ raftId: m.raftId, addr: m.addr }));
      node.managers = [
        node.listenAddr,
        ...joined.members.map((m) => m.addr).filter((a) => a !== node.listenAddr),
      ];
      await writeFileDurable(this.#nodeFile, JSON.stringify(node));
    }
    const raftId = node.raftId ?? LEGACY_RAFT_ID;
    const transport = new GrpcRaftTransport({
      selfId: raftId,
      peers: () => members.get(),
      tls: () => this.#tls!,
      log: logFn,
    });
    let wasMember = false;
    let becameLeader: () => void = () => undefined;
    const leading = new Promise<void>((resolve) => (becameLeader = resolve));
    const raft = new RaftNode({
      id: raftId,
      disk: new NodeRaftDisk(join(this.#o.dataRoot, 'raft'), {
        cipher: this.#dataCipher(),
        log: (m) => this.#logf('warn', `raft: ${m}`),
      }),
      transport,
      clock: this.clock,
      rand: Math.random,
      stateMachine: proposer,
      ...(init ? { peers: [raftId] } : {}),
      // A manager that is not joining has had the group's state: a log without it is lost.
      ...(!init && !joining && node.joining !== true
        ? { expectState: `${this.#nodeFile} says this node is a manager that holds Raft state` }
        : {}),
      ...raftSettings(this.#o.raft),
      onLeaderChange: (isLeader, lead, term) => {
        if (this.#raft !== raft) return;
        if (isLeader) {
          this.#logf('info', `raft: this manager (${raftId}) leads term ${term}`);
          becameLeader();
          if (this.#store === store && store.view((tx) => tx.cluster()) !== undefined) manager.lead();
        } else {
          if (manager.leader) this.#logf('info', `raft: this manager lost leadership (leader now ${lead})`);
          void manager.stepDown();
        }
      },
      onConfChange: (_cc, cs) => {
        members.invalidate();
        if (this.#raft !== raft) return;
        // A joining manager replays changes from before it was added: only leaving counts.
        const member = cs.voters.includes(raftId) || cs.learners.includes(raftId);
        if (member) wasMember = true;
        else if (wasMember) this.#onRemovedFromGroup(raft);
      },
      onFatal: (e) => this.#logf('error', `this manager's raft member stopped: ${(e as Error).message}`),
      onDiskFault: (e) =>
        e
          ? this.#logf('error', `raft: ${e.message}; writes fail until the disk takes them again`)
          : this.#logf('info', 'raft: the disk takes writes again'),
    });
    proposer.attach(raft);
    this.#transport = transport;
    this.#raft = raft;
    try {
      await raft.start();
    } catch (e) {
      // Refused (its state is damaged or missing): stop the cluster port and the rest again.
      await this.#deactivate(false);
      throw e;
    }
    // A restart part-way through a join: once the state is here, an empty log means it was lost.
    if (node.joining === true && !joining && (raft.status()?.lastIndex ?? 0) > 0) await this.#joined(node);
    const cs0 = raft.confState;
    wasMember = cs0.voters.includes(raftId) || cs0.learners.includes(raftId);
    // Serve nothing stale: apply what this member already knows is committed before answering.
    const known = raft.status()?.commit ?? 0;
    await until(() => raft.appliedIndex >= known || !raft.running, LEADERSHIP_TIMEOUT_MS);
    // A group of one leads at once; wait for that so the first write does not find no leader.
    const soleVoter = cs0.voters.length === 1 && cs0.voters[0] === raftId;
    if (init || soleVoter) {
      let timer: Cancel | undefined;
      await Promise.race([
        leading,
        new Promise<never>((_, reject) => {
          timer = this.clock.setTimer(LEADERSHIP_TIMEOUT_MS, () =>
            reject(new Error('the manager did not become leader of its raft log in time')),
          );
        }),
      ]).finally(() => timer?.());
    }
    if (joining) {
      await this.#caughtUp(store, raft, raftId);
      await this.#joined(node);
    }
    this.#logf('debug', `state restored at index ${store.index}`);
    const executor = this.#newExecutor(node.nodeId);
    if (init) {
      await executor.start();
      await manager.control.initCluster({
        nodeId: node.nodeId,
        hostname: this.hostname,
        addr: node.addr,
        listenAddr: node.listenAddr,
        spec: init.spec,
        description: await executor.describe(),
        clusterId: init.clusterId,
        rootCA: init.root,
        raftId,
      });
      manager.lead();
    }
    if (init) node.managers = [node.listenAddr];
    this.#executor = executor;
    manager.start();
    // The manager's own agent talks to the leader's dispatcher like any other node's.
    const remote = this.#newRemote(node.managers);
    this.#remote = remote;
    const started = this.#startAgent(new Agent(this.#agentOptions(remote, executor)));
    if (init) await started;
    this.#scheduleRenewal();
    await this.syncKeys();
  }

  /**
   * The logs of tasks on other nodes (`service logs`): the leader's broker subscribes through
   * the agents' sessions, and a follower asks the leader to. Returns the cancel function.
   */
  remoteLogs(request: LogRequest, sink: LogSink): () => void {
    const broker = this.#manager?.leader?.dispatcher.logs;
    if (broker) return broker.subscribe(request, sink);
    const addr = this.#leaderAddr();
    if (!this.#store || !this.#tls || !addr || addr === this.#node?.listenAddr) {
      sink.end();
      return () => undefined;
    }
    const client = new ManagerServiceClient(
      addr,
      managerChannelCredentials(this.#tls),
      CLUSTER_CHANNEL_OPTIONS,
    );
    const call = client.subscribeLogs({
      tasksByNodeJson: Buffer.from(JSON.stringify(Object.fromEntries(request.tasksByNode))),
      serviceId: request.serviceId ?? '',
      follow: request.follow,
      tail: request.tail ?? -1,
      since: request.since ?? 0,
      excludeNode: request.excludeNode ?? '',
    });
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      client.close();
      sink.end();
    };
    call.on('data', (res: SubscribeLogsResponse) =>
      sink.lines(res.lines.map((l) => ({ ...l, stream: l.stream === 2 ? 2 : 1 }))),
    );
    call.on('error', (e: Error) => {
      if (!ended) this.#logf('warn', `logs from the leader: ${e.message}`);
      end();
    });
    call.on('end', end);
    return () => {
      if (ended) return;
      call.cancel();
      end();
    };
  }

  /** Installs what runs Engine API requests other managers forward to this one while it leads. */
  setApiHandler(h: ApiHandler): void {
    this.#apiHandler = h;
  }

  /** True on a manager that does not lead: its API writes go to the leader. */
  get forwardsWrites(): boolean {
    return this.#store !== undefined && this.#raft !== undefined && !this.#raft.isLeader;
  }

  /** The Raft ID of the leader and of this manager, for ManagerStatus.Leader. */
  get raftLeader(): { self: number; leader: number } | undefined {
    const r = this.#raft;
    return r ? { self: r.id, leader: r.leader } : undefined;
  }

  /**
   * Runs an API write on the leader and answers once this manager has applied it too, so the
   * client reads its own write here. No leader: Docker's message for a swarm without quorum.
   */
  async forwardToLeader(
    req: ForwardApiRequest,
  ): Promise<{ status: number; contentType: string; body: Buffer }> {
    const store = this.#store;
    let addr = this.#leaderAddr();
    for (let hop = 0; ; hop++) {
      if (!addr || addr === this.#node?.listenAddr || !store) throw unavailable(NO_LEADER);
      let res: ForwardApiResponse;
      try {
        res = await this.#forwardClient(addr).call(req);
      } catch (e) {
        const hint = leaderHint(e);
        if (hint && hint !== addr && hop < 2) {
          addr = hint;
          continue;
        }
        const err = e as { code?: number; details?: string; message?: string };
        if (err.code === grpcStatus.UNAVAILABLE) throw unavailable(NO_LEADER);
        throw unavailable(`the leader did not answer: ${err.details || err.message || String(e)}`);
      }
      await waitForIndex(store, res.appliedIndex, FORWARD_CATCH_UP_MS);
      return { status: res.status, contentType: res.contentType, body: Buffer.from(res.body) };
    }
  }

  #forward: { addr: string; tls: TlsMaterial; client: ManagerServiceClient } | undefined;

  #forwardClient(addr: string): { call: (req: ForwardApiRequest) => Promise<ForwardApiResponse> } {
    const tls = this.#tls!;
    if (!this.#forward || this.#forward.addr !== addr || this.#forward.tls !== tls) {
      this.#forward?.client.close();
      this.#forward = {
        addr,
        tls,
        client: new ManagerServiceClient(addr, managerChannelCredentials(tls), CLUSTER_CHANNEL_OPTIONS),
      };
    }
    const client = this.#forward.client;
    return {
      call: (req) =>
        new Promise((resolve, reject) =>
          client.forwardApi(req, new Metadata(), { deadline: Date.now() + FORWARD_TIMEOUT_MS }, (err, res) =>
            err ? reject(err) : resolve(res),
          ),
        ),
    };
  }

  /**
   * A joining manager answers once it holds the cluster's state and votes (the leader promotes it
   * when it has caught up): "joined as a manager" then means a full member of the quorum.
   */
  async #caughtUp(store: MemoryStore, raft: RaftNode, raftId: number): Promise<void> {
    const ready = (): boolean =>
      store.view((tx) => tx.cluster()) !== undefined && raft.confState.voters.includes(raftId);
    if (!(await until(ready, LEADERSHIP_TIMEOUT_MS)))
      throw unavailable('joined the managers but did not catch up with them in time');
  }

  /** This manager holds the group's state: from now on its log must be there at every start. */
  async #joined(node: NodeFile): Promise<void> {
    delete node.joining;
    if (this.#node === node) await writeFileDurable(this.#nodeFile, JSON.stringify(node));
  }

  /** The leader's cluster address, when this manager knows who leads. */
  #leaderAddr(): string | undefined {
    const lead = this.#raft?.leader;
    if (!lead) return undefined;
    if (lead === this.#raft?.id) return this.#node?.listenAddr;
    return this.#members().get(lead);
  }

  #members(): ReadonlyMap<number, string> {
    const store = this.#store;
    const out = new Map<number, string>();
    for (const p of this.#node?.raftPeers ?? []) out.set(p.raftId, p.addr);
    if (store) for (const m of raftMembers(store)) out.set(m.raftId, m.addr);
    return out;
  }

  /**
   * This manager left the Raft group (it was demoted, or removed): it carries on as a worker.
   * Its containers keep running; the worker's agent adopts them.
   */
  #onRemovedFromGroup(raft: RaftNode): void {
    void this.#serial(async () => {
      if (this.#raft !== raft || !this.#node) return;
      this.#logf('info', 'this manager left the raft group; continuing as a worker');
      const managers = [...this.#members().values()].filter((a) => a !== this.#node?.listenAddr);
      let tls: TlsMaterial | undefined;
      for (let attempt = 0; attempt < 20 && !tls; attempt++) {
        for (const m of managers) {
          try {
            const next = await renewCertificate(m, this.#tls!);
            if (identityOf(next.certPem).role === 'worker') {
              tls = next;
              break;
            }
          } catch (e) {
            this.#logf('warn', `getting a worker certificate from ${m}: ${(e as Error).message}`);
          }
        }
        if (!tls) await new Promise((r) => setTimeout(r, 500));
      }
      if (!tls) {
        this.#logf(
          'error',
          'left the raft group but no manager issued a worker certificate; staying stopped',
        );
        return;
      }
      await this.#deactivate(false);
      await rm(join(this.#o.dataRoot, 'raft'), { recursive: true, force: true });
      await rm(join(this.#o.dataRoot, 'keys.json'), { force: true });
      const { raftId: _r, raftPeers: _p, joining: _j, ...rest } = this.#node;
      this.#node = { ...rest, role: 'worker', managers };
      this.#keys = undefined;
      this.#tls = tls;
      await this.#certs.save(tls);
      await writeFileDurable(this.#nodeFile, JSON.stringify(this.#node));
      await this.#activateWorker();
    });
  }

  /**
   * The cluster made this worker a manager (node promote): get a manager certificate, then join
   * the Raft group. Containers keep running through the change.
   */
  #onPromoted(): void {
    void this.#serial(async () => {
      const node = this.#node;
      if (!node || node.role !== 'worker' || !this.#tls) return;
      const manager = this.#remote?.managers[0] ?? node.managers[0] ?? '';
      let tls: TlsMaterial;
      try {
        tls = await renewCertificate(manager, this.#tls);
      } catch (e) {
        this.#logf('warn', `promotion: getting a manager certificate failed: ${(e as Error).message}`);
        return;
      }
      if (identityOf(tls.certPem).role !== 'manager') return;
      this.#logf('info', 'this worker was promoted; joining the managers');
      await this.#deactivate(false);
      this.#tls = tls;
      this.#keys = await KeyStore.open(this.#o.dataRoot);
      await this.#keys.create();
      await this.#certs.save(tls, this.#dataCipher());
      this.#node = {
        ...node,
        role: 'manager',
        managers: [...(this.#remote?.managers ?? node.managers)],
        joining: true,
      };
      await writeFileDurable(this.#nodeFile, JSON.stringify(this.#node));
      try {
        await this.#activateManager({ joining: true });
      } catch (e) {
        this.#logf('error', `promotion: joining the managers failed: ${(e as Error).message}`);
      }
    });
  }

  /** What seals a manager's state and private key: the data key, itself wrapped by the unlock key when autolocked. */
  #dataCipher(): RecordCipher {
    return aesGcmCipher(this.#keys!.dek());
  }

  /** A session client for the managers; the list it learns is kept for the next start. */
  #newRemote(managers: string[]): RemoteDispatcher {
    return new RemoteDispatcher({
      managers,
      tls: () => this.#tls!,
      onManagers: (list) => {
        if (!this.#node) return;
        this.#node = { ...this.#node, managers: list };
        void writeFileDurable(this.#nodeFile, JSON.stringify(this.#node)).catch((e: unknown) =>
          this.#logf('warn', `saving the manager list: ${(e as Error).message}`),
        );
      },
    });
  }

  /** With joining, resolves once the first session is up (or failed); a restart never waits for managers. */
  async #activateWorker(joining = false): Promise<void> {
    const node = this.#node!;
    const remote = this.#newRemote(node.managers);
    const executor = this.#newExecutor(node.nodeId);
    this.#remote = remote;
    this.#executor = executor;
    this.#scheduleRenewal();
    const started = this.#startAgent(new Agent(this.#agentOptions(remote, executor)));
    if (joining) await started;
  }

  #agentOptions(dispatcher: Agent['o']['dispatcher'], executor: Executor): Agent['o'] {
    return {
      nodeId: this.#node!.nodeId,
      addr: this.#node!.addr,
      dispatcher,
      executor,
      clock: this.clock,
      log: (m) => this.#logf('warn', m),
      onTlsTarget: (t) => this.#onTlsTarget(t),
      onNodeRole: (role) => {
        if (role === 'manager' && this.#node?.role === 'worker') this.#onPromoted();
        const raft = this.#raft;
        if (role === 'worker' && this.#node?.role === 'manager' && raft) this.#onRemovedFromGroup(raft);
      },
      ...(this.#o.engineConcurrency !== undefined ? { engineConcurrency: this.#o.engineConcurrency } : {}),
    };
  }

  /**
   * Starts the agent. The node serves its API even while the engine or the managers are
   * unreachable: the agent keeps trying, with backoff, and catches up later.
   */
  #startAgent(agent: Agent): Promise<void> {
    this.#agent = agent;
    let first: Promise<void> | undefined;
    const attempt = (n: number): void => {
      const p = agent.start();
      first ??= p.catch(() => undefined);
      p.catch((e: unknown) => {
        if (this.#agent !== agent) return;
        const delay = Math.min(30_000, 500 * 2 ** n);
        this.#logf('warn', `${(e as Error).message}; retrying in ${delay} ms`);
        this.clock.setTimer(delay, () => {
          if (this.#agent === agent) attempt(n + 1);
        });
      });
    };
    attempt(0);
    return first!;
  }

  /** Renews this node's certificate at a random point between 50% and 80% of its life. */
  #scheduleRenewal(): void {
    this.#renewTimer?.();
    const id = identityOf(this.#tls!.certPem);
    const wait = (ms: number): void => {
      this.#renewTimer = this.clock.setTimer(Math.min(ms, MAX_TIMER_MS), () => {
        if (ms > MAX_TIMER_MS) wait(ms - MAX_TIMER_MS);
        else void this.#renew();
      });
    };
    wait(renewalDelayMs(id, this.clock.now(), Math.random));
  }

  /** The cluster moved its trust (root rotation): renew soon, at a random moment so nodes spread out. */
  #onTlsTarget(t: TlsTarget): void {
    this.#tlsTarget = t;
    const tls = this.#tls;
    if (this.#renewing || !tls || (tls.rootsPem === t.rootsPem && signedByRoot(tls.certPem, t.issuerPem)))
      return;
    this.#renewTimer?.();
    this.#renewTimer = this.clock.setTimer(Math.random() * ROTATION_SPREAD_MS, () => void this.#renew());
  }

  async #renew(): Promise<void> {
    const node = this.#node;
    const tls = this.#tls;
    if (!node || !tls || this.#renewing) return;
    this.#renewing = true;
    try {
      let next: TlsMaterial;
      if (this.#manager && this.#raft?.isLeader) {
        const { keyPem, csrPem } = await createKeyAndCsr();
        const certPem = await this.#manager.ca.sign(csrPem, { nodeId: node.nodeId, role: 'manager' });
        next = { rootsPem: this.#manager.ca.target().rootsPem, certPem, keyPem };
      } else {
        // Issuing records the node's TLS info, so the leader signs (a follower points there).
        const to = this.#leaderAddr() ?? this.#remote?.managers[0] ?? node.managers[0] ?? '';
        next = await renewCertificate(to, tls);
      }
      if (this.#node !== node) return;
      await this.#certs.save(next, this.#manager ? this.#dataCipher() : undefined);
      this.#tls = next;
      this.#server?.updateTls(next);
      this.#logf(
        'info',
        `renewed the node certificate (valid until ${isoTime(identityOf(next.certPem).notAfter)})`,
      );
      this.#renewing = false;
      this.#scheduleRenewal();
      // The target may have moved while this renewal ran (a rotation finishing): catch up.
      if (this.#tlsTarget) this.#onTlsTarget(this.#tlsTarget);
    } catch (e) {
      this.#renewing = false;
      this.#logf('warn', `certificate renewal failed: ${(e as Error).message}; retrying in a minute`);
      this.#renewTimer = this.clock.setTimer(RENEW_RETRY_MS, () => void this.#renew());
    }
  }

  #addresses(req: { advertiseAddr?: string; listenAddr?: string }): { addr: string; listenAddr: string } {
    const listen = req.listenAddr ?? this.#o.defaultListenAddr ?? '0.0.0.0:2377';
    const addr = (req.advertiseAddr ?? '').split(':')[0] || listen.split(':')[0] || '127.0.0.1';
    const listenHost = listen.split(':')[0] || '0.0.0.0';
    const listenPort = listen.split(':')[1] ?? '2377';
    const advHost = addr === '0.0.0.0' ? '127.0.0.1' : addr;
    return { addr: advHost, listenAddr: `${listenHost === '0.0.0.0' ? advHost : listenHost}:${listenPort}` };
  }

  /** Stops everything and forgets this node's membership, on disk and in memory (leave, failed init or join). */
  async #forget(removeTasks: boolean): Promise<void> {
    await this.#deactivate(removeTasks);
    await this.#wipe();
    this.#node = undefined;
    this.#tls = undefined;
    this.#keys = undefined;
  }

  /** Clears whatever a failed or finished membership left on disk. */
  async #wipe(): Promise<void> {
    await rm(join(this.#o.dataRoot, 'raft'), { recursive: true, force: true });
    await rm(join(this.#o.dataRoot, 'keys.json'), { force: true });
    await this.#certs.remove();
    await rm(this.#nodeFile, { force: true });
  }

  /** Creates a new swarm with this node as its manager; returns the node ID. */
  init(req: {
    advertiseAddr?: string;
    listenAddr?: string;
    spec?: SwarmSpec;
    forceNewCluster?: boolean;
  }): Promise<string> {
    return this.#serial(async () => {
      if (this.#node && req.forceNewCluster && this.#node.role === 'manager') return this.#forceNewCluster();
      if (this.#node) throw unavailable(ALREADY_IN_SWARM);
      const spec = req.spec ?? {};
      const nodeId = newId();
      const clusterId = newId();
      const now = this.clock.now();
      const root = await createRootCA({ now });
      const { keyPem, csrPem } = await createKeyAndCsr();
      const expiryNs = spec.CAConfig?.NodeCertExpiry;
      const certPem = await signNodeCertificate(
        root,
        csrPem,
        { nodeId, role: 'manager', clusterId },
        { now, validityMs: expiryNs ? expiryNs / 1e6 : DEFAULT_NODE_CERT_VALIDITY_MS },
      );
      await this.#wipe();
      this.#node = { nodeId, role: 'manager', ...this.#addresses(req), managers: [], raftId: newRaftId() };
      this.#tls = { rootsPem: root.certPem, certPem, keyPem };
      try {
        this.#keys = await KeyStore.open(this.#o.dataRoot);
        await this.#keys.create();
        await this.#activateManager({ init: { spec, clusterId, root } });
        await this.syncKeys();
        await this.#certs.save(this.#tls, this.#dataCipher());
      } catch (e) {
        await this.#forget(true);
        throw e;
      }
      await writeFileDurable(this.#nodeFile, JSON.stringify(this.#node));
      this.#logf('info', `swarm initialised; this node is ${nodeId}`);
      return nodeId;
    });
  }

  /**
   * swarm init --force-new-cluster on a manager: the cluster continues with this manager alone,
   * from everything its Raft log holds. The other managers become workers (they are gone: that is
   * why this is run), so a quorum of one suffices; add managers again with the manager token.
   */
  async #forceNewCluster(): Promise<string> {
    const node = this.#node!;
    if (!this.#keys || this.#keys.locked) throw unavailable(SWARM_LOCKED);
    await this.#deactivate(false);
    const dir = join(this.#o.dataRoot, 'raft');
    const { snapshot, entries, hardState } = await readMemberLog(
      new NodeRaftDisk(dir, { cipher: this.#dataCipher() }),
    );
    const store = new MemoryStore({ propose: () => Promise.reject(new Error('recovering')) });
    const proposer = new RaftProposer(store);
    if (snapshot.metadata.index > 0 && snapshot.data.byteLength > 0) proposer.restore(snapshot.data);
    for (const e of entries) if (e.type === 'EntryNormal' && e.data.byteLength > 0) proposer.apply(e);
    const last = entries.at(-1) ?? { index: snapshot.metadata.index, term: snapshot.metadata.term };
    const raftId = node.raftId ?? LEGACY_RAFT_ID;
    const changes = store.view((tx) =>
      tx.all('nodes').flatMap((n): Change[] => {
        if (n.ID === node.nodeId)
          return [
            {
              table: 'nodes',
              action: 'update',
              object: {
                ...n,
                Spec: { ...n.Spec, Role: 'manager' },
                ManagerStatus: { Addr: node.listenAddr, RaftID: raftId, Reachability: 'reachable' },
              },
            },
          ];
        if (!n.ManagerStatus && n.Spec.Role !== 'manager') return [];
        const { ManagerStatus: _m, ...rest } = n;
        return [
          { table: 'nodes', action: 'update', object: { ...rest, Spec: { ...n.Spec, Role: 'worker' } } },
        ];
      }),
    );
    const index = last.index + 1;
    store.apply(changes, index);
    await rm(dir, { recursive: true, force: true });
    await bootstrapSingleMember(new NodeRaftDisk(dir, { cipher: this.#dataCipher() }), {
      id: raftId,
      index,
      term: Math.max(hardState.term, last.term),
      data: proposer.snapshot(),
    });
    const { raftPeers: _p, joining: _j, ...rest } = node;
    this.#node = { ...rest, raftId, managers: [node.listenAddr] };
    await writeFileDurable(this.#nodeFile, JSON.stringify(this.#node));
    await this.#activateManager();
    this.#logf('warn', `forced a new cluster from this manager's state at index ${index}`);
    return node.nodeId;
  }

  /** Joins an existing swarm as a worker through one of its managers. */
  join(req: {
    remoteAddrs: string[];
    joinToken: string;
    advertiseAddr?: string;
    listenAddr?: string;
    availability?: NodeAvailability;
  }): Promise<void> {
    return this.#serial(async () => {
      if (this.#node) throw unavailable(ALREADY_IN_SWARM);
      const manager = req.remoteAddrs[0];
      if (!manager) throw invalidArgument('at least 1 RemoteAddr is required to join');
      try {
        parseJoinToken(req.joinToken);
      } catch {
        throw invalidArgument('invalid join token');
      }
      const { addr, listenAddr } = this.#addresses(req);
      let joined: Awaited<ReturnType<typeof requestJoinCertificate>>;
      try {
        joined = await requestJoinCertificate({
          manager: manager.includes(':') ? manager : `${manager}:2377`,
          token: req.joinToken,
          hostname: this.hostname,
          addr,
          availability: req.availability ?? 'active',
        });
      } catch (e) {
        throw joinError(e);
      }
      await this.#wipe();
      const role = joined.res.role === 'manager' ? 'manager' : 'worker';
      this.#node = {
        nodeId: joined.res.nodeId,
        role,
        addr,
        listenAddr,
        managers: joined.res.managers.length > 0 ? joined.res.managers : [manager],
        ...(role === 'manager' ? { joining: true } : {}),
      };
      this.#tls = joined.tls;
      try {
        if (role === 'manager') {
          this.#keys = await KeyStore.open(this.#o.dataRoot);
          await this.#keys.create();
          await this.#certs.save(joined.tls, this.#dataCipher());
          await writeFileDurable(this.#nodeFile, JSON.stringify(this.#node));
          await this.#activateManager({ joining: true });
        } else {
          await this.#certs.save(joined.tls);
          await writeFileDurable(this.#nodeFile, JSON.stringify(this.#node));
          await this.#activateWorker(true);
        }
      } catch (e) {
        await this.#forget(false);
        throw joinError(e);
      }
      this.#logf('info', `joined the swarm as ${role} ${joined.res.nodeId}`);
    });
  }

  unlock(unlockKey: string): Promise<void> {
    return this.#serial(async () => {
      // Docker: not locked is a conflict; a wrong key is a bad parameter (no rpc prefix).
      if (this.state !== 'locked' || !this.#keys) throw new ShoalError('Conflict', 'swarm is not locked');
      try {
        await this.#keys.unlock(unlockKey);
      } catch (e) {
        if (isShoalError(e, 'keys')) throw badParameter(e.message);
        throw e;
      }
      this.#tls = await this.#certs.load(this.#dataCipher());
      await this.#activateManager();
      this.#logf('info', 'swarm unlocked');
    });
  }

  /**
   * Makes this manager's key store match the cluster: its data key wrapped by the cluster's unlock
   * key while autolock is on, unwrapped when off. Runs whenever the cluster object changes.
   */
  syncKeys(): Promise<void> {
    const run = async (): Promise<void> => {
      const keys = this.#keys;
      const c = this.#store?.view((tx) => tx.cluster());
      if (!keys || keys.locked || !c) return;
      await keys.useUnlockKey(c.Spec.EncryptionConfig?.AutoLockManagers === true ? c.UnlockKey : undefined);
    };
    const p = this.#keySync.then(run, run);
    this.#keySync = p.catch((e: unknown) =>
      this.#logf(
        'error',
        `updating the key store to the cluster's autolock setting: ${(e as Error).message}`,
      ),
    );
    return p;
  }

  #keySync: Promise<void> = Promise.resolve();

  /** The managers' unlock key (empty while autolock is off). */
  unlockKey(): string {
    const { store } = this.manager; // Docker's 503 unless this node is an unlocked manager
    const c = store.view((tx) => tx.cluster());
    return c?.Spec.EncryptionConfig?.AutoLockManagers === true ? (c.UnlockKey ?? '') : '';
  }

  leave(force: boolean): Promise<void> {
    return this.#serial(async () => {
      if (!this.#node) throw unavailable('This node is not part of a swarm');
      if (this.#node.role === 'manager' && !force) {
        throw unavailable(
          'You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message.',
        );
      }
      await this.#forget(true);
      this.#logf('info', 'left the swarm');
    });
  }

  /** Stops everything; with removeTasks, also removes this node's task containers (swarm leave). */
  async #deactivate(removeTasks: boolean): Promise<void> {
    this.#renewTimer?.();
    this.#renewTimer = undefined;
    await this.#agent?.stop();
    this.#remote?.close();
    await this.#server?.stop();
    await this.#manager?.stop();
    if (removeTasks && this.#executor) {
      try {
        for (const cid of (await this.#executor.managedTaskIds()).values())
          await this.#executor.removeContainer(cid);
      } catch (e) {
        this.#logf('warn', `removing task containers: ${(e as Error).message}`);
      }
    }
    await this.#raft?.stop();
    this.#transport?.close();
    this.#transport = undefined;
    this.#forward?.client.close();
    this.#forward = undefined;
    this.#agent = undefined;
    this.#remote = undefined;
    this.#server = undefined;
    this.#manager = undefined;
    this.#store = undefined;
    this.#raft = undefined;
    this.#executor = undefined;
  }

  /** Clean shutdown (SIGTERM): containers keep running; the raft log already holds every write. */
  shutdown(): Promise<void> {
    return this.#serial(async () => {
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

/** A join failure as the API reports it: the manager's reason, with Docker's status. */
function joinError(e: unknown): Error {
  if (isShoalError(e, 'ca')) return invalidArgument(e.message);
  // The manager's refusals (a bad token, a node that may not join) are the caller's to fix;
  // anything else (unreachable, rate-limited, timed out) is the manager being unavailable.
  return fromServiceError(e, (msg) => unavailable(`could not join the swarm through the manager: ${msg}`));
}
