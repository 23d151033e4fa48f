// Leader-only calls on a manager that does not lead: the answer is NotLeader (gRPC UNAVAILABLE)
// and names, in the "shoal-leader" trailer, the leader's cluster address when it is known, so the
// caller can go there directly instead of trying every manager in turn. `callLeader` is the one
// client of that rule: every leader-only call a node makes goes through it.
import { Metadata, status } from '@grpc/grpc-js';
import { grpcStatusFor, ManagerList, ShoalError } from '../api/index.js';

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
  if (err instanceof ShoalError) return err.leaderAddr;
  const md = (err as { metadata?: Metadata } | undefined)?.metadata;
  if (!(md instanceof Metadata)) return undefined;
  const v = md.get(LEADER_KEY)[0];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export interface LeaderCallOptions {
  /** The managers to try, starting with the current one (a list kept across calls learns the leader). */
  managers: ManagerList | readonly string[];
  /** Not-leader answers followed in a row before the error is the answer (default 3). */
  maxHops?: number;
  /** Keep trying until this many ms have passed (default 0: follow redirects, retry nothing). */
  retryForMs?: number;
  /** The first wait before a retry; it doubles up to `maxRetryDelayMs` (defaults 500 and 2000). */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Which failures are worth a retry on the next manager (default: UNAVAILABLE, no leader named). */
  retryable?: (err: unknown) => boolean;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** UNAVAILABLE from a gRPC call, or the same failure raised here as a ShoalError. */
const unavailableCode = (err: unknown): boolean =>
  err instanceof ShoalError
    ? grpcStatusFor(err.code) === status.UNAVAILABLE
    : (err as { code?: unknown }).code === status.UNAVAILABLE;

/**
 * Runs a leader-only call: on a manager that answers "not the leader" and names one, the call
 * goes there; on another failure worth retrying (no leader yet, a manager down) it goes to the
 * next known manager after a backoff, until `retryForMs` has passed. The last error is the answer.
 */
export async function callLeader<T>(o: LeaderCallOptions, call: (addr: string) => Promise<T>): Promise<T> {
  const list = o.managers instanceof ManagerList ? o.managers : new ManagerList(o.managers);
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const retryable = o.retryable ?? ((e: unknown) => unavailableCode(e) && leaderHint(e) === undefined);
  const until = now() + (o.retryForMs ?? 0);
  let delay = o.retryDelayMs ?? 500;
  let hops = 0;
  for (;;) {
    const addr = list.current;
    try {
      return await call(addr);
    } catch (e) {
      const hint = leaderHint(e);
      if (hint !== undefined && hint !== addr && hops < (o.maxHops ?? 3)) {
        hops++;
        list.failed(hint);
        continue;
      }
      if (!retryable(e) || now() + delay > until) throw e;
      hops = 0;
      list.failed();
      await sleep(delay);
      delay = Math.min(2 * delay, o.maxRetryDelayMs ?? 2000);
    }
  }
}
