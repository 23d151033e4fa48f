// Messages, entries, snapshots and states of the Raft core. Plain data: the driver serialises them.

/** A member's id. 0 means "nobody" (no leader, no vote). */
export type NodeId = number;
export const NONE: NodeId = 0;

export type EntryType = 'EntryNormal' | 'EntryConfChange';

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

export interface SnapshotMetadata {
  index: number;
  term: number;
  confState: ConfState;
}

export interface Snapshot {
  metadata: SnapshotMetadata;
  data: Uint8Array;
}

/** One piece of a snapshot on its way to a follower; `total` is the size of the whole data. */
export interface SnapshotChunk {
  offset: number;
  total: number;
  done: boolean;
  data: Uint8Array;
}

export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

export type StateType = 'StateFollower' | 'StateCandidate' | 'StateLeader' | 'StatePreCandidate';

export interface SoftState {
  lead: NodeId;
  state: StateType;
}

export type MessageType =
  // local only: never sent over the network
  | 'MsgHup'
  | 'MsgBeat'
  | 'MsgCheckQuorum'
  | 'MsgUnreachable'
  // may arrive locally or from a peer
  | 'MsgProp'
  | 'MsgReadIndex'
  | 'MsgTransferLeader'
  // peer to peer
  | 'MsgApp'
  | 'MsgAppResp'
  | 'MsgVote'
  | 'MsgVoteResp'
  | 'MsgPreVote'
  | 'MsgPreVoteResp'
  | 'MsgSnap'
  | 'MsgSnapResp'
  | 'MsgHeartbeat'
  | 'MsgHeartbeatResp'
  | 'MsgTimeoutNow'
  | 'MsgReadIndexResp';

export const LOCAL_MESSAGES: ReadonlySet<MessageType> = new Set([
  'MsgHup',
  'MsgBeat',
  'MsgCheckQuorum',
  'MsgUnreachable',
]);

export const RESPONSE_MESSAGES: ReadonlySet<MessageType> = new Set([
  'MsgAppResp',
  'MsgVoteResp',
  'MsgPreVoteResp',
  'MsgSnapResp',
  'MsgHeartbeatResp',
  'MsgUnreachable',
]);

export interface Message {
  type: MessageType;
  to: NodeId;
  from: NodeId;
  term: number;
  /** Term of the entry at `index` (MsgApp, votes), or the hint term on a rejected MsgAppResp. */
  logTerm: number;
  index: number;
  commit: number;
  entries: Entry[];
  reject: boolean;
  rejectHint: number;
  /** ReadIndex request context, echoed by heartbeats; or CAMPAIGN_TRANSFER on a forced vote. */
  context?: Uint8Array;
  /** MsgSnap: which snapshot the chunk belongs to. */
  snapshot?: SnapshotMetadata;
  /** MsgSnap: the bytes; MsgSnapResp: `offset` is the next byte the follower expects. */
  chunk?: SnapshotChunk;
}

export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

/** Builds a message with every field the caller leaves out set to its zero value. */
export function message(fields: Partial<Message> & Pick<Message, 'type'>): Message {
  return {
    to: NONE,
    from: NONE,
    term: 0,
    logTerm: 0,
    index: 0,
    commit: 0,
    entries: [],
    reject: false,
    rejectHint: 0,
    ...fields,
  };
}

/** Forces a vote past a follower's leader lease; used only after MsgTimeoutNow. */
export const CAMPAIGN_TRANSFER: Uint8Array = Uint8Array.of(0x43, 0x54); // "CT"

export function bytesEqual(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Bytes an entry is counted as, for message and Ready size caps: its payload plus fixed framing. */
export const ENTRY_OVERHEAD_BYTES = 16;

export function entrySize(e: Entry): number {
  return e.data.byteLength + ENTRY_OVERHEAD_BYTES;
}

/** Expected failures a caller can handle. Impossible states throw RaftInvariantError instead. */
export type RaftErrorCode =
  | 'ProposalDropped'
  | 'ConfChangePending'
  | 'ConfChangeInvalid'
  | 'Compacted'
  | 'Unavailable'
  | 'SnapshotOutOfDate'
  | 'StepLocalMessage'
  | 'ReadyPending';

export class RaftError extends Error {
  readonly code: RaftErrorCode;
  constructor(code: RaftErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = 'RaftError';
  }
}

/** A bug: the core reached a state Raft says is impossible. Never caught inside the core. */
export class RaftInvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RaftInvariantError';
  }
}

export function invariant(cond: boolean, message: () => string): asserts cond {
  if (!cond) throw new RaftInvariantError(message());
}

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
}

export const SILENT_LOGGER: Logger = { debug() {}, info() {}, warn() {} };

export interface Ready {
  /** Set when the leader or role changed. Not persisted. */
  softState?: SoftState;
  /** Set when term, vote or commit changed: persist it with the entries. */
  hardState?: HardState;
  /** Entries to append to stable storage before sending messages. */
  entries: Entry[];
  /** A snapshot to persist and then apply (it replaces the application's state). */
  snapshot?: Snapshot;
  /** Entries to apply, in order, after persisting. */
  committedEntries: Entry[];
  /** Messages to send after persisting; they may be sent in any order. */
  messages: Message[];
  /** Confirmed reads: serve each once the applied index reaches its index. */
  readStates: ReadState[];
  /** Whether the write must be fsynced (term, vote, entries or a snapshot changed). */
  mustSync: boolean;
}
