// A manager's cluster port: the gRPC server (mutual TLS) with the CA, dispatcher, Raft and
// manager services. It listens before the manager has its replica (a joining manager must be
// reachable when it asks the leader for a place in the Raft group, which names its member ID), so
// each call finds the replica as it is then; until there is one, calls get UNAVAILABLE as a
// follower's would, and Raft messages are dropped.
import { unavailable } from '../api/index.js';
import { dispatcherService, type LogRequest, type ManagerReplica } from '../manager/index.js';
import {
  CAServiceService,
  ClusterServer,
  DispatcherServiceService,
  ManagerServiceService,
  managerService,
  notLeaderError,
  registerRaftService,
  type CAServiceServer,
  type ForwardApiRequest,
  type GrpcRaftTransport,
  type PeerPolicy,
  type SubscribeLogsRequest,
  type TlsMaterial,
} from '../transport/index.js';

/** A manager's replica as the daemon builds it: Raft over the cluster port. */
export type DaemonReplica = ManagerReplica<GrpcRaftTransport>;

/** Runs an Engine API request forwarded from another manager; daemonApi() (apibackend.ts) installs it. */
export type ApiHandler = (
  req: ForwardApiRequest,
) => Promise<{ status: number; contentType: string; body: Buffer }>;

export interface ClusterPortOptions {
  tls: TlsMaterial;
  /** The cluster ID in this manager's certificate (the store's, once it holds the cluster). */
  clusterId: string;
  /** This manager's replica, once it has one. */
  replica: () => DaemonReplica | undefined;
  /** The leader's cluster address, for the not-leader answers that point callers there. */
  leaderAddr: () => string | undefined;
  unlockKey: () => string;
  apiHandler: () => ApiHandler | undefined;
  log: (msg: string) => void;
}

/** The cluster server with a manager's services, not yet listening. */
export function clusterPortServer(o: ClusterPortOptions): ClusterServer {
  const { replica, log } = o;
  const notLeader = (): Error => notLeaderError(o.leaderAddr());
  const requireLeader = (): DaemonReplica => {
    const r = replica();
    if (!r?.raft.isLeader) throw notLeader();
    return r;
  };
  // Read from the store each call, as NodeCA's own policy does; before the store, nobody is removed.
  const policy: PeerPolicy = {
    clusterId: () => replica()?.manager.ca.policy().clusterId() ?? o.clusterId,
    isRemoved: (nodeId) => replica()?.manager.ca.policy().isRemoved(nodeId) ?? false,
  };
  const server = new ClusterServer(o.tls);
  server.addService(CAServiceService, caServiceOf(replica, notLeader, o.unlockKey, requireLeader));
  server.addService(
    DispatcherServiceService,
    dispatcherService(
      () => {
        const d = replica()?.manager.leader?.dispatcher;
        if (!d) throw notLeader();
        return d;
      },
      policy,
      log,
    ),
  );
  registerRaftService(server, {
    policy,
    // A manager speaks only for its own Raft ID: a message claiming another member's is dropped.
    deliver: (m, fromNode) => {
      const r = replica();
      if (!r) return;
      const claimed = r.store.view((tx) => tx.get('nodes', fromNode)?.ManagerStatus?.RaftID);
      if (claimed !== undefined && claimed !== m.from) {
        log(`raft: dropped a ${m.type} from node ${fromNode} claiming to be member ${m.from}`);
        return;
      }
      r.transport.deliver(m);
    },
    log,
  });
  server.addService(
    ManagerServiceService,
    managerService({
      policy,
      log,
      joinRaft: async (nodeId, addr) => {
        const m = replica()?.manager.leader?.membership;
        if (!m) throw notLeader();
        const r = await m.join(nodeId, addr);
        return { raftId: r.raftId, members: r.members };
      },
      forwardApi: async (req) => {
        const r = requireLeader();
        const handler = o.apiHandler();
        if (!handler) throw unavailable('this manager is not serving its API yet');
        const res = await handler(req);
        return { ...res, appliedIndex: r.store.index };
      },
      subscribeLogs: (req, sink) => {
        const broker = replica()?.manager.leader?.dispatcher.logs;
        if (!broker) throw notLeader();
        return broker.subscribe(logRequestFromWire(req), {
          lines: (lines) => sink.lines(lines.map((l) => ({ ...l }))),
          end: () => sink.end(),
        });
      },
    }),
  );
  return server;
}

/** The CA service of the replica of the moment (built once per replica); none yet: not the leader. */
function caServiceOf(
  replica: () => DaemonReplica | undefined,
  notLeader: () => Error,
  unlockKey: () => string,
  requireLeader: () => void,
): CAServiceServer {
  let built: { replica: DaemonReplica; service: CAServiceServer } | undefined;
  const current = (): CAServiceServer | undefined => {
    const r = replica();
    if (!r) return undefined;
    if (built?.replica !== r) built = { replica: r, service: r.manager.ca.service(unlockKey, requireLeader) };
    return built.service;
  };
  return {
    getRootCa: (call, cb) => {
      const s = current();
      if (s) s.getRootCa(call, cb);
      else cb(notLeader());
    },
    issueNodeCertificate: (call, cb) => {
      const s = current();
      if (s) s.issueNodeCertificate(call, cb);
      else cb(notLeader());
    },
    getUnlockKey: (call, cb) => {
      const s = current();
      if (s) s.getUnlockKey(call, cb);
      else cb(notLeader());
    },
  };
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
