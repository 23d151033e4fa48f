// The Raft log as the core sees it: stable storage (read-only here) followed by unstable entries
// (and perhaps a snapshot) that the driver has not persisted yet.
import { limitSize } from './storage.js';
import type { Storage } from './storage.js';
import { invariant, RaftError } from './types.js';
import type { Entry, Logger, Snapshot } from './types.js';

/** Entries and a snapshot not yet written to storage. entries[i] has index offset+i. */
export class Unstable {
  snapshot: Snapshot | undefined;
  entries: Entry[] = [];
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  maybeFirstIndex(): number | undefined {
    return this.snapshot === undefined ? undefined : this.snapshot.metadata.index + 1;
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot?.metadata.index;
  }

  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot !== undefined && this.snapshot.metadata.index === i)
        return this.snapshot.metadata.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return this.entries[i - this.offset]?.term;
  }

  /** Entries up to (i, t) are now in storage; a mismatched term means they were replaced meanwhile. */
  stableTo(i: number, t: number): void {
    const gt = this.maybeTerm(i);
    if (gt === undefined || gt !== t || i < this.offset) return;
    this.entries = this.entries.slice(i + 1 - this.offset);
    this.offset = i + 1;
  }

  stableSnapTo(i: number): void {
    if (this.snapshot !== undefined && this.snapshot.metadata.index === i) this.snapshot = undefined;
  }

  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.entries = [];
    this.snapshot = s;
  }

  truncateAndAppend(ents: Entry[]): void {
    const after = ents[0]!.index;
    if (after === this.offset + this.entries.length) {
      this.entries = this.entries.concat(ents);
    } else if (after <= this.offset) {
      // Replaces every unstable entry; storage entries past `after` are overwritten on persist.
      this.offset = after;
      this.entries = ents.slice();
    } else {
      this.entries = this.entries.slice(0, after - this.offset).concat(ents);
    }
  }

  slice(lo: number, hi: number): Entry[] {
    invariant(
      lo >= this.offset && hi <= this.offset + this.entries.length && lo <= hi,
      () =>
        `unstable slice [${lo}, ${hi}) out of bounds [${this.offset}, ${this.offset + this.entries.length})`,
    );
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}

export class RaftLog {
  readonly storage: Storage;
  readonly unstable: Unstable;
  /** Highest index known to be on a quorum. */
  committed: number;
  /** Highest index the application has applied (as reported through advance). */
  applied: number;
  readonly #logger: Logger;

  constructor(storage: Storage, logger: Logger) {
    this.storage = storage;
    this.#logger = logger;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    this.committed = first - 1;
    this.applied = first - 1;
  }

  toString(): string {
    return `committed=${this.committed}, applied=${this.applied}, unstable.offset=${this.unstable.offset}, len(unstable.entries)=${this.unstable.entries.length}`;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /**
   * Term of entry i: 0 past the last index; throws 'Compacted' before firstIndex-1 (whose term is
   * kept, for matching appends that follow the snapshot).
   */
  term(i: number): number {
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    const fi = this.firstIndex();
    if (i < fi - 1) throw new RaftError('Compacted', `entry ${i} is compacted (first index ${fi})`);
    if (i > this.lastIndex()) return 0;
    return this.storage.term(i);
  }

  /** Like term, but a compacted index reads as 0 (it can only mismatch). */
  zeroTermOnCompacted(i: number): number {
    try {
      return this.term(i);
    } catch (e) {
      if (e instanceof RaftError && e.code === 'Compacted') return 0;
      throw e;
    }
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  matchTerm(i: number, t: number): boolean {
    try {
      return this.term(i) === t;
    } catch (e) {
      if (e instanceof RaftError && e.code === 'Compacted') return false;
      throw e;
    }
  }

  /** Whether a candidate with this last entry is at least as up to date as we are (§5.4.1). */
  isUpToDate(lasti: number, term: number): boolean {
    const ourTerm = this.lastTerm();
    return term > ourTerm || (term === ourTerm && lasti >= this.lastIndex());
  }

  /**
   * Appends a leader's entries that follow (index, logTerm). Returns the index of the last new entry,
   * or undefined if our log does not contain (index, logTerm).
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      invariant(
        ci > this.committed,
        () => `entry ${ci} conflicts with committed entry (committed ${this.committed})`,
      );
      this.append(ents.slice(ci - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  append(ents: Entry[]): number {
    const first = ents[0];
    if (first === undefined) return this.lastIndex();
    invariant(
      first.index - 1 >= this.committed,
      () => `after(${first.index - 1}) is out of range [committed(${this.committed})]`,
    );
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * The first entry whose term differs from ours (or that we lack), or 0 if all match. Entries must
   * be contiguous.
   */
  findConflict(ents: Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) {
        if (e.index <= this.lastIndex()) {
          this.#logger.info(
            `found conflict at index ${e.index} [existing term: ${this.zeroTermOnCompacted(e.index)}, conflicting term: ${e.term}]`,
          );
        }
        return e.index;
      }
    }
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`, with that term: where a leader with a
   * log ending in `term` may find a match. Used to skip a whole term per rejected append.
   */
  findConflictByTerm(index: number, term: number): [number, number] {
    for (; index > 0; index--) {
      let ourTerm: number;
      try {
        ourTerm = this.term(index);
      } catch (e) {
        if (e instanceof RaftError && e.code === 'Compacted') return [index, 0];
        throw e;
      }
      if (ourTerm <= term) return [index, ourTerm];
    }
    return [0, 0];
  }

  unstableEntries(): Entry[] {
    return this.unstable.entries.slice();
  }

  /** Whether a snapshot waits to be persisted and applied; committed entries wait behind it. */
  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== undefined;
  }

  hasNextCommittedEnts(): boolean {
    if (this.hasPendingSnapshot()) return false;
    return this.committed > Math.max(this.applied, this.firstIndex() - 1);
  }

  nextCommittedEnts(maxBytes: number): Entry[] {
    if (!this.hasNextCommittedEnts()) return [];
    const lo = Math.max(this.applied + 1, this.firstIndex());
    return this.slice(lo, this.committed + 1, maxBytes);
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** Entries from i on, bounded by maxBytes; throws 'Compacted' if i is gone. */
  entriesFrom(i: number, maxBytes: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxBytes);
  }

  allEntries(): Entry[] {
    return this.entriesFrom(this.firstIndex(), Infinity);
  }

  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    const fi = this.firstIndex();
    if (lo < fi) throw new RaftError('Compacted', `entry ${lo} is compacted (first index ${fi})`);
    invariant(
      lo <= hi && hi <= this.lastIndex() + 1,
      () => `slice [${lo}, ${hi}) out of bounds [${fi}, ${this.lastIndex()}]`,
    );
    if (lo === hi) return [];
    let ents: Entry[] = [];
    const uo = this.unstable.offset;
    if (lo < uo) {
      const stored = this.storage.entries(lo, Math.min(hi, uo), maxBytes);
      // Storage stopped early for the size cap: do not add unstable entries after a gap.
      if (stored.length < Math.min(hi, uo) - lo) return stored;
      ents = stored;
    }
    if (hi > uo) {
      ents = ents.concat(this.unstable.slice(Math.max(lo, uo), hi));
    }
    return limitSize(ents, maxBytes);
  }

  commitTo(tocommit: number): void {
    if (this.committed >= tocommit) return;
    invariant(
      tocommit <= this.lastIndex(),
      () =>
        `tocommit(${tocommit}) is out of range [lastIndex(${this.lastIndex()})]. Was the raft log corrupted, truncated, or lost?`,
    );
    this.committed = tocommit;
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    invariant(
      this.committed >= i && i >= this.applied,
      () => `applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`,
    );
    this.applied = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  /** Commits up to maxIndex if that entry is from `term` (only current-term entries count, §5.4.2). */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.zeroTermOnCompacted(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  restore(s: Snapshot): void {
    this.#logger.info(
      `log [${this.toString()}] starts to restore snapshot [index: ${s.metadata.index}, term: ${s.metadata.term}]`,
    );
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }
}
