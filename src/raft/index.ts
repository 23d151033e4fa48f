export { readWal, WalWriter, WalCorruptError, frame, MAX_RECORD_BYTES } from './log/wal.js';
export type { WalReadResult } from './log/wal.js';
