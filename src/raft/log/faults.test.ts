// The WAL under disk faults: a file cut at any byte, a bit flipped anywhere, zeros after the end,
// a full disk (a real tmpfs: short writes, then ENOSPC) and a failed fdatasync.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { mkdtemp, open, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { aesGcmCipher, DiskWriteError, randomKey, writeFileDurable } from '../../platform/index.js';
import type { RecordCipher } from '../../platform/index.js';
import { mountTmpfs } from './tmpfs.testutil.js';
import { readWal, WalCorruptError, WalWriter } from './wal.js';

async function tmp(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'shoal-walfault-')), 'wal.log');
}

/** Payloads of varied sizes. */
const payload = (i: number): Buffer => Buffer.from(`record ${i};`.repeat(1 + (i % 4)));
const text = (rs: Buffer[]): string[] => rs.map((r) => r.toString());

/** Writes n records through the writer; returns the file and where each record ends. */
async function written(
  n: number,
  cipher: RecordCipher | undefined,
): Promise<{ path: string; bytes: Buffer; ends: number[] }> {
  const path = await tmp();
  const w = await WalWriter.open(path, { cipher });
  const ends: number[] = [];
  for (let i = 0; i < n; i++) {
    await w.append(payload(i));
    ends.push(w.size);
  }
  await w.close();
  return { path, bytes: await readFile(path), ends };
}

const ciphers: [string, RecordCipher | undefined][] = [
  ['plain', undefined],
  ['sealed', aesGcmCipher(randomKey())],
];

test('a log cut at any byte of its last records reads back every whole record and nothing else', async () => {
  for (const [name, cipher] of ciphers) {
    const { path, bytes, ends } = await written(8, cipher);
    const copy = `${path}.cut`;
    for (let cut = ends[4]!; cut <= bytes.length; cut++) {
      await writeFile(copy, bytes.subarray(0, cut));
      const { records, repairedBytes } = await readWal(copy, { cipher });
      // Every record written whole before the cut (an acknowledged one) is there; the cut one is not.
      const whole = ends.filter((e) => e <= cut).length;
      assert.deepEqual(
        text(records),
        Array.from({ length: whole }, (_, i) => payload(i).toString()),
        `${name}, cut at ${cut}`,
      );
      assert.equal(repairedBytes, cut - ends[whole - 1]!, `${name}, cut at ${cut}`);
      assert.equal((await stat(copy)).size, ends[whole - 1], `${name}, cut at ${cut}`);
    }
  }
});

test('a bit flipped anywhere in the last record is refused, naming the file and the record, and nothing is cut', async () => {
  for (const [name, cipher] of ciphers) {
    const { path, bytes, ends } = await written(6, cipher);
    const copy = `${path}.flipped`;
    const start = ends[4]!;
    for (let at = start; at < bytes.length; at++) {
      for (let bit = 0; bit < 8; bit++) {
        const buf = Buffer.from(bytes);
        buf[at] = buf[at]! ^ (1 << bit);
        await writeFile(copy, buf);
        await assert.rejects(
          readWal(copy, { cipher }),
          (e: unknown) =>
            e instanceof WalCorruptError &&
            e.path === copy &&
            e.offset === start &&
            e.message.includes(`WAL ${copy} is corrupt at byte ${start}`) &&
            /rejoin this member .* --force-new-cluster/.test(e.message),
          `${name}: bit ${bit} of byte ${at}`,
        );
        assert.deepEqual(await readFile(copy), buf, `${name}: bit ${bit} of byte ${at} changed the file`);
      }
    }
  }
});

test('zeros after the last record are cut and reported; zeros followed by a record are refused', async () => {
  const { path, bytes, ends } = await written(3, undefined);
  await writeFile(path, Buffer.concat([bytes, Buffer.alloc(5000)]));
  const r = await readWal(path);
  assert.deepEqual(
    text(r.records),
    [0, 1, 2].map((i) => payload(i).toString()),
  );
  assert.equal(r.repaired, 'zeros');
  assert.equal(r.repairedAt, bytes.length);
  assert.equal(r.repairedBytes, 5000);
  assert.equal((await stat(path)).size, bytes.length);

  // A record that is zeros but not at the end is damage, never a crash's leftovers.
  const middle = Buffer.from(bytes);
  middle.fill(0, ends[0], ends[1]);
  await writeFile(path, middle);
  await assert.rejects(readWal(path), (e: unknown) => e instanceof WalCorruptError && e.offset === ends[0]);
});

test('records written before the header checksum are still read, and new ones follow them', async () => {
  const v1 = (p: Buffer): Buffer => {
    const head = Buffer.alloc(8);
    head.writeUInt32LE(p.length, 0);
    head.writeUInt32LE(crc32(p), 4);
    return Buffer.concat([head, p]);
  };
  const path = await tmp();
  await writeFile(path, Buffer.concat([v1(payload(0)), v1(payload(1)), v1(payload(2)).subarray(0, 9)]));
  const r = await readWal(path);
  assert.deepEqual(text(r.records), [payload(0).toString(), payload(1).toString()]);
  assert.equal(r.repaired, 'torn record');
  const w = await WalWriter.open(path);
  await w.append(payload(3));
  await w.close();
  assert.deepEqual(
    text((await readWal(path)).records),
    [0, 1, 3].map((i) => payload(i).toString()),
  );
});

test('on a full disk an append fails with ENOSPC, leaves no partial bytes, and the next one succeeds once there is room', async () => {
  for (const inline of [true, false]) {
    const disk = await mountTmpfs(256);
    try {
      const path = join(disk.dir, 'wal.log');
      const w = await WalWriter.open(path);
      const acked: string[] = [];
      for (let i = 0; i < 5; i++) {
        await w.append(payload(i), { inline });
        acked.push(payload(i).toString());
      }
      await disk.fill();
      const before = (await stat(path)).size;
      // The log's last page has room for the start of the record, not all of it: the kernel
      // writes part of it and libuv reports that part as a successful write.
      assert.notEqual(before % 4096, 0);
      const big = Buffer.alloc(6000, 'x');
      for (let attempt = 0; attempt < 2; attempt++) {
        await assert.rejects(
          w.append(big, { inline }),
          (e: unknown) =>
            e instanceof DiskWriteError &&
            e.code === 'ENOSPC' &&
            e.message === `no space left on device writing ${path}; the write was not acknowledged`,
          `inline ${inline}, attempt ${attempt}`,
        );
        assert.equal((await stat(path)).size, before, 'the partial record is cut off at once');
        assert.equal(w.size, before);
      }
      await disk.free();
      await w.append(big, { inline });
      acked.push(big.toString());
      await w.append(payload(9), { inline });
      acked.push(payload(9).toString());
      await w.close();
      const r = await readWal(path);
      assert.equal(r.repairedBytes, 0);
      assert.deepEqual(text(r.records), acked, `inline ${inline}`);
    } finally {
      await disk.unmount();
    }
  }
});

test('a failed fdatasync rejects its appends and cuts the log back to the last synced record; unsynced records are written again', async () => {
  const eio = (): NodeJS.ErrnoException =>
    Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
  const probe = await open(await tmp(), 'w');
  const handleProto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
  await probe.close();
  for (const inline of [true, false]) {
    const path = await tmp();
    const w = await WalWriter.open(path);
    await w.append(Buffer.from('a'), { inline });
    const synced = w.size;
    await w.append(Buffer.from('b'), { inline, sync: false });
    // The next fdatasync fails, once: on Linux the pages it failed to write may be dropped.
    const realSync = fs.fdatasyncSync;
    const realAsync = handleProto.datasync;
    fs.fdatasyncSync = () => {
      fs.fdatasyncSync = realSync;
      syncBuiltinESMExports();
      throw eio();
    };
    syncBuiltinESMExports();
    handleProto.datasync = function () {
      handleProto.datasync = realAsync;
      return Promise.reject(eio());
    };
    try {
      await assert.rejects(
        w.append(Buffer.from('c'), { inline }),
        (e: unknown) =>
          e instanceof DiskWriteError &&
          e.code === 'EIO' &&
          e.message === `I/O error writing ${path}; the write was not acknowledged`,
      );
    } finally {
      fs.fdatasyncSync = realSync;
      syncBuiltinESMExports();
      handleProto.datasync = realAsync;
    }
    assert.equal((await stat(path)).size, synced, `inline ${inline}: cut back to the last synced record`);
    await w.append(Buffer.from('d'), { inline });
    await w.close();
    assert.deepEqual(text((await readWal(path)).records), ['a', 'b', 'd'], `inline ${inline}`);
  }
});

test('a durable file write that fails on a full disk names the file and leaves no temp file behind', async () => {
  const disk = await mountTmpfs(64);
  try {
    const path = join(disk.dir, 'snap.bin');
    await disk.fill();
    await assert.rejects(
      writeFileDurable(path, [Buffer.alloc(3000, 1), Buffer.alloc(9000, 2)]),
      (e: unknown) =>
        e instanceof DiskWriteError &&
        e.code === 'ENOSPC' &&
        e.message === `no space left on device writing ${path}; the write was not acknowledged`,
    );
    assert.deepEqual(await readdir(disk.dir), ['filler']);
    await disk.free();
    await writeFileDurable(path, [Buffer.alloc(3000, 1), Buffer.alloc(9000, 2)]);
    assert.equal((await stat(path)).size, 12_000);
  } finally {
    await disk.unmount();
  }
});
