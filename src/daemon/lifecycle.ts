// A node's life in a swarm: restart from node.json, swarm init (and --force-new-cluster), join,
// unlock and leave. Each runs alone (NodeRuntime.serial) and leaves the node either in its new
// state or, on failure, in none.
import { join } from 'node:path';
import { ShoalError, badParameter, isShoalError, invalidArgument, newId, unavailable } from '../api/index.js';
import {
  DEFAULT_NODE_CERT_VALIDITY_MS,
  KeyStore,
  createKeyAndCsr,
  createRootCA,
  parseJoinToken,
  signNodeCertificate,
} from '../ca/index.js';
import { fromServiceError } from '../transport/index.js';
import { requestJoinCertificate } from './certs.js';
import { forceNewCluster } from './forcenew.js';
import { activateManager } from './managerrole.js';
import { newRaftId, raftIdOf, readNodeFile, recoverHint } from './nodefile.js';
import type { NodeRuntime } from './runtime.js';
import type { InitRequest, JoinRequest } from '../httpapi/index.js';

const ALREADY_IN_SWARM =
  'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.';
export const NOT_A_MANAGER =
  'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
export const WORKER_NOT_A_MANAGER =
  "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.";
export const SWARM_LOCKED =
  'Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" to unlock it.';

/** Takes up the membership node.json records, if any; a locked manager waits for its key. */
export async function restart(rt: NodeRuntime): Promise<void> {
  const node = await readNodeFile(rt.dataRoot);
  if (!node) return;
  rt.node = node;
  if (node.role === 'manager') {
    rt.keys = await KeyStore.open(rt.dataRoot);
    if (!rt.keys.exists) {
      const file = join(rt.dataRoot, 'keys.json');
      throw new Error(
        `${file} is missing, but ${rt.nodeFile} says this node is a manager (its state is sealed with the key kept there): ${recoverHint(rt.dataRoot)}`,
      );
    }
    if (rt.keys.locked) {
      rt.log('warn', 'swarm state is locked; waiting for "docker swarm unlock"');
      return;
    }
    rt.tls = await rt.certs.load(rt.dataCipher());
    await activateManager(rt);
  } else {
    rt.tls = await rt.certs.load();
    await rt.activateWorker();
  }
  rt.log('info', `rejoined swarm as ${node.role} ${node.nodeId}`);
}

/** Creates a new swarm with this node as its manager; returns the node ID. */
export async function init(rt: NodeRuntime, req: InitRequest): Promise<string> {
  if (rt.node && req.forceNewCluster && rt.node.role === 'manager') return forceNew(rt);
  if (rt.node) throw unavailable(ALREADY_IN_SWARM);
  const spec = req.spec ?? {};
  const nodeId = newId();
  const clusterId = newId();
  const now = rt.clock.now();
  const root = await createRootCA({ now });
  const { keyPem, csrPem } = await createKeyAndCsr();
  const expiryNs = spec.CAConfig?.NodeCertExpiry;
  const certPem = await signNodeCertificate(
    root,
    csrPem,
    { nodeId, role: 'manager', clusterId },
    { now, validityMs: expiryNs ? expiryNs / 1e6 : DEFAULT_NODE_CERT_VALIDITY_MS },
  );
  await rt.wipe();
  rt.node = { nodeId, role: 'manager', ...addresses(rt, req), managers: [], raftId: newRaftId() };
  rt.tls = { rootsPem: root.certPem, certPem, keyPem };
  try {
    rt.keys = await KeyStore.open(rt.dataRoot);
    await rt.keys.create();
    await activateManager(rt, {
      init: { spec, clusterId, root, ...(req.network ? { network: req.network } : {}) },
    });
    await rt.syncKeys();
    await rt.certs.save(rt.tls, rt.dataCipher());
  } catch (e) {
    await rt.forget(true);
    throw e;
  }
  await rt.saveNode();
  rt.log('info', `swarm initialised; this node is ${nodeId}`);
  return nodeId;
}

/**
 * swarm init --force-new-cluster on a manager: the cluster continues with this manager alone
 * (forcenew.ts), and the manager starts again on the rewritten log.
 */
async function forceNew(rt: NodeRuntime): Promise<string> {
  const node = rt.node!;
  if (!rt.keys || rt.keys.locked) throw unavailable(SWARM_LOCKED);
  await rt.deactivate(false);
  const index = await forceNewCluster({ dataRoot: rt.dataRoot, cipher: rt.dataCipher(), node });
  const { raftPeers: _p, joining: _j, ...rest } = node;
  rt.node = { ...rest, raftId: raftIdOf(node), managers: [node.listenAddr] };
  await rt.saveNode();
  await activateManager(rt);
  rt.log('warn', `forced a new cluster from this manager's state at index ${index}`);
  return node.nodeId;
}

/** Joins an existing swarm, as a worker or a manager as the token says, through one of its managers. */
export async function joinSwarm(rt: NodeRuntime, req: JoinRequest): Promise<void> {
  if (rt.node) throw unavailable(ALREADY_IN_SWARM);
  const manager = req.remoteAddrs[0];
  if (!manager) throw invalidArgument('at least 1 RemoteAddr is required to join');
  try {
    parseJoinToken(req.joinToken);
  } catch {
    throw invalidArgument('invalid join token');
  }
  const { addr, listenAddr } = addresses(rt, req);
  let joined: Awaited<ReturnType<typeof requestJoinCertificate>>;
  try {
    joined = await requestJoinCertificate({
      manager: manager.includes(':') ? manager : `${manager}:2377`,
      token: req.joinToken,
      hostname: rt.hostname,
      addr,
      availability: req.availability ?? 'active',
    });
  } catch (e) {
    throw joinError(e);
  }
  await rt.wipe();
  const role = joined.res.role === 'manager' ? 'manager' : 'worker';
  rt.node = {
    nodeId: joined.res.nodeId,
    role,
    addr,
    listenAddr,
    managers: joined.res.managers.length > 0 ? joined.res.managers : [manager],
    ...(role === 'manager' ? { joining: true } : {}),
  };
  rt.tls = joined.tls;
  try {
    if (role === 'manager') {
      rt.keys = await KeyStore.open(rt.dataRoot);
      await rt.keys.create();
      await rt.certs.save(joined.tls, rt.dataCipher());
      await rt.saveNode();
      await activateManager(rt, { joining: true });
    } else {
      await rt.certs.save(joined.tls);
      await rt.saveNode();
      await rt.activateWorker(true);
    }
  } catch (e) {
    await rt.forget(false);
    throw joinError(e);
  }
  rt.log('info', `joined the swarm as ${role} ${joined.res.nodeId}`);
}

export async function unlock(rt: NodeRuntime, unlockKey: string): Promise<void> {
  // Docker: not locked is a conflict; a wrong key is a bad parameter (no rpc prefix).
  const locked = rt.node?.role === 'manager' && !rt.replica;
  if (!locked || !rt.keys) throw new ShoalError('Conflict', 'swarm is not locked');
  try {
    await rt.keys.unlock(unlockKey);
  } catch (e) {
    if (isShoalError(e, 'keys')) throw badParameter(e.message);
    throw e;
  }
  rt.tls = await rt.certs.load(rt.dataCipher());
  await activateManager(rt);
  rt.log('info', 'swarm unlocked');
}

export async function leave(rt: NodeRuntime, force: boolean): Promise<void> {
  if (!rt.node) throw unavailable('This node is not part of a swarm');
  if (rt.node.role === 'manager' && !force) {
    throw unavailable(
      'You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message.',
    );
  }
  await rt.forget(true);
  rt.log('info', 'left the swarm');
}

/** The advertised address and cluster port address from init/join's, or the defaults. */
function addresses(
  rt: NodeRuntime,
  req: { advertiseAddr?: string; listenAddr?: string },
): { addr: string; listenAddr: string } {
  const listen = req.listenAddr ?? rt.o.defaultListenAddr ?? '0.0.0.0:2377';
  const addr = (req.advertiseAddr ?? '').split(':')[0] || listen.split(':')[0] || '127.0.0.1';
  const listenHost = listen.split(':')[0] || '0.0.0.0';
  const listenPort = listen.split(':')[1] ?? '2377';
  const advHost = addr === '0.0.0.0' ? '127.0.0.1' : addr;
  return { addr: advHost, listenAddr: `${listenHost === '0.0.0.0' ? advHost : listenHost}:${listenPort}` };
}

/** A join failure as the API reports it: the manager's reason, with Docker's status. */
function joinError(e: unknown): Error {
  if (isShoalError(e, 'ca')) return invalidArgument(e.message);
  // The manager's refusals (a bad token, a node that may not join) are the caller's to fix;
  // anything else (unreachable, rate-limited, timed out) is the manager being unavailable.
  return fromServiceError(e, (msg) => unavailable(`could not join the swarm through the manager: ${msg}`));
}
