/**
 * Bounds how many engine operations run at once. The engine creates and starts containers
 * fastest at a small concurrency (about 8 on this machine type, see BENCHMARKS.md); a burst of
 * 100 parallel creates is slower than the same work in a bounded pipeline.
 */
export class Limiter {
  #active = 0;
  #waiting: (() => void)[] = [];
  constructor(readonly max: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#active >= this.max) await new Promise<void>((r) => this.#waiting.push(r));
    this.#active++;
    try {
      return await fn();
    } finally {
      this.#active--;
      this.#waiting.shift()?.();
    }
  }
}
