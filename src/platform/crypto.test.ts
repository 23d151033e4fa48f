import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aesGcmCipher, DecryptError, isSealed, randomKey } from './crypto.js';

test('sealed records open back to the plaintext, with a fresh nonce each time', () => {
  const c = aesGcmCipher(randomKey());
  const plain = Buffer.from('{"secret":"hunter2"}');
  const a = c.seal(plain);
  const b = c.seal(plain);
  assert.notDeepEqual(a, b);
  assert.equal(a.length, 1 + 12 + 16 + plain.length);
  assert.equal(a.includes(plain), false);
  assert.ok(isSealed(a));
  assert.deepEqual(c.open(a), plain);
  assert.deepEqual(c.open(b), plain);
  assert.deepEqual(c.open(c.seal(Buffer.alloc(0))), Buffer.alloc(0));
});

test('a wrong key or any altered byte is a DecryptError, never garbage', () => {
  const key = randomKey();
  const sealed = aesGcmCipher(key).seal(Buffer.from('payload'));
  assert.throws(
    () => aesGcmCipher(randomKey()).open(sealed),
    (e: unknown) => e instanceof DecryptError && e.reason === 'auth' && /wrong key/.test(e.message),
  );
  for (let i = 0; i < sealed.length; i++) {
    const bad = Buffer.from(sealed);
    bad[i] = bad[i]! ^ 1;
    assert.throws(() => aesGcmCipher(key).open(bad), DecryptError, `flipped byte ${i}`);
  }
});

test('plaintext is recognised as not sealed', () => {
  const plain = Buffer.from('{"index":1,"changes":[]}');
  assert.equal(isSealed(plain), false);
  assert.throws(
    () => aesGcmCipher(randomKey()).open(plain),
    (e: unknown) => e instanceof DecryptError && e.reason === 'not-sealed',
  );
});

test('keys must be 32 bytes', () => {
  assert.equal(randomKey().length, 32);
  assert.notDeepEqual(randomKey(), randomKey());
  assert.throws(() => aesGcmCipher(Buffer.alloc(16)), RangeError);
});

test('sealInSlices gives pieces that, written in order, open as one sealed record of the parts', async () => {
  const c = aesGcmCipher(randomKey());
  const a = randomBytes(5 * 1024 * 1024 + 17); // over one slice
  const b = randomBytes(1000);
  const pieces = await c.sealInSlices([a, b, new Uint8Array(0)]);
  assert.ok(pieces.length > 2, 'sealed in more than one slice');
  const sealed = Buffer.concat(pieces);
  assert.ok(isSealed(sealed));
  assert.deepEqual(c.open(sealed), Buffer.concat([a, b]));
  // Tampering with any piece is caught like any sealed record.
  sealed[sealed.length - 1] = sealed[sealed.length - 1]! ^ 1;
  assert.throws(() => c.open(sealed), DecryptError);
});
