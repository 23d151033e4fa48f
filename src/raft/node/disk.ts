// Where a Raft member keeps its state: one append-only log of records and a few snapshot files.
// The driver needs only these operations, so the simulation can plug in a disk that loses unsynced
// writes on a crash. NodeRaftDisk is the real one: the CRC-framed WAL and durable file writes.
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DecryptError, diskWriteError, fsyncDir, writeFileDurable } from '../../platform/index.js';
import type { RecordCipher } from '../../platform/index.js';
import { readWal, RECOVERY_HINT, WalWriter } from '../log/wal.js';

export interface RaftDisk {
  /** The log's records in order, as far as they survived (a torn tail is cut off). */
  readLog(): Promise<Uint8Array[]>;
  /**
   * Appends records; they are durable once this resolves. With `sync: false` (state that may be
   * lost, such as a commit index alone) they are only written: a crash may drop them, never
   * what earlier appends made durable. `inline` hints that the write is small and nothing waits
   * behind it (see the WAL's AppendOptions).
   */
  append(records: readonly Uint8Array[], opts?: { sync?: boolean; inline?: boolean }): Promise<void>;
  /** Replaces the whole log with `records`, atomically and durably. */
  rewriteLog(records: readonly Uint8Array[]): Promise<void>;
  /** Indexes of the snapshot files present. */
  listSnapshots(): Promise<number[]>;
  readSnapshot(index: number): Promise<Uint8Array>;
  /**
   * Writes a snapshot file atomically and durably (temp file, fsync, rename, fsync dir). Pieces
   * are written in order, as one file.
   */
  writeSnapshot(index: number, data: Uint8Array | readonly Uint8Array[]): Promise<void>;
  removeSnapshot(index: number): Promise<void>;
  close(): Promise<void>;
  /** The file that holds the log (`'log'`) or a snapshot, for messages; a name if not a file. */
  where?(what: 'log' | number): string;
}

/** A damaged snapshot file: named, with what to do. */
export class SnapshotCorruptError extends Error {
  readonly path: string;
  constructor(path: string, why: string) {
    super(`snapshot ${path} is damaged: ${why}; refusing to start: ${RECOVERY_HINT}`);
    this.name = 'SnapshotCorruptError';
    this.path = path;
  }
}

const SNAP_RE = /^snap-([0-9a-f]{16})\.bin$/;
/** Temp files of `writeFileDurable` (`<file>.<pid>.<n>.tmp`) and of `rewriteLog`. */
const TEMP_RE = /^(snap-[0-9a-f]{16}\.bin\.\d+\.\d+|wal\.log)\.tmp$/;

function snapName(index: number): string {
  return `snap-${index.toString(16).padStart(16, '0')}.bin`;
}

/** The production disk: `<dir>/wal.log` plus `<dir>/snap-<index>.bin`, all sealed with the cipher if given. */
export class NodeRaftDisk implements RaftDisk {
  readonly #dir: string;
  readonly #cipher: RecordCipher | undefined;
  readonly #inlineWrites: boolean;

  readonly #log: (msg: string) => void;
  #wal: WalWriter | undefined;

  /**
   * `inlineWrites: false` ignores the `inline` hint: every flush goes through the thread pool.
   * `log` hears of what opening repaired (a torn final record cut off).
   */
  constructor(
    dir: string,
    opts: {
      cipher?: RecordCipher | undefined;
      inlineWrites?: boolean;
      log?: ((msg: string) => void) | undefined;
    } = {},
  ) {
    this.#dir = dir;
    this.#cipher = opts.cipher;
    this.#inlineWrites = opts.inlineWrites ?? true;
    this.#log = opts.log ?? (() => undefined);
  }

  where(what: 'log' | number): string {
    return what === 'log' ? this.#walPath : join(this.#dir, snapName(what));
  }

  get #walPath(): string {
    return join(this.#dir, 'wal.log');
  }

  async readLog(): Promise<Uint8Array[]> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    await this.#sweepTempFiles();
    const r = await readWal(this.#walPath, { cipher: this.#cipher });
    if (r.repaired !== undefined) {
      // Only what a crash leaves after the last acknowledged write is ever cut (see the WAL).
      const what = r.repaired === 'zeros' ? 'zero bytes' : 'bytes of a final record a crash cut short';
      this.#log(
        `${this.#walPath}: cut ${r.repairedBytes} ${what} at byte ${r.repairedAt ?? 0} (a write that was never acknowledged)`,
      );
    }
    return r.records;
  }

  /**
   * Removes what a crash left half-written: temp files of snapshots (each as large as the store)
   * and of a log rewrite. The log is read once, when the member starts, before it writes anything.
   */
  async #sweepTempFiles(): Promise<void> {
    for (const n of await readdir(this.#dir).catch(() => [] as string[]))
      if (TEMP_RE.test(n)) await rm(join(this.#dir, n), { force: true });
  }

  async #writer(): Promise<WalWriter> {
    if (this.#wal === undefined) {
      this.#wal = await WalWriter.open(this.#walPath, { cipher: this.#cipher });
      // The log may have just been created: its name must be durable before a record in it counts.
      this.#dirUnsynced = true;
    }
    return this.#wal;
  }

  /** The directory may hold a name not yet durable: the log was just opened (maybe created) or renamed into place. */
  #dirUnsynced = false;

  async #syncDir(): Promise<void> {
    if (!this.#dirUnsynced) return;
    try {
      await fsyncDir(this.#dir);
    } catch (e) {
      throw diskWriteError(this.#walPath, e);
    }
    this.#dirUnsynced = false;
  }

  async append(
    records: readonly Uint8Array[],
    opts: { sync?: boolean; inline?: boolean } = {},
  ): Promise<void> {
    const wal = await this.#writer();
    await this.#syncDir();
    const o = { sync: opts.sync, inline: this.#inlineWrites && opts.inline === true };
    await Promise.all(records.map((r) => wal.append(r, o)));
  }

  async rewriteLog(records: readonly Uint8Array[]): Promise<void> {
    const tmp = `${this.#walPath}.tmp`;
    await rm(tmp, { force: true });
    try {
      const w = await WalWriter.open(tmp, { cipher: this.#cipher });
      try {
        await Promise.all(records.map((r) => w.append(r)));
      } finally {
        await w.close();
      }
    } catch (e) {
      // The old log stays in use; the half-written copy would only hold space on a full disk.
      await rm(tmp, { force: true }).catch(() => undefined);
      throw diskWriteError(this.#walPath, e);
    }
    await this.#wal?.close();
    this.#wal = undefined;
    try {
      await rename(tmp, this.#walPath);
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw diskWriteError(this.#walPath, e);
    }
    // From here the new log is the one in use. Until the rename is durable no append may count:
    // a crash could bring the old file back without them.
    this.#dirUnsynced = true;
    await this.#syncDir().catch(() => undefined);
  }

  async listSnapshots(): Promise<number[]> {
    const names = await readdir(this.#dir).catch(() => [] as string[]);
    const out: number[] = [];
    for (const n of names) {
      const m = SNAP_RE.exec(n);
      if (m) out.push(parseInt(m[1]!, 16));
    }
    return out.sort((a, b) => a - b);
  }

  async readSnapshot(index: number): Promise<Uint8Array> {
    const path = join(this.#dir, snapName(index));
    const raw = await readFile(path);
    if (!this.#cipher) return raw;
    try {
      return this.#cipher.open(raw);
    } catch (e) {
      // The log opened with this key, so a snapshot it names that does not is damaged.
      if (e instanceof DecryptError)
        throw new SnapshotCorruptError(path, `it cannot be decrypted (${e.message})`);
      throw e;
    }
  }

  async writeSnapshot(index: number, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const parts = data instanceof Uint8Array ? [data] : data;
    // Sealed a slice at a time: a large store's snapshot would otherwise hold the loop (see crypto).
    const out = this.#cipher ? await this.#cipher.sealInSlices(parts) : parts;
    await writeFileDurable(join(this.#dir, snapName(index)), out);
  }

  async removeSnapshot(index: number): Promise<void> {
    await rm(join(this.#dir, snapName(index)), { force: true });
  }

  async close(): Promise<void> {
    await this.#wal?.close();
    this.#wal = undefined;
  }
}

/**
 * A disk in memory that survives its user: hand the same instance to a restarted node. Every write
 * is durable at once; the simulation has its own disk with fsync delays and crash loss.
 */
export class MemoryRaftDisk implements RaftDisk {
  #log: Uint8Array[] = [];
  #snaps = new Map<number, Uint8Array>();

  readLog(): Promise<Uint8Array[]> {
    return Promise.resolve([...this.#log]);
  }
  append(records: readonly Uint8Array[]): Promise<void> {
    this.#log.push(...records.map((r) => r.slice()));
    return Promise.resolve();
  }
  rewriteLog(records: readonly Uint8Array[]): Promise<void> {
    this.#log = records.map((r) => r.slice());
    return Promise.resolve();
  }
  listSnapshots(): Promise<number[]> {
    return Promise.resolve([...this.#snaps.keys()].sort((a, b) => a - b));
  }
  readSnapshot(index: number): Promise<Uint8Array> {
    const s = this.#snaps.get(index);
    return s ? Promise.resolve(s.slice()) : Promise.reject(new Error(`no snapshot ${index}`));
  }
  writeSnapshot(index: number, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    this.#snaps.set(index, data instanceof Uint8Array ? data.slice() : new Uint8Array(Buffer.concat(data)));
    return Promise.resolve();
  }
  removeSnapshot(index: number): Promise<void> {
    this.#snaps.delete(index);
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  /** Records in the log, for tests that check compaction. */
  get recordCount(): number {
    return this.#log.length;
  }
}
