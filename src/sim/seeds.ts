// Seeds CI runs on every build. A seed that ever found a bug stays in REGRESSION_SEEDS for good,
// with a note naming the bug.
// `handoff` forces Regime.handoff, so a change to how regimes are drawn cannot drop the workload.
export const REGRESSION_SEEDS: readonly { seed: number; bug: string; handoff?: boolean }[] = [
  {
    seed: 2545,
    bug: "RaftNode.readIndex let the core's RaftError (no leader, not yet seen by the driver) escape untyped and leaked the pending read",
  },
  // Leader handoff: with the rule gone, these accepted a stale CAS or create-if-absent. 3 and 5
  // managers, calm to lossy/wan networks, register CAS (h) and create-if-absent (n1).
  ...[2, 16, 23, 28, 38].map((seed) => ({
    seed,
    handoff: true,
    bug: 'a new leader accepted read-modify-writes before applying an entry of its own term (RaftNode.isLeader), so they ran against state missing acknowledged writes',
  })),
];

/** A fixed spread of fault regimes that fits the CI budget. */
export const CI_SEEDS: readonly number[] = Array.from({ length: 32 }, (_, i) => 1000 + i);
