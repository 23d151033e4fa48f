// Raft timing in milliseconds, turned into the core's ticks. The daemon's managers and the Raft
// benchmark use the same function, so what the benchmark measures is what a manager runs.
import type { RaftNodeOptions } from './options.js';

/** The Raft clock's tick: fine enough that two members rarely draw the same election timeout. */
export const RAFT_TICK_MS = 10;

export interface RaftTimingMs {
  /** Elections start after a random time in [T, 1.5T) without a leader; default 1000 ms (etcd's). */
  electionTimeoutMs?: number;
  /** The leader's heartbeat period; default 100 ms. */
  heartbeatMs?: number;
}

/**
 * The election timeout is drawn from [T, 1.5T), not Raft's usual [T, 2T): T alone decides how
 * long a leader may go quiet before a spurious election, while the top of the range is the
 * worst-case failover. The narrower range makes near-simultaneous candidates likelier; the core's
 * pre-vote rules (a member that grants a pre-vote yields; of two pre-candidates with the same
 * log the higher ID goes on) keep them from splitting the vote.
 */
export function raftTiming(
  o: RaftTimingMs = {},
): Pick<RaftNodeOptions, 'tickMs' | 'electionTick' | 'electionJitterTick' | 'heartbeatTick'> {
  const election = o.electionTimeoutMs ?? 1000;
  const heartbeat = o.heartbeatMs ?? 100;
  const heartbeatTick = Math.max(1, Math.round(heartbeat / RAFT_TICK_MS));
  const electionTick = Math.max(heartbeatTick + 1, Math.round(election / RAFT_TICK_MS));
  return {
    tickMs: RAFT_TICK_MS,
    electionTick,
    electionJitterTick: Math.max(1, Math.round(electionTick / 2)),
    heartbeatTick,
  };
}
