// The Raft driver: the pure core run against a clock, a durable disk and a transport.
export { RaftNode } from './node.js';
export { ApplyError } from './statemachine.js';
export type { StateMachine } from './statemachine.js';
export { raftTiming, RAFT_TICK_MS } from './timing.js';
export type { RaftTimingMs } from './timing.js';
export type { RaftNodeOptions, RaftTuning } from './options.js';
export { DurableStorage, RaftStorageCorruptError } from './storage.js';
export type { OpenOptions, ReadyWrite } from './storage.js';
export { MemoryRaftDisk, NodeRaftDisk, SnapshotCorruptError } from './disk.js';
export type { RaftDisk } from './disk.js';
export { MemoryNetwork } from './transport.js';
export type { RaftTransport } from './transport.js';
export {
  CodecError,
  decodeMessage,
  decodeRecord,
  decodeSnapshot,
  encodeMessage,
  encodeRecord,
  encodeSnapshot,
  encodeSnapshotParts,
} from './codec.js';
export type { WalRecord } from './codec.js';
export { readMemberLog, bootstrapSingleMember } from './recover.js';
export type { MemberLog } from './recover.js';
