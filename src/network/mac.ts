// The MAC of an overlay endpoint is derived from its IPv4 address, as libnetwork derives it, so
// every node can program a remote endpoint's neighbour and FDB entries from its address alone.
import { parseIp } from '../api/index.js';

/** 02:42:a:b:c:d for IPv4 address a.b.c.d (a prefix is ignored). */
export function macOf(ip: string): string {
  const addr = ip.split('/')[0] ?? '';
  const p = parseIp(addr);
  if (!p || p.family !== 4) throw new Error(`no MAC for ${ip}: an IPv4 address is needed`);
  const bytes = [2, 0x42, ...[24, 16, 8, 0].map((s) => Number((p.value >> BigInt(s)) & 0xffn))];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}
