// The simulated network: per-message delay from a seeded distribution (so messages reorder), drops,
// duplicates, and partitions that may be asymmetric (a→b cut while b→a flows). Every message goes
// through the wire codec, as it would over gRPC.
import { decodeMessage, encodeMessage } from '../raft/index.js';
import type { Message, NodeId, RaftTransport } from '../raft/index.js';
import type { Prng } from './prng.js';
import type { Owner, Scheduler } from './scheduler.js';

export interface NetworkFaults {
  minDelayMs: number;
  maxDelayMs: number;
  /** Chance that a message takes 10× the longest delay (a stall). */
  stallRate: number;
  dropRate: number;
  dupRate: number;
}

export const CALM_NETWORK: NetworkFaults = {
  minDelayMs: 1,
  maxDelayMs: 5,
  stallRate: 0,
  dropRate: 0,
  dupRate: 0,
};

/** Messages in flight at once; past this the network drops (a full socket buffer). */
const MAX_IN_FLIGHT = 20_000;

export class SimNetwork {
  readonly #sched: Scheduler;
  readonly #rand: Prng;
  readonly #trace: (line: string) => void;
  readonly #handlers = new Map<NodeId, { owner: Owner; handler: (m: Message) => void }>();
  /** Cut links, as "from>to". */
  readonly #cut = new Set<string>();
  #inFlight = 0;
  faults: NetworkFaults = { ...CALM_NETWORK };
  sent = 0;
  dropped = 0;

  constructor(opts: { sched: Scheduler; rand: Prng; trace: (line: string) => void }) {
    this.#sched = opts.sched;
    this.#rand = opts.rand;
    this.#trace = opts.trace;
  }

  transport(id: NodeId, owner: Owner): RaftTransport {
    return {
      send: (msgs) => {
        if (!owner.alive) return;
        for (const m of msgs) this.#send(m);
      },
      onMessage: (handler) => {
        this.#handlers.set(id, { owner, handler });
        return () => {
          if (this.#handlers.get(id)?.handler === handler) this.#handlers.delete(id);
        };
      },
    };
  }

  #send(m: Message): void {
    this.sent++;
    const f = this.faults;
    if (this.#inFlight >= MAX_IN_FLIGHT || this.#rand.chance(f.dropRate)) {
      this.dropped++;
      return;
    }
    const wire = encodeMessage(m);
    const copies = this.#rand.chance(f.dupRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      let delay = f.minDelayMs + this.#rand.next() * (f.maxDelayMs - f.minDelayMs);
      if (this.#rand.chance(f.stallRate)) delay *= 10;
      this.#inFlight++;
      this.#sched.at(delay, () => {
        this.#inFlight--;
        this.#deliver(m.from, m.to, wire);
      });
    }
  }

  #deliver(from: NodeId, to: NodeId, wire: Uint8Array): void {
    if (this.#cut.has(`${from}>${to}`)) {
      this.dropped++;
      return;
    }
    const h = this.#handlers.get(to);
    if (h === undefined || !h.owner.alive) return;
    const m = decodeMessage(wire);
    this.#trace(`deliver ${from}>${to} ${m.type} t${m.term} i${m.index} c${m.commit} n${m.entries.length}`);
    h.handler(m);
  }

  /** Cuts from→to only. */
  cut(from: NodeId, to: NodeId): void {
    this.#cut.add(`${from}>${to}`);
  }

  /** Splits the members into groups that cannot reach each other. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    for (const [i, g] of groups.entries()) {
      for (const [j, h] of groups.entries()) {
        if (i === j) continue;
        for (const a of g) for (const b of h) this.cut(a, b);
      }
    }
  }

  /** Whether a message from→to gets through the partitions (drops and delays aside). */
  reachable(from: NodeId, to: NodeId): boolean {
    return !this.#cut.has(`${from}>${to}`);
  }

  heal(): void {
    this.#cut.clear();
  }

  get cutLinks(): string[] {
    return [...this.#cut].sort();
  }
}
