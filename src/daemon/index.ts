export { Daemon, NOT_A_MANAGER, NO_LEADER } from './daemon.js';
export type { ApiHandler, DaemonOptions, LocalNodeState } from './daemon.js';
