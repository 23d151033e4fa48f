// The single-manager Proposer: every entry is appended to a fsync'd WAL before it is applied,
// and the store is snapshotted every `snapshotEvery` entries so that replay stays short.
// With a cipher, every WAL record and the snapshot are sealed (encryption at rest).
// The Raft issue replaces this with replicated consensus behind the same Proposer interface.
import { createHash } from 'node:crypto';
import { mkdir, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { readWal, WalDecryptError, WalWriter } from '../raft/index.js';
import { DecryptError, isSealed, writeFileDurable } from '../platform/index.js';
import type { RecordCipher } from '../platform/index.js';
import type { Change, MemoryStore, Proposer } from './store/memory.js';

interface Entry {
  index: number;
  changes: Change[];
}

type StoreSnapshot = ReturnType<MemoryStore['snapshot']>;

interface SnapshotFile extends StoreSnapshot {
  /**
   * Written by rekey: the SHA-256 of the WAL the snapshot replaces. A crash before that WAL is
   * emptied leaves it sealed under the old key; this digest proves it is covered and may be dropped.
   */
  supersedesWal?: string;
}

export type LocalLogKeyErrorCode = 'wrong-key' | 'needs-key' | 'not-encrypted';

/** The local state cannot be read with the key given (or without one). Never recovered silently. */
export class LocalLogKeyError extends Error {
  readonly code: LocalLogKeyErrorCode;
  constructor(code: LocalLogKeyErrorCode, dir: string, detail: string) {
    const what = {
      'wrong-key': 'cannot be decrypted with this key (wrong key, or the files were altered)',
      'needs-key': 'is encrypted and needs its data key (unlock the swarm first)',
      'not-encrypted':
        'is not encrypted but a key was given (migrate it by opening without a key, then rekey)',
    }[code];
    super(`manager state in ${dir} ${what}: ${detail}`);
    this.code = code;
    this.name = 'LocalLogKeyError';
  }
}

export class LocalLog implements Proposer {
  #dir: string;
  #cipher: RecordCipher | undefined;
  #wal: WalWriter | undefined;
  #next = 1;
  #store: MemoryStore | undefined;
  #sinceSnapshot = 0;
  #snapshotEvery: number;
  #snapshotting: Promise<void> | undefined;
  /** The last checkpoint started (snapshot or rekey); they run one at a time in the store's queue. */
  #lastCheckpoint: Promise<void> | undefined;

  constructor(dir: string, opts: { snapshotEvery?: number; cipher?: RecordCipher | undefined } = {}) {
    this.#dir = dir;
    this.#snapshotEvery = opts.snapshotEvery ?? 10_000;
    this.#cipher = opts.cipher;
  }

  get #walPath(): string {
    return join(this.#dir, 'wal.log');
  }
  get #snapPath(): string {
    return join(this.#dir, 'snapshot.json');
  }

  /** Loads the snapshot and replays the WAL into store; returns the number of entries replayed. */
  async open(store: MemoryStore): Promise<{ replayed: number; repairedBytes: number }> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    // Everything is read and decrypted before the store is touched, so a refused open leaves it empty.
    const snap = await this.#readSnapshot();
    if (snap?.supersedesWal !== undefined && (await this.#walDigest()) === snap.supersedesWal) {
      await truncate(this.#walPath, 0);
    }
    const { records, repairedBytes } = await this.#readWal();
    const entries = records.map((r) => {
      if (!this.#cipher && isSealed(r)) throw new LocalLogKeyError('needs-key', this.#dir, 'wal.log');
      return JSON.parse(r.toString('utf8')) as Entry;
    });
    if (snap) store.restore(snap);
    this.#store = store;
    let replayed = 0;
    for (const entry of entries) {
      if (entry.index <= store.index) continue;
      store.apply(entry.changes, entry.index);
      replayed++;
    }
    this.#next = Math.max(store.index, snap?.index ?? 0) + 1;
    this.#sinceSnapshot = replayed;
    this.#wal = await WalWriter.open(this.#walPath, { cipher: this.#cipher });
    return { replayed, repairedBytes };
  }

  async #readSnapshot(): Promise<SnapshotFile | undefined> {
    let raw: Buffer;
    try {
      raw = await readFile(this.#snapPath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    if (!this.#cipher) {
      if (isSealed(raw)) throw new LocalLogKeyError('needs-key', this.#dir, 'snapshot.json');
      return JSON.parse(raw.toString('utf8')) as SnapshotFile;
    }
    try {
      return JSON.parse(this.#cipher.open(raw).toString('utf8')) as SnapshotFile;
    } catch (e) {
      if (e instanceof DecryptError) throw keyError(e, this.#dir, 'snapshot.json');
      throw e;
    }
  }

  async #readWal(): ReturnType<typeof readWal> {
    try {
      return await readWal(this.#walPath, { cipher: this.#cipher });
    } catch (e) {
      if (e instanceof WalDecryptError) throw keyError(e.cause, this.#dir, e.message);
      throw e;
    }
  }

  async #walDigest(): Promise<string | undefined> {
    try {
      return createHash('sha256')
        .update(await readFile(this.#walPath))
        .digest('hex');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async propose(changes: readonly Change[]): Promise<number> {
    if (!this.#wal) throw new Error('local log is not open');
    const index = this.#next++;
    await this.#wal.append(Buffer.from(JSON.stringify({ index, changes })));
    if (++this.#sinceSnapshot >= this.#snapshotEvery && !this.#snapshotting) {
      // Snapshot after this entry is applied (the store applies right after propose resolves).
      queueMicrotask(() => void this.snapshot());
    }
    return index;
  }

  /** Writes the store durably, then empties the WAL; entries up to the snapshot are skipped on replay. */
  async snapshot(): Promise<void> {
    if (!this.#store || !this.#wal) return;
    this.#snapshotting ??= this.#checkpoint(undefined).finally(() => (this.#snapshotting = undefined));
    return this.#snapshotting;
  }

  /**
   * Switches to a new key (DEK rotation, or encrypting a log opened without a key): writes a
   * snapshot sealed with `cipher`, then continues the WAL with it. Durable when it resolves.
   */
  async rekey(cipher: RecordCipher): Promise<void> {
    if (!this.#store || !this.#wal) throw new Error('local log is not open');
    return this.#checkpoint(cipher);
  }

  #checkpoint(rekeyTo: RecordCipher | undefined): Promise<void> {
    const store = this.#store!;
    // With no transaction in flight, the WAL holds exactly the entries the store has applied.
    const run = store.exclusive(async () => {
      const cipher = rekeyTo ?? this.#cipher;
      const file: SnapshotFile = store.snapshot();
      if (rekeyTo) {
        const digest = await this.#walDigest();
        if (digest !== undefined) file.supersedesWal = digest;
      }
      const json = Buffer.from(JSON.stringify(file));
      await writeFileDurable(this.#snapPath, cipher ? cipher.seal(json) : json);
      this.#cipher = cipher;
      await this.#wal!.close();
      await truncate(this.#walPath, 0);
      this.#wal = await WalWriter.open(this.#walPath, { cipher });
      this.#sinceSnapshot = 0;
    });
    this.#lastCheckpoint = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.#lastCheckpoint;
    await this.#wal?.close();
    this.#wal = undefined;
  }
}

function keyError(e: DecryptError, dir: string, detail: string): LocalLogKeyError {
  return new LocalLogKeyError(e.reason === 'auth' ? 'wrong-key' : 'not-encrypted', dir, detail);
}
