// Address management (pure), for IPv4 and IPv6 alike. Overlay networks get subnets carved from the
// cluster's address pools (by default /24s of 10.0.0.0/8, as Docker's); addresses inside a subnet
// start after the network address, skipping the gateway (and, in IPv4, the broadcast).
import { formatCidr, formatIp, lastOf, parseCidr, tryParseCidr, WIDTH, type Cidr } from '../api/index.js';

/** Docker's default address pool for overlay networks when the swarm was given none. */
export const DEFAULT_ADDR_POOL = ['10.0.0.0/8'];
export const DEFAULT_SUBNET_SIZE = 24;

/**
 * The first /size block of the pools, in order, that overlaps none of `used`. It steps past each
 * used block it meets rather than trying every candidate, so a wide pool costs O(used) per pool.
 */
export function nextSubnet(
  used: readonly string[],
  pools: readonly string[] = DEFAULT_ADDR_POOL,
  size = DEFAULT_SUBNET_SIZE,
): string | undefined {
  for (const text of pools) {
    const pool = tryParseCidr(text);
    if (!pool || size < pool.bits || size > WIDTH[pool.family]) continue;
    const block = 1n << BigInt(WIDTH[pool.family] - size);
    const taken = used
      .map(tryParseCidr)
      .filter((u): u is Cidr => u !== undefined && u.family === pool.family)
      .sort((a, b) => (a.base < b.base ? -1 : a.base > b.base ? 1 : 0));
    let cand = pool.base;
    for (const u of taken) {
      if (cand + block - 1n > lastOf(pool)) break;
      if (lastOf(u) < cand) continue;
      if (u.base > cand + block - 1n) break;
      // u overlaps the candidate: the next candidate is the first aligned block after u.
      const after = lastOf(u) + 1n;
      cand = ((after + block - 1n) / block) * block;
    }
    if (cand + block - 1n <= lastOf(pool)) return formatCidr({ family: pool.family, base: cand, bits: size });
  }
  return undefined;
}

export function gatewayOf(subnet: string): string {
  const c = parseCidr(subnet);
  return formatIp(c.family, c.base + 1n);
}

/**
 * The lowest free host address of subnet (as "addr/bits"), inside `range` when one is given;
 * never the network address, nor the IPv4 broadcast. `used` holds canonical address text
 * (the gateway included). It looks at most `used.size + 1` addresses.
 */
export function nextAddress(subnet: string, used: ReadonlySet<string>, range?: string): string | undefined {
  const net = parseCidr(subnet);
  const within = range ? parseCidr(range) : net;
  let first = within.base > net.base ? within.base : net.base + 1n;
  let last = lastOf(within) < lastOf(net) ? lastOf(within) : lastOf(net);
  if (net.family === 4 && last === lastOf(net)) last--;
  if (first === net.base) first++;
  for (let v = first, seen = 0; v <= last && seen <= used.size; v++, seen++) {
    const ip = formatIp(net.family, v);
    if (!used.has(ip)) return `${ip}/${net.bits}`;
  }
  return undefined;
}
