import type { MemoryStore, StoreEvent } from '../state/index.js';

/**
 * The loop of a level-triggered reconciler: while started it hears every store event (the
 * reconciler marks work dirty and kicks), and runs a pass when kicked. Passes never overlap;
 * kicks that arrive during a pass coalesce into one more pass after it. The allocator,
 * scheduler and orchestrator share it.
 */
export class WatchLoop {
  #active = false;
  #unsubscribe: (() => void) | undefined;
  #scheduled = false;
  #running = false;
  #again = false;

  constructor(
    private readonly o: {
      store: MemoryStore;
      /** Called synchronously for every store event; must be cheap (mark dirty, kick). */
      onEvent: (e: StoreEvent) => void;
      pass: () => Promise<void>;
      onError: (e: unknown) => void;
    },
  ) {}

  get active(): boolean {
    return this.#active;
  }

  start(): void {
    this.#unsubscribe ??= this.o.store.subscribe((e) => this.o.onEvent(e));
    this.#active = true;
    this.kick();
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#active = false;
  }

  kick(): void {
    if (!this.#active) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#run();
    });
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      await this.o.pass();
    } catch (e) {
      this.o.onError(e);
    } finally {
      this.#running = false;
      if (this.#again) {
        this.#again = false;
        this.kick();
      }
    }
  }
}
