import { randomBytes } from 'node:crypto';

/** A 25-character base-36 ID from 128 random bits, as swarmkit makes them. */
export function newId(rand: (n: number) => Uint8Array = randomBytes): string {
  const bytes = rand(16);
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n.toString(36).padStart(25, '0').slice(-25);
}

export function isFullId(s: string): boolean {
  return /^[0-9a-z]{25}$/.test(s);
}
