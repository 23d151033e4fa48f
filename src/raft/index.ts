export {
  readWal,
  WalWriter,
  WalCorruptError,
  WalDecryptError,
  frame,
  MAX_RECORD_BYTES,
  RECOVERY_HINT,
} from './log/wal.js';
export type { WalReadResult, WalOptions } from './log/wal.js';
export * from './core/index.js';
export * from './node/index.js';
