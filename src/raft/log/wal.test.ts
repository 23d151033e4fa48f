import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile, appendFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { frame, readWal, WalCorruptError, WalWriter } from './wal.js';

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
