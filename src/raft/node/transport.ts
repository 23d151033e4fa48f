// How members reach each other. The driver only sends batches and receives single messages; the
// gRPC transport, the in-memory one below and the simulation's faulty network all fit.
import type { Message, NodeId } from '../core/index.js';
import { decodeMessage, encodeMessage } from './codec.js';

export interface RaftTransport {
  /** Sends messages on a best-effort basis: any may be lost, delayed, duplicated or reordered. */
  send(msgs: readonly Message[]): void;
  /** Delivers incoming messages to handler; returns a function that stops delivery. */
  onMessage(handler: (m: Message) => void): () => void;
}

/**
 * Members of one process joined directly. Delivery is asynchronous (a microtask), and every message
 * goes through the wire codec, so no member shares objects with another.
 */
export class MemoryNetwork {
  readonly #handlers = new Map<NodeId, (m: Message) => void>();
  readonly #isolated = new Set<NodeId>();

  transport(id: NodeId): RaftTransport {
    return {
      send: (msgs) => {
        for (const m of msgs) {
          const wire = encodeMessage(m);
          queueMicrotask(() => {
            if (this.#isolated.has(m.from) || this.#isolated.has(m.to)) return;
            this.#handlers.get(m.to)?.(decodeMessage(wire));
          });
        }
      },
      onMessage: (handler) => {
        this.#handlers.set(id, handler);
        return () => {
          if (this.#handlers.get(id) === handler) this.#handlers.delete(id);
        };
      },
    };
  }

  /** Cuts a member off from everyone (both directions) until heal(). */
  isolate(id: NodeId): void {
    this.#isolated.add(id);
  }

  heal(id: NodeId): void {
    this.#isolated.delete(id);
  }
}
