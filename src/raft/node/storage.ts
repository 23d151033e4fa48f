// The core's Storage made durable: every Ready becomes one log record (hard state, entries, and a
// marker naming a snapshot file written before it); opening replays the log into a MemoryStorage.
// A snapshot file counts only once a record names it, so a crash between the two leaves the old state.
import { MemoryStorage } from '../core/index.js';
import type { Entry, HardState, Snapshot, SnapshotMetadata } from '../core/index.js';
import { DiskWriteError } from '../../platform/index.js';
import { RECOVERY_HINT } from '../log/wal.js';
import { CodecError, decodeRecord, decodeSnapshot, encodeRecord, encodeSnapshotParts } from './codec.js';
import type { WalRecord } from './codec.js';
import { SnapshotCorruptError } from './disk.js';
import type { RaftDisk } from './disk.js';

export class RaftStorageCorruptError extends Error {
  constructor(message: string) {
    super(`raft storage is inconsistent: ${message}; refusing to start: ${RECOVERY_HINT}`);
    this.name = 'RaftStorageCorruptError';
  }
}

export interface OpenOptions {
  /**
   * Why this member must have Raft state (its node record says it is a member of the group):
   * then an empty or missing log is refused instead of starting a member with nothing, which
   * would never get a leader (or, as a voter, could vote again having forgotten its log).
   */
  expectState?: string | undefined;
}

/** What a Ready asks to make durable. */
export interface ReadyWrite {
  hardState?: HardState | undefined;
  entries: readonly Entry[];
  snapshot?: Snapshot | undefined;
  /** false when nothing but the commit index changed: then the write need not be fsynced. */
  mustSync?: boolean | undefined;
}

export class DurableStorage {
  readonly #disk: RaftDisk;
  readonly mem: MemoryStorage;
  #hardState: HardState;
  /** A commit index newer than the last record holds (see save). */
  #hardStateUnwritten = false;

  private constructor(disk: RaftDisk, mem: MemoryStorage, hs: HardState) {
    this.#disk = disk;
    this.mem = mem;
    this.#hardState = hs;
  }

  /** Rebuilds the in-memory log from the disk. */
  static async open(disk: RaftDisk, opts: OpenOptions = {}): Promise<DurableStorage> {
    const where = (what: 'log' | number): string =>
      disk.where?.(what) ?? (what === 'log' ? 'the raft log' : `snapshot ${what}`);
    const raw = await disk.readLog();
    const files = new Set(await disk.listSnapshots());
    if (raw.length === 0 && opts.expectState !== undefined) {
      const snaps = files.size > 0 ? ` (snapshot files are there: ${[...files].map(where).join(', ')})` : '';
      throw new RaftStorageCorruptError(
        `${where('log')} is missing or empty${snaps}, but ${opts.expectState}`,
      );
    }
    const records = raw.map((r, i) => {
      try {
        return decodeRecord(r);
      } catch (e) {
        if (e instanceof CodecError)
          throw new RaftStorageCorruptError(`record ${i} of ${where('log')} cannot be decoded: ${e.message}`);
        throw e;
      }
    });
    const load = async (meta: SnapshotMetadata): Promise<Snapshot> => {
      if (!files.has(meta.index)) {
        throw new RaftStorageCorruptError(
          `the log names snapshot ${meta.index} but its file ${where(meta.index)} is missing`,
        );
      }
      let snap: Snapshot;
      try {
        snap = decodeSnapshot(await disk.readSnapshot(meta.index));
      } catch (e) {
        if (e instanceof CodecError) throw new SnapshotCorruptError(where(meta.index), e.message);
        throw e;
      }
      if (snap.metadata.index !== meta.index || snap.metadata.term !== meta.term) {
        throw new SnapshotCorruptError(
          where(meta.index),
          `it holds ${snap.metadata.index}/${snap.metadata.term} where the log names ${meta.index}/${meta.term}`,
        );
      }
      return snap;
    };
    let mem = new MemoryStorage();
    let hs: HardState = { term: 0, vote: 0, commit: 0 };
    // The log restarts at the last record that replaces it (a base or an installed snapshot); the
    // snapshot files earlier records name may be gone, but their hard state still counts.
    let start = 0;
    records.forEach((rec, i) => {
      if (rec.kind === 'base' || rec.snapshot !== undefined) start = i;
    });
    for (const rec of records.slice(0, start)) if (rec.hardState) hs = rec.hardState;
    for (const rec of records.slice(start)) {
      if (rec.kind === 'base') {
        mem = new MemoryStorage();
        if (rec.snapshot.index === rec.baseIndex) {
          if (rec.baseIndex > 0) mem.applySnapshot(await load(rec.snapshot));
        } else {
          const cs = rec.snapshot.confState;
          mem.applySnapshot({
            metadata: { index: rec.baseIndex, term: rec.baseTerm, confState: cs },
            data: new Uint8Array(0),
          });
        }
        mem.append(rec.entries);
        if (rec.snapshot.index > rec.baseIndex) {
          const snap = await load(rec.snapshot);
          mem.createSnapshot(snap.metadata.index, snap.metadata.confState, snap.data);
          if (mem.snapshot().metadata.term !== snap.metadata.term) {
            throw new RaftStorageCorruptError(
              `snapshot ${snap.metadata.index} has a different term than its entry`,
            );
          }
        }
        hs = rec.hardState;
      } else {
        if (rec.snapshot) mem.applySnapshot(await load(rec.snapshot));
        appendChecked(mem, rec.entries);
        if (rec.hardState) hs = rec.hardState;
      }
    }
    const snapIndex = mem.snapshot().metadata.index;
    hs = { ...hs, commit: Math.min(Math.max(hs.commit, snapIndex), mem.lastIndex()) };
    mem.setHardState(hs);
    const storage = new DurableStorage(disk, mem, hs);
    if (storage.isEmpty && opts.expectState !== undefined)
      throw new RaftStorageCorruptError(`${where('log')} holds no Raft state, but ${opts.expectState}`);
    // Files no record names: left by a crash between writing a snapshot and its record.
    for (const f of files) if (f !== snapIndex) await disk.removeSnapshot(f);
    return storage;
  }

  get hardState(): HardState {
    return this.#hardState;
  }

  /** Whether nothing was ever written (a new member). */
  get isEmpty(): boolean {
    return this.mem.lastIndex() === 0 && this.#hardState.term === 0;
  }

  /**
   * Makes a Ready's state durable with one log append (after its snapshot file, if any). A Ready
   * that only moves the commit index writes nothing yet: its hard state rides along with the next
   * record (or close). A lost commit index is learnt again from the leader (etcd does not fsync it
   * either), and under sequential load that write would cost every member a system call per entry.
   */
  async save(w: ReadyWrite): Promise<void> {
    if (w.mustSync === false && w.entries.length === 0 && !w.snapshot && w.hardState) {
      this.#setHardState(w.hardState);
      this.#hardStateUnwritten = true;
      return;
    }
    const prevSnap = this.mem.snapshot().metadata.index;
    if (w.snapshot)
      await this.#disk.writeSnapshot(w.snapshot.metadata.index, encodeSnapshotParts(w.snapshot));
    const rec: WalRecord = { kind: 'ready', entries: [...w.entries] };
    const hs = w.hardState ?? (this.#hardStateUnwritten ? this.#hardState : undefined);
    if (hs) rec.hardState = hs;
    if (w.snapshot) rec.snapshot = w.snapshot.metadata;
    const sync = w.mustSync !== false || w.snapshot !== undefined;
    // One entry or none: light load, where nothing queues behind this write (see the WAL's
    // AppendOptions.inline); a batch of entries means load, and the loop keeps serving during it.
    const inline = w.snapshot === undefined && w.entries.length <= 1;
    await this.#disk.append([encodeRecord(rec)], { sync, inline });
    if (w.snapshot) this.mem.applySnapshot(w.snapshot);
    appendChecked(this.mem, w.entries);
    if (w.hardState) this.#setHardState(w.hardState);
    if (hs === this.#hardState) this.#hardStateUnwritten = false;
    if (w.snapshot && prevSnap > 0) await this.#disk.removeSnapshot(prevSnap);
  }

  #setHardState(hs: HardState): void {
    this.#hardState = hs;
    this.mem.setHardState(hs);
  }

  /**
   * A snapshot of the application at `meta.index` (applied), in two halves. This one writes its
   * file durably; it may run beside saves. Until commitSnapshot names it in the log it does not
   * count (open() removes a file no record names).
   */
  async prepareSnapshot(meta: SnapshotMetadata, data: Uint8Array): Promise<Snapshot> {
    const snap: Snapshot = {
      metadata: {
        ...meta,
        confState: { voters: [...meta.confState.voters], learners: [...meta.confState.learners] },
      },
      data,
    };
    await this.#disk.writeSnapshot(meta.index, encodeSnapshotParts(snap));
    return snap;
  }

  /**
   * The quick half: makes a prepared snapshot the log's base, keeping `keep` entries behind it for
   * slow followers, and rewrites the log so it no longer holds what the snapshot covers. Not
   * beside a save (the rewrite replaces the log file): the driver calls it between Readies. A
   * snapshot overtaken meanwhile (one installed from the leader) is dropped.
   */
  async commitSnapshot(snap: Snapshot, keep: number): Promise<void> {
    const prevSnap = this.mem.snapshot().metadata.index;
    const index = snap.metadata.index;
    if (index <= prevSnap) {
      // At the same index the file is the one the log names now (an install wrote it): keep it.
      if (index < prevSnap) await this.#disk.removeSnapshot(index);
      return;
    }
    // The new log is written before memory changes: if that fails (a full disk), the old log and
    // its snapshot stay in use, in memory as on disk.
    const first = this.mem.firstIndex();
    const compactTo = index - keep;
    const baseIndex = compactTo >= first ? compactTo : first - 1;
    const last = this.mem.lastIndex();
    const entries = last > baseIndex ? this.mem.entries(baseIndex + 1, last + 1, Infinity) : [];
    const cs = snap.metadata.confState;
    const meta: SnapshotMetadata = {
      index,
      term: this.mem.term(index),
      confState: { voters: [...cs.voters], learners: [...cs.learners] },
    };
    const hs = this.#hardState;
    try {
      await this.#disk.rewriteLog([
        encodeRecord({
          kind: 'base',
          baseIndex,
          baseTerm: this.mem.term(baseIndex),
          hardState: hs,
          snapshot: meta,
          entries,
        }),
      ]);
    } catch (e) {
      // No record names this snapshot, and on a full disk its file holds the space a retry needs.
      await this.#disk.removeSnapshot(index).catch(() => undefined);
      throw e;
    }
    this.mem.createSnapshot(index, cs, snap.data);
    if (compactTo >= first) this.mem.compact(compactTo);
    if (hs === this.#hardState) this.#hardStateUnwritten = false;
    if (prevSnap > 0) await this.#disk.removeSnapshot(prevSnap);
  }

  async close(): Promise<void> {
    try {
      if (this.#hardStateUnwritten) {
        const hs = this.#hardState;
        await this.#disk.append([encodeRecord({ kind: 'ready', entries: [], hardState: hs })]);
        if (hs === this.#hardState) this.#hardStateUnwritten = false;
      }
    } catch (e) {
      // Only a commit index was to be written, and it is learnt again from the leader: a disk
      // that cannot take it must not fail the shutdown.
      if (!(e instanceof DiskWriteError)) throw e;
    } finally {
      await this.#disk.close();
    }
  }
}

function appendChecked(mem: MemoryStorage, entries: readonly Entry[]): void {
  const first = entries[0];
  if (first === undefined) return;
  if (first.index > mem.lastIndex() + 1) {
    throw new RaftStorageCorruptError(`entry ${first.index} follows ${mem.lastIndex()} with a gap`);
  }
  mem.append([...entries]);
}
