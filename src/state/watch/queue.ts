// A bounded event queue for slow consumers (HTTP event streams). When a consumer falls more than
// `limit` events behind, the queue closes instead of growing: the consumer must re-list.

export class BoundedQueue<T> {
  #items: T[] = [];
  #waiters: ((v: IteratorResult<T[]>) => void)[] = [];
  #closed = false;
  overflowed = false;
  constructor(readonly limit: number) {}

  push(item: T): void {
    if (this.#closed) return;
    if (this.#items.length >= this.limit) {
      this.overflowed = true;
      this.close();
      return;
    }
    this.#items.push(item);
    const w = this.#waiters.shift();
    if (w) w({ value: this.#items.splice(0), done: false });
  }

  close(): void {
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w({ value: undefined, done: true });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves with every queued item (at least one), or done once closed and drained. */
  next(): Promise<IteratorResult<T[]>> {
    if (this.#items.length > 0) return Promise.resolve({ value: this.#items.splice(0), done: false });
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  [Symbol.asyncIterator](): AsyncIterator<T[]> {
    return { next: () => this.next() };
  }
}
