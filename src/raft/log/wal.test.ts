import { pbkdf2 } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile, appendFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aesGcmCipher, randomKey } from '../../platform/index.js';
import { frame, readWal, WalCorruptError, WalDecryptError, WalWriter } from './wal.js';

async function tmp(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'shoal-wal-')), 'wal.log');
}

test('records written with group commit read back in order', async () => {
  const path = await tmp();
  const w = await WalWriter.open(path);
  await Promise.all(Array.from({ length: 50 }, (_, i) => w.append(Buffer.from(`record ${i}`))));
  await w.close();
  const { records, repairedBytes } = await readWal(path);
  assert.equal(repairedBytes, 0);
  assert.deepEqual(
    records.map((r) => r.toString()),
    Array.from({ length: 50 }, (_, i) => `record ${i}`),
  );
});

test('a torn final record is cut off and the file is repaired', async () => {
  const path = await tmp();
  await writeFile(path, Buffer.concat([frame(Buffer.from('one')), frame(Buffer.from('two'))]));
  const half = frame(Buffer.from('three-is-torn'));
  await appendFile(path, half.subarray(0, half.length - 4));
  const { records, repairedBytes } = await readWal(path);
  assert.deepEqual(
    records.map((r) => r.toString()),
    ['one', 'two'],
  );
  assert.equal(repairedBytes, half.length - 4);
  assert.equal((await stat(path)).size, frame(Buffer.from('one')).length + frame(Buffer.from('two')).length);
});

test('corruption before the tail is a loud error, never a silent skip', async () => {
  const path = await tmp();
  await writeFile(
    path,
    Buffer.concat([frame(Buffer.from('one')), frame(Buffer.from('two')), frame(Buffer.from('three'))]),
  );
  const buf = await readFile(path);
  buf[10] = buf[10]! ^ 0xff; // flip a byte inside the first payload
  await writeFile(path, buf);
  await assert.rejects(readWal(path), WalCorruptError);
});

test('with a cipher, records are sealed on disk, read back in order, and a torn sealed tail is repaired', async () => {
  const path = await tmp();
  const cipher = aesGcmCipher(randomKey());
  const w = await WalWriter.open(path, { cipher });
  await Promise.all(Array.from({ length: 20 }, (_, i) => w.append(Buffer.from(`secret-record ${i}`))));
  await w.close();
  const intact = (await stat(path)).size;
  assert.equal((await readFile(path)).includes('secret-record'), false);
  // A torn write of a 21st sealed record: the CRC over the sealed bytes catches it before decryption.
  const torn = frame(cipher.seal(Buffer.from('secret-record 20')));
  await appendFile(path, torn.subarray(0, torn.length - 3));
  const { records, repairedBytes } = await readWal(path, { cipher });
  assert.deepEqual(
    records.map((r) => r.toString()),
    Array.from({ length: 20 }, (_, i) => `secret-record ${i}`),
  );
  assert.equal(repairedBytes, torn.length - 3);
  assert.equal((await stat(path)).size, intact);
});

test('a wrong key is a loud error that names the record, and the file is left untouched', async () => {
  const path = await tmp();
  const w = await WalWriter.open(path, { cipher: aesGcmCipher(randomKey()) });
  await w.append(Buffer.from('one'));
  await w.append(Buffer.from('two'));
  await w.close();
  await appendFile(path, Buffer.from([1, 2, 3])); // a torn tail that must not be cut on a failed read
  const before = await readFile(path);
  await assert.rejects(
    readWal(path, { cipher: aesGcmCipher(randomKey()) }),
    (e: unknown) =>
      e instanceof WalDecryptError && /at byte 0 cannot be decrypted: .*wrong key/.test(e.message),
  );
  assert.deepEqual(await readFile(path), before);
});

test('inline appends write and sync on the event loop, keep append order with pooled flushes, and close waits for them', async () => {
  const path = await tmp();
  const w = await WalWriter.open(path);
  const order: string[] = [];
  const appends = [
    w.append(Buffer.from('a'), { inline: true }).then(() => order.push('a')),
    // Queued behind the inline flush that has not run yet: it goes out in that same flush.
    w.append(Buffer.from('b')).then(() => order.push('b')),
    w.append(Buffer.from('c'), { sync: false, inline: true }).then(() => order.push('c')),
  ];
  await Promise.all(appends);
  assert.deepEqual(order, ['a', 'b', 'c']);
  // Alternating the two kinds of flush keeps the file's order.
  for (let i = 0; i < 20; i++) await w.append(Buffer.from(`r${i}`), { inline: i % 2 === 0 });
  const late = w.append(Buffer.from('last'), { inline: true });
  await w.close();
  await late;
  const { records } = await readWal(path);
  assert.deepEqual(
    records.map((r) => r.toString()),
    ['a', 'b', 'c', ...Array.from({ length: 20 }, (_, i) => `r${i}`), 'last'],
  );
  assert.equal(w.size, (await stat(path)).size);
  await assert.rejects(w.append(Buffer.from('x'), { inline: true }), /closed/);
});

test('an inline append does not wait for the thread pool', async () => {
  const path = await tmp();
  const w = await WalWriter.open(path);
  // Occupy all four of libuv's threads; a pooled write would queue behind them.
  const busy: string[] = [];
  const pool = Array.from(
    { length: 4 },
    () =>
      new Promise<void>((resolve) =>
        pbkdf2('p', 's', 400_000, 32, 'sha256', () => {
          busy.push('pool');
          resolve();
        }),
      ),
  );
  await w.append(Buffer.from('inline'), { inline: true });
  busy.push('inline');
  await Promise.all(pool);
  assert.equal(busy[0], 'inline');
  await w.close();
});
