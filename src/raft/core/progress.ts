// What the leader knows about each member's log, and the flow control for sending to it.
import { invariant } from './types.js';
import type { ConfState, NodeId } from './types.js';

/**
 * A bounded window of MsgApp sent but not yet acknowledged, as the last index each carried.
 * Full when either the count or the byte budget is used up.
 */
export class Inflights {
  readonly #maxCount: number;
  readonly #maxBytes: number;
  #indexes: number[] = [];
  #sizes: number[] = [];
  #bytes = 0;

  constructor(maxCount: number, maxBytes = Infinity) {
    invariant(maxCount > 0, () => `maxInflightMsgs must be positive, got ${maxCount}`);
    this.#maxCount = maxCount;
    this.#maxBytes = maxBytes;
  }

  add(index: number, bytes: number): void {
    invariant(!this.full(), () => 'cannot add into a full inflights');
    const last = this.#indexes[this.#indexes.length - 1];
    invariant(last === undefined || index > last, () => `inflight index ${index} is not above ${last}`);
    this.#indexes.push(index);
    this.#sizes.push(bytes);
    this.#bytes += bytes;
  }

  /** Frees every message whose last index is <= to (the follower acknowledged up to `to`). */
  freeLE(to: number): void {
    let n = 0;
    while (n < this.#indexes.length && this.#indexes[n]! <= to) {
      this.#bytes -= this.#sizes[n]!;
      n++;
    }
    if (n === 0) return;
    this.#indexes = this.#indexes.slice(n);
    this.#sizes = this.#sizes.slice(n);
  }

  /** Frees the oldest message (presumed lost), so a stalled window lets one more through. */
  freeFirstOne(): void {
    const first = this.#indexes[0];
    if (first !== undefined) this.freeLE(first);
  }

  full(): boolean {
    return this.#indexes.length >= this.#maxCount || this.#bytes >= this.#maxBytes;
  }

  count(): number {
    return this.#indexes.length;
  }

  bytes(): number {
    return this.#bytes;
  }

  reset(): void {
    this.#indexes = [];
    this.#sizes = [];
    this.#bytes = 0;
  }
}

export type ProgressState = 'StateProbe' | 'StateReplicate' | 'StateSnapshot';

/** A snapshot being streamed to a follower in chunks. Offsets are byte positions in its data. */
export interface SnapshotTransfer {
  index: number;
  term: number;
  total: number;
  /** Next byte to send. */
  sent: number;
  /** Bytes the follower has confirmed. */
  acked: number;
  /** `acked` when the last heartbeat went out: no movement by the reply means a lost chunk. */
  ackedAtBeat: number;
  /** The last chunk has gone out; nothing more to send unless a loss makes us rewind. */
  doneSent: boolean;
}

/**
 * Probe: one MsgApp per heartbeat until the follower's match is found. Replicate: pipelined MsgApp,
 * `next` advanced optimistically, capped by inflights. Snapshot: a snapshot is streaming; no MsgApp.
 */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'StateProbe';
  /** StateSnapshot: the snapshot index being sent. */
  pendingSnapshot = 0;
  snapshotTransfer: SnapshotTransfer | undefined;
  /** Heard from within the last election timeout (for CheckQuorum). */
  recentActive = false;
  /** Highest commit index sent to this follower (it may not have arrived). */
  sentCommit = 0;
  /** StateProbe: a MsgApp is out; wait for its reply or the next heartbeat. */
  msgAppFlowPaused = false;
  readonly inflights: Inflights;
  isLearner: boolean;

  constructor(opts: { next: number; maxInflight: number; maxInflightBytes: number; isLearner: boolean }) {
    this.next = opts.next;
    this.inflights = new Inflights(opts.maxInflight, opts.maxInflightBytes);
    this.isLearner = opts.isLearner;
  }

  #resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.snapshotTransfer = undefined;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot the follower is at least at the snapshot, whether or not it said so yet.
    if (this.state === 'StateSnapshot') {
      const pending = this.pendingSnapshot;
      this.#resetState('StateProbe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.#resetState('StateProbe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.#resetState('StateReplicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(transfer: SnapshotTransfer): void {
    this.#resetState('StateSnapshot');
    this.pendingSnapshot = transfer.index;
    this.snapshotTransfer = transfer;
    this.next = transfer.index + 1;
  }

  /** Records a MsgApp sent with `entries` entries of `bytes` total size. */
  sentEntries(entries: number, bytes: number): void {
    switch (this.state) {
      case 'StateReplicate':
        if (entries > 0) {
          this.next += entries;
          this.inflights.add(this.next - 1, bytes);
        }
        this.msgAppFlowPaused = this.inflights.full();
        break;
      case 'StateProbe':
        this.msgAppFlowPaused = true;
        break;
      case 'StateSnapshot':
        invariant(false, () => `sending append in unhandled state ${this.state}`);
    }
  }

  /** Records that a message told the follower the commit index is `commit`. */
  noteSentCommit(commit: number): void {
    if (commit > this.sentCommit) this.sentCommit = commit;
  }

  /** Whether an empty MsgApp would tell the follower a commit index it has not been sent yet. */
  canBumpCommit(committed: number): boolean {
    return this.state !== 'StateSnapshot' && this.sentCommit < Math.min(committed, this.next - 1);
  }

  /** The follower acknowledged index n; returns whether match moved. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.msgAppFlowPaused = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /**
   * The follower rejected a MsgApp at index `rejected`, hinting it may match at `matchHint`.
   * Returns false for a stale rejection (the log was already moved past it).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'StateReplicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'StateProbe':
        return this.msgAppFlowPaused;
      case 'StateReplicate':
        return this.inflights.full();
      case 'StateSnapshot':
        return true;
    }
  }

  toString(): string {
    let s = `${this.state} match=${this.match} next=${this.next}`;
    if (this.isLearner) s += ' learner';
    if (this.isPaused()) s += ' paused';
    if (this.state === 'StateSnapshot') {
      s += ` pendingSnap=${this.pendingSnapshot}`;
      const t = this.snapshotTransfer;
      if (t !== undefined) s += ` sent=${t.sent}/${t.total} acked=${t.acked}`;
    }
    if (!this.recentActive) s += ' inactive';
    const n = this.inflights.count();
    if (n > 0) s += ` inflight=${n}${this.inflights.full() ? '[full]' : ''}`;
    return s;
  }
}

export type VoteResult = 'VotePending' | 'VoteLost' | 'VoteWon';

/**
 * The membership (voters and learners; no joint consensus: changes are one at a time) plus a
 * Progress per member and the votes of the current election.
 */
export class ProgressTracker {
  voters = new Set<NodeId>();
  learners = new Set<NodeId>();
  progress = new Map<NodeId, Progress>();
  votes = new Map<NodeId, boolean>();
  readonly maxInflight: number;
  readonly maxInflightBytes: number;

  constructor(maxInflight: number, maxInflightBytes: number) {
    this.maxInflight = maxInflight;
    this.maxInflightBytes = maxInflightBytes;
  }

  confState(): ConfState {
    return { voters: sortedIds(this.voters), learners: sortedIds(this.learners) };
  }

  isSingleton(): boolean {
    return this.voters.size === 1;
  }

  /** Ids of all members, sorted, for deterministic iteration. */
  ids(): NodeId[] {
    return sortedIds(this.progress.keys());
  }

  /** The largest index a quorum of voters has (0 with no voters: nothing can commit). */
  committed(): number {
    const matches: number[] = [];
    for (const id of this.voters) matches.push(this.progress.get(id)?.match ?? 0);
    if (matches.length === 0) return 0;
    matches.sort((a, b) => b - a);
    return matches[Math.floor(matches.length / 2)]!;
  }

  quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  resetVotes(): void {
    this.votes.clear();
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    const q = this.quorum();
    const result: VoteResult =
      granted >= q ? 'VoteWon' : this.voters.size - rejected < q ? 'VoteLost' : 'VotePending';
    return { granted, rejected, result };
  }

  /** Whether a quorum of voters has been recently active (the leader counts itself active). */
  quorumActive(self: NodeId): boolean {
    let active = 0;
    for (const id of this.voters) {
      if (id === self || this.progress.get(id)?.recentActive === true) active++;
    }
    return active >= this.quorum();
  }
}

export function sortedIds(ids: Iterable<NodeId>): NodeId[] {
  return [...ids].sort((a, b) => a - b);
}
