// What a RaftNode is given: its identity, disk, network, clock, the application it drives, and
// the tuning and callbacks of one member.
import type { ConfChange, ConfState, Logger, NodeId, RaftConfig } from '../core/index.js';
import type { Clock, DiskWriteError } from '../../platform/index.js';
import type { RaftDisk } from './disk.js';
import type { RaftTransport } from './transport.js';
import type { StateMachine } from './statemachine.js';

export type RaftTuning = Pick<
  RaftConfig,
  | 'maxSizePerMsg'
  | 'maxCommittedSizePerReady'
  | 'maxUncommittedEntriesSize'
  | 'maxInflightMsgs'
  | 'maxInflightBytes'
  | 'snapshotChunkBytes'
  | 'lazyCommitBroadcast'
>;

export interface RaftNodeOptions {
  id: NodeId;
  disk: RaftDisk;
  transport: RaftTransport;
  clock: Clock;
  /** In [0, 1): a seeded generator under simulation. */
  rand: () => number;
  stateMachine: StateMachine;
  /** The voters of a new cluster; used only when the disk is empty. A joining member passes none. */
  peers?: readonly NodeId[];
  /**
   * Why this member must find Raft state on its disk (it is known to be a member): start then
   * refuses an empty or missing log, naming the file, instead of starting with nothing.
   */
  expectState?: string;
  tickMs?: number;
  electionTick?: number;
  /** The random part of the election timeout, in ticks; default electionTick. */
  electionJitterTick?: number;
  heartbeatTick?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  /** Applied entries between snapshots. */
  snapshotInterval?: number;
  /** Entries kept behind a snapshot so slow followers catch up without one. */
  snapshotKeep?: number;
  /** A proposal or read that has not completed after this fails with QuorumLost. */
  requestTimeoutMs?: number;
  maxPendingProposals?: number;
  maxPendingReads?: number;
  raft?: RaftTuning;
  logger?: Logger;
  /** `isLeader` is true once this leader has applied its whole log and accepts proposals. */
  onLeaderChange?: (isLeader: boolean, leader: NodeId, term: number) => void;
  onConfChange?: (cc: ConfChange, confState: ConfState) => void;
  /** The node stopped itself on an error it cannot survive (a committed entry that fails to apply). */
  onFatal?: (e: unknown) => void;
  /**
   * The disk refused a write (the error; the node retries it until it succeeds, and requests
   * fail at once with it meanwhile), or took one again after that (undefined).
   */
  onDiskFault?: (e: DiskWriteError | undefined) => void;
  /**
   * Committed entries not passed to the state machine: the operator's way past an entry that
   * fails to apply (`shoald --raft-skip-entry N`). Every manager must be given the same set, or
   * their states part; each skip is logged.
   */
  skipEntries?: ReadonlySet<number>;
}
