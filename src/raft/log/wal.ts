// Write-ahead log: length- and CRC-framed records with group commit (one write + one fdatasync per
// flush), torn-tail repair on open, and a loud error for corruption before the tail.
// Record frame: [u32 payload length][u32 crc32(payload)][payload]. With a cipher the payload is the
// sealed record, so the CRC (and torn-tail repair) works on the bytes as written.
import { fdatasyncSync, writevSync } from 'node:fs';
import { open, readFile, stat, truncate } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { DecryptError } from '../../platform/index.js';
import type { RecordCipher } from '../../platform/index.js';

const HEADER = 8;
/** A single record above this is a bug (entries are bounded upstream). */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;

export class WalCorruptError extends Error {
  constructor(path: string, offset: number, why: string) {
    super(
      `WAL ${path} is corrupt at byte ${offset}: ${why}; refusing to start (restore from a snapshot or another manager)`,
    );
    this.name = 'WalCorruptError';
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
  /** Bytes cut off the end because the last record was only partly written. */
  repairedBytes: number;
}

/** Reads every record, cutting a torn final record off the file. Nothing is cut when a record cannot be decrypted. */
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
  while (off < buf.length) {
    if (buf.length - off < HEADER) break; // torn header
    const len = buf.readUInt32LE(off);
    const crc = buf.readUInt32LE(off + 4);
    if (len > MAX_RECORD_BYTES) {
      if (off + HEADER + len > buf.length && isZeroTail(buf, off)) break;
      throw new WalCorruptError(path, off, `record length ${len} is larger than the limit`);
    }
    if (off + HEADER + len > buf.length) break; // torn payload
    const payload = buf.subarray(off + HEADER, off + HEADER + len);
    if (crc32(payload) !== crc) {
      // A bad checksum on the very last record is a torn write; anywhere else it is corruption.
      if (off + HEADER + len === buf.length) break;
      throw new WalCorruptError(path, off, 'checksum mismatch');
    }
    records.push(opts.cipher ? openRecord(opts.cipher, payload, path, off) : Buffer.from(payload));
    off += HEADER + len;
  }
  const repairedBytes = buf.length - off;
  if (repairedBytes > 0) await truncate(path, off);
  return { records, repairedBytes };
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
  const head = Buffer.alloc(HEADER);
  head.writeUInt32LE(payload.length, 0);
  head.writeUInt32LE(crc32(payload), 4);
  return Buffer.concat([head, payload]);
}

/** Appends records, durably unless told not to; concurrent ones share one fdatasync (group commit). */
export class WalWriter {
  #fh: FileHandle;
  #cipher: RecordCipher | undefined;
  #pending: { buf: Buffer; sync: boolean; resolve: () => void; reject: (e: unknown) => void }[] = [];
  #flushing = false;
  #size: number;
  #closed = false;

  private constructor(fh: FileHandle, size: number, cipher: RecordCipher | undefined) {
    this.#fh = fh;
    this.#size = size;
    this.#cipher = cipher;
  }

  static async open(path: string, opts: WalOptions = {}): Promise<WalWriter> {
    const fh = await open(path, 'a', 0o600);
    const size = (await stat(path)).size;
    return new WalWriter(fh, size, opts.cipher);
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

  #flushInline(): void {
    const batch = this.#pending.splice(0, this.#pending.length);
    try {
      writevSync(
        this.#fh.fd,
        batch.map((b) => b.buf),
      );
      if (batch.some((b) => b.sync)) fdatasyncSync(this.#fh.fd);
      for (const b of batch) this.#size += b.buf.length;
      for (const b of batch) b.resolve();
    } catch (e) {
      for (const b of batch) b.reject(e);
    }
    this.#flushing = false;
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.#pending.length);
      try {
        await this.#fh.writev(batch.map((b) => b.buf));
        if (batch.some((b) => b.sync)) await this.#fh.datasync();
        for (const b of batch) this.#size += b.buf.length;
        for (const b of batch) b.resolve();
      } catch (e) {
        for (const b of batch) b.reject(e);
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
