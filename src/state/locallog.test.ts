import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalLog, LocalLogKeyError } from './locallog.js';
import type { LocalLogKeyErrorCode } from './locallog.js';
import { MemoryStore } from './store/memory.js';
import { aesGcmCipher, randomKey } from '../platform/index.js';
import type { RecordCipher } from '../platform/index.js';
import type { Network } from '../api/index.js';

function net(i: number): Network {
  return {
    ID: String(i).padStart(25, '0'),
    Version: { Index: 0 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Name: `net${i}` },
    DriverState: { Name: 'overlay' },
    IPAMOptions: { Driver: { Name: 'default' }, Configs: [] },
  };
}

test('state survives a restart through WAL replay, and through snapshot plus WAL', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-log-'));
  const log = new LocalLog(dir, { snapshotEvery: 5 });
  const store = new MemoryStore(log);
  await log.open(store);
  for (let i = 0; i < 12; i++) await store.update((tx) => tx.create('networks', net(i)));
  await log.snapshot();
  await store.update((tx) => tx.remove('networks', net(3).ID));
  await log.close();

  const log2 = new LocalLog(dir);
  const store2 = new MemoryStore(log2);
  await log2.open(store2);
  assert.equal(store2.index, store.index);
  assert.deepEqual(
    store2.view((tx) => tx.all('networks').map((n) => n.Spec.Name)).sort(),
    store.view((tx) => tx.all('networks').map((n) => n.Spec.Name)).sort(),
  );
  assert.equal(
    store2.view((tx) => tx.byName('networks', 'net3')),
    undefined,
  );
  // New writes continue the index sequence.
  await store2.update((tx) => tx.create('networks', net(99)));
  assert.equal(store2.view((tx) => tx.get('networks', net(99).ID))?.Version.Index, store.index + 1);
  await log2.close();
});

const MARKER = 'db-password-7f3a91';

function secretNet(i: number): Network {
  const n = net(i);
  return { ...n, Spec: { Name: `${MARKER}-${i}`, Labels: { note: MARKER } } };
}

async function openLog(dir: string, cipher?: RecordCipher): Promise<{ log: LocalLog; store: MemoryStore }> {
  const log = new LocalLog(dir, { snapshotEvery: 1000, cipher });
  const store = new MemoryStore(log);
  await log.open(store);
  return { log, store };
}

const names = (store: MemoryStore): string[] =>
  store.view((tx) => tx.all('networks').map((n) => n.Spec.Name)).sort();

async function refused(
  dir: string,
  cipher: RecordCipher | undefined,
  code: LocalLogKeyErrorCode,
): Promise<void> {
  const log = new LocalLog(dir, { cipher });
  const store = new MemoryStore(log);
  await assert.rejects(log.open(store), (e: unknown) => e instanceof LocalLogKeyError && e.code === code);
  assert.equal(store.index, 0, 'a refused open leaves the store empty');
}

/** Every byte of every file under dir, as one buffer per file. */
async function filesUnder(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out.set(e.name, await readFile(join(e.parentPath, e.name)));
  }
  return out;
}

async function assertNoMarker(dir: string): Promise<void> {
  const files = await filesUnder(dir);
  assert.ok((files.get('snapshot.json')?.length ?? 0) > 0 && (files.get('wal.log')?.length ?? 0) > 0);
  for (const [name, bytes] of files) {
    assert.equal(bytes.includes(MARKER), false, `${name} holds the marker in plaintext`);
    assert.equal(bytes.includes(Buffer.from(MARKER, 'utf16le')), false, name);
  }
}

test('with a cipher nothing readable reaches disk; the right key restores state, a wrong or missing key is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-log-'));
  const key = randomKey();
  const first = await openLog(dir, aesGcmCipher(key));
  for (let i = 0; i < 5; i++) await first.store.update((tx) => tx.create('networks', secretNet(i)));
  await first.log.close();
  assert.equal((await readFile(join(dir, 'wal.log'))).includes(MARKER), false);
  // Only the WAL exists so far: it alone must detect the wrong key.
  await refused(dir, aesGcmCipher(randomKey()), 'wrong-key');
  await refused(dir, undefined, 'needs-key');

  const second = await openLog(dir, aesGcmCipher(key));
  assert.equal(names(second.store).length, 5);
  for (let i = 5; i < 10; i++) await second.store.update((tx) => tx.create('networks', secretNet(i)));
  await second.log.snapshot();
  for (let i = 10; i < 13; i++) await second.store.update((tx) => tx.create('networks', secretNet(i)));
  await second.log.close();
  await assertNoMarker(dir);

  const third = await openLog(dir, aesGcmCipher(key));
  assert.equal(third.store.index, second.store.index);
  assert.deepEqual(names(third.store), names(second.store));
  assert.equal(names(third.store).length, 13);
  await third.log.close();
  await refused(dir, aesGcmCipher(randomKey()), 'wrong-key');
  await refused(dir, undefined, 'needs-key');
});

test('a plaintext log refuses a key, and rekey encrypts it in place', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-log-'));
  const plain = await openLog(dir);
  for (let i = 0; i < 3; i++) await plain.store.update((tx) => tx.create('networks', secretNet(i)));
  await plain.log.snapshot();
  await plain.store.update((tx) => tx.create('networks', secretNet(3)));
  await plain.log.close();
  assert.ok((await readFile(join(dir, 'snapshot.json'))).includes(MARKER));
  const cipher = aesGcmCipher(randomKey());
  await refused(dir, cipher, 'not-encrypted');

  const reopened = await openLog(dir);
  await reopened.log.rekey(cipher);
  await reopened.store.update((tx) => tx.create('networks', secretNet(4)));
  await reopened.log.close();
  await assertNoMarker(dir);

  const sealed = await openLog(dir, cipher);
  assert.deepEqual(names(sealed.store), names(reopened.store));
  assert.equal(names(sealed.store).length, 5);
  await sealed.log.close();
  await refused(dir, undefined, 'needs-key');
});

test('rekey moves to the new key durably, and a crash before the old WAL is emptied loses nothing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-log-'));
  const oldKey = aesGcmCipher(randomKey());
  const newKey = aesGcmCipher(randomKey());
  const a = await openLog(dir, oldKey);
  for (let i = 0; i < 2; i++) await a.store.update((tx) => tx.create('networks', secretNet(i)));
  const earlyWal = await readFile(join(dir, 'wal.log'));
  for (let i = 2; i < 4; i++) await a.store.update((tx) => tx.create('networks', secretNet(i)));
  const oldWal = await readFile(join(dir, 'wal.log'));
  await a.log.rekey(newKey);
  assert.equal((await stat(join(dir, 'wal.log'))).size, 0);
  await a.store.update((tx) => tx.create('networks', secretNet(4)));
  await a.log.close();

  const b = await openLog(dir, newKey);
  assert.deepEqual(names(b.store), names(a.store));
  await b.log.close();
  await refused(dir, oldKey, 'wrong-key');

  // The crash window: the new snapshot is durable but the WAL still holds the old key's records.
  await writeFile(join(dir, 'wal.log'), oldWal);
  const c = await openLog(dir, newKey);
  assert.equal(names(c.store).length, 4);
  await c.store.update((tx) => tx.create('networks', secretNet(5)));
  await c.log.close();
  const d = await openLog(dir, newKey);
  assert.equal(names(d.store).length, 5);
  await d.log.close();

  // Only the exact WAL the snapshot replaced is dropped; any other undecryptable WAL is refused.
  const e = await openLog(dir, newKey);
  await e.log.rekey(newKey);
  await e.log.close();
  await writeFile(join(dir, 'wal.log'), earlyWal);
  await refused(dir, newKey, 'wrong-key');
});
