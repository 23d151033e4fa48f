import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ShoalError, type ErrorCode } from '../api/index.js';
import {
  checkRootDigest,
  generateJoinToken,
  joinTokenMatches,
  parseJoinToken,
  rootDigest,
} from './tokens.js';

const ROOT = '-----BEGIN CERTIFICATE-----\nMIIBroot\n-----END CERTIFICATE-----\n';
const SECRET_0_15 = Uint8Array.from({ length: 16 }, (_, i) => i);

function isCode(code: ErrorCode) {
  return (err: unknown): boolean => err instanceof ShoalError && err.code === code;
}

test('rootDigest is the sha256 of the exact bytes, base 36, zero-padded to 50', () => {
  // Known answer worked out independently of this code.
  assert.equal(rootDigest('hello'), '14bu24ea7cq4jhmrgj4a3jrn1v6vem8ualnohxyeq239y1gobo');
  const d = rootDigest(ROOT);
  assert.equal(d.length, 50);
  let n = 0n;
  for (const ch of d) n = n * 36n + BigInt(parseInt(ch, 36));
  assert.equal(n.toString(16).padStart(64, '0'), createHash('sha256').update(ROOT).digest('hex'));
  assert.notEqual(rootDigest(ROOT + '\n'), d, 'the bundle is hashed byte for byte');
});

test('generateJoinToken has Docker format and zero-padded secret', () => {
  const token = generateJoinToken(ROOT, SECRET_0_15);
  assert.equal(token, `SWMTKN-1-${rootDigest(ROOT)}-000avh9he7dy896m08s18udxr`);
  assert.equal(token.length, 85);
  assert.equal(generateJoinToken(ROOT, new Uint8Array(16)).slice(-26), '-' + '0'.repeat(25));
  assert.equal(
    generateJoinToken(ROOT, new Uint8Array(16).fill(0xff)).slice(-25),
    'f5lxx1zz5pnorynqglhzmsp33',
  );
  const random = generateJoinToken(ROOT);
  assert.match(random, /^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/);
  assert.notEqual(random, generateJoinToken(ROOT), 'fresh secrets differ');
  assert.throws(() => generateJoinToken(ROOT, new Uint8Array(15)));
});

test('parseJoinToken round-trips and rejects malformed tokens', () => {
  const token = generateJoinToken(ROOT, SECRET_0_15);
  assert.deepEqual(parseJoinToken(token), { digest: rootDigest(ROOT), secret: '000avh9he7dy896m08s18udxr' });
  const [, , digest, secret] = token.split('-') as [string, string, string, string];
  const bad = [
    '',
    'garbage',
    `SWMTKN-2-${digest}-${secret}`,
    `XWMTKN-1-${digest}-${secret}`,
    `SWMTKN-1-${digest.slice(1)}-${secret}`,
    `SWMTKN-1-${digest}-${secret.slice(1)}`,
    `SWMTKN-1-${digest}-${secret}-extra`,
    `SWMTKN-1-${digest.toUpperCase()}-${secret}`,
    ` ${token}`,
    `${token}\n`,
    `SWMTKN-1-${'z'.repeat(50)}-${secret}`, // 36^50 > 2^256
    `SWMTKN-1-${digest}-${'z'.repeat(25)}`, // 36^25 > 2^128
    token + 'a'.repeat(1000),
  ];
  for (const t of bad) assert.throws(() => parseJoinToken(t), isCode('BadJoinToken'), JSON.stringify(t));
});

test('checkRootDigest accepts the named root and refuses another', () => {
  const token = generateJoinToken(ROOT);
  checkRootDigest(token, ROOT);
  assert.throws(() => checkRootDigest(token, ROOT.replace('root', 'evil')), isCode('RootDigestMismatch'));
  assert.throws(() => checkRootDigest('SWMTKN-1-x-y', ROOT), isCode('BadJoinToken'));
});

test('joinTokenMatches compares whole tokens', () => {
  const token = generateJoinToken(ROOT, SECRET_0_15);
  assert.equal(joinTokenMatches(token, token), true);
  assert.equal(joinTokenMatches(token.slice(0, -1) + 's', token), false);
  assert.equal(joinTokenMatches(token.slice(0, -1), token), false);
  assert.equal(joinTokenMatches(token + 'x', token), false);
  assert.equal(joinTokenMatches(generateJoinToken(ROOT), token), false);
  assert.equal(joinTokenMatches('', ''), false, 'an unset token never matches');
});

test('a token rebased on a new root keeps its secret and names the new root', async () => {
  const { rebaseJoinToken } = await import('./tokens.js');
  const { createRootCA } = await import('./pki.js');
  const a = await createRootCA({ now: Date.now() });
  const b = await createRootCA({ now: Date.now() });
  const t = generateJoinToken(a.certPem);
  const r = rebaseJoinToken(t, b.certPem);
  assert.equal(parseJoinToken(r).secret, parseJoinToken(t).secret);
  assert.equal(parseJoinToken(r).digest, rootDigest(b.certPem));
  assert.notEqual(r, t);
});
