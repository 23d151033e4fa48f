export { Daemon } from './daemon.js';
export type { LocalNodeState } from '../httpapi/index.js';
export { NOT_A_MANAGER } from './lifecycle.js';
export { NO_LEADER } from './forward.js';
export type { ApiHandler } from './clusterport.js';
export type { DaemonOptions } from './options.js';
export { DaemonApiBackend, daemonApi } from './apibackend.js';
