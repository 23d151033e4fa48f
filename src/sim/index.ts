// Deterministic simulation: virtual time, network and disk, faults picked by a seed, checkers.
export { Prng } from './prng.js';
export { Scheduler, SIM_EPOCH } from './scheduler.js';
export type { Owner } from './scheduler.js';
export { SimNetwork, CALM_NETWORK } from './network.js';
export type { NetworkFaults } from './network.js';
export { SimDisk, SimDiskState } from './disk.js';
export type { DiskFaults } from './disk.js';
export { checkLinearizable, describeOp, MAX_OPS_PER_KEY } from './linearizability.js';
export type { CheckResult, HistoryOp, RegisterOp } from './linearizability.js';
export { runSim } from './cluster.js';
export { chooseRegime } from './regime.js';
export type { Regime } from './regime.js';
export type { SimOptions, SimResult } from './cluster.js';
export { CI_SEEDS, REGRESSION_SEEDS } from './seeds.js';
