import { randomBytes } from 'node:crypto';

type RandomBytes = (n: number) => Uint8Array;
let source: RandomBytes = randomBytes;

/**
 * Replaces where new IDs come from, returning the previous source. Only the simulator uses it:
 * IDs drawn from its seed make a run replay byte for byte.
 */
export function setIdSource(next: RandomBytes): RandomBytes {
  const prev = source;
  source = next;
  return prev;
}

/** A 25-character base-36 ID from 128 random bits, as swarmkit makes them. */
export function newId(rand: RandomBytes = source): string {
  const bytes = rand(16);
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n.toString(36).padStart(25, '0').slice(-25);
}

export function isFullId(s: string): boolean {
  return /^[0-9a-z]{25}$/.test(s);
}
