// What one shoald is at this moment: its membership (node.json, its certificate, its key store)
// and what runs for it (a manager's replica and cluster port, the agent and its executor). The
// Daemon's transitions (lifecycle.ts, roles.ts, managerrole.ts) change it one at a time (serial()).
import { rm } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { aesGcmCipher, type Clock, type RecordCipher, systemClock } from '../platform/index.js';
import type { KeyStore } from '../ca/index.js';
import type { ClusterServer, TlsMaterial } from '../transport/index.js';
import { EventLog, raftMembers } from '../manager/index.js';
import { Agent, DockerExecutor, RemoteDispatcher, type Executor } from '../agent/index.js';
import type { NetworkView } from '../api/index.js';
import { CertFiles } from './certs.js';
import { dataPlaneAvailable, NodeNetworking } from './dataplane.js';
import type { ApiHandler, DaemonReplica } from './clusterport.js';
import { LeaderForwarder } from './forward.js';
import { nodeFilePath, writeNodeFile, type NodeFile } from './nodefile.js';
import type { DaemonOptions } from './options.js';
import { CertRenewal } from './renewal.js';
import { onNodeRole } from './roles.js';

export class NodeRuntime {
  readonly o: DaemonOptions;
  readonly clock: Clock;
  readonly events: EventLog;
  readonly certs: CertFiles;
  readonly renewal: CertRenewal;
  readonly forwarder: LeaderForwarder;
  /** node.json as last written; undefined while this node is in no swarm. */
  node: NodeFile | undefined;
  tls: TlsMaterial | undefined;
  keys: KeyStore | undefined;
  /** A manager's store, Raft member and Manager, once it has them. */
  replica: DaemonReplica | undefined;
  server: ClusterServer | undefined;
  remote: RemoteDispatcher | undefined;
  agent: Agent | undefined;
  executor: Executor | undefined;
  /** The node's overlay data plane, while this node is in a swarm and can run one. */
  networking: NodeNetworking | undefined;
  apiHandler: ApiHandler | undefined;
  #busy: Promise<unknown> = Promise.resolve();
  #keySync: Promise<void> = Promise.resolve();

  constructor(o: DaemonOptions) {
    this.o = o;
    this.clock = o.clock ?? systemClock;
    this.events = new EventLog(this.clock);
    this.certs = new CertFiles(o.dataRoot);
    this.renewal = new CertRenewal({
      clock: this.clock,
      node: () => this.node,
      tls: () => this.tls,
      leaderCA: () => (this.replica?.raft.isLeader ? this.replica.manager.ca : undefined),
      // Issuing records the node's TLS info, so the leader signs (a follower points there).
      issuer: () => this.leaderAddr() ?? this.remote?.managers[0] ?? this.node?.managers[0] ?? '',
      install: async (next, forNode) => {
        if (this.node !== forNode) return false;
        await this.certs.save(next, this.replica ? this.dataCipher() : undefined);
        this.tls = next;
        this.server?.updateTls(next);
        return true;
      },
      log: (level, msg) => this.log(level, msg),
    });
    this.forwarder = new LeaderForwarder({
      leaderAddr: () => this.leaderAddr(),
      selfAddr: () => this.node?.listenAddr,
      store: () => this.replica?.store,
      tls: () => this.tls,
      log: (msg) => this.log('warn', msg),
    });
  }

  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void {
    this.o.log?.(level, msg);
  }

  get dataRoot(): string {
    return this.o.dataRoot;
  }
  get nodeFile(): string {
    return nodeFilePath(this.o.dataRoot);
  }
  get hostname(): string {
    return this.o.hostname ?? osHostname();
  }

  /** Writes node.json as it is now. */
  saveNode(): Promise<void> {
    return writeNodeFile(this.o.dataRoot, this.node!);
  }

  /** One state change at a time (init, join, unlock, leave, promotion, demotion, shutdown). */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#busy.then(fn, fn);
    this.#busy = p.catch(() => undefined);
    return p;
  }

  /** What seals a manager's state and private key: the data key, itself wrapped by the unlock key when autolocked. */
  dataCipher(): RecordCipher {
    return aesGcmCipher(this.keys!.dek());
  }

  /** The leader's cluster address, when this manager knows who leads. */
  leaderAddr(): string | undefined {
    const raft = this.replica?.raft;
    const lead = raft?.leader;
    if (!lead) return undefined;
    if (lead === raft.id) return this.node?.listenAddr;
    return this.members().get(lead);
  }

  /** Raft ID → cluster address of the members this manager knows. */
  members(): ReadonlyMap<number, string> {
    const store = this.replica?.store;
    const out = new Map<number, string>();
    for (const p of this.node?.raftPeers ?? []) out.set(p.raftId, p.addr);
    if (store) for (const m of raftMembers(store)) out.set(m.raftId, m.addr);
    return out;
  }

  /**
   * Makes this manager's key store match the cluster: its data key wrapped by the cluster's unlock
   * key while autolock is on, unwrapped when off. Runs whenever the cluster object changes.
   */
  syncKeys(): Promise<void> {
    const run = async (): Promise<void> => {
      const keys = this.keys;
      const c = this.replica?.store.view((tx) => tx.cluster());
      if (!keys || keys.locked || !c) return;
      await keys.useUnlockKey(c.Spec.EncryptionConfig?.AutoLockManagers === true ? c.UnlockKey : undefined);
    };
    const p = this.#keySync.then(run, run);
    this.#keySync = p.catch((e: unknown) =>
      this.log('error', `updating the key store to the cluster's autolock setting: ${(e as Error).message}`),
    );
    return p;
  }

  /**
   * The node's data plane, made once per membership. A test executor, or a node that cannot run
   * one (not root, no nftables, `--data-plane off`), runs tasks on the engine's default bridge.
   */
  #dataPlane(nodeId: string): NodeNetworking | undefined {
    if (this.o.executorFactory) return undefined;
    if (this.networking) return this.networking;
    const can = dataPlaneAvailable(this.o.dataPlane);
    if (!can.ok) {
      this.log(
        'warn',
        `overlay networks are off on this node: ${can.why}; tasks run on the engine's default bridge`,
      );
      return undefined;
    }
    this.networking = new NodeNetworking({
      nodeId,
      underlayAddr: this.node!.addr,
      engineHost: this.o.engineHost,
      log: (level, msg) => this.log(level, msg),
      dispatcher: () => this.remote,
    });
    return this.networking;
  }

  newExecutor(nodeId: string): Executor {
    const networking = this.#dataPlane(nodeId);
    return (
      this.o.executorFactory?.(nodeId, this.events) ??
      new DockerExecutor({
        ...(networking ? { networking: networking.networking } : {}),
        engineHost: this.o.engineHost,
        nodeId,
        hostname: this.hostname,
        ...(this.o.genericResources ? { genericResources: this.o.genericResources } : {}),
        execRoot: join(this.o.execRoot ?? '/var/run/shoal', nodeId),
        log: (m) => this.log('warn', m),
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

  /** A session client for the managers; the list it learns is kept for the next start. */
  newRemote(managers: string[]): RemoteDispatcher {
    return new RemoteDispatcher({
      managers,
      tls: () => this.tls!,
      onManagers: (list) => {
        if (!this.node) return;
        this.node = { ...this.node, managers: list };
        void this.saveNode().catch((e: unknown) =>
          this.log('warn', `saving the manager list: ${(e as Error).message}`),
        );
      },
      log: (msg) => this.log('warn', msg),
    });
  }

  /**
   * Starts the agent. The node serves its API even while the engine or the managers are
   * unreachable: the agent keeps trying, with backoff, and catches up later.
   */
  startAgent(remote: RemoteDispatcher, executor: Executor): Promise<void> {
    const networking = this.networking;
    if (networking)
      void networking
        .start()
        .catch((e: unknown) => this.log('error', `starting the data plane: ${(e as Error).message}`));
    const agent = new Agent({
      nodeId: this.node!.nodeId,
      addr: this.node!.addr,
      dispatcher: remote,
      executor,
      clock: this.clock,
      log: (m) => this.log('warn', m),
      onTlsTarget: (t) => this.renewal.onTlsTarget(t),
      onNodeRole: (role) => onNodeRole(this, role),
      ...(networking ? { onNetworks: (views: NetworkView[]) => networking.onNetworks(views) } : {}),
      ...(this.o.engineConcurrency !== undefined ? { engineConcurrency: this.o.engineConcurrency } : {}),
    });
    this.agent = agent;
    let first: Promise<void> | undefined;
    const attempt = (n: number): void => {
      const p = agent.start();
      first ??= p.catch(() => undefined);
      p.catch((e: unknown) => {
        if (this.agent !== agent) return;
        const delay = Math.min(30_000, 500 * 2 ** n);
        this.log('warn', `${(e as Error).message}; retrying in ${delay} ms`);
        this.clock.setTimer(delay, () => {
          if (this.agent === agent) attempt(n + 1);
        });
      });
    };
    attempt(0);
    return first!;
  }

  /** With joining, resolves once the first session is up (or failed); a restart never waits for managers. */
  async activateWorker(joining = false): Promise<void> {
    const node = this.node!;
    const remote = this.newRemote(node.managers);
    const executor = this.newExecutor(node.nodeId);
    this.remote = remote;
    this.executor = executor;
    this.renewal.schedule();
    const started = this.startAgent(remote, executor);
    if (joining) await started;
  }

  /** Stops everything; with removeTasks, also removes this node's task containers (swarm leave). */
  async deactivate(removeTasks: boolean): Promise<void> {
    this.renewal.cancel();
    await this.agent?.stop();
    this.remote?.close();
    const networking = this.networking;
    this.networking = undefined;
    await this.server?.stop();
    await this.replica?.manager.stop();
    if (removeTasks && this.executor) {
      try {
        for (const cid of (await this.executor.managedTaskIds()).values())
          await this.executor.removeContainer(cid);
      } catch (e) {
        this.log('warn', `removing task containers: ${(e as Error).message}`);
      }
    }
    // Leaving takes the node's sandboxes and engine networks with it; a restart leaves them to
    // the next start, so running containers keep their networks meanwhile.
    if (removeTasks) await networking?.teardown();
    else await networking?.stop();
    await this.replica?.raft.stop();
    this.replica?.transport.close();
    this.forwarder.close();
    this.agent = undefined;
    this.remote = undefined;
    this.server = undefined;
    this.replica = undefined;
    this.executor = undefined;
  }

  /** Stops everything and forgets this node's membership, on disk and in memory (leave, failed init or join). */
  async forget(removeTasks: boolean): Promise<void> {
    await this.deactivate(removeTasks);
    await this.wipe();
    this.node = undefined;
    this.tls = undefined;
    this.keys = undefined;
  }

  /** Clears whatever a failed or finished membership left on disk. */
  async wipe(): Promise<void> {
    await this.removeManagerState();
    await this.certs.remove();
    await rm(this.nodeFile, { force: true });
  }

  /** Removes a manager's Raft log and key store (it leaves, or is no longer a manager). */
  async removeManagerState(): Promise<void> {
    await rm(join(this.o.dataRoot, 'raft'), { recursive: true, force: true });
    await rm(join(this.o.dataRoot, 'keys.json'), { force: true });
  }
}
