// ReadIndex (Raft thesis §6.4): a read is linearizable once the leader has confirmed it is still
// leader (a quorum acknowledged a heartbeat sent after the read arrived) and the application has
// applied up to the commit index recorded when the read arrived. No log write is needed.
import type { Message, NodeId } from './types.js';

export interface ReadIndexStatus {
  req: Message;
  index: number;
  acks: Set<NodeId>;
}

function key(ctx: Uint8Array): string {
  let s = '';
  for (const b of ctx) s += b.toString(16).padStart(2, '0');
  return s;
}

/** Pending reads, in arrival order, keyed by their request context (which must be unique). */
export class ReadOnly {
  #pending = new Map<string, ReadIndexStatus>();
  #queue: string[] = [];

  /** Records a read at commit index `index`; a repeated context is ignored. */
  addRequest(index: number, m: Message, ctx: Uint8Array): void {
    const k = key(ctx);
    if (this.#pending.has(k)) return;
    this.#pending.set(k, { req: m, index, acks: new Set() });
    this.#queue.push(k);
  }

  /** Records that `id` acknowledged the heartbeat carrying ctx; returns who has, so far. */
  recvAck(id: NodeId, ctx: Uint8Array): Set<NodeId> | undefined {
    const rs = this.#pending.get(key(ctx));
    if (rs === undefined) return undefined;
    rs.acks.add(id);
    return rs.acks;
  }

  /**
   * The read for ctx is confirmed, and so is every read queued before it (their heartbeats went out
   * earlier, or with the same round). Removes and returns them, oldest first.
   */
  advance(ctx: Uint8Array): ReadIndexStatus[] {
    const k = key(ctx);
    const at = this.#queue.indexOf(k);
    if (at < 0) return [];
    const done = this.#queue.slice(0, at + 1);
    this.#queue = this.#queue.slice(at + 1);
    const out: ReadIndexStatus[] = [];
    for (const d of done) {
      const rs = this.#pending.get(d);
      if (rs === undefined) continue;
      this.#pending.delete(d);
      out.push(rs);
    }
    return out;
  }

  /** Context of the newest pending read: a heartbeat carrying it confirms all of them. */
  lastPendingRequestCtx(): Uint8Array | undefined {
    const last = this.#queue[this.#queue.length - 1];
    if (last === undefined) return undefined;
    return this.#pending.get(last)?.req.context;
  }

  size(): number {
    return this.#queue.length;
  }
}
