// The data plane's contract. The manager's dispatcher sends each node a view of every overlay
// network the node needs (its tasks' networks, and attachable networks it holds containers on);
// the node's data plane (`network/`) converges its sandboxes, forwarding entries, VIP rules and
// DNS records on those views; the agent's executor asks it to attach task containers. The daemon
// wires the two sides; neither imports the other.
import type { Task } from './types.js';

/** One endpoint on an overlay network: a task's interface, or a standalone container's. */
export interface EndpointView {
  /** The task's ID, or the attachment's ID for a standalone container. */
  id: string;
  /** The task's DNS name (`<service>.<slot|node>.<task>`), or the container's name. */
  name: string;
  /** The service it belongs to; absent for standalone containers. */
  serviceId?: string;
  /** Extra names it answers to on this network (the service's network aliases for it). */
  aliases: string[];
  /** Its addresses on the network, with prefix ("10.0.1.5/24"); one per family. */
  addresses: string[];
  /** The node it lives on, and that node's underlay address (the VXLAN tunnel's far end). */
  nodeId: string;
  nodeAddr: string;
  /**
   * True while it should get traffic: its task is RUNNING (past its health check) and still
   * desired running. A starting or stopping endpoint keeps its forwarding entries but leaves
   * the VIP and DNS answers.
   */
  ready: boolean;
}

/** A service as the network's VIP rules and DNS see it. */
export interface ServiceView {
  id: string;
  name: string;
  /** "vip": the name answers with `vip`; "dnsrr": with the ready tasks' addresses, shuffled. */
  mode: 'vip' | 'dnsrr';
  /** Its virtual IP on this network (no prefix), in vip mode. */
  vip?: string;
  /** The service's network aliases on this network: answered like its name. */
  aliases: string[];
  /**
   * Only in the ingress network's view: the ports the service publishes in ingress mode, which
   * every node answers on its own addresses and spreads over the service's ready endpoints.
   */
  ports?: PublishedPortView[];
  /** `client-ip` (label `shoal.lb.affinity=client-ip`): one client goes to one task while it is ready. */
  affinity?: 'client-ip';
  /**
   * True (label `shoal.ingress.snat=true`): the mesh masquerades, so the task sees the ingress
   * node's address; by default it sees the client's own.
   */
  snat?: boolean;
}

/** A port published through the routing mesh. */
export interface PublishedPortView {
  protocol: 'tcp' | 'udp' | 'sctp';
  /** The port every node answers on. */
  published: number;
  /** The port the task listens on. */
  target: number;
}

/** One overlay network as one node needs it. */
export interface NetworkView {
  id: string;
  name: string;
  /** VXLAN network identifier. */
  vni: number;
  /** The network's subnets with their gateways (no prefix on the gateway). */
  subnets: { subnet: string; gateway: string }[];
  attachable: boolean;
  internal: boolean;
  ingress: boolean;
  /** The driver options it was created with (`-o`), `encrypted` among them. */
  options: Record<string, string>;
  /** This node's own address on the network (with prefix), for traffic the node itself sources. */
  nodeAddress?: string;
  /** Every endpoint on the network, cluster-wide, this node's included. */
  endpoints: EndpointView[];
  /**
   * Only in the ingress view: every node's own address on it (its ingress sandbox's, with or
   * without prefix) and its underlay address. A task's replies go back through the node that took
   * the connection, so the task sees the client's address; without this list no node could route
   * them, and the mesh masquerades every service instead (as Swarm does).
   */
  nodes?: { nodeId: string; nodeAddr: string; address: string }[];
  /** The services with tasks or a VIP on the network. */
  services: ServiceView[];
}

/** How a task's container joins its networks, as the node's data plane prepared them. */
export interface ContainerNetworking {
  /** The engine network the container is created on (its first attachment). */
  networkMode: string;
  /** Per engine network name: the endpoint settings (the manager's addresses). */
  endpoints: Record<
    string,
    { IPAMConfig: { IPv4Address?: string; IPv6Address?: string }; Aliases?: string[] }
  >;
  /** The resolvers the container uses for names the engine's embedded DNS does not know. */
  dns: string[];
}

/** What the executor asks of the node's data plane; absent on nodes without one. */
export interface TaskNetworking {
  /**
   * Makes sure the engine networks behind the task's attachments exist on this node and returns
   * how its container joins them; undefined for a task without overlay attachments. Rejects with a
   * clear message when the node cannot carry one of them (an encrypted network on a kernel without
   * ESP), and the task fails with it.
   */
  prepare(task: Task): Promise<ContainerNetworking | undefined>;
  /**
   * Called once the task's container has started and before the task reports RUNNING, for what
   * the engine cannot set up before start (the reply route of an ingress endpoint, so the task
   * sees its clients' addresses). Rejecting fails the task.
   */
  started?(task: Task, container: { id: string; pid: number }): Promise<void>;
}

/**
 * A task's container and DNS name as the executor names it: `<service>.<slot>.<task>`, or
 * `<service>.<node>.<task>` for a global service's task. One place, so the manager's endpoint
 * names and the node's containers agree.
 */
export function taskContainerName(serviceName: string, t: Pick<Task, 'ID' | 'Slot' | 'NodeID'>): string {
  return `${serviceName}.${t.Slot !== undefined ? t.Slot : (t.NodeID ?? '')}.${t.ID}`;
}
