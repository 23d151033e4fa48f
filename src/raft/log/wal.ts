// Write-ahead log: length- and CRC-framed records with group commit (one write + one fdatasync per
// flush), torn-tail repair on open, and a loud error for any other damage.
//
// Record frame: [u32 payload length | 0x80000000][u32 crc32(payload)][u32 crc32(first 8 bytes)]
// [payload]. The header's own checksum lets a reader tell a cut record (bytes run past the end of
// the file: a torn write, repaired) from a damaged length (refused): without it a flipped length
// bit looks like a torn tail and an acknowledged record would be dropped. Records written before
// the header checksum ([u32 length][u32 crc32(payload)][payload], top bit clear) are still read;
// the first snapshot rewrites the log in the new frame. With a cipher the payload is the sealed
// record, so the CRCs (and torn-tail repair) work on the bytes as written.
//
// What a crash leaves (see "Disk faults and recovery" in docs/ARCHITECTURE.md): every append that
// resolved was written whole and fdatasynced, so it survives as written. After it the file may
// hold a prefix of the writes under way (cut here as a torn tail) or, on a file system that
// extends the size before the data lands, zeros from a record boundary to the end (cut too: no
// record starts with a zero word). A complete record with a bad checksum is damage, not a crash,
// and is refused, wherever it is.
import { fdatasyncSync, ftruncateSync, writevSync } from 'node:fs';
import { open, readFile, stat, truncate } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { DecryptError, diskWriteError } from '../../platform/index.js';
import type { RecordCipher } from '../../platform/index.js';

/** The header of a record written before the header checksum. */
const HEADER_V1 = 8;
const HEADER = 12;
/** Set in the length word of a record with a header checksum (lengths stay far below it). */
const CHECKED = 0x8000_0000;
/** A single record above this is a bug (entries are bounded upstream). */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;

/** How an operator gets a member with a damaged disk back (the details are in docs/ARCHITECTURE.md). */
export const RECOVERY_HINT =
  'rejoin this member from the other managers (remove it on a healthy manager, move its data aside and join again), or, if no healthy manager is left, start from a healthy copy of a manager\'s data with --force-new-cluster (see "Disk faults and recovery" in docs/ARCHITECTURE.md)';

export class WalCorruptError extends Error {
  readonly path: string;
  readonly offset: number;
  constructor(path: string, offset: number, why: string) {
    super(`WAL ${path} is corrupt at byte ${offset}: ${why}; refusing to start: ${RECOVERY_HINT}`);
    this.name = 'WalCorruptError';
    this.path = path;
    this.offset = offset;
  }
}

export class WalDecryptError extends Error {
  override readonly cause: DecryptError;
  constructor(path: string, offset: number, cause: DecryptError) {
    super(`WAL ${path}: the record at byte ${offset} cannot be decrypted: ${cause.message}`);
    this.cause = cause;
    this.name = 'WalDecryptError';
  }
}

export interface WalOptions {
  /** Seals every record on append and opens it on read. */
  cipher?: RecordCipher | undefined;
}

export interface AppendOptions {
  /** false: written but not fdatasynced; durable only once a later synced append's flush completes. */
  sync?: boolean | undefined;
  /**
   * A small write under light load: when no flush is under way, do it on the event loop's own
   * thread (writev + fdatasync in one setImmediate callback) instead of two round trips through
   * libuv's thread pool. Those round trips each wait for a thread to be scheduled, which on a
   * busy two-core machine costs more than the blocked loop does when nothing queues behind it.
   * The callback runs after the loop's pending I/O and after native immediates (so messages just
   * written to HTTP/2 streams leave before the loop blocks).
   */
  inline?: boolean | undefined;
}

export interface WalReadResult {
  records: Buffer[];
  /** Bytes cut off the end: a final record only partly written, or zeros after the last record. */
  repairedBytes: number;
  /** Where the cut began (the file's length now), when something was cut. */
  repairedAt?: number;
  /** What was cut. */
  repaired?: 'torn record' | 'zeros';
}

/**
 * Reads every record. Cuts off the end only what a crash can leave after the last acknowledged
 * record: a final record whose bytes run past the end of the file, or zeros from a record
 * boundary to the end. Anything else that does not check out is a WalCorruptError naming the
 * file and the byte. Nothing is cut when a record cannot be decrypted.
 */
export async function readWal(path: string, opts: WalOptions = {}): Promise<WalReadResult> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], repairedBytes: 0 };
    throw e;
  }
  const records: Buffer[] = [];
  let off = 0;
  let repaired: WalReadResult['repaired'];
  // A damaged record is refused, unless it and all after it are zeros (see the file comment).
  const corrupt = (why: string): 'zeros' => {
    if (isZeroTail(buf, off)) return 'zeros';
    throw new WalCorruptError(path, off, why);
  };
  while (off < buf.length) {
    const rest = buf.length - off;
    if (rest < 4) {
      repaired = isZeroTail(buf, off) ? 'zeros' : 'torn record';
      break;
    }
    const word = buf.readUInt32LE(off);
    const checked = (word & CHECKED) !== 0;
    const head = checked ? HEADER : HEADER_V1;
    if (rest < head) {
      repaired = isZeroTail(buf, off) ? 'zeros' : 'torn record';
      break;
    }
    const len = checked ? word & ~CHECKED : word;
    const crc = buf.readUInt32LE(off + 4);
    if (checked && crc32(buf.subarray(off, off + 8)) !== buf.readUInt32LE(off + 8)) {
      repaired = corrupt('record header checksum mismatch');
      break;
    }
    if (len > MAX_RECORD_BYTES) {
      repaired = corrupt(`record length ${len} is larger than the limit`);
      break;
    }
    // An old-style header of zeros would read as an empty record; no writer makes one.
    if (!checked && len === 0) {
      repaired = corrupt('a record header of zeros');
      break;
    }
    if (len > rest - head) {
      // The record runs past the end of the file: a write the crash cut short, never acknowledged.
      repaired = isZeroTail(buf, off) ? 'zeros' : 'torn record';
      break;
    }
    const payload = buf.subarray(off + head, off + head + len);
    if (crc32(payload) !== crc) {
      // Complete, so written whole: a bad checksum is damage, even on the last record.
      repaired = corrupt('checksum mismatch');
      break;
    }
    records.push(opts.cipher ? openRecord(opts.cipher, payload, path, off) : Buffer.from(payload));
    off += head + len;
  }
  const repairedBytes = buf.length - off;
  if (repairedBytes === 0) return { records, repairedBytes };
  await truncate(path, off);
  return { records, repairedBytes, repairedAt: off, repaired: repaired ?? 'torn record' };
}

function openRecord(cipher: RecordCipher, payload: Buffer, path: string, off: number): Buffer {
  try {
    return cipher.open(payload);
  } catch (e) {
    if (e instanceof DecryptError) throw new WalDecryptError(path, off, e);
    throw e;
  }
}

function isZeroTail(buf: Buffer, off: number): boolean {
  for (let i = off; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

export function frame(payload: Uint8Array): Buffer {
  if (payload.length > MAX_RECORD_BYTES)
    throw new RangeError(`a WAL record of ${payload.length} bytes is larger than the limit`);
  const out = Buffer.allocUnsafe(HEADER + payload.length);
  out.writeUInt32LE((payload.length | CHECKED) >>> 0, 0);
  out.writeUInt32LE(crc32(payload), 4);
  out.writeUInt32LE(crc32(out.subarray(0, 8)), 8);
  out.set(payload, HEADER);
  return out;
}

/** Drops the first n bytes of bufs. */
function skip(bufs: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < bufs.length && n >= bufs[i]!.length) n -= bufs[i++]!.length;
  const rest = bufs.slice(i);
  if (n > 0) rest[0] = rest[0]!.subarray(n);
  return rest;
}

function noProgress(): NodeJS.ErrnoException {
  return Object.assign(new Error('a write made no progress'), { code: 'EIO' });
}

interface PendingAppend {
  buf: Buffer;
  sync: boolean;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Appends records, durably unless told not to; concurrent ones share one fdatasync (group commit).
 * An append resolves only once all its bytes are written (a short write is continued, as libuv
 * reports a write that stopped part-way, on a full disk, as a success for the part) and synced.
 * A failed flush rejects its appends with a DiskWriteError and cuts the file back to the end of
 * the last synced record, so a later append (on a disk with room again) starts on a record
 * boundary; records written unsynced since then are written again with it (a failed fdatasync may
 * have dropped their pages).
 */
export class WalWriter {
  #fh: FileHandle;
  #path: string;
  #cipher: RecordCipher | undefined;
  #pending: PendingAppend[] = [];
  #flushing = false;
  /** Bytes of the records written (the file's length, once a failed flush has been cut back). */
  #size: number;
  /** Where the last fdatasync left the file: everything before it is durable. */
  #synced: number;
  /** Records written since the last fdatasync, in order. */
  #unsynced: Buffer[] = [];
  /** A failed flush left bytes after #synced that are not cut yet, or unsynced records to rewrite. */
  #damaged = false;
  #closed = false;

  private constructor(fh: FileHandle, path: string, size: number, cipher: RecordCipher | undefined) {
    this.#fh = fh;
    this.#path = path;
    this.#size = size;
    this.#synced = size;
    this.#cipher = cipher;
  }

  static async open(path: string, opts: WalOptions = {}): Promise<WalWriter> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'a', 0o600);
    } catch (e) {
      throw diskWriteError(path, e);
    }
    const size = (await stat(path)).size;
    return new WalWriter(fh, path, size, opts.cipher);
  }

  get size(): number {
    return this.#size;
  }

  append(payload: Uint8Array, opts: AppendOptions = {}): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('WAL is closed'));
    return new Promise((resolve, reject) => {
      const record = this.#cipher ? this.#cipher.seal(payload) : payload;
      this.#pending.push({ buf: frame(record), sync: opts.sync !== false, resolve, reject });
      if (this.#flushing) return;
      if (opts.inline === true) {
        this.#flushing = true;
        setImmediate(() => this.#flushInline());
      } else void this.#flush();
    });
  }

  /** What to write for a batch: after a failure, first the unsynced records the cut removed. */
  #toWrite(batch: PendingAppend[]): Buffer[] {
    return [...(this.#damaged ? this.#unsynced : []), ...batch.map((b) => b.buf)];
  }

  /** Book-keeping once a batch (and any rewrite before it) is written and, if asked, synced. */
  #written(batch: PendingAppend[], bufs: Buffer[], synced: boolean): void {
    this.#damaged = false;
    for (const b of bufs) this.#size += b.length;
    if (synced) {
      this.#synced = this.#size;
      this.#unsynced = [];
    } else this.#unsynced.push(...batch.map((b) => b.buf));
    for (const b of batch) b.resolve();
  }

  #failed(batch: PendingAppend[], e: unknown): void {
    this.#damaged = true;
    this.#size = this.#synced;
    const err = diskWriteError(this.#path, e);
    for (const b of batch) b.reject(err);
  }

  #flushInline(): void {
    const batch = this.#pending.splice(0, this.#pending.length);
    try {
      const fd = this.#fh.fd;
      if (this.#damaged) ftruncateSync(fd, this.#synced);
      const bufs = this.#toWrite(batch);
      for (let rest = bufs; rest.length > 0;) {
        const n = writevSync(fd, rest);
        if (n <= 0) throw noProgress();
        rest = skip(rest, n);
      }
      const sync = batch.some((b) => b.sync);
      if (sync) fdatasyncSync(fd);
      this.#written(batch, bufs, sync);
    } catch (e) {
      this.#failed(batch, e);
      // Cut the partial bytes now, so a crash before the next flush leaves a clean end.
      try {
        ftruncateSync(this.#fh.fd, this.#synced);
      } catch {
        // The next flush tries again first (#damaged stays set).
      }
    }
    this.#flushing = false;
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.#pending.length);
      try {
        if (this.#damaged) await this.#fh.truncate(this.#synced);
        const bufs = this.#toWrite(batch);
        for (let rest = bufs; rest.length > 0;) {
          const { bytesWritten } = await this.#fh.writev(rest);
          if (bytesWritten <= 0) throw noProgress();
          rest = skip(rest, bytesWritten);
        }
        const sync = batch.some((b) => b.sync);
        if (sync) await this.#fh.datasync();
        this.#written(batch, bufs, sync);
      } catch (e) {
        // Cut the partial bytes before anyone hears of the failure, as the inline path does: a
        // caller that looks at the file once its append is refused finds a clean end.
        this.#damaged = true;
        this.#size = this.#synced;
        await this.#fh.truncate(this.#synced).catch(() => undefined);
        this.#failed(batch, e);
      }
    }
    this.#flushing = false;
  }

  async close(): Promise<void> {
    this.#closed = true;
    while (this.#flushing) await new Promise((r) => setTimeout(r, 1));
    await this.#fh.close();
  }
}
