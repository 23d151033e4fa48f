// The ingress routing mesh, rendered from the ingress network's view (Swarm's mesh without IPVS,
// which this kernel lacks; reference/networking.md, "Ingress routing mesh without IPVS"):
//
// - In the node's own namespace, table `ip shoal_ingress` DNATs every local address's published
//   port to the service's READY ingress endpoints (round robin, or a consistent hash of the client
//   address for `affinity: client-ip`), from prerouting and from output so the node itself can use
//   it. The ingress subnet is routed through a transit veth into the ingress sandbox. A published
//   port without a ready backend rejects (TCP reset, ICMP unreachable) instead of blackholing.
// - In the ingress sandbox, table `ip shoal_ingress` keeps the client's address: a connection that
//   came over the tunnel from a peer's sandbox is marked by that sandbox's MAC (derived from the
//   peer's ingress address), the mark is restored on replies, and policy routing (one table per
//   peer) sends them back to the peer that took the connection, whose conntrack undoes the DNAT.
//   Services with `snat` (and every service when the view does not list the nodes, so no reply
//   could find its way back) are masqueraded to this node's ingress address instead, as Swarm does.
//   Local tasks whose reply route could not be installed are SNATed where they sit.
// Both scripts replace the whole table in one `nft -f`, as vip.ts does.
import type { EndpointView, NetworkView, PublishedPortView } from '../api/index.js';
import { ipv4Of, macOf, splitAddress } from './addresses.js';

export const INGRESS_TABLE = 'shoal_ingress';
/** Buckets of the client-address hash; each is given to one backend (rendezvous hashing). */
export const AFFINITY_BUCKETS = 1024;
/** Fixed, so that every node hashes a client to the same bucket. */
export const AFFINITY_SEED = 0x5e1f;
/** Policy-routing marks and tables of the peers: this bit plus the low 24 bits of the peer's address. */
const PEER_MARK_BASE = 0x10000000;
/** The preference of the peers' `ip rule`s in the sandbox (before `main` at 32766). */
export const PEER_RULE_PREF = 1000;

/** The transit link between the node's namespace and the ingress sandbox. */
export interface TransitLink {
  /** The veth end in the node's own namespace (unique there). */
  hostIf: string;
  /** The veth end in the sandbox. */
  sandboxIf: string;
  /** Addresses of the two ends, a /30 of their own. */
  hostAddr: string;
  sandboxAddr: string;
}

export const DEFAULT_TRANSIT: TransitLink = {
  hostIf: 'shoal_ig0',
  sandboxIf: 'ig0',
  hostAddr: '169.254.77.1',
  sandboxAddr: '169.254.77.2',
};
export const TRANSIT_BITS = 30;

/** One published port as this node programs it. */
export interface MeshPort {
  serviceId: string;
  protocol: 'tcp' | 'udp';
  published: number;
  target: number;
  /** Ready backends' ingress addresses, sorted. Empty: the port rejects. */
  backends: string[];
  affinity: boolean;
  snat: boolean;
}

/** Another node's ingress sandbox: where replies of connections it took go back to. */
export interface MeshPeer {
  nodeId: string;
  nodeAddr: string;
  /** Its address on the ingress network (no prefix). */
  address: string;
  mac: string;
  /** Its policy-routing mark, also its routing table's number. */
  mark: number;
}

export interface IngressPlan {
  ports: MeshPort[];
  peers: MeshPeer[];
  /** This node's ingress address (no prefix), the SNAT source; undefined: none given. */
  self?: string;
  /** The view lists the nodes, so replies can be routed back and the client's address kept. */
  keepsClientAddress: boolean;
}

function ipNum(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

export function compareIpv4(a: string, b: string): number {
  return ipNum(a) - ipNum(b);
}

export function peerMark(ip: string): number {
  return PEER_MARK_BASE + (ipNum(ip) % 0x1000000);
}

const PORT_OK = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= 65535;

/** What the mesh programs for an ingress view (undefined: no ingress network, nothing published). */
export function planIngress(view: NetworkView | undefined, nodeId: string): IngressPlan {
  if (!view?.ingress) return { ports: [], peers: [], keepsClientAddress: false };
  const self = ownAddress(view);
  const keepsClientAddress = view.nodes !== undefined;
  const ports: MeshPort[] = [];
  const taken = new Set<string>();
  const services = [...view.services].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const svc of services) {
    const backends = new Set<string>();
    for (const ep of view.endpoints) {
      if (ep.serviceId !== svc.id || !ep.ready) continue;
      const ip = ipv4Of(ep);
      if (ip !== undefined) backends.add(ip);
    }
    for (const p of svc.ports ?? []) {
      // SCTP has no `th dport` in this nft's concatenations worth the risk; Swarm's mesh is TCP/UDP.
      if (p.protocol !== 'tcp' && p.protocol !== 'udp') continue;
      if (!PORT_OK(p.published) || !PORT_OK(p.target)) continue;
      // Two services claiming one port would fail the whole script: the first (by ID) keeps it.
      const key = `${p.protocol}/${p.published}`;
      if (taken.has(key)) continue;
      taken.add(key);
      ports.push({
        serviceId: svc.id,
        protocol: p.protocol,
        published: p.published,
        target: p.target,
        backends: [...backends].sort(compareIpv4),
        affinity: svc.affinity === 'client-ip',
        snat: svc.snat === true || !keepsClientAddress,
      });
    }
  }
  ports.sort((a, b) => a.published - b.published || (a.protocol < b.protocol ? -1 : 1));
  const peers: MeshPeer[] = [];
  const seen = new Set<string>();
  for (const n of view.nodes ?? []) {
    const s = splitAddress(n.address);
    const under = splitAddress(n.nodeAddr);
    if (n.nodeId === nodeId || s?.family !== 4 || !under || under.bits !== undefined) continue;
    if (s.ip === self || seen.has(s.ip)) continue;
    seen.add(s.ip);
    peers.push({
      nodeId: n.nodeId,
      nodeAddr: under.ip,
      address: s.ip,
      mac: macOf(s.ip),
      mark: peerMark(s.ip),
    });
  }
  peers.sort((a, b) => compareIpv4(a.address, b.address));
  return { ports, peers, ...(self !== undefined ? { self } : {}), keepsClientAddress };
}

/** This node's ingress address without prefix, if the view gives a well-formed IPv4 one. */
export function ownAddress(view: NetworkView): string | undefined {
  const s = view.nodeAddress === undefined ? undefined : splitAddress(view.nodeAddress);
  return s?.family === 4 ? s.ip : undefined;
}

/**
 * The view with the other nodes' ingress sandboxes as endpoints, so the tunnel gets their
 * neighbour and FDB entries like any remote endpoint's: replies are routed to them.
 */
export function withPeerEndpoints(view: NetworkView, nodeId: string): NetworkView {
  const plan = planIngress(view, nodeId);
  if (plan.peers.length === 0) return view;
  const extra: EndpointView[] = plan.peers.map((p) => ({
    id: `ingress-sbox-${p.nodeId}`,
    name: `ingress-sbox-${p.nodeId}`,
    aliases: [],
    addresses: [`${p.address}/32`],
    nodeId: p.nodeId,
    nodeAddr: p.nodeAddr,
    ready: true,
  }));
  return { ...view, endpoints: [...view.endpoints, ...extra] };
}

/** FNV-1a, 32 bits: a stable, cheap hash for rendezvous scores (not security relevant). */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // A final mix: FNV's low bits are weak for short, similar keys.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Each hash bucket's backend, by rendezvous (highest random weight) hashing: a bucket goes to the
 * backend with the highest score for it, so adding or removing one of N backends moves only the
 * buckets it wins or held (about 1/N), and every node computes the same assignment.
 */
export function affinityBuckets(backends: readonly string[], buckets = AFFINITY_BUCKETS): string[] {
  if (backends.length === 0) return [];
  const out: string[] = [];
  for (let b = 0; b < buckets; b++) {
    let best = backends[0]!;
    let bestScore = -1;
    for (const be of backends) {
      const score = fnv1a(`${b}/${be}`);
      if (score > bestScore || (score === bestScore && be < best)) {
        best = be;
        bestScore = score;
      }
    }
    out.push(best);
  }
  return out;
}

/** The bucket assignment as nft interval elements: runs of buckets with one backend. */
function bucketRanges(assign: readonly string[], target: number): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 1; i <= assign.length; i++) {
    if (i < assign.length && assign[i] === assign[start]) continue;
    const range = i - 1 === start ? `${start}` : `${start}-${i - 1}`;
    out.push(`${range} : ${assign[start]!} . ${target}`);
    start = i;
  }
  return out;
}

function portChain(p: Pick<MeshPort, 'protocol' | 'published'>): string {
  return `p_${p.protocol}_${p.published}`;
}

function elements(items: string[]): string {
  return items.length === 0 ? '' : `\t\telements = { ${items.join(', ')} }\n`;
}

/** How a port's chain picks a backend. */
function dnatRule(p: MeshPort): string {
  if (p.backends.length === 1) return `meta l4proto ${p.protocol} dnat ip to ${p.backends[0]!}:${p.target}`;
  if (p.affinity) {
    const ranges = bucketRanges(affinityBuckets(p.backends), p.target);
    return (
      `meta l4proto ${p.protocol} dnat ip to jhash ip saddr mod ${AFFINITY_BUCKETS} seed 0x${AFFINITY_SEED.toString(16)} ` +
      `map { ${ranges.join(', ')} }`
    );
  }
  const items = p.backends.map((b, i) => `${i} : ${b} . ${p.target}`);
  return `meta l4proto ${p.protocol} dnat ip to numgen inc mod ${p.backends.length} map { ${items.join(', ')} }`;
}

function replaceTable(): string {
  // Declaring the table first makes the delete succeed where there is none yet.
  return `table ip ${INGRESS_TABLE} {}\ndelete table ip ${INGRESS_TABLE}\n`;
}

/** The nft script that removes the mesh's table from a namespace (it may not exist). */
export function renderIngressRemoval(): string {
  return replaceTable();
}

/**
 * The node namespace's table: published ports on every local address DNAT to the backends; the
 * node's own connections too (output), loopback ones masqueraded onto the transit link.
 */
export function renderHostIngressScript(plan: IngressPlan, transit: TransitLink = DEFAULT_TRANSIT): string {
  const live = plan.ports.filter((p) => p.backends.length > 0);
  const dead = plan.ports.filter((p) => p.backends.length === 0);
  let out = replaceTable();
  out += `table ip ${INGRESS_TABLE} {\n`;
  out += `\tmap ports {\n\t\ttype inet_proto . inet_service : verdict\n`;
  out += elements(live.map((p) => `${p.protocol} . ${p.published} : jump ${portChain(p)}`));
  out += `\t}\n`;
  out += `\tset closed {\n\t\ttype inet_proto . inet_service\n`;
  out += elements(dead.map((p) => `${p.protocol} . ${p.published}`));
  out += `\t}\n`;
  for (const p of live) out += `\tchain ${portChain(p)} {\n\t\t${dnatRule(p)}\n\t}\n`;
  out += `\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n`;
  out += `\t\tfib daddr type local meta l4proto . th dport vmap @ports\n\t}\n`;
  out += `\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n`;
  out += `\t\tfib daddr type local meta l4proto . th dport vmap @ports\n\t}\n`;
  // A connection to 127.0.0.1:P leaves with a loopback source, which no one could answer.
  out += `\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n`;
  out += `\t\toifname "${transit.hostIf}" ip saddr 127.0.0.0/8 snat ip to ${transit.hostAddr}\n\t}\n`;
  out += `\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n`;
  out += `\t\tmeta l4proto tcp meta l4proto . th dport @closed reject with tcp reset\n`;
  out += `\t\tmeta l4proto . th dport @closed reject with icmp type port-unreachable\n\t}\n`;
  out += `}\n`;
  return out;
}

/**
 * The ingress sandbox's table: marks connections by the peer sandbox they came from and restores
 * the mark on replies (policy routing sends those back), and SNATs what cannot keep the client's
 * address. `localSnat`: this node's tasks without a reply route (their hook failed).
 */
export function renderSandboxIngressScript(
  plan: IngressPlan,
  transit: TransitLink = DEFAULT_TRANSIT,
  localSnat: readonly string[] = [],
): string {
  const snat = plan.ports
    .filter((p) => p.snat)
    .flatMap((p) => p.backends.map((b) => `${b} . ${p.protocol} . ${p.target}`));
  let out = replaceTable();
  out += `table ip ${INGRESS_TABLE} {\n`;
  out += `\tmap peer_mac {\n\t\ttype ether_addr : mark\n`;
  out += elements(plan.peers.map((p) => `${p.mac} : 0x${p.mark.toString(16)}`));
  out += `\t}\n`;
  out += `\tset snat_backends {\n\t\ttype ipv4_addr . inet_proto . inet_service\n`;
  out += elements([...new Set(snat)].sort());
  out += `\t}\n`;
  out += `\tset local_snat {\n\t\ttype ipv4_addr\n`;
  out += elements([...new Set(localSnat)].sort(compareIpv4));
  out += `\t}\n`;
  // At -150: after conntrack (-200), so `ct state new` sees the connection, and before NAT and
  // routing, so the restored mark picks the reply's route.
  out += `\tchain peer_mark {\n\t\ttype filter hook prerouting priority mangle; policy accept;\n`;
  out += `\t\tct state new ct mark set ether saddr map @peer_mac\n`;
  out += `\t\tct direction reply meta mark set ct mark\n\t}\n`;
  out += `\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n`;
  if (plan.self !== undefined) {
    out += `\t\tiifname "${transit.sandboxIf}" ip daddr . meta l4proto . th dport @snat_backends snat ip to ${plan.self}\n`;
    out += `\t\tct state new ip daddr @local_snat ip saddr != ${plan.self} snat ip to ${plan.self}\n`;
  }
  out += `\t}\n`;
  out += `}\n`;
  return out;
}

/** The ports a plan publishes, as `proto/port` (for logs and tests). */
export function publishedPorts(plan: IngressPlan): string[] {
  return plan.ports.map((p) => `${p.protocol}/${p.published}`);
}

export type { PublishedPortView };
