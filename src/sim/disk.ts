// The simulated disk. A write becomes durable only when its fsync completes, some time later; a
// crash loses whatever was not yet durable, except that an append may leave a prefix of its records
// (what reached the platter, with the torn tail cut on reopen). Snapshot writes and log rewrites are
// atomic (temp file + rename): all or nothing.
import type { RaftDisk } from '../raft/index.js';
import type { Prng } from './prng.js';
import type { Owner, Scheduler } from './scheduler.js';

/** What survives a member's crash: its durable files. */
export class SimDiskState {
  log: Uint8Array[] = [];
  snaps = new Map<number, Uint8Array>();
  /** An append under way: on a crash, some prefix of it may survive. */
  inFlight: Uint8Array[] | undefined;
  bytesWritten = 0;

  /** The member crashed: drop the unsynced writes (keeping, at random, a prefix of an append). */
  crash(rand: Prng): number {
    const pending = this.inFlight;
    this.inFlight = undefined;
    if (pending === undefined) return 0;
    const kept = rand.chance(0.5) ? rand.int(pending.length + 1) : 0;
    this.log.push(...pending.slice(0, kept));
    return kept;
  }
}

export interface DiskFaults {
  minSyncMs: number;
  maxSyncMs: number;
}

export class SimDisk implements RaftDisk {
  readonly #state: SimDiskState;
  readonly #sched: Scheduler;
  readonly #owner: Owner;
  readonly #rand: Prng;
  readonly #faults: DiskFaults;

  constructor(opts: { state: SimDiskState; sched: Scheduler; owner: Owner; rand: Prng; faults: DiskFaults }) {
    this.#state = opts.state;
    this.#sched = opts.sched;
    this.#owner = opts.owner;
    this.#rand = opts.rand;
    this.#faults = opts.faults;
  }

  /** Completes fn after an fsync delay; never, if the member crashes first. */
  #durable<T>(fn: () => T): Promise<T> {
    const f = this.#faults;
    const delay = f.minSyncMs + this.#rand.next() * (f.maxSyncMs - f.minSyncMs);
    return new Promise<T>((resolve) => this.#sched.at(delay, () => resolve(fn()), this.#owner));
  }

  readLog(): Promise<Uint8Array[]> {
    return Promise.resolve(this.#state.log.map((r) => r.slice()));
  }

  append(records: readonly Uint8Array[]): Promise<void> {
    const copy = records.map((r) => r.slice());
    this.#state.inFlight = copy;
    return this.#durable(() => {
      this.#state.inFlight = undefined;
      this.#state.log.push(...copy);
      for (const r of copy) this.#state.bytesWritten += r.byteLength;
    });
  }

  rewriteLog(records: readonly Uint8Array[]): Promise<void> {
    const copy = records.map((r) => r.slice());
    return this.#durable(() => {
      this.#state.log = copy;
    });
  }

  listSnapshots(): Promise<number[]> {
    return Promise.resolve([...this.#state.snaps.keys()].sort((a, b) => a - b));
  }

  readSnapshot(index: number): Promise<Uint8Array> {
    const s = this.#state.snaps.get(index);
    return s ? Promise.resolve(s.slice()) : Promise.reject(new Error(`no snapshot ${index}`));
  }

  writeSnapshot(index: number, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const copy = data instanceof Uint8Array ? data.slice() : new Uint8Array(Buffer.concat(data));
    return this.#durable(() => {
      this.#state.snaps.set(index, copy);
    });
  }

  removeSnapshot(index: number): Promise<void> {
    return this.#durable(() => {
      this.#state.snaps.delete(index);
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
