// The core's public face. The driver loop is:
//   on a timer: tick(); on a message: step(m); on a request: propose()/readIndex()/...
//   while hasReady(): rd = ready(); persist rd.snapshot, rd.entries, rd.hardState (fsync if
//   rd.mustSync); send rd.messages; apply rd.snapshot then rd.committedEntries (calling
//   applyConfChange for conf change entries); serve rd.readStates once applied >= their index;
//   advance().
import { encodeConfChange, describeConfChange } from './confchange.js';
import type { ConfChange } from './confchange.js';
import { Raft } from './raft.js';
import type { RaftConfig } from './raft.js';
import { invariant, LOCAL_MESSAGES, message, RaftError, RESPONSE_MESSAGES } from './types.js';
import type { ConfState, Entry, HardState, Message, NodeId, Ready, SoftState, StateType } from './types.js';
import type { ProgressState } from './progress.js';

export interface ProgressStatus {
  match: number;
  next: number;
  state: ProgressState;
  isLearner: boolean;
  recentActive: boolean;
  paused: boolean;
  inflight: number;
}

export interface Status {
  id: NodeId;
  term: number;
  vote: NodeId;
  commit: number;
  lead: NodeId;
  state: StateType;
  /** The last index the application reported applied (through advance). */
  applied: number;
  /** Last index in the log, and the first one not compacted away. */
  lastIndex: number;
  firstIndex: number;
  leadTransferee: NodeId;
  config: ConfState;
  /** Leader only: where each member's log stands; the driver promotes a learner once it catches up. */
  progress?: Map<NodeId, ProgressStatus>;
}

function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export class RawNode {
  readonly #raft: Raft;
  #prevSoft: SoftState;
  #prevHard: HardState;
  #pending: Ready | undefined;

  constructor(config: RaftConfig) {
    this.#raft = new Raft(config);
    this.#prevSoft = this.#raft.softState();
    this.#prevHard = this.#raft.hardState();
  }

  get id(): NodeId {
    return this.#raft.id;
  }

  /** Advances logical time by one tick (elections, heartbeats, CheckQuorum, transfer timeouts). */
  tick(): void {
    this.#raft.tick();
  }

  /** Starts an election now (with a pre-vote first if configured). */
  campaign(): void {
    this.#raft.step(message({ type: 'MsgHup', from: this.#raft.id }));
  }

  /** Appends data to the log (on the leader; a follower forwards). Throws RaftError 'ProposalDropped' when there is no leader, a transfer is under way or the uncommitted budget is used. */
  propose(data: Uint8Array): void {
    this.#raft.step(
      message({
        type: 'MsgProp',
        from: this.#raft.id,
        entries: [{ term: 0, index: 0, type: 'EntryNormal', data }],
      }),
    );
  }

  /** Proposes one membership change. On the leader, throws 'ConfChangePending' while an earlier one is unapplied. */
  proposeConfChange(cc: ConfChange): void {
    this.#raft.step(
      message({
        type: 'MsgProp',
        from: this.#raft.id,
        entries: [{ term: 0, index: 0, type: 'EntryConfChange', data: encodeConfChange(cc) }],
      }),
    );
  }

  /** Call when applying a committed EntryConfChange; returns the configuration now in force. */
  applyConfChange(cc: ConfChange): ConfState {
    this.#raft.logger.debug(`${this.#raft.id} applying conf change ${describeConfChange(cc)}`);
    return this.#raft.applyConfChange(cc);
  }

  /** Feeds a message from a peer. */
  step(m: Message): void {
    if (LOCAL_MESSAGES.has(m.type)) {
      throw new RaftError('StepLocalMessage', `${m.type} is local and cannot arrive from the network`);
    }
    if (RESPONSE_MESSAGES.has(m.type) && !this.#raft.tracker.progress.has(m.from)) {
      // A reply from a member we no longer know (removed): nothing to update.
      this.#raft.logger.debug(`${this.#raft.id} ignored ${m.type} from unknown member ${m.from}`);
      return;
    }
    this.#raft.step(m);
  }

  /**
   * Requests a linearizable read. ctx must be unique among pending reads; it comes back in a
   * ReadState whose index the application must have applied before serving the read.
   */
  readIndex(ctx: Uint8Array): void {
    invariant(ctx.byteLength > 0, () => 'readIndex needs a non-empty request context');
    this.#raft.step(message({ type: 'MsgReadIndex', context: ctx }));
  }

  /** Asks the leader to hand leadership to `transferee` (a voter), e.g. before it is demoted or removed. */
  transferLeadership(transferee: NodeId): void {
    this.#raft.step(message({ type: 'MsgTransferLeader', from: transferee }));
  }

  /** The transport could not reach `id`: the leader goes back to probing it. */
  reportUnreachable(id: NodeId): void {
    this.#raft.step(message({ type: 'MsgUnreachable', from: id }));
  }

  hasReady(): boolean {
    if (this.#pending !== undefined) return false;
    const r = this.#raft;
    const ss = r.softState();
    if (ss.lead !== this.#prevSoft.lead || ss.state !== this.#prevSoft.state) return true;
    if (!hardStateEqual(r.hardState(), this.#prevHard)) return true;
    if (r.raftLog.hasPendingSnapshot()) return true;
    if (r.hasPendingWork()) return true;
    return r.raftLog.unstable.entries.length > 0 || r.raftLog.hasNextCommittedEnts();
  }

  /** What to persist, send and apply now. Call advance() when done, before the next ready(). */
  ready(): Ready {
    if (this.#pending !== undefined) {
      throw new RaftError('ReadyPending', 'call advance() for the previous Ready before asking for another');
    }
    const r = this.#raft;
    const entries = r.raftLog.unstableEntries();
    const rd: Ready = {
      entries,
      committedEntries: r.raftLog.nextCommittedEnts(r.maxCommittedSizePerReady),
      messages: r.takeMessages(),
      readStates: r.takeReadStates(),
      mustSync: false,
    };
    const ss = r.softState();
    if (ss.lead !== this.#prevSoft.lead || ss.state !== this.#prevSoft.state) {
      rd.softState = ss;
      this.#prevSoft = ss;
    }
    const hs = r.hardState();
    if (!hardStateEqual(hs, this.#prevHard)) {
      rd.mustSync = entries.length > 0 || hs.term !== this.#prevHard.term || hs.vote !== this.#prevHard.vote;
      rd.hardState = hs;
      this.#prevHard = hs;
    } else {
      rd.mustSync = entries.length > 0;
    }
    const snap = r.raftLog.unstable.snapshot;
    if (snap !== undefined) {
      rd.snapshot = snap;
      rd.mustSync = true;
    }
    this.#pending = rd;
    return rd;
  }

  /** The last Ready was persisted, sent and applied. */
  advance(): void {
    const rd = this.#pending;
    invariant(rd !== undefined, () => 'advance() without a Ready');
    const log = this.#raft.raftLog;
    if (rd.snapshot !== undefined) {
      log.stableSnapTo(rd.snapshot.metadata.index);
      log.appliedTo(rd.snapshot.metadata.index);
    }
    const lastEnt = rd.entries[rd.entries.length - 1];
    if (lastEnt !== undefined) log.stableTo(lastEnt.index, lastEnt.term);
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted !== undefined) {
      log.appliedTo(lastCommitted.index);
      this.#raft.reduceUncommittedSize(rd.committedEntries);
    }
    this.#pending = undefined;
  }

  status(): Status {
    const r = this.#raft;
    const st: Status = {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.raftLog.committed,
      lead: r.lead,
      state: r.state,
      applied: r.raftLog.applied,
      lastIndex: r.raftLog.lastIndex(),
      firstIndex: r.raftLog.firstIndex(),
      leadTransferee: r.leadTransferee,
      config: r.tracker.confState(),
    };
    if (r.state === 'StateLeader') {
      const progress = new Map<NodeId, ProgressStatus>();
      for (const id of r.tracker.ids()) {
        const pr = r.tracker.progress.get(id)!;
        progress.set(id, {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          isLearner: pr.isLearner,
          recentActive: pr.recentActive,
          paused: pr.isPaused(),
          inflight: pr.inflights.count(),
        });
      }
      st.progress = progress;
    }
    return st;
  }

  /** Each member's progress as one line, for the interaction tests and debug logs (leader only). */
  describeProgress(): string {
    const r = this.#raft;
    if (r.state !== 'StateLeader') return '';
    return r.tracker
      .ids()
      .map((id) => `${id}: ${r.tracker.progress.get(id)!.toString()}`)
      .join('\n');
  }

  /** The whole log the core can see (stable and unstable), for tests. */
  logEntries(): Entry[] {
    return this.#raft.raftLog.allEntries();
  }
}
