// Addresses as the data plane reads them from views: canonical text, checked before they reach a
// kernel command or an nft script (a view is data from the manager, never script text).
import { formatIp, parseIp, type EndpointView, type Family } from '../api/index.js';

/** An address with an optional prefix ("10.0.1.5/24"), canonical and split; undefined if malformed. */
export function splitAddress(text: string): { ip: string; family: Family; bits?: number } | undefined {
  const [addr = '', bitsText, extra] = text.split('/');
  if (extra !== undefined) return undefined;
  const ip = parseIp(addr);
  if (!ip) return undefined;
  if (bitsText === undefined) return { ip: formatIp(ip.family, ip.value), family: ip.family };
  if (!/^\d{1,3}$/.test(bitsText) || Number(bitsText) > (ip.family === 4 ? 32 : 128)) return undefined;
  return { ip: formatIp(ip.family, ip.value), family: ip.family, bits: Number(bitsText) };
}

/** An endpoint's IPv4 address (no prefix), the one its MAC and the VIP rules use. */
export function ipv4Of(ep: EndpointView): string | undefined {
  for (const a of ep.addresses) {
    const s = splitAddress(a);
    if (s?.family === 4) return s.ip;
  }
  return undefined;
}

/** An IPv4 address in canonical text, or undefined. */
export function canonicalIpv4(text: string | undefined): string | undefined {
  const s = text === undefined ? undefined : splitAddress(text);
  return s?.family === 4 && s.bits === undefined ? s.ip : undefined;
}

/**
 * The MAC of an endpoint's interface, derived from its IPv4 address as Docker's overlay does
 * (02:42:a:b:c:d): the engine plugin sets it on the container, and remote nodes program it without
 * asking anyone.
 */
export function macOf(ip: string): string {
  const v4 = canonicalIpv4(ip);
  if (v4 === undefined) throw new Error(`macOf: not an IPv4 address: ${ip}`);
  return ['02', '42', ...v4.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
}
