// The overlay network views the dispatcher sends each node (api/dataplane.ts): pure over a store
// read. A network's cluster-wide part (endpoints, services) is the same for every node that holds
// it, so one `NetworkViews` per push round computes it once and only the node's own address is
// added per node: a network with 1000 tasks on 100 nodes costs one pass over its tasks per round.
import {
  stateOrder,
  taskContainerName,
  type EndpointView,
  type Network,
  type NetworkView,
  type Node,
  type Service,
  type PublishedPortView,
  type ServiceView,
  type Task,
} from '../../api/index.js';
import type { ReadTx } from '../../state/index.js';

const VNI_OPTION = 'com.docker.network.driver.overlay.vxlanid_list';

/** The label that gives a service's mesh sticky sessions, and the one that asks the mesh to masquerade. */
export const AFFINITY_LABEL = 'shoal.lb.affinity';
export const SNAT_LABEL = 'shoal.ingress.snat';

/** The ports a service publishes through the routing mesh (ingress mode, allocated). */
export function ingressPorts(s: Service): PublishedPortView[] {
  return (s.Endpoint.Ports ?? []).flatMap((p) =>
    (p.PublishMode ?? 'ingress') === 'ingress' && p.PublishedPort && p.TargetPort
      ? [{ protocol: p.Protocol ?? 'tcp', published: p.PublishedPort, target: p.TargetPort }]
      : [],
  );
}

/** The ingress network, if there is one (at most one exists). */
export function ingressNetwork(tx: Pick<ReadTx, 'all'>): Network | undefined {
  return tx.all('networks').find((n) => n.Spec.Ingress === true);
}

/** A node that answers published ports: every node in the cluster not marked down. */
export function servesMesh(n: Node | undefined): boolean {
  return n !== undefined && n.Status.State !== 'down';
}

/** A task its node needs networks for: placed (ASSIGNED or past it) and still wanted. */
export function holdsNetworks(t: Task): boolean {
  return (
    t.NodeID !== undefined &&
    t.NodeID !== '' &&
    stateOrder(t.Status.State) >= stateOrder('assigned') &&
    stateOrder(t.DesiredState) <= stateOrder('running')
  );
}

/** A standalone container's network attachment (Swarm's network-attachment task): no service. */
export function isAttachmentTask(t: Task): boolean {
  return t.ServiceID === '' && t.Spec.NetworkAttachmentSpec !== undefined;
}

/** A task that is an endpoint (its node not yet considered): placed, not finished, still wanted. */
export function isEndpointTask(t: Task): boolean {
  return holdsNetworks(t) && stateOrder(t.Status.State) <= stateOrder('running');
}

/** "10.0.0.1", "10.0.0.1:2377", "[::1]:2377", "::1" → the host part. */
export function hostPart(addr: string): string {
  if (addr.startsWith('[')) return addr.slice(1, addr.indexOf(']') > 0 ? addr.indexOf(']') : undefined);
  const colons = addr.split(':').length - 1;
  return colons === 1 ? addr.slice(0, addr.indexOf(':')) : addr;
}

const sortedUnique = (xs: readonly string[]): string[] => [...new Set(xs)].sort();
const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function sortedOptions(o: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(o ?? {}).sort()) out[k] = o![k]!;
  return out;
}

type SharedView = Omit<NetworkView, 'nodeAddress'>;

/**
 * The views of one store read. Build one per push round (or per check) and ask it for every node:
 * the cluster-wide part of each network is computed once, on first use.
 */
export class NetworkViews {
  readonly #shared = new Map<string, SharedView | undefined>();
  readonly #nodes = new Map<string, Node | undefined>();
  readonly #aliases = new Map<string, Map<string, string[]>>();
  #vipServices: Map<string, Service[]> | undefined;
  #ingress: { id: string | undefined } | undefined;

  constructor(private readonly tx: ReadTx) {}

  /** The ingress network's ID, looked up once per round. */
  ingressId(): string | undefined {
    this.#ingress ??= { id: ingressNetwork(this.tx)?.ID };
    return this.#ingress.id;
  }

  /**
   * The IDs of the networks the node needs, sorted, existing ones only: its live tasks' networks,
   * and the ingress network on every node not down, since every node answers published ports.
   */
  networkIds(nodeId: string): string[] {
    const ids = new Set<string>();
    for (const t of this.tx.tasksByNode(nodeId))
      if (holdsNetworks(t)) for (const a of t.NetworksAttachments ?? []) ids.add(a.Network.ID);
    const ingress = this.ingressId();
    if (ingress && servesMesh(this.#node(nodeId))) ids.add(ingress);
    return [...ids].filter((id) => this.tx.get('networks', id) !== undefined).sort();
  }

  /** The views the node needs, sorted by network ID. */
  forNode(nodeId: string): NetworkView[] {
    const addrs = this.#node(nodeId)?.NetworkAddrs ?? {};
    return this.networkIds(nodeId).flatMap((id) => {
      const s = this.shared(id);
      if (!s) return [];
      const own = addrs[id];
      return [own ? { ...s, nodeAddress: own } : s];
    });
  }

  #node(id: string): Node | undefined {
    if (!this.#nodes.has(id)) this.#nodes.set(id, this.tx.get('nodes', id));
    return this.#nodes.get(id);
  }

  /** The service's network aliases per network ID (its attachments' targets resolved). */
  #serviceAliases(s: Service): Map<string, string[]> {
    let m = this.#aliases.get(s.ID);
    if (!m) {
      m = new Map();
      for (const a of s.Spec.TaskTemplate?.Networks ?? []) {
        const n = this.tx.lookup('networks', a.Target);
        if (n) m.set(n.ID, sortedUnique([...(m.get(n.ID) ?? []), ...(a.Aliases ?? [])]));
      }
      this.#aliases.set(s.ID, m);
    }
    return m;
  }

  #servicesWithVip(networkId: string): Service[] {
    if (!this.#vipServices) {
      this.#vipServices = new Map();
      for (const s of this.tx.all('services'))
        for (const v of s.Endpoint.VirtualIPs ?? []) {
          const list = this.#vipServices.get(v.NetworkID) ?? [];
          if (!list.includes(s)) list.push(s);
          this.#vipServices.set(v.NetworkID, list);
        }
    }
    return this.#vipServices.get(networkId) ?? [];
  }

  /** A network's part that is the same for every node: undefined once the network is gone. */
  shared(networkId: string): SharedView | undefined {
    if (this.#shared.has(networkId)) return this.#shared.get(networkId);
    const n = this.tx.get('networks', networkId);
    const view = n ? this.#build(n) : undefined;
    this.#shared.set(networkId, view);
    return view;
  }

  #build(n: Network): SharedView {
    const services = new Map<string, Service>();
    const endpoints: EndpointView[] = [];
    for (const t of this.tx.by('tasks', 'network', n.ID)) {
      if (!isEndpointTask(t)) continue;
      const node = this.#node(t.NodeID!);
      // A node marked down takes its endpoints out of every view at once.
      if (!node || node.Status.State === 'down') continue;
      const attachment = (t.NetworksAttachments ?? []).find((a) => a.Network.ID === n.ID);
      if (!attachment) continue;
      if (isAttachmentTask(t)) {
        // Named by its container once the node has said which (the ID meanwhile).
        endpoints.push({
          id: t.ID,
          name: t.Name || t.ID,
          aliases: [],
          addresses: [...attachment.Addresses],
          nodeId: node.ID,
          nodeAddr: hostPart(node.Status.Addr),
          ready: t.Status.State === 'running' && t.DesiredState === 'running',
        });
        continue;
      }
      const svc = this.tx.get('services', t.ServiceID);
      if (svc) services.set(svc.ID, svc);
      endpoints.push({
        id: t.ID,
        name: taskContainerName(svc?.Spec.Name ?? t.ServiceID, t),
        serviceId: t.ServiceID,
        aliases: svc ? (this.#serviceAliases(svc).get(n.ID) ?? []) : [],
        addresses: [...attachment.Addresses],
        nodeId: node.ID,
        nodeAddr: hostPart(node.Status.Addr),
        ready: t.Status.State === 'running' && t.DesiredState === 'running',
      });
    }
    for (const s of this.#servicesWithVip(n.ID)) services.set(s.ID, s);
    const serviceViews: ServiceView[] = [...services.values()].map((s) => {
      const mode = s.Spec.EndpointSpec?.Mode === 'dnsrr' ? 'dnsrr' : 'vip';
      const vip = s.Endpoint.VirtualIPs?.find((v) => v.NetworkID === n.ID)?.Addr.split('/')[0];
      return {
        id: s.ID,
        name: s.Spec.Name ?? '',
        mode,
        ...(mode === 'vip' && vip ? { vip } : {}),
        aliases: this.#serviceAliases(s).get(n.ID) ?? [],
        ...(n.Spec.Ingress === true ? meshPart(s) : {}),
      };
    });
    const options = sortedOptions(n.DriverState.Options);
    return {
      id: n.ID,
      name: n.Spec.Name,
      vni: Number(options[VNI_OPTION]?.split(',')[0] ?? 0),
      subnets: n.IPAMOptions.Configs.flatMap((c) =>
        c.Subnet ? [{ subnet: c.Subnet, gateway: (c.Gateway ?? '').split('/')[0]! }] : [],
      ),
      attachable: n.Spec.Attachable === true,
      internal: n.Spec.Internal === true,
      ingress: n.Spec.Ingress === true,
      options,
      endpoints: endpoints.sort(byId),
      services: serviceViews.sort(byId),
      ...(n.Spec.Ingress === true ? { nodes: this.#meshNodes(n.ID) } : {}),
    };
  }

  /**
   * Every node that answers published ports, with its ingress address and underlay address: a
   * task's replies go back through the node that took the connection, which may hold no task.
   */
  #meshNodes(networkId: string): NonNullable<NetworkView['nodes']> {
    const out: NonNullable<NetworkView['nodes']> = [];
    for (const node of this.tx.all('nodes')) {
      const address = node.NetworkAddrs?.[networkId];
      if (!address || !servesMesh(node)) continue;
      out.push({ nodeId: node.ID, nodeAddr: hostPart(node.Status.Addr), address });
    }
    return out.sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  }
}

/** What the ingress view adds to a service publishing ingress ports; nothing for any other. */
function meshPart(s: Service): Pick<ServiceView, 'ports' | 'affinity' | 'snat'> {
  const ports = ingressPorts(s);
  if (ports.length === 0) return {};
  const labels = s.Spec.Labels ?? {};
  return {
    ports,
    ...(labels[AFFINITY_LABEL] === 'client-ip' ? { affinity: 'client-ip' as const } : {}),
    ...(labels[SNAT_LABEL] === 'true' ? { snat: true } : {}),
  };
}

/** The views one node needs, from one store read. */
export function networkViews(tx: ReadTx, nodeId: string): NetworkView[] {
  return new NetworkViews(tx).forNode(nodeId);
}
