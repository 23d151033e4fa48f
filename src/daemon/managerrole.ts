// Starting this node as a manager: the cluster port, its replica of the cluster state (store,
// Raft member and Manager, built by ManagerReplica) with leader changes driving the Manager's
// leader loops, then its own agent. `init` creates the cluster (a one-member group); `joining`
// asks the leader for a place in the group first (as a learner; the leader promotes it once it has
// caught up); otherwise the node restarts from its Raft log.
import { join } from 'node:path';
import { unavailable, type ClusterNetworkConfig, type SwarmSpec } from '../api/index.js';
import type { Cancel } from '../platform/index.js';
import { identityOf } from '../ca/index.js';
import type { MemoryStore } from '../state/index.js';
import { NodeRaftDisk } from '../raft/index.js';
import { GrpcRaftTransport } from '../transport/index.js';
import { ManagerReplica, raftMembers } from '../manager/index.js';
import { encryptedNetworkRefusal } from '../network/index.js';
import { joinRaft } from './certs.js';
import { clusterPortServer, type DaemonReplica } from './clusterport.js';
import { raftIdOf, type NodeFile } from './nodefile.js';
import { raftSettings } from './options.js';
import { onRemovedFromGroup } from './roles.js';
import type { NodeRuntime } from './runtime.js';

const LEADERSHIP_TIMEOUT_MS = 30_000;

export interface ManagerStart {
  init?: {
    spec: SwarmSpec;
    clusterId: string;
    root: { certPem: string; keyPem: string };
    network?: ClusterNetworkConfig;
  };
  joining?: boolean;
}

export async function activateManager(rt: NodeRuntime, opts: ManagerStart = {}): Promise<void> {
  const { init, joining } = opts;
  const node = rt.node!;
  const logFn = (m: string): void => rt.log('warn', m);
  const server = clusterPortServer({
    tls: rt.tls!,
    clusterId: identityOf(rt.tls!.certPem).clusterId,
    replica: () => rt.replica,
    leaderAddr: () => rt.leaderAddr(),
    unlockKey: () => unlockKeyOf(rt.replica?.store),
    apiHandler: () => rt.apiHandler,
    log: logFn,
  });
  rt.server = server;
  const port = await server.listen(node.listenAddr);
  if (node.listenAddr.endsWith(':0')) node.listenAddr = `${node.listenAddr.slice(0, -2)}:${port}`;
  if (joining) {
    const joined = await joinRaft(node.managers[0] ?? '', rt.tls!, node.listenAddr);
    node.raftId = joined.raftId;
    node.raftPeers = joined.members.map((m) => ({ raftId: m.raftId, addr: m.addr }));
    node.managers = [
      node.listenAddr,
      ...joined.members.map((m) => m.addr).filter((a) => a !== node.listenAddr),
    ];
    await rt.saveNode();
  }
  const raftId = raftIdOf(node);
  // The member -> address map reads the store, so it is made with the replica's transport.
  let peers: RaftPeers | undefined;
  let wasMember = false;
  let becameLeader: () => void = () => undefined;
  const leading = new Promise<void>((resolve) => (becameLeader = resolve));
  const replica: DaemonReplica = new ManagerReplica({
    id: raftId,
    clock: rt.clock,
    transport: (store) => {
      peers = new RaftPeers(store, () => rt.node?.raftPeers ?? []);
      const members = peers;
      return new GrpcRaftTransport({
        selfId: raftId,
        peers: () => members.get(),
        tls: () => rt.tls!,
        log: logFn,
      });
    },
    raft: {
      disk: new NodeRaftDisk(join(rt.dataRoot, 'raft'), {
        cipher: rt.dataCipher(),
        log: (m) => rt.log('warn', `raft: ${m}`),
      }),
      rand: Math.random,
      ...(init ? { peers: [raftId] } : {}),
      // A manager that is not joining has had the group's state: a log without it is lost.
      ...(!init && !joining && node.joining !== true
        ? { expectState: `${rt.nodeFile} says this node is a manager that holds Raft state` }
        : {}),
      ...raftSettings(rt.o.raft),
      onLeaderChange: (isLeader, lead, term) => {
        if (rt.replica !== replica) return;
        if (isLeader) {
          rt.log('info', `raft: this manager (${raftId}) leads term ${term}`);
          becameLeader();
        } else if (replica.manager.leader) {
          rt.log('info', `raft: this manager lost leadership (leader now ${lead})`);
        }
      },
      onConfChange: (_cc, cs) => {
        peers?.invalidate();
        if (rt.replica !== replica) return;
        // A joining manager replays changes from before it was added: only leaving counts.
        const member = cs.voters.includes(raftId) || cs.learners.includes(raftId);
        if (member) wasMember = true;
        else if (wasMember) onRemovedFromGroup(rt, replica);
      },
      onFatal: (e) => rt.log('error', `this manager's raft member stopped: ${(e as Error).message}`),
      onDiskFault: (e) =>
        e
          ? rt.log('error', `raft: ${e.message}; writes fail until the disk takes them again`)
          : rt.log('info', 'raft: the disk takes writes again'),
    },
    manager: {
      events: rt.events,
      log: (m) => rt.log('info', m),
      clusterId: identityOf(rt.tls!.certPem).clusterId,
      selfAddr: () => rt.node?.listenAddr ?? '',
      ...(rt.o.heartbeatMs !== undefined ? { heartbeatMs: rt.o.heartbeatMs } : {}),
      encryption: rt.o.encryption ?? encryptedNetworkRefusal,
      membership: true,
    },
    leaderLoops: true,
    onSnapshotInstalled: (index) => {
      peers?.invalidate();
      void rt.syncKeys();
      if (replica.raft.running)
        rt.log('info', `installed a snapshot of the cluster state at index ${index} from the leader`);
    },
  });
  const { store, raft, manager } = replica;
  store.subscribe((e) => {
    if (e.kind === 'change' && e.change.table === 'clusters' && rt.replica === replica) void rt.syncKeys();
  });
  rt.replica = replica;
  try {
    await raft.start();
  } catch (e) {
    // Refused (its state is damaged or missing): stop the cluster port and the rest again.
    await rt.deactivate(false);
    throw e;
  }
  // A restart part-way through a join: once the state is here, an empty log means it was lost.
  if (node.joining === true && !joining && (raft.status()?.lastIndex ?? 0) > 0) await joined(rt, node);
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
        timer = rt.clock.setTimer(LEADERSHIP_TIMEOUT_MS, () =>
          reject(new Error('the manager did not become leader of its raft log in time')),
        );
      }),
    ]).finally(() => timer?.());
  }
  if (joining) {
    await caughtUp(replica, raftId);
    await joined(rt, node);
  }
  rt.log('debug', `state restored at index ${store.index}`);
  const executor = rt.newExecutor(node.nodeId);
  if (init) {
    await executor.start();
    await manager.control.initCluster({
      nodeId: node.nodeId,
      hostname: rt.hostname,
      addr: node.addr,
      listenAddr: node.listenAddr,
      spec: init.spec,
      ...(init.network ? { network: init.network } : {}),
      description: await executor.describe(),
      clusterId: init.clusterId,
      rootCA: init.root,
      raftId,
    });
    replica.leadIfReady();
    node.managers = [node.listenAddr];
  }
  rt.executor = executor;
  manager.start();
  // The manager's own agent talks to the leader's dispatcher like any other node's.
  const remote = rt.newRemote(node.managers);
  rt.remote = remote;
  const started = rt.startAgent(remote, executor);
  if (init) await started;
  rt.renewal.schedule();
  await rt.syncKeys();
}

/** The managers' unlock key (empty while autolock is off). */
export function unlockKeyOf(store: MemoryStore | undefined): string {
  const c = store?.view((tx) => tx.cluster());
  return c?.Spec.EncryptionConfig?.AutoLockManagers === true ? (c.UnlockKey ?? '') : '';
}

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

/**
 * A joining manager answers once it holds the cluster's state and votes (the leader promotes it
 * when it has caught up): "joined as a manager" then means a full member of the quorum.
 */
async function caughtUp(replica: DaemonReplica, raftId: number): Promise<void> {
  const ready = (): boolean =>
    replica.store.view((tx) => tx.cluster()) !== undefined && replica.raft.confState.voters.includes(raftId);
  if (!(await until(ready, LEADERSHIP_TIMEOUT_MS)))
    throw unavailable('joined the managers but did not catch up with them in time');
}

/** This manager holds the group's state: from now on its log must be there at every start. */
async function joined(rt: NodeRuntime, node: NodeFile): Promise<void> {
  delete node.joining;
  if (rt.node === node) await rt.saveNode();
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
