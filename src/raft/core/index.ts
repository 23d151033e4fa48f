// The pure Raft core: messages and ticks in, a Ready out. No I/O, no timers, no clock, no randomness
// of its own (see RaftConfig.rand). The driver persists, sends, applies, then advances.
export { RawNode } from './rawnode.js';
export type { ProgressStatus, Status } from './rawnode.js';
export type { RaftConfig } from './raft.js';
export { MemoryStorage, limitSize, emptySnapshot } from './storage.js';
export type { InitialState, Storage } from './storage.js';
export {
  applyToConfState,
  decodeConfChange,
  describeConfChange,
  describeConfState,
  encodeConfChange,
} from './confchange.js';
export type { ConfChange, ConfChangeType } from './confchange.js';
export {
  describeData,
  describeEntry,
  describeHardState,
  describeMessage,
  describeReady,
  describeSoftState,
} from './describe.js';
export type { ProgressState } from './progress.js';
export {
  bytesEqual,
  entrySize,
  ENTRY_OVERHEAD_BYTES,
  message,
  NONE,
  RaftError,
  RaftInvariantError,
  SILENT_LOGGER,
} from './types.js';
export type {
  ConfState,
  Entry,
  EntryType,
  HardState,
  Logger,
  Message,
  MessageType,
  NodeId,
  RaftErrorCode,
  ReadState,
  Ready,
  Snapshot,
  SnapshotChunk,
  SnapshotMetadata,
  SoftState,
  StateType,
} from './types.js';
