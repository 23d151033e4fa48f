/**
 * Runs a reconcile pass when kicked. Passes never overlap; kicks that arrive during a pass
 * coalesce into one more pass after it. The allocator, scheduler and orchestrator share it.
 */
export class PassLoop {
  #active = false;
  #scheduled = false;
  #running = false;
  #again = false;

  constructor(
    private readonly pass: () => Promise<void>,
    private readonly onError: (e: unknown) => void,
  ) {}

  get active(): boolean {
    return this.#active;
  }

  start(): void {
    this.#active = true;
    this.kick();
  }

  stop(): void {
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
      await this.pass();
    } catch (e) {
      this.onError(e);
    } finally {
      this.#running = false;
      if (this.#again) {
        this.#again = false;
        this.kick();
      }
    }
  }
}
