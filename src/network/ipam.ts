// Address management helpers (pure). Overlay networks get /24 subnets carved from the default
// pool 10.0.0.0/8, as Docker does; addresses inside a subnet start after the gateway (.1).

export function ipToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255))
    throw new Error(`bad IPv4 address ${ip}`);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function intToIp(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseCidr(cidr: string): { base: number; bits: number } {
  const [ip, bitsStr] = cidr.split('/');
  const bits = Number(bitsStr);
  if (!ip || !Number.isInteger(bits) || bits < 8 || bits > 30) throw new Error(`bad subnet ${cidr}`);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return { base: (ipToInt(ip) & mask) >>> 0, bits };
}

export function overlaps(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  const bits = Math.min(x.bits, y.bits);
  const mask = (~0 << (32 - bits)) >>> 0;
  return (x.base & mask) >>> 0 === (y.base & mask) >>> 0;
}

/** The first /size block of pool that overlaps none of `used`. */
export function nextSubnet(used: readonly string[], pool = '10.0.0.0/8', size = 24): string | undefined {
  const p = parseCidr(pool);
  const count = 2 ** (size - p.bits);
  for (let i = 0; i < count; i++) {
    const cand = `${intToIp(p.base + i * 2 ** (32 - size))}/${size}`;
    if (!used.some((u) => overlaps(u, cand))) return cand;
  }
  return undefined;
}

export function gatewayOf(subnet: string): string {
  return intToIp(parseCidr(subnet).base + 1);
}

/** The lowest free host address of subnet (as "a.b.c.d/bits"), skipping network, gateway, broadcast. */
export function nextAddress(subnet: string, used: ReadonlySet<string>): string | undefined {
  const { base, bits } = parseCidr(subnet);
  const size = 2 ** (32 - bits);
  for (let i = 2; i < size - 1; i++) {
    const ip = intToIp(base + i);
    if (!used.has(ip)) return `${ip}/${bits}`;
  }
  return undefined;
}
