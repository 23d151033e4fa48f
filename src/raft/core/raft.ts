// The Raft state machine: one step function per role, time counted in ticks, no I/O. Messages to
// send and reads that completed accumulate here; RawNode hands them to the driver in a Ready.
import { applyToConfState, decodeConfChange, describeConfChange, describeConfState } from './confchange.js';
import type { ConfChange } from './confchange.js';
import { describeMessageType } from './describe.js';
import { RaftLog } from './log.js';
import { Progress, ProgressTracker, sortedIds } from './progress.js';
import type { VoteResult } from './progress.js';
import { ReadOnly } from './readonly.js';
import type { Storage } from './storage.js';
import {
  bytesEqual,
  CAMPAIGN_TRANSFER,
  entrySize,
  invariant,
  message,
  NONE,
  RaftError,
  RaftInvariantError,
  SILENT_LOGGER,
} from './types.js';
import type {
  ConfState,
  Entry,
  HardState,
  Logger,
  Message,
  MessageType,
  NodeId,
  ReadState,
  Snapshot,
  SoftState,
  StateType,
} from './types.js';

export interface RaftConfig {
  /** This member's id; never 0. */
  id: NodeId;
  storage: Storage;
  /**
   * Ticks without hearing from a leader before a follower campaigns. The real timeout is drawn from
   * [electionTick, electionTick + electionJitterTick) with `rand`, so that candidates rarely collide.
   */
  electionTick: number;
  /**
   * Width of the random part of the election timeout, in ticks. Default electionTick (Raft's
   * [T, 2T)). A narrower one shortens the worst-case failover; the pre-vote rules below keep
   * near-simultaneous candidates from splitting the vote.
   */
  electionJitterTick?: number;
  /** Ticks between a leader's heartbeats; must be less than electionTick. */
  heartbeatTick: number;
  /** A number in [0, 1). Inject a seeded generator: the core never calls Math.random. */
  rand: () => number;
  /** The last index the application applied before a restart; committed entries after it are redelivered. */
  applied?: number;
  /** Byte cap on the entries of one MsgApp (a single larger entry still goes alone). Default 1 MiB. */
  maxSizePerMsg?: number;
  /** Byte cap on committedEntries in one Ready. Default 16 MiB. */
  maxCommittedSizePerReady?: number;
  /** Byte cap on the payloads a leader holds uncommitted; proposals past it are dropped. Default none. */
  maxUncommittedEntriesSize?: number;
  /** MsgApp (and snapshot chunks) a leader keeps in flight to one follower. Default 256. */
  maxInflightMsgs?: number;
  /** Byte cap on MsgApp in flight to one follower. Default none. */
  maxInflightBytes?: number;
  /** Snapshot data goes to followers in chunks of at most this many bytes. Default 1 MiB. */
  snapshotChunkBytes?: number;
  /** Ask for a pre-vote first, so a partitioned member rejoining does not bump everyone's term. */
  preVote?: boolean;
  /** A leader steps down when it has not heard from a quorum for an election timeout, and followers ignore votes while they hear from a leader. */
  checkQuorum?: boolean;
  /**
   * When an acknowledgement moves the commit index, followers learn it from the next MsgApp or at
   * the leader's next tick, not from an empty MsgApp sent at once. Under sequential load the next
   * entry's MsgApp carries it anyway, so this halves the messages (and the followers' Readies) per
   * entry; a follower's applied state then lags the leader's by up to one tick more.
   */
  lazyCommitBroadcast?: boolean;
  logger?: Logger;
}

const MiB = 1024 * 1024;

type CampaignType = 'PreElection' | 'Election' | 'Transfer';

interface SnapshotAssembly {
  from: NodeId;
  term: number;
  index: number;
  snapTerm: number;
  total: number;
  buf: Uint8Array;
  received: number;
}

function voteRespType(t: MessageType): MessageType {
  if (t === 'MsgVote') return 'MsgVoteResp';
  if (t === 'MsgPreVote') return 'MsgPreVoteResp';
  throw new RaftInvariantError(`not a vote message: ${t}`);
}

function payloadSize(ents: Entry[]): number {
  let s = 0;
  for (const e of ents) s += e.data.byteLength;
  return s;
}

function entriesSize(ents: Entry[]): number {
  let s = 0;
  for (const e of ents) s += entrySize(e);
  return s;
}

export class Raft {
  readonly id: NodeId;
  readonly raftLog: RaftLog;
  readonly tracker: ProgressTracker;
  readonly logger: Logger;

  #term = 0;
  #vote: NodeId = NONE;
  #lead: NodeId = NONE;
  #state: StateType = 'StateFollower';
  #isLearner = false;
  #leadTransferee: NodeId = NONE;
  /** Index of the newest conf change that may not be applied yet; none may be proposed until it is. */
  #pendingConfIndex = 0;
  #uncommittedSize = 0;
  #readOnly = new ReadOnly();
  #pendingReadIndexMessages: Message[] = [];
  #snapAssembly: SnapshotAssembly | undefined;

  #msgs: Message[] = [];
  #readStates: ReadState[] = [];

  #electionElapsed = 0;
  #heartbeatElapsed = 0;
  readonly #electionTimeout: number;
  readonly #electionJitter: number;
  readonly #heartbeatTimeout: number;
  #randomizedElectionTimeout = 0;
  /** This member put its own campaign off once for a pre-candidate since it last heard a leader. */
  #yielded = false;
  readonly #rand: () => number;

  readonly #checkQuorum: boolean;
  readonly #lazyCommitBroadcast: boolean;
  /** The commit index moved and some follower has not been sent it yet (lazyCommitBroadcast). */
  #commitBroadcastDue = false;
  readonly #preVote: boolean;
  readonly #maxMsgSize: number;
  readonly #maxUncommittedSize: number;
  readonly #snapshotChunkBytes: number;
  readonly #maxInflight: number;
  readonly maxCommittedSizePerReady: number;

  #stepFn: (m: Message) => void;

  constructor(c: RaftConfig) {
    invariant(
      Number.isSafeInteger(c.id) && c.id > 0,
      () => `raft id must be a positive integer, got ${c.id}`,
    );
    invariant(c.heartbeatTick > 0, () => 'heartbeatTick must be greater than 0');
    invariant(c.electionTick > c.heartbeatTick, () => 'electionTick must be greater than heartbeatTick');
    this.id = c.id;
    this.logger = c.logger ?? SILENT_LOGGER;
    this.#electionTimeout = c.electionTick;
    this.#electionJitter = c.electionJitterTick ?? c.electionTick;
    invariant(
      Number.isSafeInteger(this.#electionJitter) && this.#electionJitter > 0,
      () => 'electionJitterTick must be a positive integer',
    );
    this.#heartbeatTimeout = c.heartbeatTick;
    this.#rand = c.rand;
    this.#checkQuorum = c.checkQuorum ?? false;
    this.#lazyCommitBroadcast = c.lazyCommitBroadcast ?? false;
    this.#preVote = c.preVote ?? false;
    this.#maxMsgSize = c.maxSizePerMsg ?? MiB;
    this.maxCommittedSizePerReady = c.maxCommittedSizePerReady ?? 16 * MiB;
    this.#maxUncommittedSize = c.maxUncommittedEntriesSize ?? Infinity;
    this.#snapshotChunkBytes = c.snapshotChunkBytes ?? MiB;
    invariant(this.#snapshotChunkBytes > 0, () => 'snapshotChunkBytes must be positive');
    this.#maxInflight = c.maxInflightMsgs ?? 256;
    const log = this.logger;
    this.raftLog = new RaftLog(c.storage, {
      debug: (m) => log.debug(`${c.id} ${m}`),
      info: (m) => log.info(`${c.id} ${m}`),
      warn: (m) => log.warn(`${c.id} ${m}`),
    });
    this.tracker = new ProgressTracker(this.#maxInflight, c.maxInflightBytes ?? Infinity);
    this.#stepFn = this.#stepFollower;

    const { hardState, confState } = c.storage.initialState();
    this.#applyConfState(confState);
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) this.#loadState(hardState);
    if (c.applied !== undefined && c.applied > 0) this.raftLog.appliedTo(c.applied);
    this.becomeFollower(this.#term, NONE);
    this.#info(
      `newRaft ${this.id} [peers: [${sortedIds(this.tracker.voters).join(',')}], term: ${this.#term}, commit: ${this.raftLog.committed}, applied: ${this.raftLog.applied}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}]`,
    );
  }

  get term(): number {
    return this.#term;
  }
  get vote(): NodeId {
    return this.#vote;
  }
  get lead(): NodeId {
    return this.#lead;
  }
  get state(): StateType {
    return this.#state;
  }
  get isLearner(): boolean {
    return this.#isLearner;
  }
  get leadTransferee(): NodeId {
    return this.#leadTransferee;
  }
  get pendingConfIndex(): number {
    return this.#pendingConfIndex;
  }

  softState(): SoftState {
    return { lead: this.#lead, state: this.#state };
  }

  hardState(): HardState {
    return { term: this.#term, vote: this.#vote, commit: this.raftLog.committed };
  }

  hasPendingWork(): boolean {
    return this.#msgs.length > 0 || this.#readStates.length > 0;
  }

  takeMessages(): Message[] {
    const m = this.#msgs;
    this.#msgs = [];
    return m;
  }

  takeReadStates(): ReadState[] {
    const r = this.#readStates;
    this.#readStates = [];
    return r;
  }

  #info(msg: string): void {
    this.logger.info(`${this.id} ${msg}`);
  }
  #debug(msg: string): void {
    this.logger.debug(`${this.id} ${msg}`);
  }
  #warn(msg: string): void {
    this.logger.warn(`${this.id} ${msg}`);
  }

  #loadState(hs: HardState): void {
    invariant(
      hs.commit >= this.raftLog.committed && hs.commit <= this.raftLog.lastIndex(),
      () =>
        `${this.id} state.commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
    );
    this.raftLog.committed = hs.commit;
    this.#term = hs.term;
    this.#vote = hs.vote;
  }

  // ---- sending ----

  #send(m: Message): void {
    if (m.from === NONE) m.from = this.id;
    if (
      m.type === 'MsgVote' ||
      m.type === 'MsgVoteResp' ||
      m.type === 'MsgPreVote' ||
      m.type === 'MsgPreVoteResp'
    ) {
      // Votes carry the term they are for, which is not ours for pre-votes.
      invariant(m.term !== 0, () => `term should be set when sending ${m.type}`);
    } else {
      invariant(m.term === 0, () => `term should not be set when sending ${m.type} (was ${m.term})`);
      // Proposals and forwarded reads are local to the receiver's term.
      if (m.type !== 'MsgProp' && m.type !== 'MsgReadIndex') m.term = this.#term;
    }
    this.#msgs.push(m);
  }

  /** Sends entries (or an empty probe/commit update) to `to`; returns whether a message went out. */
  #maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.tracker.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    let prevTerm: number;
    let ents: Entry[];
    try {
      prevTerm = this.raftLog.term(prevIndex);
      ents = this.raftLog.entriesFrom(pr.next, this.#maxMsgSize);
    } catch (e) {
      if (e instanceof RaftError && e.code === 'Compacted') return this.#maybeSendSnapshot(to, pr);
      throw e;
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.#send(
      message({
        type: 'MsgApp',
        to,
        index: prevIndex,
        logTerm: prevTerm,
        entries: ents,
        commit: this.raftLog.committed,
      }),
    );
    pr.sentEntries(ents.length, entriesSize(ents));
    pr.noteSentCommit(this.raftLog.committed);
    return true;
  }

  #sendAppend(to: NodeId): void {
    this.#maybeSendAppend(to, true);
  }

  #maybeSendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) {
      this.#debug(`ignore sending snapshot to ${to} since it is not recently active`);
      return false;
    }
    const snap = this.raftLog.snapshot();
    invariant(snap.metadata.index > 0, () => 'need a non-empty snapshot: entries were compacted without one');
    const { index, term } = snap.metadata;
    this.#info(
      `[firstindex: ${this.raftLog.firstIndex()}, commit: ${this.raftLog.committed}] sent snapshot[index: ${index}, term: ${term}] to ${to} [${pr.toString()}]`,
    );
    pr.becomeSnapshot({
      index,
      term,
      total: snap.data.byteLength,
      sent: 0,
      acked: 0,
      ackedAtBeat: 0,
      doneSent: false,
    });
    this.#sendSnapshotChunks(to, pr, snap);
    return true;
  }

  /** Streams chunks of the snapshot while the window (maxInflightMsgs chunks) has room. */
  #sendSnapshotChunks(to: NodeId, pr: Progress, snap: Snapshot = this.raftLog.snapshot()): void {
    const t = pr.snapshotTransfer;
    if (t === undefined) return;
    if (snap.metadata.index !== t.index || snap.metadata.term !== t.term) {
      // Compacted again mid-transfer: the old snapshot is gone, so start over with the new one.
      invariant(
        snap.metadata.index > t.index,
        () => `snapshot went back from ${t.index} to ${snap.metadata.index}`,
      );
      this.#info(`restarting snapshot transfer to ${to} with newer snapshot ${snap.metadata.index}`);
      pr.becomeSnapshot({
        index: snap.metadata.index,
        term: snap.metadata.term,
        total: snap.data.byteLength,
        sent: 0,
        acked: 0,
        ackedAtBeat: 0,
        doneSent: false,
      });
      this.#sendSnapshotChunks(to, pr, snap);
      return;
    }
    const window = this.#maxInflight * this.#snapshotChunkBytes;
    while (!t.doneSent && t.sent - t.acked < window) {
      const len = Math.min(this.#snapshotChunkBytes, t.total - t.sent);
      const done = t.sent + len === t.total;
      this.#send(
        message({
          type: 'MsgSnap',
          to,
          snapshot: snap.metadata,
          chunk: { offset: t.sent, total: t.total, done, data: snap.data.subarray(t.sent, t.sent + len) },
        }),
      );
      t.sent += len;
      t.doneSent = done;
    }
  }

  #sendHeartbeat(to: NodeId, ctx: Uint8Array | undefined): void {
    const pr = this.tracker.progress.get(to);
    if (pr === undefined) return;
    // Never tell a follower to commit past what it is known to have.
    const commit = Math.min(pr.match, this.raftLog.committed);
    const m = message({ type: 'MsgHeartbeat', to, commit });
    if (ctx !== undefined) m.context = ctx;
    this.#send(m);
    pr.noteSentCommit(commit);
    if (pr.snapshotTransfer !== undefined) pr.snapshotTransfer.ackedAtBeat = pr.snapshotTransfer.acked;
  }

  #bcastAppend(): void {
    for (const id of this.tracker.ids()) if (id !== this.id) this.#sendAppend(id);
  }

  #bcastHeartbeat(): void {
    this.#bcastHeartbeatWithCtx(this.#readOnly.lastPendingRequestCtx());
  }

  #bcastHeartbeatWithCtx(ctx: Uint8Array | undefined): void {
    for (const id of this.tracker.ids()) if (id !== this.id) this.#sendHeartbeat(id, ctx);
  }

  #sendTimeoutNow(to: NodeId): void {
    this.#send(message({ type: 'MsgTimeoutNow', to }));
  }

  // ---- log ----

  #maybeCommit(): boolean {
    return this.raftLog.maybeCommit(this.tracker.committed(), this.#term);
  }

  #appendEntry(es: Entry[]): boolean {
    const li = this.raftLog.lastIndex();
    const ents = es.map((e, i) => ({ ...e, term: this.#term, index: li + 1 + i }));
    const size = payloadSize(ents);
    if (this.#uncommittedSize > 0 && size > 0 && this.#uncommittedSize + size > this.#maxUncommittedSize) {
      this.#debug(
        `appending new entries to log would exceed uncommitted entry size limit; dropping proposal`,
      );
      return false;
    }
    this.#uncommittedSize += size;
    const last = this.raftLog.append(ents);
    // The leader counts its own copy now: the driver persists this Ready before sending anything,
    // so no follower hears of a commit before the leader's copy is durable.
    this.tracker.progress.get(this.id)?.maybeUpdate(last);
    this.#maybeCommit();
    return true;
  }

  /** Committed entries were applied: they no longer count against the uncommitted budget. */
  reduceUncommittedSize(ents: Entry[]): void {
    if (this.#uncommittedSize === 0) return;
    this.#uncommittedSize = Math.max(0, this.#uncommittedSize - payloadSize(ents));
  }

  #committedEntryInCurrentTerm(): boolean {
    return this.raftLog.zeroTermOnCompacted(this.raftLog.committed) === this.#term;
  }

  // ---- roles ----

  #reset(term: number): void {
    if (this.#term !== term) {
      this.#term = term;
      this.#vote = NONE;
      this.#yielded = false;
    }
    this.#lead = NONE;
    this.#electionElapsed = 0;
    this.#heartbeatElapsed = 0;
    this.#resetRandomizedElectionTimeout();
    this.#abortLeaderTransfer();
    this.tracker.resetVotes();
    const last = this.raftLog.lastIndex();
    for (const [id, old] of this.tracker.progress) {
      const pr = new Progress({
        next: last + 1,
        maxInflight: this.tracker.maxInflight,
        maxInflightBytes: this.tracker.maxInflightBytes,
        isLearner: old.isLearner,
      });
      if (id === this.id) pr.match = last;
      this.tracker.progress.set(id, pr);
    }
    this.#pendingConfIndex = 0;
    this.#uncommittedSize = 0;
    this.#commitBroadcastDue = false;
    this.#readOnly = new ReadOnly();
    this.#pendingReadIndexMessages = [];
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.#stepFn = this.#stepFollower;
    this.#reset(term);
    this.#lead = lead;
    this.#state = 'StateFollower';
    this.#info(`became follower at term ${this.#term}`);
  }

  #becomeCandidate(): void {
    invariant(this.#state !== 'StateLeader', () => 'invalid transition [leader -> candidate]');
    this.#stepFn = this.#stepCandidate;
    this.#reset(this.#term + 1);
    this.#vote = this.id;
    this.#state = 'StateCandidate';
    this.#info(`became candidate at term ${this.#term}`);
  }

  #becomePreCandidate(): void {
    invariant(this.#state !== 'StateLeader', () => 'invalid transition [leader -> pre-candidate]');
    // A pre-candidate keeps its term and vote: nothing changes unless it wins the pre-vote.
    this.#stepFn = this.#stepCandidate;
    this.tracker.resetVotes();
    this.#lead = NONE;
    this.#state = 'StatePreCandidate';
    this.#info(`became pre-candidate at term ${this.#term}`);
  }

  #becomeLeader(): void {
    invariant(this.#state !== 'StateFollower', () => 'invalid transition [follower -> leader]');
    this.#stepFn = this.#stepLeader;
    this.#reset(this.#term);
    this.#lead = this.id;
    this.#state = 'StateLeader';
    const self = this.tracker.progress.get(this.id);
    invariant(self !== undefined, () => `${this.id} became leader without being a member`);
    self.becomeReplicate();
    self.recentActive = true;
    // Any conf change in the log may be unapplied; allow no new one until our empty entry applies.
    this.#pendingConfIndex = this.raftLog.lastIndex();
    // Only entries of the current term commit by counting replicas (§5.4.2): this empty entry
    // lets the new leader commit everything before it.
    const ok = this.#appendEntry([{ term: 0, index: 0, type: 'EntryNormal', data: new Uint8Array(0) }]);
    invariant(ok, () => 'empty entry was dropped');
    this.#info(`became leader at term ${this.#term}`);
  }

  #resetRandomizedElectionTimeout(): void {
    const r = this.#rand();
    invariant(r >= 0 && r < 1, () => `rand() must return a number in [0, 1), got ${r}`);
    this.#randomizedElectionTimeout = this.#electionTimeout + Math.floor(r * this.#electionJitter);
  }

  /**
   * We granted a pre-vote: the sender found the leader gone first, so let it finish its election
   * instead of starting a rival one that splits the vote (which costs a whole extra timeout).
   * A pre-candidate gives up its own pre-campaign; a follower pushes its timeout back, keeping
   * its elapsed time past the lease so the sender's real vote request is granted. Once per
   * leader or term: a sender that never wins cannot hold this member off for long.
   */
  #yieldToPreCandidate(): void {
    if (this.#yielded) return;
    this.#yielded = true;
    if (this.#state === 'StatePreCandidate') {
      this.becomeFollower(this.#term, NONE);
      return;
    }
    const wait = Math.ceil(this.#electionTimeout / 2) + Math.floor(this.#rand() * this.#electionJitter);
    this.#randomizedElectionTimeout = Math.max(this.#randomizedElectionTimeout, this.#electionElapsed + wait);
  }

  #pastElectionTimeout(): boolean {
    return this.#electionElapsed >= this.#randomizedElectionTimeout;
  }

  #heardLeader(lead: NodeId): void {
    this.#electionElapsed = 0;
    this.#lead = lead;
    this.#yielded = false;
  }

  /** Whether this member may campaign: a voter, with no snapshot waiting to be applied. */
  #promotable(): boolean {
    return this.tracker.voters.has(this.id) && !this.raftLog.hasPendingSnapshot();
  }

  #abortLeaderTransfer(): void {
    this.#leadTransferee = NONE;
  }

  // ---- time ----

  tick(): void {
    if (this.#state === 'StateLeader') this.#tickHeartbeat();
    else this.#tickElection();
  }

  #tickElection(): void {
    this.#electionElapsed++;
    if (this.#promotable() && this.#pastElectionTimeout()) {
      this.#electionElapsed = 0;
      this.step(message({ type: 'MsgHup', from: this.id }));
    }
  }

  #tickHeartbeat(): void {
    this.#heartbeatElapsed++;
    this.#electionElapsed++;
    if (this.#electionElapsed >= this.#electionTimeout) {
      this.#electionElapsed = 0;
      if (this.#checkQuorum) this.step(message({ type: 'MsgCheckQuorum', from: this.id }));
      // A transfer that has not finished within an election timeout is abandoned.
      if (this.#state === 'StateLeader' && this.#leadTransferee !== NONE) this.#abortLeaderTransfer();
    }
    if (this.#state !== 'StateLeader') return;
    if (this.#commitBroadcastDue) {
      this.#commitBroadcastDue = false;
      const committed = this.raftLog.committed;
      for (const [id, pr] of this.tracker.progress)
        if (id !== this.id && pr.canBumpCommit(committed)) this.#sendAppend(id);
    }
    if (this.#heartbeatElapsed >= this.#heartbeatTimeout) {
      this.#heartbeatElapsed = 0;
      this.step(message({ type: 'MsgBeat', from: this.id }));
    }
  }

  // ---- elections ----

  #hasUnappliedConfChanges(): boolean {
    if (this.raftLog.applied >= this.raftLog.committed) return false;
    const lo = Math.max(this.raftLog.applied + 1, this.raftLog.firstIndex());
    const ents = this.raftLog.slice(lo, this.raftLog.committed + 1, Infinity);
    return ents.some((e) => e.type === 'EntryConfChange');
  }

  #hup(t: CampaignType): void {
    if (this.#state === 'StateLeader') {
      this.#debug('ignoring MsgHup because already leader');
      return;
    }
    if (!this.#promotable()) {
      this.#warn('is unpromotable and can not campaign');
      return;
    }
    if (this.#hasUnappliedConfChanges()) {
      this.#warn(
        `cannot campaign at term ${this.#term} since there are still pending configuration changes to apply`,
      );
      return;
    }
    this.#info(`is starting a new election at term ${this.#term}`);
    this.#campaign(t);
  }

  #campaign(t: CampaignType): void {
    let voteMsg: MessageType;
    let term: number;
    if (t === 'PreElection') {
      this.#becomePreCandidate();
      voteMsg = 'MsgPreVote';
      // Pre-votes are for the term we would take, without taking it yet.
      term = this.#term + 1;
    } else {
      this.#becomeCandidate();
      voteMsg = 'MsgVote';
      term = this.#term;
    }
    const { result } = this.#poll(this.id, voteRespType(voteMsg), true);
    if (result === 'VoteWon') {
      // A single voter wins at once.
      if (t === 'PreElection') this.#campaign('Election');
      else this.#becomeLeader();
      return;
    }
    for (const id of sortedIds(this.tracker.voters)) {
      if (id === this.id) continue;
      this.#info(
        `[logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}] sent ${voteMsg} request to ${id} at term ${term}`,
      );
      const m = message({
        type: voteMsg,
        to: id,
        term,
        index: this.raftLog.lastIndex(),
        logTerm: this.raftLog.lastTerm(),
      });
      if (t === 'Transfer') m.context = CAMPAIGN_TRANSFER;
      this.#send(m);
    }
  }

  #poll(
    id: NodeId,
    t: MessageType,
    granted: boolean,
  ): { granted: number; rejected: number; result: VoteResult } {
    if (granted) this.#info(`received ${describeMessageType(t)} from ${id} at term ${this.#term}`);
    else this.#info(`received ${describeMessageType(t)} rejection from ${id} at term ${this.#term}`);
    this.tracker.recordVote(id, granted);
    return this.tracker.tallyVotes();
  }

  // ---- stepping ----

  step(m: Message): void {
    if (m.term === 0) {
      // local message
    } else if (m.term > this.#term) {
      if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
        const force = bytesEqual(m.context, CAMPAIGN_TRANSFER);
        const inLease =
          this.#checkQuorum && this.#lead !== NONE && this.#electionElapsed < this.#electionTimeout;
        if (!force && inLease) {
          // We heard from a leader within the minimum election timeout: the sender is likely
          // partitioned or out of date, and must not disrupt a healthy leader.
          this.#info(
            `[logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${this.#vote}] ignored ${m.type} from ${m.from} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.#term}: lease is not expired (remaining ticks: ${this.#electionTimeout - this.#electionElapsed})`,
          );
          return;
        }
      }
      if (m.type === 'MsgPreVote') {
        // A pre-vote never changes our term.
      } else if (m.type === 'MsgPreVoteResp' && !m.reject) {
        // We bump our term when we win the pre-vote, not on each grant.
      } else {
        this.#info(
          `[term: ${this.#term}] received a ${m.type} message with higher term from ${m.from} [term: ${m.term}]`,
        );
        if (m.type === 'MsgApp' || m.type === 'MsgHeartbeat' || m.type === 'MsgSnap') {
          this.becomeFollower(m.term, m.from);
        } else {
          this.becomeFollower(m.term, NONE);
        }
      }
    } else if (m.term < this.#term) {
      if ((this.#checkQuorum || this.#preVote) && (m.type === 'MsgHeartbeat' || m.type === 'MsgApp')) {
        // A stale leader (partitioned while we moved on) learns our term from this and steps down.
        // Without it, a node that cannot win pre-votes could be stuck with a stale leader forever.
        this.#send(message({ type: 'MsgAppResp', to: m.from }));
      } else if (m.type === 'MsgPreVote') {
        this.#info(
          `[logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${this.#vote}] rejected ${m.type} from ${m.from} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.#term}`,
        );
        this.#send(message({ type: 'MsgPreVoteResp', to: m.from, term: this.#term, reject: true }));
      } else {
        this.#info(
          `[term: ${this.#term}] ignored a ${m.type} message with lower term from ${m.from} [term: ${m.term}]`,
        );
      }
      return;
    }

    if (m.type === 'MsgHup') {
      this.#hup(this.#preVote ? 'PreElection' : 'Election');
      return;
    }
    if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
      // We can vote for the same candidate again (a repeated request), or for anyone when we
      // have neither voted nor heard of a leader this term; pre-votes for a later term are free.
      const canVote =
        this.#vote === m.from ||
        (this.#vote === NONE && this.#lead === NONE) ||
        (m.type === 'MsgPreVote' && m.term > this.#term);
      // Two pre-candidates for the same term would grant each other and then split the real
      // vote. With logs alike, the higher ID goes on and the lower one yields to it.
      const rival =
        m.type === 'MsgPreVote' &&
        this.#state === 'StatePreCandidate' &&
        m.term === this.#term + 1 &&
        m.logTerm === this.raftLog.lastTerm() &&
        m.index === this.raftLog.lastIndex() &&
        m.from < this.id;
      const desc = `[logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${this.#vote}]`;
      if (canVote && !rival && this.raftLog.isUpToDate(m.index, m.logTerm)) {
        this.#info(
          `${desc} cast ${m.type} for ${m.from} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.#term}`,
        );
        // The reply carries the candidate's term, which for a pre-vote is not ours.
        this.#send(message({ type: voteRespType(m.type), to: m.from, term: m.term }));
        if (m.type === 'MsgVote') {
          this.#electionElapsed = 0;
          this.#vote = m.from;
        } else {
          this.#yieldToPreCandidate();
        }
      } else {
        this.#info(
          `${desc} rejected ${m.type} from ${m.from} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.#term}`,
        );
        this.#send(message({ type: voteRespType(m.type), to: m.from, term: this.#term, reject: true }));
      }
      return;
    }
    this.#stepFn(m);
  }

  readonly #stepLeader = (m: Message): void => {
    switch (m.type) {
      case 'MsgBeat':
        this.#bcastHeartbeat();
        return;
      case 'MsgCheckQuorum':
        if (!this.tracker.quorumActive(this.id)) {
          this.#warn('stepped down to follower since quorum is not active');
          this.becomeFollower(this.#term, NONE);
        }
        // Everyone (but us) must show signs of life again before the next check.
        for (const [id, pr] of this.tracker.progress) if (id !== this.id) pr.recentActive = false;
        return;
      case 'MsgProp':
        this.#leaderPropose(m);
        return;
      case 'MsgReadIndex':
        if (this.tracker.isSingleton()) {
          this.#respondToReadIndex(m, this.raftLog.committed);
          return;
        }
        // Until an entry of our term commits we do not know the true commit index (§6.4), so the
        // read waits for our empty entry.
        if (!this.#committedEntryInCurrentTerm()) {
          this.#pendingReadIndexMessages.push(m);
          return;
        }
        this.#startReadIndex(m);
        return;
      case 'MsgAppResp':
      case 'MsgHeartbeatResp':
      case 'MsgSnapResp':
      case 'MsgUnreachable':
      case 'MsgTransferLeader': {
        const pr = this.tracker.progress.get(m.from);
        if (pr === undefined) {
          this.#debug(`no progress available for ${m.from}`);
          return;
        }
        this.#stepLeaderFromPeer(m, pr);
        return;
      }
      // Votes are handled in step(); a leader of our term is us, so nobody sends us these.
      case 'MsgHup':
      case 'MsgVote':
      case 'MsgPreVote':
      case 'MsgVoteResp':
      case 'MsgPreVoteResp':
      case 'MsgApp':
      case 'MsgHeartbeat':
      case 'MsgSnap':
      case 'MsgTimeoutNow':
      case 'MsgReadIndexResp':
        return;
    }
  };

  #stepLeaderFromPeer(m: Message, pr: Progress): void {
    if (m.type === 'MsgAppResp') this.#handleAppendResponse(m, pr);
    else if (m.type === 'MsgHeartbeatResp') this.#handleHeartbeatResponse(m, pr);
    else if (m.type === 'MsgSnapResp') this.#handleSnapshotChunkResponse(m, pr);
    else if (m.type === 'MsgTransferLeader') this.#handleTransferLeader(m, pr);
    else if (m.type === 'MsgUnreachable') {
      // The transport failed to deliver a MsgApp: it was probably lost, so go back to probing.
      if (pr.state === 'StateReplicate') pr.becomeProbe();
      this.#debug(`failed to send message to ${m.from} because it is unreachable [${pr.toString()}]`);
    }
  }

  #handleSnapshotChunkResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    const t = pr.snapshotTransfer;
    if (pr.state !== 'StateSnapshot' || t === undefined || m.index !== t.index) return;
    const off = m.chunk?.offset ?? 0;
    if (off > t.acked) {
      t.acked = off;
      t.sent = Math.max(t.sent, off);
    } else if (off < t.acked) {
      // The follower lost what it had assembled (a restart, a new leader in between).
      t.acked = off;
      t.sent = off;
      t.doneSent = false;
    }
    this.#sendSnapshotChunks(m.from, pr);
  }

  #leaderPropose(m: Message): void {
    invariant(m.entries.length > 0, () => `${this.id} stepped empty MsgProp`);
    const local = m.from === this.id || m.from === NONE;
    if (!this.tracker.progress.has(this.id)) {
      this.#drop(m, `${this.id} is no longer a member`);
      return;
    }
    if (this.#leadTransferee !== NONE) {
      this.#drop(m, `leadership is moving to ${this.#leadTransferee}; retry on the new leader`);
      return;
    }
    const entries = m.entries.slice();
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.type !== 'EntryConfChange') continue;
      let refused: RaftError | undefined;
      if (this.#pendingConfIndex > this.raftLog.applied) {
        refused = new RaftError(
          'ConfChangePending',
          `a configuration change at index ${this.#pendingConfIndex} is not applied yet (applied ${this.raftLog.applied}); retry after it is`,
        );
      } else {
        try {
          applyToConfState(this.tracker.confState(), decodeConfChange(e.data));
        } catch (err) {
          if (!(err instanceof RaftError)) throw err;
          refused = err;
        }
      }
      if (refused !== undefined) {
        if (local) throw refused;
        // A forwarded batch still goes in; the refused change becomes a no-op entry.
        this.#info(
          `ignoring conf change at config ${describeConfState(this.tracker.confState())}: ${refused.message}`,
        );
        entries[i] = { term: 0, index: 0, type: 'EntryNormal', data: new Uint8Array(0) };
      } else {
        this.#pendingConfIndex = this.raftLog.lastIndex() + i + 1;
      }
    }
    if (!this.#appendEntry(entries)) {
      this.#drop(m, 'too many uncommitted entries; retry once the log catches up');
      return;
    }
    this.#bcastAppend();
  }

  #handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      this.#debug(
        `received MsgAppResp(rejected, hint: (index ${m.rejectHint}, term ${m.logTerm})) from ${m.from} for index ${m.index}`,
      );
      // The follower told us its last entry at or below the rejected index whose term is at most
      // the term we sent; skip to our own last entry with a term no higher than the follower's,
      // so one round trip skips a whole divergent term.
      let nextProbeIdx = m.rejectHint;
      if (m.logTerm > 0) nextProbeIdx = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm)[0];
      if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
        this.#debug(`decreased progress of ${m.from} to [${pr.toString()}]`);
        if (pr.state === 'StateReplicate') pr.becomeProbe();
        this.#sendAppend(m.from);
      }
      return;
    }
    if (!(pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === 'StateProbe'))) return;
    switch (pr.state) {
      case 'StateProbe':
        pr.becomeReplicate();
        break;
      case 'StateSnapshot':
        if (pr.match + 1 >= this.raftLog.firstIndex()) {
          this.#debug(
            `recovered from needing snapshot, resumed sending replication messages to ${m.from} [${pr.toString()}]`,
          );
          pr.becomeProbe();
          pr.becomeReplicate();
        }
        break;
      case 'StateReplicate':
        pr.inflights.freeLE(m.index);
        break;
    }
    if (this.#maybeCommit()) {
      this.#releasePendingReadIndexMessages();
      if (this.#lazyCommitBroadcast) this.#commitBroadcastDue = true;
      else this.#bcastAppend();
    } else if (pr.canBumpCommit(this.raftLog.committed)) {
      // The follower has not been told the commit index covering what it now has.
      if (this.#lazyCommitBroadcast) this.#commitBroadcastDue = true;
      else this.#sendAppend(m.from);
    }
    // Pipeline: keep sending while the window has room and there is something to send.
    while (this.#maybeSendAppend(m.from, false)) {
      /* keep going */
    }
    if (m.from === this.#leadTransferee && pr.match === this.raftLog.lastIndex()) {
      this.#info(`sent MsgTimeoutNow to ${m.from} after received MsgAppResp`);
      this.#sendTimeoutNow(m.from);
    }
  }

  #handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.msgAppFlowPaused = false;
    // A full window with the follower alive means appends were lost: let one more through; a gap
    // makes the follower reject it, which sends us back to probing from its match.
    if (pr.state === 'StateReplicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
    const t = pr.snapshotTransfer;
    if (pr.state === 'StateSnapshot' && t !== undefined) {
      // No chunk acknowledged for a whole heartbeat interval: assume loss and resend from the
      // follower's position.
      if ((t.doneSent || t.sent > t.acked) && t.acked === t.ackedAtBeat) {
        t.sent = t.acked;
        t.doneSent = false;
        this.#sendSnapshotChunks(m.from, pr);
      }
    } else if (pr.match < this.raftLog.lastIndex() || pr.state === 'StateProbe') {
      this.#sendAppend(m.from);
    }
    if (m.context === undefined || m.context.byteLength === 0) return;
    const acks = this.#readOnly.recvAck(m.from, m.context);
    if (acks === undefined) return;
    let votes = 0;
    for (const id of acks) if (this.tracker.voters.has(id)) votes++;
    if (votes < this.tracker.quorum()) return;
    for (const rs of this.#readOnly.advance(m.context)) this.#respondToReadIndex(rs.req, rs.index);
  }

  #handleTransferLeader(m: Message, pr: Progress): void {
    if (pr.isLearner) {
      this.#debug(`${m.from} is learner. Ignored transferring leadership`);
      return;
    }
    const transferee = m.from;
    const last = this.#leadTransferee;
    if (last !== NONE) {
      if (last === transferee) {
        this.#info(
          `[term ${this.#term}] transfer leadership to ${transferee} is in progress, ignores request to same node ${transferee}`,
        );
        return;
      }
      this.#abortLeaderTransfer();
      this.#info(`[term ${this.#term}] abort previous transferring leadership to ${last}`);
    }
    if (transferee === this.id) {
      this.#debug(`is already leader. Ignored transferring leadership to self`);
      return;
    }
    this.#info(`[term ${this.#term}] starts to transfer leadership to ${transferee}`);
    // The transfer must finish within an election timeout, counted from here.
    this.#electionElapsed = 0;
    this.#leadTransferee = transferee;
    if (pr.match === this.raftLog.lastIndex()) {
      this.#sendTimeoutNow(transferee);
      this.#info(
        `sends MsgTimeoutNow to ${transferee} immediately as ${transferee} already has up-to-date log`,
      );
    } else {
      this.#sendAppend(transferee);
    }
  }

  #startReadIndex(m: Message): void {
    const ctx = m.context;
    invariant(ctx !== undefined, () => 'MsgReadIndex without a request context');
    this.#readOnly.addRequest(this.raftLog.committed, m, ctx);
    this.#readOnly.recvAck(this.id, ctx);
    this.#bcastHeartbeatWithCtx(ctx);
  }

  #releasePendingReadIndexMessages(): void {
    if (this.#pendingReadIndexMessages.length === 0 || !this.#committedEntryInCurrentTerm()) return;
    const msgs = this.#pendingReadIndexMessages;
    this.#pendingReadIndexMessages = [];
    for (const m of msgs) this.#startReadIndex(m);
  }

  #respondToReadIndex(req: Message, index: number): void {
    const ctx = req.context;
    invariant(ctx !== undefined, () => 'MsgReadIndex without a request context');
    if (req.from === NONE || req.from === this.id) {
      this.#readStates.push({ index, requestCtx: ctx });
      return;
    }
    this.#send(message({ type: 'MsgReadIndexResp', to: req.from, index, context: ctx }));
  }

  readonly #stepCandidate = (m: Message): void => {
    const myVoteRespType: MessageType =
      this.#state === 'StatePreCandidate' ? 'MsgPreVoteResp' : 'MsgVoteResp';
    switch (m.type) {
      case 'MsgProp':
        this.#info(`no leader at term ${this.#term}; dropping proposal`);
        this.#drop(m, 'there is no leader (an election is under way); retry shortly');
        return;
      case 'MsgReadIndex':
        this.#drop(m, 'there is no leader (an election is under way); retry shortly');
        return;
      case 'MsgApp':
        this.becomeFollower(m.term, m.from);
        this.#handleAppendEntries(m);
        return;
      case 'MsgHeartbeat':
        this.becomeFollower(m.term, m.from);
        this.#handleHeartbeat(m);
        return;
      case 'MsgSnap':
        this.becomeFollower(m.term, m.from);
        this.#handleSnapshotChunk(m);
        return;
      case 'MsgTimeoutNow':
        this.#debug(`[term ${this.#term} state ${this.#state}] ignored MsgTimeoutNow from ${m.from}`);
        return;
      case 'MsgVoteResp':
      case 'MsgPreVoteResp':
        // Only the votes of our own kind of election count; stale ones from the other are ignored.
        if (m.type === myVoteRespType) this.#candidateTally(m);
        return;
      // Local to a leader, handled in step(), or answers to a leader: not for a candidate.
      case 'MsgHup':
      case 'MsgBeat':
      case 'MsgCheckQuorum':
      case 'MsgUnreachable':
      case 'MsgTransferLeader':
      case 'MsgVote':
      case 'MsgPreVote':
      case 'MsgAppResp':
      case 'MsgSnapResp':
      case 'MsgHeartbeatResp':
      case 'MsgReadIndexResp':
        return;
    }
  };

  #candidateTally(m: Message): void {
    const { granted, rejected, result } = this.#poll(m.from, m.type, !m.reject);
    this.#info(
      `has received ${granted} ${describeMessageType(m.type)} votes and ${rejected} vote rejections`,
    );
    if (result === 'VoteWon') {
      if (this.#state === 'StatePreCandidate') {
        this.#campaign('Election');
      } else {
        this.#becomeLeader();
        this.#bcastAppend();
      }
    } else if (result === 'VoteLost') {
      // A pre-candidate that loses goes back to its term: pre-votes never changed it.
      this.becomeFollower(this.#term, NONE);
    }
  }

  readonly #stepFollower = (m: Message): void => {
    switch (m.type) {
      case 'MsgProp':
        if (this.#lead === NONE) {
          this.#info(`no leader at term ${this.#term}; dropping proposal`);
          this.#drop(m, 'there is no leader; retry shortly');
          return;
        }
        this.#send({ ...m, to: this.#lead });
        return;
      case 'MsgApp':
        this.#heardLeader(m.from);
        this.#handleAppendEntries(m);
        return;
      case 'MsgHeartbeat':
        this.#heardLeader(m.from);
        this.#handleHeartbeat(m);
        return;
      case 'MsgSnap':
        this.#heardLeader(m.from);
        this.#handleSnapshotChunk(m);
        return;
      case 'MsgTransferLeader':
        if (this.#lead === NONE) {
          this.#info(`no leader at term ${this.#term}; dropping leader transfer msg`);
          return;
        }
        this.#send({ ...m, to: this.#lead, term: 0 });
        return;
      case 'MsgTimeoutNow':
        this.#info(
          `[term ${this.#term}] received MsgTimeoutNow from ${m.from} and starts an election to get leadership`,
        );
        // Leadership transfer never uses pre-vote: the leader asked for it, so it is not disruptive.
        this.#hup('Transfer');
        return;
      case 'MsgReadIndex':
        if (this.#lead === NONE) {
          this.#info(`no leader at term ${this.#term}; dropping index reading msg`);
          this.#drop(m, 'there is no leader to confirm the read; retry shortly');
          return;
        }
        this.#send({ ...m, to: this.#lead });
        return;
      case 'MsgReadIndexResp': {
        const ctx = m.context;
        invariant(ctx !== undefined, () => `MsgReadIndexResp from ${m.from} without a request context`);
        this.#readStates.push({ index: m.index, requestCtx: ctx });
        return;
      }
      // Local to a leader, handled in step(), or answers only a leader or candidate expects.
      case 'MsgHup':
      case 'MsgBeat':
      case 'MsgCheckQuorum':
      case 'MsgUnreachable':
      case 'MsgVote':
      case 'MsgPreVote':
      case 'MsgVoteResp':
      case 'MsgPreVoteResp':
      case 'MsgAppResp':
      case 'MsgSnapResp':
      case 'MsgHeartbeatResp':
        return;
    }
  };

  /**
   * Refuses a proposal or read. The local caller gets a typed error to retry on; one forwarded by a
   * peer is dropped (the peer's caller times out and retries), since a network message must not
   * make step() throw.
   */
  #drop(m: Message, reason: string): void {
    if (m.from === NONE || m.from === this.id) throw new RaftError('ProposalDropped', reason);
    this.#debug(`dropped ${m.type} from ${m.from}: ${reason}`);
  }

  // ---- follower handlers ----

  #handleAppendEntries(m: Message): void {
    if (m.index < this.raftLog.committed) {
      this.#send(message({ type: 'MsgAppResp', to: m.from, index: this.raftLog.committed }));
      return;
    }
    const lastNew = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.#send(message({ type: 'MsgAppResp', to: m.from, index: lastNew }));
      return;
    }
    this.#debug(
      `[logterm: ${this.raftLog.zeroTermOnCompacted(m.index)}, index: ${m.index}] rejected MsgApp [logterm: ${m.logTerm}, index: ${m.index}] from ${m.from}`,
    );
    // Hint the largest index at which we may match: our last entry at or below m.index whose term
    // is at most m.logTerm. The leader jumps straight there instead of probing one by one.
    const [hintIndex, hintTerm] = this.raftLog.findConflictByTerm(
      Math.min(m.index, this.raftLog.lastIndex()),
      m.logTerm,
    );
    this.#send(
      message({
        type: 'MsgAppResp',
        to: m.from,
        index: m.index,
        reject: true,
        rejectHint: hintIndex,
        logTerm: hintTerm,
      }),
    );
  }

  #handleHeartbeat(m: Message): void {
    this.raftLog.commitTo(m.commit);
    const resp = message({ type: 'MsgHeartbeatResp', to: m.from });
    if (m.context !== undefined) resp.context = m.context;
    this.#send(resp);
  }

  /** Assembles chunks in order; out-of-order ones are answered with the offset we expect. */
  #handleSnapshotChunk(m: Message): void {
    const meta = m.snapshot;
    const chunk = m.chunk;
    invariant(
      meta !== undefined && chunk !== undefined,
      () => `MsgSnap from ${m.from} without snapshot or chunk`,
    );
    let a = this.#snapAssembly;
    const same =
      a !== undefined &&
      a.from === m.from &&
      a.term === m.term &&
      a.index === meta.index &&
      a.snapTerm === meta.term &&
      a.total === chunk.total;
    if (a === undefined || !same) {
      if (chunk.offset !== 0) {
        this.#ackSnapshotChunk(m.from, meta.index, chunk.total, 0);
        return;
      }
      a = {
        from: m.from,
        term: m.term,
        index: meta.index,
        snapTerm: meta.term,
        total: chunk.total,
        buf: new Uint8Array(chunk.total),
        received: 0,
      };
      this.#snapAssembly = a;
    }
    if (chunk.offset !== a.received) {
      this.#ackSnapshotChunk(m.from, meta.index, a.total, a.received);
      return;
    }
    invariant(
      chunk.offset + chunk.data.byteLength <= a.total,
      () => `snapshot chunk [${chunk.offset}, +${chunk.data.byteLength}) overruns its total ${a.total}`,
    );
    a.buf.set(chunk.data, chunk.offset);
    a.received += chunk.data.byteLength;
    if (!chunk.done) {
      this.#ackSnapshotChunk(m.from, meta.index, a.total, a.received);
      return;
    }
    invariant(a.received === a.total, () => `last snapshot chunk at ${a.received} of ${a.total} bytes`);
    this.#snapAssembly = undefined;
    this.#handleSnapshot(m.from, { metadata: meta, data: a.buf });
  }

  #ackSnapshotChunk(to: NodeId, index: number, total: number, offset: number): void {
    this.#send(
      message({
        type: 'MsgSnapResp',
        to,
        index,
        chunk: { offset, total, done: false, data: new Uint8Array(0) },
      }),
    );
  }

  #handleSnapshot(from: NodeId, s: Snapshot): void {
    const { index, term } = s.metadata;
    if (this.#restore(s)) {
      this.#info(`[commit: ${this.raftLog.committed}] restored snapshot [index: ${index}, term: ${term}]`);
      this.#send(message({ type: 'MsgAppResp', to: from, index: this.raftLog.lastIndex() }));
    } else {
      this.#info(`[commit: ${this.raftLog.committed}] ignored snapshot [index: ${index}, term: ${term}]`);
      this.#send(message({ type: 'MsgAppResp', to: from, index: this.raftLog.committed }));
    }
  }

  /** Installs a snapshot; false if it brings nothing new (we already committed that far). */
  #restore(s: Snapshot): boolean {
    const { index, term } = s.metadata;
    if (index <= this.raftLog.committed) return false;
    if (this.#state !== 'StateFollower') {
      // Only a leader sends snapshots, and it would have made us a follower first.
      this.#warn('attempted to restore snapshot as leader; should never happen');
      this.becomeFollower(this.#term + 1, NONE);
      return false;
    }
    if (this.raftLog.matchTerm(index, term)) {
      // We already have the entry at the snapshot's index: just move the commit index.
      this.#info(
        `[commit: ${this.raftLog.committed}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}] fast-forwarded commit to snapshot [index: ${index}, term: ${term}]`,
      );
      this.raftLog.commitTo(index);
      return false;
    }
    this.raftLog.restore(s);
    this.#applyConfState(s.metadata.confState);
    return true;
  }

  // ---- membership ----

  /**
   * Applies a committed conf change (the driver calls this as it applies the entry) and returns the
   * new configuration. An invalid change is ignored on every member alike.
   */
  applyConfChange(cc: ConfChange): ConfState {
    let cs: ConfState;
    try {
      cs = applyToConfState(this.tracker.confState(), cc);
    } catch (e) {
      if (e instanceof RaftError && e.code === 'ConfChangeInvalid') {
        this.#warn(`ignoring committed conf change ${describeConfChange(cc)}: ${e.message}`);
        return this.tracker.confState();
      }
      throw e;
    }
    this.#applyConfState(cs);
    if (this.#state !== 'StateLeader') return cs;
    if (!this.tracker.voters.has(this.id)) {
      // Removed or demoted: a leader must be a voter. (Transfer leadership first to avoid the
      // election timeout this causes.)
      this.#info(`stepping down: no longer a voter in ${describeConfState(cs)}`);
      this.becomeFollower(this.#term, NONE);
      return cs;
    }
    if (this.#leadTransferee !== NONE && !this.tracker.voters.has(this.#leadTransferee))
      this.#abortLeaderTransfer();
    // The quorum may have changed: a removal can let entries commit.
    if (this.#maybeCommit()) {
      this.#bcastAppend();
    } else {
      for (const id of this.tracker.ids()) if (id !== this.id) this.#maybeSendAppend(id, false);
    }
    return cs;
  }

  #applyConfState(cs: ConfState): void {
    const voters = new Set(cs.voters);
    const learners = new Set(cs.learners);
    for (const id of learners) invariant(!voters.has(id), () => `${id} is both a voter and a learner`);
    const last = this.raftLog.lastIndex();
    for (const id of [...this.tracker.progress.keys()]) {
      if (!voters.has(id) && !learners.has(id)) this.tracker.progress.delete(id);
    }
    for (const id of [...voters, ...learners]) {
      const pr = this.tracker.progress.get(id);
      if (pr === undefined) {
        // Probe a new member with our last entry at once (rather than wait for the next one).
        const fresh = new Progress({
          next: id === this.id ? last + 1 : Math.max(last, 1),
          maxInflight: this.tracker.maxInflight,
          maxInflightBytes: this.tracker.maxInflightBytes,
          isLearner: learners.has(id),
        });
        // A member just added counts as active, so CheckQuorum does not fire before it could answer.
        fresh.recentActive = true;
        if (id === this.id) fresh.match = last;
        this.tracker.progress.set(id, fresh);
      } else {
        pr.isLearner = learners.has(id);
      }
    }
    this.tracker.voters = voters;
    this.tracker.learners = learners;
    this.#isLearner = learners.has(this.id);
    this.#info(`switched to configuration ${describeConfState(cs)}`);
  }
}
