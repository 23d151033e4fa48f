// IP addresses and CIDRs of both families as text Docker accepts and shows: parsing, canonical
// text (RFC 5952 for IPv6), containment and overlap. Values are BigInts so one code path serves
// IPv4 and IPv6. Pure; used by validation (here) and by address allocation (network/ipam.ts).

export type Family = 4 | 6;

export interface Cidr {
  family: Family;
  /** The network address (host bits cleared). */
  base: bigint;
  bits: number;
}

export const WIDTH: Record<Family, number> = { 4: 32, 6: 128 };

function parseIpv4(ip: string): bigint | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    v = (v << 8n) | BigInt(p);
  }
  return v;
}

function parseIpv6(ip: string): bigint | undefined {
  const halves = ip.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): string[] | undefined => {
    if (s === '') return [];
    const g = s.split(':');
    const last = g[g.length - 1]!;
    // An embedded IPv4 tail ("::ffff:1.2.3.4") counts as two groups.
    if (last.includes('.')) {
      const v4 = parseIpv4(last);
      if (v4 === undefined) return undefined;
      g.splice(g.length - 1, 1, (v4 >> 16n).toString(16), (v4 & 0xffffn).toString(16));
    }
    return g.every((x) => /^[0-9a-fA-F]{1,4}$/.test(x)) ? g : undefined;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  let v = 0n;
  for (const g of [...head, ...Array<string>(missing).fill('0'), ...tail]) v = (v << 16n) | BigInt(`0x${g}`);
  return v;
}

/** An IP address of either family, or undefined if it is not one. */
export function parseIp(ip: string): { family: Family; value: bigint } | undefined {
  const v4 = ip.includes(':') ? undefined : parseIpv4(ip);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = ip.includes(':') ? parseIpv6(ip) : undefined;
  return v6 === undefined ? undefined : { family: 6, value: v6 };
}

export function formatIp(family: Family, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 255n)).join('.');
  const g = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  // RFC 5952: the longest run of two or more zero groups (the first of equals) becomes "::".
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  return best < 0 ? hex(g) : `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** A CIDR of either family, host bits cleared; undefined if it is not one. */
export function tryParseCidr(cidr: string): Cidr | undefined {
  const slash = cidr.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(cidr.slice(0, slash));
  const bitsText = cidr.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  const width = WIDTH[ip.family];
  if (bits > width) return undefined;
  const host = (1n << BigInt(width - bits)) - 1n;
  return { family: ip.family, base: ip.value & ~host, bits };
}

export function parseCidr(cidr: string): Cidr {
  const c = tryParseCidr(cidr);
  if (!c) throw new Error(`bad subnet ${cidr}`);
  return c;
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.family, c.base)}/${c.bits}`;
}

/** How many addresses a CIDR holds, and its last one. */
export const sizeOf = (c: Cidr): bigint => 1n << BigInt(WIDTH[c.family] - c.bits);
export const lastOf = (c: Cidr): bigint => c.base + sizeOf(c) - 1n;

export function cidrContains(c: Cidr, ip: { family: Family; value: bigint }): boolean {
  return c.family === ip.family && ip.value >= c.base && ip.value <= lastOf(c);
}

export function cidrsOverlap(a: string, b: string): boolean {
  const x = tryParseCidr(a);
  const y = tryParseCidr(b);
  if (!x || !y || x.family !== y.family) return false;
  return x.base <= lastOf(y) && y.base <= lastOf(x);
}
