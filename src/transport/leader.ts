// Leader-only calls on a manager that does not lead: the answer is NotLeader (gRPC UNAVAILABLE)
// and names, in the "shoal-leader" trailer, the leader's cluster address when it is known, so the
// caller can go there directly instead of trying every manager in turn.
import { Metadata } from '@grpc/grpc-js';
import { ShoalError } from '../api/index.js';

const LEADER_KEY = 'shoal-leader';

export function notLeaderError(leaderAddr: string | undefined): ShoalError {
  return new ShoalError(
    'NotLeader',
    leaderAddr
      ? `this manager is not the leader; the leader is at ${leaderAddr}`
      : 'the swarm has no leader right now; retry shortly',
    leaderAddr ? { leaderAddr } : {},
  );
}

/** The trailer a not-leader answer carries: the leader's address, when known. */
export function leaderTrailer(leaderAddr: string | undefined): Metadata {
  const md = new Metadata();
  if (leaderAddr) md.set(LEADER_KEY, leaderAddr);
  return md;
}
/** The leader's address a not-leader answer carried, if any. */
export function leaderHint(err: unknown): string | undefined {
  const md = (err as { metadata?: Metadata } | undefined)?.metadata;
  if (!(md instanceof Metadata)) return undefined;
  const v = md.get(LEADER_KEY)[0];
  return typeof v === 'string' && v !== '' ? v : undefined;
}
