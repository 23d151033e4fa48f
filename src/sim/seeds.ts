// Seeds CI runs on every build. A seed that ever found a bug stays in REGRESSION_SEEDS for good,
// with a note naming the bug.
// `handoff` forces Regime.handoff and `agents` Regime.agents, so a change to how regimes are drawn
// cannot drop the workload that found the bug; `timing` forces Regime.timing, coarse (what
// sim.test.ts runs) unless the seed was found with production timing.
export const REGRESSION_SEEDS: readonly {
  seed: number;
  bug: string;
  handoff?: boolean;
  agents: number;
  timing?: 'coarse' | 'production';
}[] = [
  {
    seed: 2545,
    agents: 0,
    bug: "RaftNode.readIndex let the core's RaftError (no leader, not yet seen by the driver) escape untyped and leaked the pending read",
  },
  // Leader handoff: with the rule gone, these accepted a stale CAS or create-if-absent. 3 and 5
  // managers, calm to lossy/wan networks, register CAS (h) and create-if-absent (n1).
  ...[2, 16, 23, 28, 38].map((seed) => ({
    seed,
    handoff: true,
    agents: 0,
    bug: 'a new leader accepted read-modify-writes before applying an entry of its own term (RaftNode.isLeader), so they ran against state missing acknowledged writes',
  })),
  // Found once the simulation ran agents (fleet.ts).
  ...[
    [2, 3],
    [16, 3],
    [17, 3],
    [18, 3],
    [19, 4],
  ].map(([seed, agents]) => ({
    seed: seed!,
    agents: agents!,
    bug: "a task's RUNNING (or FAILED) report taken by a leader that stepped down before writing it was never sent again: the task stayed STARTING in the store, or RUNNING with its container gone",
  })),
  {
    seed: 9,
    agents: 2,
    bug: "a start-first update created the new task of a slot from a view older than the restart supervisor's replacement: two tasks ran in one slot for good",
  },
  {
    seed: 69,
    agents: 2,
    bug: 'the restart supervisor replaced both live tasks of a slot (old and new of a start-first update) when their nodes went down, and an update waiting for its new task never noticed that a newer update had begun: it stalled with two tasks in the slot',
  },
  {
    seed: 289,
    agents: 4,
    bug: "an update's new task was shut down with its node but not replaced (the slot's old task counted as filling it), and the updater waited for it forever",
  },
  {
    seed: 101,
    agents: 4,
    bug: 'a restarted agent told to shut down a task it had started before the crash (the manager still said ASSIGNED) did not stop its container',
  },
  {
    seed: 340,
    agents: 3,
    bug: "the simulator's cluster bootstrap waited forever for an answer from a manager that crashed",
  },
  {
    seed: 1,
    agents: 4,
    bug: 'an agent whose first session was refused (not the leader) failed to start instead of following the redirect',
  },
  {
    seed: 9025,
    agents: 2,
    bug: "the simulator's placement checker read the store of a deposed leader, cut off and still running its loops, and saw tasks as unassigned",
  },
  // 778474 was found with production timing.
  ...[
    { seed: 778474, agents: 4, timing: 'production' as const },
    { seed: 803996, agents: 2 },
  ].map((s) => ({
    ...s,
    bug: "the dispatcher's pending report of a task was replaced by an older one of the same task that arrived after it (the agent's concurrent report calls crossed): RUNNING was lost and the task stayed STARTING",
  })),
  {
    seed: 800478,
    agents: 2,
    bug: "a node the dispatcher marked down kept beating into its open session, and heartbeats never mark a node ready: it stayed down for good (here the end of a crashed agent's stream, arriving after its restart had registered, cut the deadline to one period). The pending-report fix above also changes its course: it fails only with both fixes gone",
  },
  {
    seed: 700106,
    agents: 3,
    bug: "with no status echo, a reordered STARTING report replaced the RUNNING one waiting in the dispatcher's batch: the task stayed STARTING and the agent, hearing nothing back, never said RUNNING again",
  },
  {
    seed: 1129,
    agents: 4,
    bug: "a session whose registration was written after its dispatcher stopped (the leader stepped down and up again meanwhile) stayed open on the stopped dispatcher: nothing was pushed down it and, the node's session still current, its heartbeats were taken, so its task was never told to shut down. Found once the simulator's link ran the real session protocol (its own checks had compared the dispatcher of each call)",
  },
];

/** A fixed spread of fault regimes that fits the CI budget: 1,000 seeds take about 80 s here. */
export const CI_SEEDS: readonly number[] = Array.from({ length: 1000 }, (_, i) => 1000 + i);
