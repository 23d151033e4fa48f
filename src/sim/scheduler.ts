// The simulated world's time: a discrete-event queue that owns every timer. Events fire in (time,
// sequence) order; after each, pending promise jobs run to completion before the next event, so a
// run depends on nothing but its seed.
import { setImmediate as settle } from 'node:timers/promises';
import type { Cancel, Clock } from '../platform/index.js';

/** Whoever scheduled an event: a crashed member's events are dropped with it. */
export interface Owner {
  alive: boolean;
}

interface Event {
  at: number;
  seq: number;
  fn: () => void;
  owner: Owner | undefined;
  cancelled: boolean;
}

/** The sim clock's epoch, so timestamps look like real ones. */
export const SIM_EPOCH = Date.UTC(2026, 0, 1);

export class Scheduler {
  #now = 0;
  #seq = 0;
  #heap: Event[] = [];
  #fired = 0;

  /** Milliseconds since the run began. */
  get now(): number {
    return this.#now;
  }
  get eventsFired(): number {
    return this.#fired;
  }

  at(delayMs: number, fn: () => void, owner?: Owner): Cancel {
    const ev: Event = { at: this.#now + Math.max(0, delayMs), seq: this.#seq++, fn, owner, cancelled: false };
    this.#push(ev);
    return () => {
      ev.cancelled = true;
    };
  }

  /** Runs events up to time `until` (or until `stop` holds after an event). */
  async runUntil(until: number, opts: { stop?: () => boolean; maxEvents?: number } = {}): Promise<void> {
    const max = opts.maxEvents ?? 5_000_000;
    for (;;) {
      const ev = this.#heap[0];
      if (ev === undefined || ev.at > until) break;
      this.#pop();
      if (ev.cancelled || (ev.owner !== undefined && !ev.owner.alive)) continue;
      this.#now = ev.at;
      this.#fired++;
      if (this.#fired > max) throw new Error(`more than ${max} events: a livelock in the simulation?`);
      ev.fn();
      await settle();
      if (opts.stop?.()) return;
    }
    this.#now = Math.max(this.#now, until);
  }

  /**
   * A Clock for one member: its timers die with `owner`, and its time runs 1/`drift` as fast as
   * the world's (so its timers take `drift` times as long as asked).
   */
  clock(owner: Owner, drift = 1): Clock {
    const base = this.#now;
    return {
      now: () => SIM_EPOCH + base + (this.#now - base) / drift,
      setTimer: (ms, fn) => this.at(ms * drift, fn, owner),
      sleep: (ms, signal) =>
        new Promise<void>((resolve) => {
          if (signal?.aborted) return resolve();
          const done = (): void => {
            cancel();
            signal?.removeEventListener('abort', done);
            resolve();
          };
          const cancel = this.at(ms * drift, done, owner);
          signal?.addEventListener('abort', done, { once: true });
        }),
    };
  }

  #less(a: Event, b: Event): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(ev: Event): void {
    const h = this.#heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.#less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.#less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
