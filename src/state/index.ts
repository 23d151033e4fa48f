export {
  MemoryStore,
  TABLES,
  MAX_CHANGES_PER_ENTRY,
  MAX_STORED_DEPTH,
  deepFreeze,
  frozenCopy,
  thaw,
} from './store/memory.js';
export type {
  Tables,
  TableName,
  Change,
  Action,
  StoreEvent,
  Proposer,
  ReadTx,
  WriteTx,
} from './store/memory.js';
export { BoundedQueue } from './watch/queue.js';
export { RaftProposer, encodeChanges, decodeChanges } from './proposer.js';
