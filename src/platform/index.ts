export { systemClock, ManualClock, isoTime } from './clock.js';
export type { Clock, Cancel } from './clock.js';
export { writeFileDurable, fsyncDir, DiskWriteError, diskWriteError } from './disk.js';
export { aesGcmCipher, randomKey, isSealed, DecryptError } from './crypto.js';
export type { RecordCipher } from './crypto.js';
export { datapathTrace, parseTraceLine } from './trace.js';
export type { Trace } from './trace.js';
