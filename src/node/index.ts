export { Daemon, NOT_A_MANAGER } from './daemon.js';
export type { DaemonOptions, LocalNodeState } from './daemon.js';
