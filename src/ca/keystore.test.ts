import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ShoalError, type ErrorCode } from '../api/index.js';
import { formatUnlockKey, KeyStore, newUnlockKey, parseUnlockKey } from './keystore.js';

const tmp = (): Promise<string> => mkdtemp(join(tmpdir(), 'shoal-keys-'));

const code =
  (c: ErrorCode, message?: RegExp) =>
  (e: unknown): boolean =>
    e instanceof ShoalError && e.code === c && (message === undefined || message.test(e.message));

/** keys.json must not hold the DEK in any of the encodings it could leak in. */
async function assertDekNotOnDisk(dir: string, dek: Buffer): Promise<void> {
  const text = await readFile(join(dir, 'keys.json'), 'utf8');
  for (const form of [
    dek.toString('hex'),
    dek.toString('base64'),
    dek.toString('base64url'),
    dek.toString('latin1'),
  ]) {
    assert.equal(text.includes(form), false, `keys.json holds the DEK (${form})`);
  }
  assert.equal(Buffer.from(text).includes(dek), false);
}

test('unlock keys use the SWMKEY-1- format and parse back; anything else is bad-format', () => {
  const kek = Buffer.alloc(32, 0xfb);
  const s = formatUnlockKey(kek);
  assert.match(s, /^SWMKEY-1-[A-Za-z0-9+/]{43}$/);
  assert.deepEqual(parseUnlockKey(s), kek);
  assert.deepEqual(parseUnlockKey(` ${s}\n`), kek);
  for (const bad of [
    '',
    s.slice('SWMKEY-1-'.length),
    s.replace('SWMKEY-1-', 'SWMKEY-2-'),
    `${s}=`,
    s.slice(0, -1),
    `${s}AAAA`,
    s.slice(0, -1) + '_',
    `${s.slice(0, -1)}/`, // stray low bits a lenient decoder would drop
  ]) {
    assert.throws(
      () => parseUnlockKey(bad),
      code('MalformedUnlockKey', /invalid key string/),
      JSON.stringify(bad),
    );
  }
});

test('without autolock the DEK is stored as-is and available at once after reopening', async () => {
  const dir = await tmp();
  const ks = await KeyStore.open(dir);
  assert.equal(ks.exists, false);
  assert.throws(() => ks.dek(), code('KeysMissing'));
  const dek = await ks.create();
  assert.equal(ks.unlockKey(), undefined);
  assert.equal(dek.length, 32);
  assert.equal((await stat(join(dir, 'keys.json'))).mode & 0o777, 0o600);
  await assert.rejects(ks.create(), code('KeysExist'));

  const again = await KeyStore.open(dir);
  assert.deepEqual([again.exists, again.autolock, again.locked], [true, false, false]);
  assert.deepEqual(again.dek(), dek);
  assert.equal(again.unlockKey(), undefined);
  await assert.rejects(
    again.unlock(formatUnlockKey(Buffer.alloc(32))),
    code('SwarmNotLocked', /swarm is not locked/),
  );
});

test('with autolock only the wrapped DEK is on disk; the unlock key opens it and a wrong one does not', async () => {
  const dir = await tmp();
  const ks = await KeyStore.open(dir);
  const dek = await ks.create();
  const unlockKey = newUnlockKey();
  await ks.useUnlockKey(unlockKey);
  assert.equal(ks.unlockKey(), unlockKey);
  assert.deepEqual(ks.dek(), dek);
  await assertDekNotOnDisk(dir, dek);
  assert.equal((await readFile(join(dir, 'keys.json'), 'utf8')).includes(unlockKey.slice(9)), false);

  const locked = await KeyStore.open(dir);
  assert.deepEqual([locked.exists, locked.autolock, locked.locked], [true, true, true]);
  assert.throws(() => locked.dek(), code('SwarmLocked', /docker swarm unlock/));
  assert.equal(locked.unlockKey(), undefined);
  await assert.rejects(locked.useUnlockKey(undefined), code('SwarmLocked'));
  await assert.rejects(locked.useUnlockKey(newUnlockKey()), code('SwarmLocked'));
  await assert.rejects(
    locked.unlock(formatUnlockKey(Buffer.alloc(32, 7))),
    code('WrongUnlockKey', /^swarm could not be unlocked: invalid key$/),
  );
  await assert.rejects(locked.unlock('SWMKEY-1-short'), code('MalformedUnlockKey'));
  assert.equal(locked.locked, true);

  assert.deepEqual(await locked.unlock(unlockKey), dek);
  assert.equal(locked.locked, false);
  assert.deepEqual(locked.dek(), dek);
  assert.equal(locked.unlockKey(), unlockKey);
  // The same key again changes nothing.
  await locked.useUnlockKey(unlockKey);
  assert.equal(locked.unlockKey(), unlockKey);
});

test('rotating the unlock key rewraps the same DEK; the old key stops working', async () => {
  const dir = await tmp();
  const ks = await KeyStore.open(dir);
  const dek = await ks.create();
  const first = newUnlockKey();
  await ks.useUnlockKey(first);
  const second = newUnlockKey();
  await ks.useUnlockKey(second);
  assert.notEqual(second, first);
  assert.equal(ks.unlockKey(), second);
  assert.deepEqual(ks.dek(), dek);
  await assertDekNotOnDisk(dir, dek);

  await assert.rejects((await KeyStore.open(dir)).unlock(first), code('WrongUnlockKey'));
  assert.deepEqual(await (await KeyStore.open(dir)).unlock(second), dek);
});

test('autolock can be turned off and on again; the DEK never changes', async () => {
  const dir = await tmp();
  const ks = await KeyStore.open(dir);
  const dek = await ks.create();
  await ks.useUnlockKey(newUnlockKey());

  await ks.useUnlockKey(undefined);
  assert.equal(ks.autolock, false);
  assert.equal(ks.unlockKey(), undefined);
  const off = await KeyStore.open(dir);
  assert.equal(off.locked, false);
  assert.deepEqual(off.dek(), dek);

  const key = newUnlockKey();
  await off.useUnlockKey(key);
  assert.equal(off.unlockKey(), key);
  await assertDekNotOnDisk(dir, dek);
  const on = await KeyStore.open(dir);
  assert.equal(on.locked, true);
  assert.deepEqual(await on.unlock(key), dek);
});

test('concurrent key changes leave memory and disk agreeing on the last key', async () => {
  const dir = await tmp();
  const ks = await KeyStore.open(dir);
  const dek = await ks.create();
  await ks.useUnlockKey(newUnlockKey());
  const keys = [newUnlockKey(), newUnlockKey(), newUnlockKey()];
  await Promise.all(keys.map((k) => ks.useUnlockKey(k)));
  assert.equal(ks.unlockKey(), keys[2]);
  assert.deepEqual(await (await KeyStore.open(dir)).unlock(keys[2]!), dek);
});

test('a damaged keys.json is refused with a clear error', async () => {
  for (const [content, why] of [
    ['{not json', /not JSON/],
    ['{"version":2,"dek":"AAAA"}', /unknown version/],
    ['{"version":1,"dek":"AAAA"}', /wrong length/],
    ['{"version":1}', /exactly one/],
  ] as const) {
    const dir = await tmp();
    await writeFile(join(dir, 'keys.json'), content);
    await assert.rejects(KeyStore.open(dir), code('KeysCorrupt', why), content);
  }
});
