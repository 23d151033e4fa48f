// The core only reads storage; the driver writes to it (persisting each Ready) before calling advance.
import { entrySize, invariant, RaftError } from './types.js';
import type { ConfState, Entry, HardState, Snapshot } from './types.js';

export interface InitialState {
  hardState: HardState;
  confState: ConfState;
}

export interface Storage {
  initialState(): InitialState;
  /**
   * Entries in [lo, hi), at least one if any exist, then more while their total size stays within
   * maxBytes. Throws RaftError 'Compacted' if lo is before firstIndex, 'Unavailable' past lastIndex.
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** Term of entry i, for i in [firstIndex-1, lastIndex] (firstIndex-1 is the snapshot's). */
  term(i: number): number;
  lastIndex(): number;
  firstIndex(): number;
  snapshot(): Snapshot;
}

/** Takes entries from the front while they fit in maxBytes; always keeps the first. */
export function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySize(ents[0]!);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySize(ents[n]!);
    if (size > maxBytes) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

export function emptySnapshot(): Snapshot {
  return {
    metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } },
    data: new Uint8Array(0),
  };
}

/**
 * Storage held in memory. ents[0] is a dummy standing for the last compacted entry (or the
 * snapshot), so term(firstIndex-1) is always answerable.
 */
export class MemoryStorage implements Storage {
  #hardState: HardState = { term: 0, vote: 0, commit: 0 };
  #snapshot: Snapshot = emptySnapshot();
  #ents: Entry[] = [{ term: 0, index: 0, type: 'EntryNormal', data: new Uint8Array(0) }];

  initialState(): InitialState {
    const cs = this.#snapshot.metadata.confState;
    return {
      hardState: { ...this.#hardState },
      confState: { voters: [...cs.voters], learners: [...cs.learners] },
    };
  }

  setHardState(hs: HardState): void {
    this.#hardState = { ...hs };
  }

  #offset(): number {
    return this.#ents[0]!.index;
  }

  firstIndex(): number {
    return this.#offset() + 1;
  }

  lastIndex(): number {
    return this.#offset() + this.#ents.length - 1;
  }

  term(i: number): number {
    const offset = this.#offset();
    if (i < offset) throw new RaftError('Compacted', `entry ${i} is compacted (first index ${offset + 1})`);
    const e = this.#ents[i - offset];
    if (e === undefined)
      throw new RaftError('Unavailable', `entry ${i} is past the last index ${this.lastIndex()}`);
    return e.term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.#offset();
    if (lo <= offset)
      throw new RaftError('Compacted', `entry ${lo} is compacted (first index ${offset + 1})`);
    invariant(
      hi <= this.lastIndex() + 1,
      () => `entries(${lo}, ${hi}) past the last index ${this.lastIndex()}`,
    );
    invariant(lo <= hi, () => `entries(${lo}, ${hi}): lo > hi`);
    // Only the dummy entry: nothing is stored.
    if (this.#ents.length === 1) throw new RaftError('Unavailable', 'the log is empty');
    return limitSize(this.#ents.slice(lo - offset, hi - offset), maxBytes);
  }

  snapshot(): Snapshot {
    return this.#snapshot;
  }

  /** Replaces the whole log with a snapshot (a follower receiving one, or a bootstrap). */
  applySnapshot(snap: Snapshot): void {
    if (snap.metadata.index <= this.#snapshot.metadata.index && this.#snapshot.metadata.index !== 0) {
      throw new RaftError(
        'SnapshotOutOfDate',
        `snapshot ${snap.metadata.index} is not newer than ${this.#snapshot.metadata.index}`,
      );
    }
    this.#snapshot = snap;
    this.#ents = [
      { term: snap.metadata.term, index: snap.metadata.index, type: 'EntryNormal', data: new Uint8Array(0) },
    ];
  }

  /** Records a snapshot of the application at applied index i; the log is not touched (see compact). */
  createSnapshot(i: number, cs: ConfState, data: Uint8Array): Snapshot {
    if (i <= this.#snapshot.metadata.index) {
      throw new RaftError(
        'SnapshotOutOfDate',
        `snapshot ${i} is not newer than ${this.#snapshot.metadata.index}`,
      );
    }
    invariant(i <= this.lastIndex(), () => `snapshot ${i} is past the last index ${this.lastIndex()}`);
    this.#snapshot = {
      metadata: {
        index: i,
        term: this.term(i),
        confState: { voters: [...cs.voters], learners: [...cs.learners] },
      },
      data,
    };
    return this.#snapshot;
  }

  /** Discards entries up to and including compactIndex; it must not pass the applied index. */
  compact(compactIndex: number): void {
    const offset = this.#offset();
    if (compactIndex <= offset) {
      throw new RaftError(
        'Compacted',
        `entry ${compactIndex} is already compacted (first index ${offset + 1})`,
      );
    }
    invariant(compactIndex <= this.lastIndex(), () => `compact ${compactIndex} is past ${this.lastIndex()}`);
    const i = compactIndex - offset;
    const head = this.#ents[i]!;
    const dummy: Entry = { term: head.term, index: head.index, type: 'EntryNormal', data: new Uint8Array(0) };
    this.#ents = [dummy, ...this.#ents.slice(i + 1)];
  }

  /** Appends entries that follow or overlap the log; overlapping ones replace what was there. */
  append(entries: Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const firstKept = this.firstIndex();
    const last = first.index + entries.length - 1;
    if (last < firstKept) return; // all compacted already
    const ents = firstKept > first.index ? entries.slice(firstKept - first.index) : entries;
    const start = ents[0]!.index - this.#offset();
    invariant(
      start <= this.#ents.length,
      () => `missing log entry: last index ${this.lastIndex()}, appending at ${ents[0]!.index}`,
    );
    this.#ents = this.#ents.slice(0, start).concat(ents);
  }
}
