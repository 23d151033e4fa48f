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

/** The nft script that replaces the sandbox's `ip shoal` table with the view's VIP rules. */
export function renderVipScript(view: NetworkView): string {
  const plan = planVips(view);
  const live = plan.services.filter((s) => s.backends.length > 0);
  const dead = plan.services.filter((s) => s.backends.length === 0);
  const hairpin = [...new Set(live.flatMap((s) => s.backends))].sort(compareIpv4);
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
  for (const s of live) {
    const target =
      s.backends.length === 1
        ? s.backends[0]!
        : `numgen inc mod ${s.backends.length} map { ${s.backends.map((b, i) => `${i} : ${b}`).join(', ')} }`;
    out += `\tchain ${chainOf(s.id)} {\n\t\tdnat to ${target}\n\t}\n`;
  }
  out += `\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n`;
  out += `\t\tip daddr vmap @vips\n\t}\n`;
  out += `\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n`;
  out += `\t\tct status dnat ip saddr . ip daddr @hairpin masquerade\n\t}\n`;
  out += `\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n`;
  out += `\t\tip daddr @novips meta l4proto tcp reject with tcp reset\n`;
  out += `\t\tip daddr @novips reject with icmp type port-unreachable\n\t}\n`;
  out += `}\n`;
  return out;
}
