// Which manager a node talks to next. Leader-only calls and agent sessions go to one manager of
// a known list; when one fails, a manager that named the leader sends the next try there,
// anything else moves on to the next manager in the list. Pure: the callers own the clock and
// the connections (transport/leader.ts, agent/session, the simulator's link).

export class ManagerList {
  #all: string[];
  #next = 0;

  constructor(managers: readonly string[]) {
    if (managers.length === 0) throw new Error('no manager address to connect to');
    this.#all = [...managers];
  }

  /** Every known manager, in order of preference. */
  get all(): readonly string[] {
    return this.#all;
  }

  /** The manager to try now. */
  get current(): string {
    return this.#all[this.#next % this.#all.length]!;
  }

  /** A call to `current` failed: try the leader it named (learning its address), or the next one. */
  failed(leader?: string): void {
    if (leader) {
      if (!this.#all.includes(leader)) this.#all.push(leader);
      this.#next = this.#all.indexOf(leader);
    } else this.#next = (this.#next + 1) % this.#all.length;
  }

  /** The cluster's own list (a session brings it): true when it differed from ours. */
  replace(managers: readonly string[]): boolean {
    if (managers.length === 0 || managers.join() === this.#all.join()) return false;
    this.#all = [...managers];
    this.#next = 0;
    return true;
  }
}
