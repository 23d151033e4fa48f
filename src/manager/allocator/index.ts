// The allocator: gives services their virtual IPs and published ports, gives tasks their network
// addresses, then moves tasks NEW → PENDING so the scheduler can place them. Address use is
// derived from the store on each pass, never kept on the side. A network may be dual stack: a task
// gets one address of each family its network has a subnet of; a service one virtual IP, from the
// network's first subnet with room (Swarm's VIP is single too). A node gets one address on each
// network it has live tasks on (Node.NetworkAddrs), for traffic it sources itself; it is freed
// when its last live task there goes, with the node, or with the network. Every node has one on
// the ingress network, tasks or not: each node's ingress sandbox forwards published ports.
import { isoTime, type Clock } from '../../platform/index.js';
import { parseCidr, type Network, type Node, type Service, type Task } from '../../api/index.js';
import type { MemoryStore, StoreEvent, WriteTx } from '../../state/index.js';
import { AddressBook, isTerminalState } from './addresses.js';
import { WatchLoop } from '../watchloop.js';
import { holdsNetworks } from '../dispatcher/index.js';
import { hostModePorts } from '../orchestrator/index.js';

/** Networks a service's tasks attach to: its own, plus ingress if it publishes ingress ports. */
export function serviceNetworks(tx: Pick<WriteTx, 'lookup' | 'all'>, s: Service): Network[] {
  const out: Network[] = [];
  const ingressPorts = (s.Spec.EndpointSpec?.Ports ?? []).some(
    (p) => (p.PublishMode ?? 'ingress') === 'ingress',
  );
  if (ingressPorts) {
    const ingress = tx.all('networks').find((n) => n.Spec.Ingress);
    if (ingress) out.push(ingress);
  }
  for (const a of s.Spec.TaskTemplate?.Networks ?? []) {
    const n = tx.lookup('networks', a.Target);
    if (n && !out.some((o) => o.ID === n.ID)) out.push(n);
  }
  return out;
}

/** How many address families a network has subnets of (a task gets one address of each). */
function familiesOf(n: Network): number {
  return new Set(n.IPAMOptions.Configs.flatMap((c) => (c.Subnet ? [parseCidr(c.Subnet).family] : []))).size;
}

export { AddressBook } from './addresses.js';

export class Allocator {
  #dirty = false;
  /** Some task waits in NEW for an address: a freed one (a task ending, a network change) retries. */
  #waiting = false;
  readonly #loop: WatchLoop;

  constructor(
    private readonly store: MemoryStore,
    private readonly clock: Clock,
    log: (msg: string) => void = () => undefined,
  ) {
    this.#loop = new WatchLoop({
      store,
      onEvent: (e) => this.#onEvent(e),
      pass: async () => {
        this.#dirty = false;
        await this.store.update((tx) => this.#allocate(tx));
      },
      onError: (e) => log(`allocator pass failed: ${(e as Error).message}`),
    });
  }

  start(): void {
    this.#dirty = true;
    this.#loop.start();
  }

  stop(): void {
    this.#loop.stop();
  }

  #onEvent(e: StoreEvent): void {
    if (e.kind === 'change') {
      const { table, object } = e.change;
      if ((table === 'tasks' && (object as Task).Status.State === 'new') || table === 'services')
        this.#dirty = true;
      else if (
        this.#waiting &&
        (table === 'networks' || (table === 'tasks' && isTerminalState((object as Task).Status.State)))
      )
        this.#dirty = true;
      // Node addresses follow the nodes' live tasks, and go with a node or a network.
      else if (table === 'tasks' && e.change.action !== 'create') {
        const t = object as Task;
        const prev = e.previous as Task | undefined;
        if (
          (t.NetworksAttachments?.length ?? 0) > 0 &&
          (e.change.action === 'remove' ||
            prev === undefined ||
            holdsNetworks(prev) !== holdsNetworks(t) ||
            prev.NodeID !== t.NodeID)
        )
          this.#dirty = true;
      } else if ((table === 'nodes' || table === 'networks') && e.change.action === 'remove')
        this.#dirty = true;
      // A new node needs its ingress address; a new ingress network one on every node.
      else if (
        e.change.action === 'create' &&
        (table === 'nodes' || (table === 'networks' && (object as Network).Spec.Ingress === true))
      )
        this.#dirty = true;
      return;
    }
    if (this.#dirty) this.#loop.kick();
  }

  #allocate(tx: WriteTx): void {
    const now = isoTime(this.clock.now());
    const book = new AddressBook(tx);
    const networks = book.networks;
    const allTasks = tx.all('tasks');
    const allNodes = tx.all('nodes');
    const vipOf = (n: Network): string | undefined => book.vipOf(n);
    const addressesOf = (n: Network): string[] => book.addressesOf(n);

    // Service virtual IPs: one per attached network, in VIP mode.
    for (const s of tx.all('services')) {
      if ((s.Spec.EndpointSpec?.Mode ?? 'vip') !== 'vip') continue;
      const nets = serviceNetworks(tx, s);
      const have = s.Endpoint.VirtualIPs ?? [];
      const want = nets.map((n) => {
        const existing = have.find((v) => v.NetworkID === n.ID);
        if (existing) return existing;
        const addr = vipOf(n);
        return addr ? { NetworkID: n.ID, Addr: addr } : undefined;
      });
      const vips = want.filter((v): v is { NetworkID: string; Addr: string } => v !== undefined);
      if (JSON.stringify(vips) !== JSON.stringify(have)) {
        const next = structuredClone(s) as Service;
        if (vips.length > 0) next.Endpoint.VirtualIPs = vips;
        else delete next.Endpoint.VirtualIPs;
        tx.update('services', next);
      }
    }

    // New tasks: network attachments, then PENDING.
    this.#waiting = false;
    let budget = 1000;
    for (const t of allTasks) {
      if (t.Status.State !== 'new' || budget-- <= 0) continue;
      const service = tx.get('services', t.ServiceID);
      const next = structuredClone(t) as Task;
      if (service) {
        const attachments = serviceNetworks(tx, service).map((n) => ({
          Network: n,
          Addresses: addressesOf(n),
        }));
        const full = attachments.find((a) => a.Addresses.length < familiesOf(a.Network));
        if (full) {
          // As swarmkit's allocator: the task stays NEW until an address is free, and says why.
          this.#waiting = true;
          const err = `no available addresses on this pool: network ${full.Network.Spec.Name} (${full.Network.ID}) has no free address for the task`;
          if (t.Status.Err !== err) {
            next.Status = { ...t.Status, Timestamp: now, Err: err };
            next.UpdatedAt = now;
            tx.update('tasks', next);
          }
          continue;
        }
        if (attachments.length > 0) next.NetworksAttachments = attachments;
        const hostPorts = hostModePorts(service);
        if (hostPorts.length > 0) next.HostPorts = hostPorts;
      }
      next.Status = { Timestamp: now, State: 'pending', Message: 'pending task scheduling', PortStatus: {} };
      next.UpdatedAt = now;
      tx.update('tasks', next);
    }
    for (const node of allNodes) this.#nodeAddresses(tx, node, networks, vipOf);

    // More new tasks than one pass takes: come back for the rest.
    if (budget < 0) queueMicrotask(() => this.#loop.kick());
  }

  /**
   * The node's own addresses: one on each network its live tasks are on, kept while it has one
   * there. A network without a free address gives none (the node's traffic there goes without).
   */
  #nodeAddresses(
    tx: WriteTx,
    node: Node,
    networks: Map<string, Network>,
    take: (n: Network) => string | undefined,
  ): void {
    const want = new Set<string>();
    for (const n of networks.values()) if (n.Spec.Ingress === true) want.add(n.ID);
    for (const t of tx.tasksByNode(node.ID))
      if (holdsNetworks(t))
        for (const a of t.NetworksAttachments ?? []) if (networks.has(a.Network.ID)) want.add(a.Network.ID);
    const have = node.NetworkAddrs ?? {};
    const next: Record<string, string> = {};
    for (const id of [...want].sort()) {
      const addr = have[id] ?? take(networks.get(id)!);
      if (addr) next[id] = addr;
    }
    if (JSON.stringify(next) === JSON.stringify(have)) return;
    const updated = structuredClone(node);
    if (Object.keys(next).length > 0) updated.NetworkAddrs = next;
    else delete updated.NetworkAddrs;
    tx.update('nodes', updated);
  }
}
