// The log broker: `service logs` asked of a manager needs the lines of tasks on other nodes. The
// broker sends each node concerned a subscription down its session; the node's agent reads the
// task logs from its engine and publishes them back in batches, which the broker hands to the
// subscriber. Swarm's manager has the same broker; nothing of it is stored in Raft.
import { newId, type LogSubscription, type TaskLogLine } from '../../api/index.js';
import type { Clock, Cancel } from '../../platform/index.js';

/** A node that has not answered a subscription without follow in this long is given up on. */
export const LOG_ANSWER_TIMEOUT_MS = 10_000;

export interface LogSink {
  lines(lines: readonly TaskLogLine[]): void;
  /** Every node has sent all it has (never called while following). */
  end(): void;
}

export interface LogRequest {
  /** Task IDs by the node they run on. */
  tasksByNode: ReadonlyMap<string, readonly string[]>;
  serviceId?: string;
  follow: boolean;
  tail?: number;
  since?: number;
  /** Following a service, every node is asked but this one (the subscriber reads its own). */
  excludeNode?: string;
}

interface NodeChannel {
  subscribe(sub: LogSubscription): void;
  cancel(id: string): void;
}

interface Subscription {
  request: LogRequest;
  sink: LogSink;
  /** Nodes sent the subscription, to cancel it there. */
  nodes: Set<string>;
  /** Without follow: nodes that have not said they are done yet. */
  waiting: Set<string>;
  timer?: Cancel;
}

/** Following a service, every node may start one of its tasks later, so every node is asked. */
const everyNode = (r: LogRequest): boolean => r.follow && r.serviceId !== undefined;

export class LogBroker {
  #subs = new Map<string, Subscription>();
  /** The open session of each node, to send it subscriptions. */
  #channels = new Map<string, NodeChannel>();

  constructor(private readonly clock: Clock) {}

  /** A node's session opened: it gets the subscriptions that concern it (a follow outlives reconnects). */
  attach(nodeId: string, channel: NodeChannel): () => void {
    this.#channels.set(nodeId, channel);
    for (const [id, s] of this.#subs) {
      const concerned = s.request.follow
        ? (everyNode(s.request) && nodeId !== s.request.excludeNode) || s.request.tasksByNode.has(nodeId)
        : s.waiting.has(nodeId);
      if (!concerned) continue;
      s.nodes.add(nodeId);
      channel.subscribe(this.#forNode(id, s.request, nodeId));
    }
    return () => {
      if (this.#channels.get(nodeId) === channel) this.#channels.delete(nodeId);
    };
  }

  /** Starts a subscription; the returned function cancels it (the subscriber went away). */
  subscribe(request: LogRequest, sink: LogSink): () => void {
    const id = newId();
    const targets = new Set(request.tasksByNode.keys());
    if (everyNode(request))
      for (const n of this.#channels.keys()) if (n !== request.excludeNode) targets.add(n);
    const s: Subscription = { request, sink, nodes: new Set(), waiting: new Set() };
    this.#subs.set(id, s);
    for (const nodeId of targets) {
      const ch = this.#channels.get(nodeId);
      // A node without a session has no way to send its lines: it is not waited for.
      if (!ch) continue;
      s.nodes.add(nodeId);
      if (!request.follow) s.waiting.add(nodeId);
      ch.subscribe(this.#forNode(id, request, nodeId));
    }
    if (!request.follow) {
      s.timer = this.clock.setTimer(LOG_ANSWER_TIMEOUT_MS, () => this.#finish(id));
      if (s.waiting.size === 0) this.#finish(id);
    }
    return () => {
      if (!this.#subs.has(id)) return;
      for (const nodeId of s.nodes) this.#channels.get(nodeId)?.cancel(id);
      this.#drop(id);
    };
  }

  /** Lines a node published; false when the subscription is gone, so the node stops. */
  publish(nodeId: string, subscriptionId: string, lines: readonly TaskLogLine[], done: boolean): boolean {
    const s = this.#subs.get(subscriptionId);
    // Without follow, a node that said it is done has nothing more to say.
    if (!s || !(s.request.follow ? s.nodes : s.waiting).has(nodeId)) return false;
    // A node speaks only for the tasks it was asked about (following a service, for those that
    // start later too: the subscriber checks they belong to the service).
    const asked = new Set(s.request.tasksByNode.get(nodeId));
    const ok = everyNode(s.request) ? lines : lines.filter((l) => asked.has(l.taskId));
    if (ok.length > 0) s.sink.lines(ok);
    if (done && !s.request.follow) {
      s.waiting.delete(nodeId);
      if (s.waiting.size === 0) this.#finish(subscriptionId);
    }
    return true;
  }

  /** This manager stops leading: every subscription ends (its subscribers' streams close). */
  endAll(): void {
    for (const id of [...this.#subs.keys()]) this.#finish(id);
  }

  get size(): number {
    return this.#subs.size;
  }

  #forNode(id: string, r: LogRequest, nodeId: string): LogSubscription {
    return {
      id,
      taskIds: [...(r.tasksByNode.get(nodeId) ?? [])],
      follow: r.follow,
      ...(r.serviceId !== undefined ? { serviceId: r.serviceId } : {}),
      ...(r.tail !== undefined ? { tail: r.tail } : {}),
      ...(r.since !== undefined ? { since: r.since } : {}),
    };
  }

  #finish(id: string): void {
    const s = this.#subs.get(id);
    if (!s) return;
    for (const nodeId of s.request.follow ? s.nodes : s.waiting) this.#channels.get(nodeId)?.cancel(id);
    this.#drop(id);
    s.sink.end();
  }

  #drop(id: string): void {
    this.#subs.get(id)?.timer?.();
    this.#subs.delete(id);
  }
}
