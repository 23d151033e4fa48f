// The dispatcher's side of the session protocol, whatever carries it (grpc.ts over the cluster
// port, the simulator's link over its network). A node has one current session; each stream
// starts with the node's complete assignment set and then carries only what changed (tasks, and
// the secrets and configs those tasks reference), with the cluster's TLS target, the node's role
// and log subscriptions riding along. Heartbeats and reports name their session and are taken
// only from the current one.
import {
  newId,
  type AgentSession,
  type Assignment,
  type LogNotice,
  type NetworkView,
  type NodeDescription,
  type NodeRole,
  type SessionChange,
  type SessionMessage,
  type Task,
  type TlsTarget,
} from '../../api/index.js';
import { statusOnlyChange, type Dispatcher } from './index.js';

/**
 * What a session has sent so far, to send only differences. A task is identified by its store
 * version (a stored task never changes without a new one): diffing a node's whole set by the
 * tasks' JSON on every change re-serialized every task the node holds (O(n²) while a service of
 * n tasks starts on one node). A task whose version moved is sent again only if more than its
 * status changed: a status the agent reported is not echoed back to it (`statusOnlyChange`).
 */
export class SentState {
  /** Per task: the store copy last seen (sent, or differing from the sent one only in status) and its service's part. */
  tasks = new Map<string, { task: Task; version: number | undefined; service: string }>();
  secrets = new Set<string>();
  configs = new Set<string>();

  diff(set: Assignment[]): SessionChange[] {
    const changes: SessionChange[] = [];
    const tasks = new Map<string, { task: Task; version: number | undefined; service: string }>();
    const secrets = new Map<string, Assignment['secrets'][number]>();
    const configs = new Map<string, Assignment['configs'][number]>();
    for (const a of set) {
      for (const s of a.secrets) secrets.set(s.id, s);
      for (const c of a.configs) configs.set(c.id, c);
    }
    // Payloads before the tasks that use them, removals after.
    for (const [id, s] of secrets) if (!this.secrets.has(id)) changes.push({ kind: 'secret', payload: s });
    for (const [id, c] of configs) if (!this.configs.has(id)) changes.push({ kind: 'config', payload: c });
    for (const a of set) {
      const version = a.task.Version?.Index;
      // New registry credentials resend the task, so the node pulls with the current ones.
      const service = `${a.serviceName}\0${JSON.stringify(a.serviceLabels)}\0${a.registryAuth ?? ''}`;
      tasks.set(a.task.ID, { task: a.task, version, service });
      const had = this.tasks.get(a.task.ID);
      if (had && had.service === service) {
        if (
          version !== undefined
            ? had.version === version
            : JSON.stringify(had.task) === JSON.stringify(a.task)
        )
          continue;
        if (statusOnlyChange(had.task, a.task)) continue;
      }
      changes.push({
        kind: 'task',
        task: a.task,
        serviceName: a.serviceName,
        serviceLabels: a.serviceLabels,
        ...(a.registryAuth ? { registryAuth: a.registryAuth } : {}),
      });
    }
    for (const id of this.tasks.keys()) if (!tasks.has(id)) changes.push({ kind: 'removeTask', id });
    for (const id of this.secrets) if (!secrets.has(id)) changes.push({ kind: 'removeSecret', id });
    for (const id of this.configs) if (!configs.has(id)) changes.push({ kind: 'removeConfig', id });
    this.tasks = tasks;
    this.secrets = new Set(secrets.keys());
    this.configs = new Set(configs.keys());
    return changes;
  }
}

/**
 * The JSON of a network's endpoint and service lists, once per push round: every node holding the
 * network gets the same lists (NetworkViews shares them), so 100 sessions diffing a view of 1000
 * endpoints serialize it once, not 100 times.
 */
const listJson = new WeakMap<object, string>();
function viewJson(v: NetworkView): string {
  const { endpoints, services, ...rest } = v;
  const part = (x: object): string => {
    let s = listJson.get(x);
    if (s === undefined) listJson.set(x, (s = JSON.stringify(x)));
    return s;
  };
  return `${JSON.stringify(rest)}${part(endpoints)}${part(services)}`;
}

/**
 * The network views a session has sent, by their JSON: a view goes again only when it changed (a
 * task's status on another node, a node going down), and a network the node no longer needs is
 * removed. Views come sorted and built the same way each time, so equal views have equal JSON.
 */
export class SentNetworks {
  #sent = new Map<string, string>();

  diff(views: readonly NetworkView[]): SessionChange[] {
    const changes: SessionChange[] = [];
    const now = new Map<string, string>();
    for (const view of views) {
      const json = viewJson(view);
      now.set(view.id, json);
      if (this.#sent.get(view.id) !== json) changes.push({ kind: 'network', view });
    }
    for (const id of this.#sent.keys()) if (!now.has(id)) changes.push({ kind: 'removeNetwork', id });
    this.#sent = now;
    return changes;
  }
}

/** The current session of each node on one manager; a newer session supersedes an older one. */
export class SessionTable {
  #current = new Map<string, string>();

  /** A new session for the node, now its current one. */
  open(nodeId: string): string {
    const id = newId();
    this.#current.set(nodeId, id);
    return id;
  }

  /** Heartbeats and reports are taken only from the node's current session. */
  isCurrent(nodeId: string, sessionId: string): boolean {
    return this.#current.get(nodeId) === sessionId;
  }

  /** A session ended; true when it was the node's current one (it was lost, not superseded). */
  release(nodeId: string, sessionId: string): boolean {
    if (this.#current.get(nodeId) !== sessionId) return false;
    this.#current.delete(nodeId);
    return true;
  }
}

/** Where a session's messages go: the carrier's stream. */
export interface SessionSink {
  send(msg: SessionMessage): void;
  /** The dispatcher ended the session (it stopped leading, the node was removed). */
  close(): void;
  /** The session could not open. */
  fail(err: unknown): void;
}

/**
 * One session stream, served: registers the node with the dispatcher and turns its callbacks
 * into the stream's messages. The carrier calls `end()` when the stream goes away, from either side.
 */
export class ServedSession {
  readonly id: string;
  #sent = new SentState();
  #sentNets = new SentNetworks();
  /** Network changes that came before the first message: they open it, before the tasks. */
  #firstNets: SessionChange[] = [];
  #first = true;
  #tls: TlsTarget | undefined;
  #tlsSent = false;
  #role: NodeRole | '' = '';
  #handle: AgentSession | undefined;
  #ended = false;
  /** Log notices for the next message (held until the first, the complete set, has gone). */
  #logs: LogNotice[] = [];

  constructor(
    private readonly o: {
      table: SessionTable;
      dispatcher: Dispatcher;
      nodeId: string;
      description: NodeDescription;
      addr: string;
      sink: SessionSink;
    },
  ) {
    this.id = o.table.open(o.nodeId);
    o.dispatcher
      .openSession(o.nodeId, o.description, o.addr, {
        onAssignments: (set) => {
          const changes = [...this.#firstNets.splice(0), ...this.#sent.diff(set)];
          if (!this.#first && changes.length === 0) return;
          this.#write(changes);
        },
        onNetworks: (views) => {
          const changes = this.#sentNets.diff(views);
          if (this.#first) this.#firstNets.push(...changes);
          else if (changes.length > 0) this.#write(changes);
        },
        onTlsTarget: (t) => {
          this.#tls = t;
          this.#tlsSent = false;
          if (!this.#first) this.#write([]);
        },
        onNodeRole: (r) => {
          this.#role = r;
          if (!this.#first) this.#write([]);
        },
        onLogSubscription: (sub) => this.#notice({ kind: 'subscribe', sub }),
        onLogCancel: (id) => this.#notice({ kind: 'cancel', id }),
        onClose: () => o.sink.close(),
      })
      .then(
        (h) => {
          this.#handle = h;
          if (this.#ended) h.close();
        },
        (e: unknown) => {
          o.sink.fail(e);
          this.end();
        },
      );
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** The stream is gone. A lost current session gives its node a grace period to come back. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#handle?.close();
    if (this.o.table.release(this.o.nodeId, this.id)) this.o.dispatcher.sessionLost(this.o.nodeId);
  }

  #notice(n: LogNotice): void {
    this.#logs.push(n);
    if (!this.#first) this.#write([]);
  }

  #write(changes: SessionChange[]): void {
    if (this.#ended) return;
    const d = this.o.dispatcher;
    this.o.sink.send({
      sessionId: this.id,
      heartbeatMs: d.heartbeatMs,
      managers: d.managers(),
      complete: this.#first,
      changes,
      ...(this.#tls && !this.#tlsSent ? { tls: this.#tls } : {}),
      nodeRole: this.#role,
      logs: this.#logs.splice(0),
    });
    if (this.#tls) this.#tlsSent = true;
    this.#first = false;
  }
}
