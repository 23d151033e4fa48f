// The fault regime a seed picks for a simulated run: how many managers, the network's and the
// disk's faults, partitions, crashes, clock drift, snapshot interval, workloads and Raft timing.
import type { DiskFaults } from './disk.js';
import type { NetworkFaults } from './network.js';
import type { Prng } from './prng.js';

export interface Regime {
  managers: number;
  network: string;
  partitions: 'none' | 'symmetric' | 'asymmetric' | 'leader';
  crashes: boolean;
  drift: number;
  disk: DiskFaults;
  snapshotInterval: number;
  /**
   * The leader-handoff workload: a write is acknowledged, its leader is cut off before any follower
   * learns the commit, and the follower that wins the election is sent read-modify-writes that
   * expect the value from before that write. A leader that took them before applying an entry of
   * its own term would validate them against state that misses the acknowledged write.
   */
  handoff: boolean;
  /**
   * Worker nodes running the real agent against the leader's dispatcher, with an operator
   * changing services and faults for agents and containers (see fleet.ts); 0 runs none.
   */
  agents: number;
  /**
   * 'coarse': 100 ms ticks, election timeout in [1, 2) s (Raft's usual range). 'production': the
   * daemon's timing, 10 ms ticks and an election timeout in [1, 1.5) s.
   */
  timing: 'coarse' | 'production';
}

/** Raft ticks for each timing regime (the production one as daemon/ sets it). */
export const TIMING = {
  coarse: { tickMs: 100, electionTick: 10, heartbeatTick: 1, electionJitterTick: 10 },
  production: { tickMs: 10, electionTick: 100, heartbeatTick: 10, electionJitterTick: 50 },
} as const;

export const NETWORKS: Record<string, NetworkFaults> = {
  calm: { minDelayMs: 1, maxDelayMs: 5, stallRate: 0, dropRate: 0, dupRate: 0 },
  lan: { minDelayMs: 1, maxDelayMs: 20, stallRate: 0.005, dropRate: 0.01, dupRate: 0.01 },
  lossy: { minDelayMs: 2, maxDelayMs: 60, stallRate: 0.01, dropRate: 0.1, dupRate: 0.05 },
  wan: { minDelayMs: 10, maxDelayMs: 150, stallRate: 0.02, dropRate: 0.02, dupRate: 0.02 },
};

export function chooseRegime(rand: Prng): Regime {
  return {
    managers: rand.pick([3, 3, 5]),
    network: rand.pick(Object.keys(NETWORKS)),
    partitions: rand.pick(['none', 'symmetric', 'asymmetric', 'leader'] as const),
    crashes: rand.chance(0.6),
    drift: rand.chance(0.5) ? 0.1 : 0,
    disk: rand.pick([
      { minSyncMs: 0.05, maxSyncMs: 1 },
      { minSyncMs: 1, maxSyncMs: 15 },
    ]),
    snapshotInterval: rand.pick([8, 20, 64]),
    // Drawn last, so adding it left every other choice of every seed as it was.
    handoff: rand.chance(0.25),
    agents: rand.chance(0.5) ? rand.pick([2, 3, 4]) : 0,
    timing: rand.chance(0.5) ? 'production' : 'coarse',
  };
}
