const DEFAULT_MAX_KEYS = 10_000;

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * A token bucket per key (the joining peer's address): `burst` joins at once, refilled at
 * `perSecond`. The map is kept in least-recently-used order and bounded to `maxKeys`; an evicted
 * key comes back with a full bucket, which only matters to a flood of distinct addresses.
 */
export class JoinRateLimiter {
  private readonly perMs: number;
  private readonly burst: number;
  private readonly now: () => number;
  private readonly maxKeys: number;
  private readonly buckets = new Map<string, Bucket>();

  constructor(o: { perSecond: number; burst: number; now: () => number; maxKeys?: number }) {
    if (!(o.perSecond > 0) || !(o.burst >= 1)) throw new RangeError('perSecond must be > 0 and burst >= 1');
    this.perMs = o.perSecond / 1000;
    this.burst = o.burst;
    this.now = o.now;
    this.maxKeys = o.maxKeys ?? DEFAULT_MAX_KEYS;
  }

  /** Takes one token for `key`; false when its bucket is empty. */
  take(key: string): boolean {
    const now = this.now();
    const prev = this.buckets.get(key);
    let tokens = this.burst;
    if (prev !== undefined) {
      // A clock that steps back refills nothing rather than draining the bucket.
      tokens = Math.min(this.burst, prev.tokens + Math.max(0, now - prev.at) * this.perMs);
      this.buckets.delete(key);
    }
    const allowed = tokens >= 1;
    this.buckets.set(key, { tokens: allowed ? tokens - 1 : tokens, at: now });
    if (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next();
      if (oldest.done !== true) this.buckets.delete(oldest.value);
    }
    return allowed;
  }

  /** Number of keys tracked (bounded by `maxKeys`). */
  get size(): number {
    return this.buckets.size;
  }
}
