// A network's VIP rules, rendered from its view as one nft script for its sandbox (kube-proxy's
// nftables mode, shrunk): the whole `ip shoal` table is replaced in one transaction, so there is no
// moment when a VIP answers nothing, and nothing is ever patched rule by rule.
//
// - `vips` maps each VIP to its service's chain; all ports go to the backends, as Swarm's VIP.
// - A service chain DNATs to its READY endpoints round robin (`numgen inc`). DNAT only: backends
//   see the client task's own address.
// - Hairpin (a task reaching its own VIP and picked as the backend) would answer itself from its
//   own address and the reply would skip conntrack's reverse NAT, so that flow alone is masqueraded.
// - A VIP with no ready backend rejects (TCP reset, ICMP port unreachable) instead of blackholing:
//   the VIP is a local address of br0, so its packets reach the input hook.
import type { NetworkView } from '../api/index.js';
import { canonicalIpv4, ipv4Of } from './addresses.js';

export const VIP_TABLE = 'shoal';

/** A chain name from a service ID, whatever the ID holds. */
function chainOf(serviceId: string): string {
  return `svc_${serviceId.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 64)}`;
}

export interface VipPlan {
  /** Per VIP, the backends it sends to (sorted); empty: it rejects. */
  services: { id: string; vip: string; backends: string[] }[];
}

/** Which VIPs a view has and where each one sends traffic. */
export function planVips(view: NetworkView): VipPlan {
  const seenVip = new Set<string>();
  const seenId = new Set<string>();
  const services: VipPlan['services'] = [];
  for (const svc of [...view.services].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const vip = canonicalIpv4(svc.vip);
    // A second service claiming a VIP (or the same service twice) would fail the whole script.
    if (svc.mode !== 'vip' || vip === undefined || seenVip.has(vip) || seenId.has(svc.id)) continue;
    seenVip.add(vip);
    seenId.add(svc.id);
    const backends = new Set<string>();
    for (const ep of view.endpoints) {
      if (ep.serviceId !== svc.id || !ep.ready) continue;
      const ip = ipv4Of(ep);
      if (ip !== undefined) backends.add(ip);
    }
    services.push({ id: svc.id, vip, backends: [...backends].sort(compareIpv4) });
  }
  return { services };
}

function compareIpv4(a: string, b: string): number {
  const n = (s: string): number => s.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  return n(a) - n(b);
}

function elements(items: string[]): string {
  return items.length === 0 ? '' : `\t\telements = { ${items.join(', ')} }\n`;
}

interface VipRules {
  live: VipPlan['services'];
  dead: VipPlan['services'];
  hairpin: string[];
}

function vipRules(view: NetworkView): VipRules {
  const plan = planVips(view);
  const live = plan.services.filter((s) => s.backends.length > 0);
  const dead = plan.services.filter((s) => s.backends.length === 0);
  const hairpin = [...new Set(live.flatMap((s) => s.backends))].sort(compareIpv4);
  return { live, dead, hairpin };
}

function dnatRule(s: VipPlan['services'][number]): string {
  const target =
    s.backends.length === 1
      ? s.backends[0]!
      : `numgen inc mod ${s.backends.length} map { ${s.backends.map((b, i) => `${i} : ${b}`).join(', ')} }`;
  return `dnat to ${target}`;
}

/** The table's hooked chains: their spec and rules, the same whatever the services. */
const BASE_CHAINS: { name: string; spec: string; rules: string[] }[] = [
  {
    name: 'prerouting',
    spec: 'type nat hook prerouting priority dstnat; policy accept;',
    rules: ['ip daddr vmap @vips'],
  },
  {
    name: 'postrouting',
    spec: 'type nat hook postrouting priority srcnat; policy accept;',
    rules: ['ct status dnat ip saddr . ip daddr @hairpin masquerade'],
  },
  {
    name: 'input',
    spec: 'type filter hook input priority filter; policy accept;',
    rules: [
      'ip daddr @novips meta l4proto tcp reject with tcp reset',
      'ip daddr @novips reject with icmp type port-unreachable',
    ],
  },
];

/** The per-service chains of the view's VIP table. */
export function vipChains(view: NetworkView): string[] {
  return vipRules(view).live.map((s) => chainOf(s.id));
}

/** The nft script that replaces the sandbox's `ip shoal` table with the view's VIP rules. */
export function renderVipScript(view: NetworkView): string {
  const { live, dead, hairpin } = vipRules(view);
  let out = '';
  // Declaring the table first makes the delete succeed on a sandbox that has none yet.
  out += `table ip ${VIP_TABLE} {}\ndelete table ip ${VIP_TABLE}\n`;
  out += `table ip ${VIP_TABLE} {\n`;
  out += `\tmap vips {\n\t\ttype ipv4_addr : verdict\n`;
  out += elements(live.map((s) => `${s.vip} : jump ${chainOf(s.id)}`));
  out += `\t}\n`;
  out += `\tset novips {\n\t\ttype ipv4_addr\n${elements(dead.map((s) => s.vip))}\t}\n`;
  out += `\tset hairpin {\n\t\ttype ipv4_addr . ipv4_addr\n`;
  out += elements(hairpin.map((ip) => `${ip} . ${ip}`));
  out += `\t}\n`;
  for (const s of live) out += `\tchain ${chainOf(s.id)} {\n\t\t${dnatRule(s)}\n\t}\n`;
  for (const c of BASE_CHAINS)
    out += `\tchain ${c.name} {\n\t\t${c.spec}\n${c.rules.map((r) => `\t\t${r}\n`).join('')}\t}\n`;
  out += `}\n`;
  return out;
}

/**
 * The nft script that brings a table written by renderVipScript (whose service chains were
 * `prevChains`) to the view, in one transaction, without deleting the table: its hooked chains
 * stay registered, only their rules, the maps and the service chains change. Cheaper to commit
 * than a new table (no hook unregistered and registered again).
 */
export function renderVipUpdate(view: NetworkView, prevChains: readonly string[]): string {
  const { live, dead, hairpin } = vipRules(view);
  const chains = live.map((s) => chainOf(s.id));
  const t = `ip ${VIP_TABLE}`;
  let out = `table ${t} {\n`;
  out += `\tmap vips { type ipv4_addr : verdict; }\n\tset novips { type ipv4_addr; }\n`;
  out += `\tset hairpin { type ipv4_addr . ipv4_addr; }\n`;
  for (const c of BASE_CHAINS) out += `\tchain ${c.name} { ${c.spec} }\n`;
  for (const c of chains) out += `\tchain ${c} { }\n`;
  out += `}\n`;
  out += `flush map ${t} vips\nflush set ${t} novips\nflush set ${t} hairpin\n`;
  for (const c of [...BASE_CHAINS.map((b) => b.name), ...chains]) out += `flush chain ${t} ${c}\n`;
  for (const c of prevChains) if (!chains.includes(c)) out += `delete chain ${t} ${c}\n`;
  if (live.length > 0)
    out += `add element ${t} vips { ${live.map((s) => `${s.vip} : jump ${chainOf(s.id)}`).join(', ')} }\n`;
  if (dead.length > 0) out += `add element ${t} novips { ${dead.map((s) => s.vip).join(', ')} }\n`;
  if (hairpin.length > 0)
    out += `add element ${t} hairpin { ${hairpin.map((ip) => `${ip} . ${ip}`).join(', ')} }\n`;
  for (const s of live) out += `add rule ${t} ${chainOf(s.id)} ${dnatRule(s)}\n`;
  for (const c of BASE_CHAINS) for (const r of c.rules) out += `add rule ${t} ${c.name} ${r}\n`;
  return out;
}
