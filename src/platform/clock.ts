// Time is injected so that orchestrators and the scheduler run unchanged under a virtual clock.

export type Cancel = () => void;

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs fn after ms; returns a function that cancels it. */
  setTimer(ms: number, fn: () => void): Cancel;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** setTimeout fires at once beyond this (about 24.8 days), with only a warning. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** setTimeout for any delay: a longer one than setTimeout takes is waited out in steps. */
function longTimeout(ms: number, fn: () => void): Cancel {
  let t: ReturnType<typeof setTimeout>;
  const wait = (left: number): void => {
    t = setTimeout(
      () => (left > MAX_TIMEOUT_MS ? wait(left - MAX_TIMEOUT_MS) : fn()),
      Math.min(Math.max(0, left), MAX_TIMEOUT_MS),
    );
  };
  wait(ms);
  return () => clearTimeout(t);
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: longTimeout,
  sleep(ms, signal) {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const cancel = longTimeout(ms, done);
      function done(): void {
        cancel();
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    });
  },
};

/** A clock that only moves when told to: for deterministic tests of timed behaviour. */
export class ManualClock implements Clock {
  #now: number;
  #timers: { at: number; seq: number; fn: () => void }[] = [];
  #seq = 0;
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  setTimer(ms: number, fn: () => void): Cancel {
    const timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const cancel = this.setTimer(ms, resolve);
      signal?.addEventListener('abort', () => (cancel(), resolve()), { once: true });
    });
  }
  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.#timers[0];
      if (!next || next.at > until) break;
      this.#timers.shift();
      this.#now = Math.max(this.#now, next.at);
      next.fn();
    }
    this.#now = Math.max(this.#now, until);
  }
  /**
   * Moves time forward without firing timers, as a blocked event loop does (a long GC pause, a
   * saturated machine): the timers that fell due fire late, at the next advance.
   */
  stall(ms: number): void {
    this.#now += ms;
  }
}

/** RFC 3339 timestamp as the Engine API prints it. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
