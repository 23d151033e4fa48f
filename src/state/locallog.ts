// The single-manager Proposer: every entry is appended to a fsync'd WAL before it is applied,
// and the store is snapshotted every `snapshotEvery` entries so that replay stays short.
// The Raft issue replaces this with replicated consensus behind the same Proposer interface.
import { mkdir, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { readWal, WalWriter } from '../raft/index.js';
import { writeFileDurable } from '../platform/index.js';
import type { Change, MemoryStore, Proposer } from './store/memory.js';

interface Entry {
  index: number;
  changes: Change[];
}

export class LocalLog implements Proposer {
  #dir: string;
  #wal: WalWriter | undefined;
  #next = 1;
  #store: MemoryStore | undefined;
  #sinceSnapshot = 0;
  #snapshotEvery: number;
  #snapshotting: Promise<void> | undefined;

  constructor(dir: string, opts: { snapshotEvery?: number } = {}) {
    this.#dir = dir;
    this.#snapshotEvery = opts.snapshotEvery ?? 10_000;
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
    this.#store = store;
    let snapIndex = 0;
    try {
      const snap = JSON.parse(await readFile(this.#snapPath, 'utf8')) as Parameters<
        MemoryStore['restore']
      >[0];
      store.restore(snap);
      snapIndex = snap.index;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const { records, repairedBytes } = await readWal(this.#walPath);
    let replayed = 0;
    for (const r of records) {
      const entry = JSON.parse(r.toString('utf8')) as Entry;
      if (entry.index <= store.index) continue;
      store.apply(entry.changes, entry.index);
      replayed++;
    }
    this.#next = Math.max(store.index, snapIndex) + 1;
    this.#sinceSnapshot = replayed;
    this.#wal = await WalWriter.open(this.#walPath);
    return { replayed, repairedBytes };
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
    if (this.#snapshotting) return this.#snapshotting;
    const store = this.#store;
    // With no transaction in flight, the WAL holds exactly the entries the store has applied.
    const run = (): Promise<void> =>
      store.exclusive(async () => {
        const snap = store.snapshot();
        await writeFileDurable(this.#snapPath, JSON.stringify(snap));
        await this.#wal!.close();
        await truncate(this.#walPath, 0);
        this.#wal = await WalWriter.open(this.#walPath);
        this.#sinceSnapshot = 0;
      });
    this.#snapshotting = run().finally(() => (this.#snapshotting = undefined));
    return this.#snapshotting;
  }

  async close(): Promise<void> {
    await this.#snapshotting;
    await this.#wal?.close();
    this.#wal = undefined;
  }
}
