// What the validators of every area share: the schemas two areas use, shoal's bounds on values
// Docker's Go types allow but a cluster cannot survive, and the small checks that raise the 400s.
import { invalidArgument } from '../errors.js';
import { int64, uint32, type Schema } from '../schema.js';

export const GENERIC_RESOURCES: Schema = {
  arr: {
    obj: {
      NamedResourceSpec: { obj: { Kind: 'string', Value: 'string' } },
      DiscreteResourceSpec: { obj: { Kind: 'string', Value: int64 } },
    },
  },
};
export const PORT_CONFIG: Schema = {
  obj: {
    Name: 'string',
    Protocol: 'string',
    TargetPort: uint32,
    PublishedPort: uint32,
    PublishMode: 'string',
  },
};
export const DRIVER: Schema = { obj: { Name: 'string', Options: 'labels' } };

// Sane upper bounds where Docker's Go types allow absurd values that would take a cluster down
// (a billion replicas exhausts the manager's memory; a timer past 2^31 ms fires at once in Node).
/** The most replicas (or job completions) one service may ask for: the scale shoal is built for. */
export const MAX_REPLICAS = 200_000;
/** The longest delay, window, monitor period or grace period shoal runs a timer for: 7 days. */
export const MAX_TIMER_NS = 7 * 24 * 3600e9;
/** Agent heartbeat period: from 50 ms to 1 hour (a node is down after 3 periods of silence). */
export const MIN_HEARTBEAT_NS = 50e6;
export const MAX_HEARTBEAT_NS = 3600e9;
/** Node certificates live from 1 hour (Docker's minimum) to 20 years (the root CA's own life). */
export const MIN_CERT_EXPIRY_NS = 3600e9;
export const MAX_CERT_EXPIRY_NS = 20 * 365 * 24 * 3600e9;
/** Tasks kept per slot: each is a stored object, so an unbounded history is unbounded memory. */
export const MAX_TASK_HISTORY = 1000;

export function atMost(v: number | undefined, max: number, what: string, shown = String(max)): void {
  if (v !== undefined && v > max) throw invalidArgument(`${what} must be at most ${shown}, got ${v}`);
}
export const timer = (v: number | undefined, what: string): void =>
  atMost(v, MAX_TIMER_NS, what, '7 days (604800s)');

const NAME = /^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$/;
export function isValidName(name: string): boolean {
  return name.length <= 63 && NAME.test(name);
}

export function nonNegative(v: number | undefined, what: string): void {
  if (v !== undefined && v < 0) throw invalidArgument(`${what} must be non-negative, got ${v}`);
}

export function oneOf<T extends string>(v: string | undefined, allowed: readonly T[], what: string): void {
  if (v !== undefined && !(allowed as readonly string[]).includes(v)) {
    throw invalidArgument(`${what} must be one of ${allowed.join(', ')}, got "${v}"`);
  }
}
