export { Scheduler, scheduleTasks, nodeInfos } from './scheduler.js';
export type { Decision } from './scheduler.js';
export { filterNodes, PIPELINE } from './filters.js';
export type { Filter, NodeInfo } from './filters.js';
