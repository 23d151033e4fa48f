// A node's role changing under it: a worker promoted (node promote) gets a manager certificate
// and joins the Raft group; a manager that leaves the group (node demote, or removed) gets a
// worker certificate and carries on as a worker. Containers keep running through both.
import { identityOf, KeyStore } from '../ca/index.js';
import type { TlsMaterial } from '../transport/index.js';
import { renewCertificate } from './certs.js';
import type { DaemonReplica } from './clusterport.js';
import { activateManager } from './managerrole.js';
import type { NodeRuntime } from './runtime.js';

/** The role the cluster gives this node, as its session reports it. */
export function onNodeRole(rt: NodeRuntime, role: 'manager' | 'worker'): void {
  if (role === 'manager' && rt.node?.role === 'worker') onPromoted(rt);
  const replica = rt.replica;
  if (role === 'worker' && rt.node?.role === 'manager' && replica) onRemovedFromGroup(rt, replica);
}

/**
 * This manager left the Raft group (it was demoted, or removed): it carries on as a worker.
 * Its containers keep running; the worker's agent adopts them.
 */
export function onRemovedFromGroup(rt: NodeRuntime, replica: DaemonReplica): void {
  void rt.serial(async () => {
    if (rt.replica !== replica || !rt.node) return;
    rt.log('info', 'this manager left the raft group; continuing as a worker');
    const managers = [...rt.members().values()].filter((a) => a !== rt.node?.listenAddr);
    let tls: TlsMaterial | undefined;
    for (let attempt = 0; attempt < 20 && !tls; attempt++) {
      for (const m of managers) {
        try {
          const next = await renewCertificate(m, rt.tls!);
          if (identityOf(next.certPem).role === 'worker') {
            tls = next;
            break;
          }
        } catch (e) {
          rt.log('warn', `getting a worker certificate from ${m}: ${(e as Error).message}`);
        }
      }
      if (!tls) await new Promise((r) => setTimeout(r, 500));
    }
    if (!tls) {
      rt.log('error', 'left the raft group but no manager issued a worker certificate; staying stopped');
      return;
    }
    await rt.deactivate(false);
    await rt.removeManagerState();
    const { raftId: _r, raftPeers: _p, joining: _j, ...rest } = rt.node;
    rt.node = { ...rest, role: 'worker', managers };
    rt.keys = undefined;
    rt.tls = tls;
    await rt.certs.save(tls);
    await rt.saveNode();
    await rt.activateWorker();
  });
}

/**
 * The cluster made this worker a manager (node promote): get a manager certificate, then join
 * the Raft group. Containers keep running through the change.
 */
function onPromoted(rt: NodeRuntime): void {
  void rt.serial(async () => {
    const node = rt.node;
    if (!node || node.role !== 'worker' || !rt.tls) return;
    const manager = rt.remote?.managers[0] ?? node.managers[0] ?? '';
    let tls: TlsMaterial;
    try {
      tls = await renewCertificate(manager, rt.tls);
    } catch (e) {
      rt.log('warn', `promotion: getting a manager certificate failed: ${(e as Error).message}`);
      return;
    }
    if (identityOf(tls.certPem).role !== 'manager') return;
    rt.log('info', 'this worker was promoted; joining the managers');
    await rt.deactivate(false);
    rt.tls = tls;
    rt.keys = await KeyStore.open(rt.dataRoot);
    await rt.keys.create();
    await rt.certs.save(tls, rt.dataCipher());
    rt.node = {
      ...node,
      role: 'manager',
      managers: [...(rt.remote?.managers ?? node.managers)],
      joining: true,
    };
    await rt.saveNode();
    try {
      await activateManager(rt, { joining: true });
    } catch (e) {
      rt.log('error', `promotion: joining the managers failed: ${(e as Error).message}`);
    }
  });
}
