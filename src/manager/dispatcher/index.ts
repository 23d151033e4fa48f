// The dispatcher: the manager's side of agent sessions. It keeps node liveness from heartbeats,
// pushes each node its assignment set when it changes, and writes task status reports in batches
// (one transaction per flush), refusing any report that would move a task backwards.
import { datapathTrace, isoTime, type Clock, type Cancel } from '../../platform/index.js';
import {
  invalidArgument,
  notFound,
  unavailable,
  validateAddr,
  validateNodeDescription,
  validateTaskId,
  validateTaskStatus,
  validateNetworkId,
  validateNetworkRef,
  validateAttachmentAddress,
  validateAttachmentContainer,
  newId,
  ShoalError,
  type NetworkAttachmentGrant,
  type AgentSession,
  type Assignment,
  type NetworkView,
  type Node,
  type NodeRole,
  type DispatcherAPI,
  type NodeDescription,
  type Payload,
  type Service,
  type SessionHandlers,
  type Task,
  type TlsTarget,
  type TaskStatusUpdate,
  type TaskLogLine,
} from '../../api/index.js';
import type { MemoryStore, StoreEvent } from '../../state/index.js';
import { stateOrder } from '../orchestrator/index.js';
import { tlsTarget } from '../nodeca/index.js';
import { AddressBook } from '../allocator/addresses.js';
import { LogBroker } from './logs.js';
import {
  AFFINITY_LABEL,
  holdsNetworks,
  ingressPorts,
  isAttachmentTask,
  isEndpointTask,
  NetworkViews,
  SNAT_LABEL,
} from './networks.js';

export {
  holdsNetworks,
  isAttachmentTask,
  isEndpointTask,
  networkViews,
  NetworkViews,
  hostPart,
} from './networks.js';

/** What of a task its network's endpoint shows (or whether its node needs the network). */
function endpointPart(t: Task): string {
  return JSON.stringify([
    t.NodeID ?? '',
    holdsNetworks(t),
    isEndpointTask(t),
    t.Status.State === 'running' && t.DesiredState === 'running',
    (t.NetworksAttachments ?? []).map((a) => [a.Network.ID, a.Addresses]),
    // A standalone container's attachment is named once its node says by which container.
    t.Name ?? '',
  ]);
}

/** What of a service its networks' views show. */
function servicePart(s: Service): string {
  return JSON.stringify([
    s.Spec.Name,
    s.Spec.EndpointSpec?.Mode ?? 'vip',
    s.Endpoint.VirtualIPs ?? [],
    (s.Spec.TaskTemplate?.Networks ?? []).map((n) => [n.Target, n.Aliases ?? []]),
    ingressPorts(s),
    s.Spec.Labels?.[AFFINITY_LABEL] ?? '',
    s.Spec.Labels?.[SNAT_LABEL] ?? '',
  ]);
}

const attachedNetworks = (t: Task | undefined): string[] =>
  (t?.NetworksAttachments ?? []).map((a) => a.Network.ID);

/** Reports are flushed on the next tick; those that arrive during a flush go in the next one. */
const FLUSH_MS = 0;
const MAX_BATCH = 1000;
/** Updates one status report may carry (an agent sends what changed since its last report). */
const MAX_REPORT = 10_000;
/** Standalone containers' network attachments one node may hold. */
const MAX_ATTACHMENTS_PER_NODE = 1024;
const DEFAULT_HEARTBEAT_MS = 1000;
/** A node is down after this many periods without a heartbeat (Swarm's grace factor). */
const GRACE_PERIODS = 3;
/** A flush the store refused (a disk fault) is tried again after this, doubling to the cap. */
const FLUSH_RETRY_MS = 100;
const FLUSH_RETRY_MAX_MS = 2000;

/** A task without what the agent does not need to hear back: its status, as the agent reported it. */
function stablePart(t: Task): string {
  return JSON.stringify({ ...t, Status: undefined, UpdatedAt: undefined, Version: undefined });
}

/**
 * Whether a task's change is one the agent on its node made itself: a status report past ASSIGNED
 * (ASSIGNED and below come from the scheduler and allocator) of a task the node already holds.
 * Pushing it back would echo every report to its sender (Swarm skips these too); the agent keeps
 * its own status and compares the manager's whenever the task comes down for another reason.
 */
export function statusOnlyChange(prev: Task | undefined, next: Task): boolean {
  return (
    prev !== undefined &&
    prev.NodeID === next.NodeID &&
    stateOrder(prev.Status.State) >= stateOrder('assigned') &&
    stateOrder(next.Status.State) > stateOrder('assigned') &&
    stablePart(prev) === stablePart(next)
  );
}

/**
 * The role a node's session reports: a manager while it is in the Raft group (it has a ManagerStatus),
 * then what its spec asks. A promoted worker hears "manager" at once and joins; a demoted manager
 * hears "worker" only once the leader has taken it out of the group, which it may not learn from
 * Raft itself (the leader stops replicating to a member it removed).
 */
export function sessionRole(n: Node): NodeRole {
  return n.ManagerStatus !== undefined ? 'manager' : (n.Spec.Role ?? 'worker');
}

export class Dispatcher implements DispatcherAPI {
  #sessions = new Map<string, Set<(set: Assignment[]) => void>>();
  #tlsListeners = new Set<(t: TlsTarget) => void>();
  #roleListeners = new Map<string, Set<(role: NodeRole) => void>>();
  #lastTls: TlsTarget | undefined;
  #dirtyNodes = new Set<string>();
  /** Network view subscribers per node, and the networks each node was last sent. */
  #netSessions = new Map<string, Set<(views: NetworkView[]) => void>>();
  #sentNets = new Map<string, Set<string>>();
  /** Networks whose cluster-wide part may have changed: every node holding one is sent it again. */
  #dirtyNets = new Set<string>();
  /** Nodes whose own views may have changed (their tasks' networks, their own addresses). */
  #dirtyNetNodes = new Set<string>();
  /** Nodes that went down, came back, moved or left: their tasks' networks are dirty. */
  #dirtyEndpointNodes = new Set<string>();
  /** Services whose name, mode, VIPs or aliases changed: their tasks' networks are dirty. */
  #dirtyServices = new Set<string>();
  /** A node joined, left, went down or up, moved or got its ingress address: the ingress view's node list. */
  #meshNodesDirty = false;
  #pushScheduled = false;
  #pending = new Map<string, { nodeId: string; update: TaskStatusUpdate }>();
  #flushTimer: Cancel | undefined;
  #flushRetryMs = FLUSH_RETRY_MS;
  #flushing: Promise<void> | undefined;
  /** When each node is due its next sign of life; past it, the node is marked down. */
  #deadline = new Map<string, number>();
  #unsubscribe: (() => void) | undefined;
  #livenessTimer: Cancel | undefined;
  /** When the liveness check last ran, to see the leader's own stalls. */
  #lastCheck: number | undefined;
  /** Open sessions' close handlers: a dispatcher that stops (lost leadership) ends them all. */
  #open = new Set<(err: Error) => void>();
  /** Log subscriptions of `service logs` for tasks on the nodes with a session here. */
  readonly logs: LogBroker;

  constructor(
    private readonly store: MemoryStore,
    private readonly clock: Clock,
    private readonly log: (msg: string) => void = () => undefined,
    private readonly opts: { heartbeatMs?: number; selfAddr?: () => string } = {},
  ) {
    this.logs = new LogBroker(clock);
  }

  get heartbeatMs(): number {
    const fromSpec = this.store.view((tx) => tx.cluster()?.Spec.Dispatcher?.HeartbeatPeriod);
    return this.opts.heartbeatMs ?? (fromSpec ? fromSpec / 1e6 : DEFAULT_HEARTBEAT_MS);
  }

  start(): void {
    this.#unsubscribe = this.store.subscribe((e) => this.#onEvent(e));
    this.#checkLiveness();
  }

  /** Stopped for good (a dispatcher lives for one term). */
  #stopped = false;

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#livenessTimer?.();
    this.#flushTimer?.();
    const open = [...this.#open];
    this.#open.clear();
    for (const close of open) close(new Error('this manager is no longer the leader'));
    this.logs.endAll();
    await this.#flush();
  }

  #onEvent(e: StoreEvent): void {
    if (e.kind === 'commit') {
      if (this.#dirtyNodes.size > 0 || this.#netsDirty()) this.#schedulePush();
      return;
    }
    this.#onNetworkEvent(e);
    const { table, object } = e.change;
    if (table === 'nodes') {
      const n = object as Node;
      const role = sessionRole(n);
      const subs = this.#roleListeners.get(n.ID);
      const prev = e.previous as Node | undefined;
      if (subs && (prev === undefined || sessionRole(prev) !== role))
        setImmediate(() => {
          for (const l of subs) l(role);
        });
      return;
    }
    if (table === 'clusters') {
      setImmediate(() => this.#pushTls());
      return;
    }
    if (table === 'tasks') {
      const t = object as Task;
      const prev = e.previous as Task | undefined;
      if (e.change.action === 'update' && statusOnlyChange(prev, t)) return;
      if (t.NodeID) this.#dirtyNodes.add(t.NodeID);
      if (prev?.NodeID && prev.NodeID !== t.NodeID) this.#dirtyNodes.add(prev.NodeID);
    } else if (table === 'services') {
      for (const n of this.#sessions.keys()) this.#dirtyNodes.add(n);
    }
  }

  #netsDirty(): boolean {
    return (
      this.#dirtyNets.size > 0 ||
      this.#dirtyNetNodes.size > 0 ||
      this.#dirtyEndpointNodes.size > 0 ||
      this.#dirtyServices.size > 0 ||
      this.#meshNodesDirty
    );
  }

  /**
   * Marks what a change does to the network views. Unlike assignments, a task's status report
   * counts: its endpoint becomes ready (or leaves) in every view of its networks, its own node's
   * included.
   */
  #onNetworkEvent(e: Extract<StoreEvent, { kind: 'change' }>): void {
    const { table, object, action } = e.change;
    switch (table) {
      case 'tasks': {
        const t = object as Task;
        const prev = e.previous as Task | undefined;
        if (action === 'update' && prev && endpointPart(prev) === endpointPart(t)) return;
        if (action === 'create' && !holdsNetworks(t)) return;
        for (const id of [...attachedNetworks(t), ...attachedNetworks(prev)]) this.#dirtyNets.add(id);
        if (t.NodeID) this.#dirtyNetNodes.add(t.NodeID);
        if (prev?.NodeID) this.#dirtyNetNodes.add(prev.NodeID);
        return;
      }
      case 'nodes': {
        const n = object as Node;
        const prev = e.previous as Node | undefined;
        const down = (x: Node | undefined): boolean => x?.Status.State === 'down';
        const moved =
          action !== 'update' || !prev || down(prev) !== down(n) || prev.Status.Addr !== n.Status.Addr;
        if (moved) this.#dirtyEndpointNodes.add(n.ID);
        const addrs = JSON.stringify(prev?.NetworkAddrs ?? {}) !== JSON.stringify(n.NetworkAddrs ?? {});
        if (addrs) this.#dirtyNetNodes.add(n.ID);
        // The ingress view lists every node that answers published ports: all nodes hear of it.
        if (moved || addrs) this.#meshNodesDirty = true;
        return;
      }
      case 'services': {
        const s = object as Service;
        const prev = e.previous as Service | undefined;
        if (action === 'update' && prev && servicePart(prev) === servicePart(s)) return;
        this.#dirtyServices.add(s.ID);
        for (const v of [...(s.Endpoint.VirtualIPs ?? []), ...(prev?.Endpoint.VirtualIPs ?? [])])
          this.#dirtyNets.add(v.NetworkID);
        return;
      }
      case 'networks':
        this.#dirtyNets.add(object.ID);
        return;
      case 'clusters':
      case 'secrets':
      case 'configs':
        return;
    }
  }

  #schedulePush(): void {
    if (this.#pushScheduled) return;
    this.#pushScheduled = true;
    setImmediate(() => {
      this.#pushScheduled = false;
      // Networks first: a node's data plane hears of a network before its tasks need it.
      this.#pushNetworks();
      const nodes = [...this.#dirtyNodes];
      this.#dirtyNodes.clear();
      for (const n of nodes) this.#push(n);
    });
  }

  /** One round: every node with a session whose views may have changed gets them again. */
  #pushNetworks(): void {
    if (!this.#netsDirty()) return;
    const nets = this.#dirtyNets;
    const nodes = this.#dirtyNetNodes;
    const endpointNodes = this.#dirtyEndpointNodes;
    const services = this.#dirtyServices;
    this.#dirtyNets = new Set();
    this.#dirtyNetNodes = new Set();
    this.#dirtyEndpointNodes = new Set();
    this.#dirtyServices = new Set();
    const meshNodes = this.#meshNodesDirty;
    this.#meshNodesDirty = false;
    if (this.#netSessions.size === 0) return;
    const out = this.store.view((tx) => {
      for (const n of endpointNodes) {
        nodes.add(n);
        for (const t of tx.tasksByNode(n)) for (const id of attachedNetworks(t)) nets.add(id);
      }
      for (const s of services)
        for (const t of tx.tasksByService(s)) for (const id of attachedNetworks(t)) nets.add(id);
      const round = new NetworkViews(tx);
      // Every node holds the ingress network, so a change to it goes to all; a new one (a
      // user-defined ingress network) is in no node's sent set yet.
      const ingress = round.ingressId();
      if (ingress !== undefined && meshNodes) nets.add(ingress);
      const all = ingress !== undefined && nets.has(ingress);
      const views: [string, NetworkView[]][] = [];
      for (const nodeId of this.#netSessions.keys()) {
        const sent = this.#sentNets.get(nodeId);
        if (!all && !nodes.has(nodeId) && !(sent && [...sent].some((id) => nets.has(id)))) continue;
        views.push([nodeId, round.forNode(nodeId)]);
      }
      return views;
    });
    for (const [nodeId, views] of out) this.#sendNetworks(nodeId, views);
  }

  #sendNetworks(nodeId: string, views: NetworkView[]): void {
    const subs = this.#netSessions.get(nodeId);
    if (!subs || subs.size === 0) return;
    if (datapathTrace.on) datapathTrace('views-sent', `node=${nodeId} networks=${views.length}`);
    this.#sentNets.set(nodeId, new Set(views.map((v) => v.id)));
    for (const s of subs) s(views);
  }

  /** The views of the overlay networks the node needs, now. */
  networkViews(nodeId: string): NetworkView[] {
    return this.store.view((tx) => new NetworkViews(tx).forNode(nodeId));
  }

  /** Subscribes to a node's network views: told them now and whenever they may have changed. */
  networks(nodeId: string, onViews: (views: NetworkView[]) => void): () => void {
    let subs = this.#netSessions.get(nodeId);
    if (!subs) this.#netSessions.set(nodeId, (subs = new Set()));
    subs.add(onViews);
    const views = this.networkViews(nodeId);
    this.#sentNets.set(nodeId, new Set(views.map((v) => v.id)));
    onViews(views);
    return () => {
      subs.delete(onViews);
      if (subs.size === 0 && this.#netSessions.get(nodeId) === subs) {
        this.#netSessions.delete(nodeId);
        this.#sentNets.delete(nodeId);
      }
    };
  }

  assignmentSet(nodeId: string): Assignment[] {
    return this.store.view((tx) =>
      tx
        .tasksByNode(nodeId)
        // A standalone container's network attachment is the node's engine's, not a task to run.
        .filter((t) => stateOrder(t.Status.State) >= stateOrder('assigned') && !isAttachmentTask(t))
        .map((task) => {
          const svc = tx.get('services', task.ServiceID);
          // Payloads go only with tasks that may still run: a finished task's secrets leave the node.
          const live = stateOrder(task.DesiredState) <= stateOrder('running');
          const cs = task.Spec.ContainerSpec;
          const payloads = (table: 'secrets' | 'configs', ids: string[]): Payload[] =>
            live
              ? ids.flatMap((id) => {
                  const o = tx.get(table, id);
                  if (!o) return [];
                  const data = Buffer.from(o.Spec.Data ?? '', 'base64');
                  const t = o.Spec.Templating?.Name;
                  return [{ id, name: o.Spec.Name, data, ...(t ? { templating: t } : {}) }];
                })
              : [];
          return {
            task,
            serviceName: svc?.Spec.Name ?? task.ServiceID,
            serviceLabels: svc?.Spec.Labels ?? {},
            // Registry credentials likewise go only to nodes with a live task of the service.
            ...(live && svc?.RegistryAuth ? { registryAuth: svc.RegistryAuth } : {}),
            secrets: payloads(
              'secrets',
              (cs?.Secrets ?? []).map((r) => r.SecretID),
            ),
            configs: payloads(
              'configs',
              (cs?.Configs ?? []).map((r) => r.ConfigID),
            ),
          };
        }),
    );
  }

  #push(nodeId: string): void {
    const subs = this.#sessions.get(nodeId);
    if (!subs || subs.size === 0) return;
    const set = this.assignmentSet(nodeId);
    for (const s of subs) s(set);
  }

  async openSession(
    nodeId: string,
    description: NodeDescription,
    addr: string,
    handlers: SessionHandlers,
  ): Promise<AgentSession> {
    await this.register(nodeId, validateNodeDescription(description), validateAddr(addr, 'node address'));
    // Stopped while the registration was being written: no one would ever close this session, and
    // the agent would keep a stream that nothing is pushed down (found by the simulator, seed 1129).
    if (this.#stopped) throw unavailable('this manager is no longer the leader: open a new session');
    // Views before the set: the first message carries the networks ahead of the tasks on them.
    const onNetworks = handlers.onNetworks?.bind(handlers);
    const stopNetworks = onNetworks ? this.networks(nodeId, onNetworks) : undefined;
    const stop = this.assignments(nodeId, (set) => handlers.onAssignments(set));
    const onTls = handlers.onTlsTarget?.bind(handlers);
    const target = this.tlsTarget();
    if (onTls) {
      this.#tlsListeners.add(onTls);
      if (target) onTls(target);
    }
    const onRole = handlers.onNodeRole?.bind(handlers);
    if (onRole) {
      let subs = this.#roleListeners.get(nodeId);
      if (!subs) this.#roleListeners.set(nodeId, (subs = new Set()));
      subs.add(onRole);
      const n = this.store.view((tx) => tx.get('nodes', nodeId));
      if (n) onRole(sessionRole(n));
    }
    const onSub = handlers.onLogSubscription?.bind(handlers);
    const onCancel = handlers.onLogCancel?.bind(handlers);
    const detachLogs = onSub
      ? this.logs.attach(nodeId, { subscribe: onSub, cancel: (id) => onCancel?.(id) })
      : undefined;
    const close = (): void => {
      stop();
      stopNetworks?.();
      detachLogs?.();
      if (onTls) this.#tlsListeners.delete(onTls);
      if (onRole) this.#roleListeners.get(nodeId)?.delete(onRole);
      this.#open.delete(onClose);
    };
    const onClose = (err: Error): void => {
      close();
      handlers.onClose(err);
    };
    this.#open.add(onClose);
    return { heartbeatMs: this.heartbeatMs, managers: this.managers(), close };
  }

  tlsTarget(): TlsTarget | undefined {
    const root = this.store.view((tx) => tx.cluster()?.RootCA);
    return root ? tlsTarget(root) : undefined;
  }

  #pushTls(): void {
    const t = this.tlsTarget();
    if (!t || (this.#lastTls?.rootsPem === t.rootsPem && this.#lastTls.issuerPem === t.issuerPem)) return;
    this.#lastTls = t;
    for (const l of this.#tlsListeners) l(t);
  }

  /** Cluster addresses of the managers, this one (the leader) first. */
  managers(): string[] {
    const self = this.opts.selfAddr?.();
    const all = this.store.view((tx) =>
      tx.by('nodes', 'role', 'manager').flatMap((n) => (n.ManagerStatus?.Addr ? [n.ManagerStatus.Addr] : [])),
    );
    return self && all.includes(self) ? [self, ...all.filter((a) => a !== self)] : all;
  }

  async register(nodeId: string, description: NodeDescription, addr: string): Promise<void> {
    this.#alive(nodeId);
    await this.store.update((tx) => {
      const node = tx.get('nodes', nodeId);
      if (!node) return;
      const next = structuredClone(node);
      next.Description = {
        ...description,
        ...(node.Description.TLSInfo ? { TLSInfo: node.Description.TLSInfo } : {}),
      };
      next.Status = { State: 'ready', Addr: addr };
      next.UpdatedAt = isoTime(this.clock.now());
      tx.update('nodes', next);
    });
  }

  heartbeat(nodeId: string): Promise<{ heartbeatMs: number }> {
    // Only registration marks a node ready: beats into a session of a node marked down meanwhile
    // (they came too late, not never) would keep it down for good. Refused, as Swarm refuses a
    // node it no longer has registered, the agent opens a new session.
    if (this.store.view((tx) => tx.get('nodes', nodeId)?.Status.State) === 'down')
      return Promise.reject(notFound('node is marked down: open a new session'));
    this.#alive(nodeId);
    return Promise.resolve({ heartbeatMs: this.heartbeatMs });
  }

  #alive(nodeId: string): void {
    this.#deadline.set(nodeId, this.clock.now() + GRACE_PERIODS * this.heartbeatMs);
  }

  /**
   * The node's session stream ended. A process that dies closes its connection at once, so the
   * node gets one heartbeat period to open a new session instead of the full grace.
   */
  sessionLost(nodeId: string): void {
    const soon = this.clock.now() + this.heartbeatMs;
    this.#deadline.set(nodeId, Math.min(this.#deadline.get(nodeId) ?? soon, soon));
  }

  /** Marks nodes down when their deadline passes. */
  #checkLiveness(): void {
    if (!this.#unsubscribe) return;
    const period = this.heartbeatMs;
    const now = this.clock.now();
    const interval = Math.max(50, period / 10);
    // This check running late means the leader itself stalled (a GC pause, a saturated machine):
    // beats that arrived meanwhile are still unread, and timers run before I/O in Node's loop. The
    // nodes are not blamed for the leader's stall: every deadline moves by it.
    const lag = this.#lastCheck === undefined ? 0 : now - this.#lastCheck - interval;
    if (lag > period / 2) for (const [id, d] of this.#deadline) this.#deadline.set(id, d + lag);
    this.#lastCheck = now;
    // A manager that just took over gives every node a full grace period before judging it.
    for (const n of this.store.view((tx) => tx.all('nodes')))
      if (!this.#deadline.has(n.ID)) this.#alive(n.ID);
    const stale = this.store.view((tx) =>
      tx.all('nodes').filter((n) => n.Status.State === 'ready' && now > (this.#deadline.get(n.ID) ?? now)),
    );
    if (stale.length > 0) {
      void this.store
        .update((tx) => {
          for (const s of stale) {
            const cur = tx.get('nodes', s.ID);
            if (!cur || cur.Status.State !== 'ready') continue;
            tx.update('nodes', {
              ...cur,
              Status: { ...cur.Status, State: 'down', Message: 'heartbeat failure' },
            });
          }
        })
        .catch((e: unknown) => this.log(`marking nodes down failed: ${(e as Error).message}`));
    }
    this.#livenessTimer = this.clock.setTimer(interval, () => this.#checkLiveness());
  }

  assignments(nodeId: string, onSet: (set: Assignment[]) => void): () => void {
    let subs = this.#sessions.get(nodeId);
    if (!subs) this.#sessions.set(nodeId, (subs = new Set()));
    subs.add(onSet);
    onSet(this.assignmentSet(nodeId));
    return () => subs.delete(onSet);
  }

  publishLogs(nodeId: string, subscriptionId: string, lines: TaskLogLine[], done: boolean): Promise<boolean> {
    return Promise.resolve(this.logs.publish(nodeId, subscriptionId, lines, done));
  }

  async attachNetwork(nodeId: string, networkId: string): Promise<NetworkAttachmentGrant> {
    const ref = validateNetworkRef(networkId);
    const id = newId();
    let address = '';
    await this.store.update((tx) => {
      if (this.#stopped) throw unavailable('this manager is no longer the leader');
      const node = tx.get('nodes', nodeId);
      if (!node) throw notFound(`node ${nodeId} not found`);
      // By ID from the engine's IPAM; by name (or ID prefix) ahead of a container create.
      const n = tx.lookup('networks', ref);
      if (!n) throw notFound(`network ${ref} not found`);
      if (!n.Spec.Attachable || n.Spec.Ingress || (n.DriverState.Name ?? 'overlay') !== 'overlay')
        throw new ShoalError(
          'PermissionDenied',
          `Could not attach to network ${n.Spec.Name}: rpc error: code = PermissionDenied desc = network ${n.Spec.Name} not manually attachable`,
        );
      if (tx.tasksByNode(nodeId).filter(isAttachmentTask).length >= MAX_ATTACHMENTS_PER_NODE)
        throw new ShoalError(
          'ResourceExhausted',
          `node ${nodeId} holds ${MAX_ATTACHMENTS_PER_NODE} network attachments already`,
        );
      // Taken in this transaction from the addresses the store holds, as the allocator takes them.
      const addrs = new AddressBook(tx).addressesOf(n);
      if (addrs.length === 0)
        throw new ShoalError('ResourceExhausted', `no available addresses on network ${n.Spec.Name}`);
      address = addrs[0]!;
      const ts = isoTime(this.clock.now());
      tx.create('tasks', {
        ID: id,
        Version: { Index: 0 },
        CreatedAt: ts,
        UpdatedAt: ts,
        Labels: {},
        Spec: { NetworkAttachmentSpec: { ContainerID: '' } },
        ServiceID: '',
        NodeID: nodeId,
        Status: { Timestamp: ts, State: 'running', Message: 'started', PortStatus: {} },
        DesiredState: 'running',
        NetworksAttachments: [{ Network: n, Addresses: addrs }],
      });
    });
    this.#alive(nodeId);
    return { attachmentId: id, address };
  }

  /** The node's attachment on a network holding an address, if any. */
  #attachment(
    tx: { tasksByNode(id: string): Task[] },
    nodeId: string,
    netId: string,
    addr: string,
  ): Task | undefined {
    return tx
      .tasksByNode(nodeId)
      .find(
        (t) =>
          isAttachmentTask(t) &&
          (t.NetworksAttachments ?? []).some(
            (a) => a.Network.ID === netId && a.Addresses.some((x) => x.split('/')[0] === addr),
          ),
      );
  }

  async detachNetwork(nodeId: string, networkId: string, address: string): Promise<void> {
    const netId = validateNetworkId(networkId);
    const addr = validateAttachmentAddress(address);
    await this.store.update((tx) => {
      const t = this.#attachment(tx, nodeId, netId, addr);
      if (t) tx.remove('tasks', t.ID);
    });
  }

  async updateAttachment(
    nodeId: string,
    networkId: string,
    address: string,
    containerId: string,
    name: string,
  ): Promise<void> {
    const netId = validateNetworkId(networkId);
    const addr = validateAttachmentAddress(address);
    const c = validateAttachmentContainer(containerId, name);
    await this.store.update((tx) => {
      const t = this.#attachment(tx, nodeId, netId, addr);
      if (!t) throw notFound(`no network attachment of address ${addr} on network ${netId} on this node`);
      const spec = t.Spec.NetworkAttachmentSpec as { ContainerID?: string } | undefined;
      if (spec?.ContainerID === c.id && t.Name === c.name) return;
      tx.update('tasks', {
        ...t,
        Name: c.name,
        Spec: { ...t.Spec, NetworkAttachmentSpec: { ContainerID: c.id } },
        UpdatedAt: isoTime(this.clock.now()),
      });
    });
  }

  updateTaskStatus(nodeId: string, updates: readonly TaskStatusUpdate[]): Promise<void> {
    // All checked before any is taken: a report with one bad update changes nothing.
    if (updates.length > MAX_REPORT)
      return Promise.reject(invalidArgument(`at most ${MAX_REPORT} task status updates per report`));
    let checked: TaskStatusUpdate[];
    try {
      checked = updates.map((u) => ({
        taskId: validateTaskId(u.taskId),
        status: validateTaskStatus(u.status),
      }));
    } catch (e) {
      return Promise.reject(e as Error);
    }
    this.#alive(nodeId);
    for (const u of checked) this.#queue({ nodeId, update: u });
    if (this.#pending.size >= MAX_BATCH) return this.#flush();
    this.#flushTimer ??= this.clock.setTimer(FLUSH_MS, () => {
      this.#flushTimer = undefined;
      void this.#flush();
    });
    return Promise.resolve();
  }

  /**
   * Takes a report into the next batch. Reports can arrive out of order (a report sent again after
   * a timeout, a network that reorders): one behind the report already waiting for its task does
   * not replace it. Nothing echoes a report back to the agent, so it would never learn that the
   * store missed the newer one.
   */
  #queue(p: { nodeId: string; update: TaskStatusUpdate }): void {
    const had = this.#pending.get(p.update.taskId);
    if (had && had.nodeId === p.nodeId) {
      const a = had.update.status;
      const b = p.update.status;
      const order = stateOrder(b.State) - stateOrder(a.State);
      if (order < 0 || (order === 0 && Date.parse(b.Timestamp) < Date.parse(a.Timestamp))) return;
    }
    this.#pending.set(p.update.taskId, p);
  }

  async #flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#pending.size === 0) return;
    const batch = [...this.#pending.values()];
    this.#pending.clear();
    const nowRunning: string[] = [];
    this.#flushing = this.store
      .update((tx) => {
        nowRunning.length = 0;
        for (const { nodeId, update } of batch) {
          const t = tx.get('tasks', update.taskId);
          if (!t || t.NodeID !== nodeId) continue;
          const from = stateOrder(t.Status.State);
          const to = stateOrder(update.status.State);
          const sameStateNews = from === to && t.Status.Message !== update.status.Message;
          if (to < from || (to === from && !sameStateNews)) continue;
          tx.update('tasks', { ...t, Status: update.status, UpdatedAt: update.status.Timestamp });
          if (datapathTrace.on && update.status.State === 'running') nowRunning.push(t.ID);
        }
      })
      .then(
        () => {
          this.#flushRetryMs = FLUSH_RETRY_MS;
          for (const id of nowRunning) datapathTrace('running-committed', `task=${id}`);
        },
        (e: unknown) => {
          this.log(`task status flush failed: ${(e as Error).message}`);
          this.#retry(batch);
        },
      )
      .finally(() => (this.#flushing = undefined));
    await this.#flushing;
  }

  /**
   * Reports whose write failed are written again later, unless newer ones came meanwhile. The
   * agent took them as delivered, and since its reports are no longer echoed back it would not
   * see the store behind it until the task changed for another reason. A dispatcher that stopped
   * (lost leadership) has closed its sessions instead: every agent gets a complete set from the
   * next leader, compares, and says again what that store lacks.
   */
  #retry(batch: { nodeId: string; update: TaskStatusUpdate }[]): void {
    if (!this.#unsubscribe) return;
    for (const b of batch) this.#queue(b);
    const delay = this.#flushRetryMs;
    this.#flushRetryMs = Math.min(FLUSH_RETRY_MAX_MS, delay * 2);
    this.#flushTimer?.();
    this.#flushTimer = this.clock.setTimer(delay, () => {
      this.#flushTimer = undefined;
      void this.#flush();
    });
  }
}
