import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { assert, ShoalError } from '../api/index.js';

// Docker's join token: SWMTKN-1-<sha256 of the root CA PEM bundle>-<128-bit secret>, both as
// base-36 numbers zero-padded to the length of the largest value (ceil(log36(2^256)) = 50,
// ceil(log36(2^128)) = 25).
const PREFIX = 'SWMTKN';
const VERSION = '1';
const DIGEST_LEN = 50;
const SECRET_LEN = 25;
const SECRET_BYTES = 16;
const MAX_TOKEN_LEN = 128;
const TOKEN_RE = /^SWMTKN-1-([0-9a-z]{50})-([0-9a-z]{25})$/;

function base36(n: bigint, width: number): string {
  return n.toString(36).padStart(width, '0');
}

function bigFromBase36(s: string): bigint {
  let n = 0n;
  for (const ch of s) n = n * 36n + BigInt(parseInt(ch, 36));
  return n;
}

function bigFromBytes(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

/** The base-36 SHA-256 of the root CA bundle, exactly as given (the bytes both sides must agree on). */
export function rootDigest(rootPem: string): string {
  const hex = createHash('sha256').update(rootPem, 'utf8').digest('hex');
  return base36(BigInt('0x' + hex), DIGEST_LEN);
}

export function generateJoinToken(rootPem: string, random: Uint8Array = randomBytes(SECRET_BYTES)): string {
  assert(random.length === SECRET_BYTES, `join token secret must be ${SECRET_BYTES} bytes`);
  return `${PREFIX}-${VERSION}-${rootDigest(rootPem)}-${base36(bigFromBytes(random), SECRET_LEN)}`;
}

export function parseJoinToken(token: string): { digest: string; secret: string } {
  const m = token.length <= MAX_TOKEN_LEN ? TOKEN_RE.exec(token) : null;
  const digest = m?.[1];
  const secret = m?.[2];
  if (digest === undefined || secret === undefined)
    throw new ShoalError('BadJoinToken', 'invalid join token');
  // The fixed widths admit values beyond the hash and secret sizes; those were never generated.
  if (bigFromBase36(digest) >> 256n !== 0n || bigFromBase36(secret) >> 128n !== 0n) {
    throw new ShoalError('BadJoinToken', 'invalid join token');
  }
  return { digest, secret };
}

/**
 * Checks a root CA bundle fetched from a manager against the digest in the join token, so a
 * joining node trusts only the cluster the token names.
 */
export function checkRootDigest(token: string, rootPem: string): void {
  const { digest } = parseJoinToken(token);
  if (digest !== rootDigest(rootPem)) {
    throw new ShoalError('RootDigestMismatch', 'remote CA does not match the fingerprint in the join token');
  }
}

/**
 * Constant-time comparison of two whole tokens. Both are hashed first so the comparison takes
 * the same time whatever their lengths; an empty expected token (none set) never matches.
 */
export function joinTokenMatches(presented: string, expected: string): boolean {
  if (expected === '') return false;
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** The same token for a new root (after a root rotation): new digest, same secret. */
export function rebaseJoinToken(token: string, rootPem: string): string {
  const { secret } = parseJoinToken(token);
  return `${PREFIX}-${VERSION}-${rootDigest(rootPem)}-${secret}`;
}
