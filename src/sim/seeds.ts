// Seeds CI runs on every build. A seed that ever found a bug stays in REGRESSION_SEEDS for good,
// with a note naming the bug.
export const REGRESSION_SEEDS: readonly { seed: number; bug: string }[] = [
  {
    seed: 2545,
    bug: "RaftNode.readIndex let the core's RaftError (no leader, not yet seen by the driver) escape untyped and leaked the pending read",
  },
];

/** A fixed spread of fault regimes that fits the CI budget. */
export const CI_SEEDS: readonly number[] = Array.from({ length: 32 }, (_, i) => 1000 + i);
