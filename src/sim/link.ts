// The simulator's carrier of the agent ↔ dispatcher session protocol: what the cluster port is to
// grpc.ts and remote.ts, a session link is to the simulated network. It runs the real protocol
// on both ends (the dispatcher's ServedSession with its SessionTable, the agent's
// SessionAssignments, ManagerList for which manager to try next) and adds only the network:
// delays, messages that arrive in order on a stream, a stream that breaks when a message cannot
// get through, deadlines for calls whose request or answer is lost, resets when a process dies.
import {
  ManagerList,
  type AgentSession,
  type DispatcherAPI,
  type NodeDescription,
  type SessionHandlers,
  type SessionMessage,
  type TaskStatusUpdate,
} from '../api/index.js';
import { SessionAssignments } from '../agent/index.js';
import { ServedSession, type SessionTable, type Dispatcher, type Manager } from '../manager/index.js';
import type { NodeId, RaftNode } from '../raft/index.js';
import type { MemoryStore } from '../state/index.js';
import type { SimNetwork } from './network.js';
import type { Prng } from './prng.js';
import type { Owner, Scheduler } from './scheduler.js';

/** What the fleet needs of the simulated cluster around it. */
export interface FleetHost {
  readonly sched: Scheduler;
  readonly net: SimNetwork;
  trace(line: string): void;
  fail(msg: string): void;
  managerIds(): NodeId[];
  /** A live manager's current incarnation. */
  incarnation(id: NodeId): ManagerIncarnation | undefined;
}

export interface ManagerIncarnation {
  owner: Owner;
  node: RaftNode;
  store: MemoryStore;
  manager: Manager;
  /** Starts the leader loops if this manager is a ready leader and the cluster exists (ManagerReplica). */
  leadIfReady: () => void;
}

export type ManagerLoops = NonNullable<Manager['leader']>;

/** The worker a link belongs to. */
export interface LinkedWorker {
  readonly name: string;
  readonly netId: NodeId;
  readonly nodeId: string;
}

/** A unary call not answered by then fails, as a gRPC deadline would. */
const CALL_TIMEOUT_MS = 2000;
/** How long a manager may take to answer a new session with its complete set (remote.ts's rule). */
const SESSION_OPEN_TIMEOUT_MS = 10_000;

/** Where a call to a manager failed; `redirect` names the leader to try, as the gRPC layer does. */
class LinkError extends Error {
  constructor(
    message: string,
    readonly redirect = false,
    readonly leader: NodeId = 0,
  ) {
    super(message);
  }
}

/** The dispatcher of a manager that leads, or the not-leader error naming the leader (grpc.ts's `dispatcher()`). */
export function leaderLoops(inc: ManagerIncarnation): ManagerLoops {
  const loops = inc.manager.leader;
  if (loops !== undefined) return loops;
  const lead = inc.node.leader;
  throw lead ? new LinkError('not the leader', true, lead) : new LinkError('no leader');
}

/** One session stream between an agent and a manager. */
class LinkStream {
  /** The manager's end; set once the opening request reached a leader. */
  served: ServedSession | undefined;
  /** The manager has let go of it. */
  released = false;
  /** The agent has let go of it (or it failed on the agent's side). */
  closed = false;
  readonly assignments = new SessionAssignments();
  /** Ends it on the agent's side with an error (the agent's stream handler). */
  fail: (err: Error) => void = () => undefined;
  /** Stream messages arrive in order: the next one never before the last. */
  #lastAt = 0;
  constructor(readonly managerId: NodeId) {}

  nextAt(now: number, delay: number): number {
    this.#lastAt = Math.max(now + delay, this.#lastAt);
    return this.#lastAt;
  }
}

/** The agent's DispatcherAPI: calls and session streams travel the simulated network. */
export class SessionLink implements DispatcherAPI {
  readonly #managers: ManagerList;
  /** Streams the manager side may still hold. */
  readonly #streams = new Set<LinkStream>();
  /** The session the agent holds (its first message arrived). */
  #current: LinkStream | undefined;

  constructor(
    private readonly host: FleetHost,
    /** Each manager incarnation's sessions, as each manager process keeps its own. */
    private readonly tables: (inc: ManagerIncarnation) => SessionTable,
    private readonly w: LinkedWorker,
    private readonly owner: Owner,
    private readonly rand: Prng,
  ) {
    const ids = host.managerIds();
    const first = ids.indexOf(rand.pick(ids));
    this.#managers = new ManagerList([...ids.slice(first), ...ids.slice(0, first)].map(String));
  }

  get #net(): SimNetwork {
    return this.host.net;
  }

  #delay(): number {
    const nf = this.#net.faults;
    return nf.minDelayMs + this.rand.next() * (nf.maxDelayMs - nf.minDelayMs);
  }

  /** A unary call: request after one delay, answer after another, a deadline if either is lost. */
  #call<T>(what: string, target: NodeId, fn: (inc: ManagerIncarnation) => Promise<T>): Promise<T> {
    const { sched } = this.host;
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const finish = (settle: () => void): void => {
        if (done) return;
        done = true;
        cancelDeadline();
        settle();
      };
      const cancelDeadline = sched.at(
        CALL_TIMEOUT_MS,
        () => finish(() => reject(new LinkError(`${what}: deadline exceeded`))),
        this.owner,
      );
      const answer = (settle: () => void): void => {
        sched.at(
          this.#delay(),
          () => {
            if (this.#net.reachable(target, this.w.netId)) finish(settle);
          },
          this.owner,
        );
      };
      sched.at(this.#delay(), () => {
        if (!this.#net.reachable(this.w.netId, target)) return;
        const inc = this.host.incarnation(target);
        if (inc === undefined) return answer(() => reject(new LinkError(`${what}: connection refused`)));
        new Promise<T>((r) => r(fn(inc))).then(
          (v) => answer(() => resolve(v)),
          (e: unknown) => answer(() => reject(e as Error)),
        );
      });
    });
  }

  openSession(
    nodeId: string,
    description: NodeDescription,
    addr: string,
    handlers: SessionHandlers,
  ): Promise<AgentSession> {
    const { sched } = this.host;
    const target = Number(this.#managers.current);
    const s = new LinkStream(target);
    this.#streams.add(s);
    return new Promise<AgentSession>((resolve, reject) => {
      let opened = false;
      // On the agent's side: the session failed; the next one goes to the leader named, or the next manager.
      const fail = (err: Error): void => {
        cancelDeadline();
        if (s.closed) return;
        s.closed = true;
        if (this.#current === s) this.#current = undefined;
        this.#managers.failed(err instanceof LinkError && err.redirect ? String(err.leader) : undefined);
        if (opened) handlers.onClose(err);
        else reject(err);
      };
      s.fail = fail;
      const cancelDeadline = sched.at(
        SESSION_OPEN_TIMEOUT_MS,
        () => {
          if (opened) return;
          fail(new LinkError(`manager ${target} did not open a session in time`));
          this.#hangUp(s);
        },
        this.owner,
      );
      const receive = (msg: SessionMessage): void => {
        if (s.closed) return;
        s.assignments.receive(msg, handlers, () => {
          if (opened) return;
          opened = true;
          cancelDeadline();
          this.#current = s;
          this.host.trace(`agent ${this.w.name} session on manager ${target}`);
          resolve({ heartbeatMs: msg.heartbeatMs, managers: [], close: () => this.#hangUp(s) });
        });
      };
      sched.at(this.#delay(), () => {
        if (!this.#net.reachable(this.w.netId, target)) return;
        const inc = this.host.incarnation(target);
        let loops: ManagerLoops;
        try {
          if (inc === undefined) throw new LinkError('session: connection refused');
          loops = leaderLoops(inc);
        } catch (e) {
          this.#release(s);
          return this.#stream(s, () => fail(e as Error), true);
        }
        s.served = new ServedSession({
          table: this.tables(inc!),
          dispatcher: loops.dispatcher,
          nodeId,
          description: structuredClone(description),
          addr,
          sink: {
            // What the agent receives is its own copy, as if decoded from the wire.
            send: (msg) => {
              const copy = structuredClone(msg);
              this.#stream(s, () => receive(copy));
            },
            // The dispatcher stopped (lost leadership): the stream ends with an error.
            close: () => {
              this.#stream(s, () => fail(new Error('the manager ended the session')));
              this.#release(s);
            },
            fail: (e) => {
              this.#stream(s, () => fail(e as Error));
              this.#release(s);
            },
          },
        });
        if (s.released) s.served.end();
      });
    });
  }

  /**
   * A message on the session stream, in order. Messages in flight when the manager lets go still
   * arrive (`last` lets its closing error through); one that cannot get through breaks the stream:
   * the manager notices, the agent notices by its heartbeat.
   */
  #stream(s: LinkStream, deliver: () => void, last = false): void {
    if (s.released && !last) return;
    const { sched } = this.host;
    const at = s.nextAt(sched.now, this.#delay());
    sched.at(
      at - sched.now,
      () => {
        if (!this.#net.reachable(s.managerId, this.w.netId)) this.#release(s);
        else deliver();
      },
      this.owner,
    );
  }

  /** The manager lets go of a stream; a lost current session gives the node a heartbeat period to come back. */
  #release(s: LinkStream): void {
    if (s.released) return;
    s.released = true;
    this.#streams.delete(s);
    this.host.trace(`agent ${this.w.name}: manager ${s.managerId} releases a session`);
    s.served?.end();
  }

  /** The agent hangs up; the manager hears of it one network delay later. */
  #hangUp(s: LinkStream): void {
    s.closed = true;
    if (this.#current === s) this.#current = undefined;
    this.host.sched.at(this.#delay(), () => this.#release(s));
  }

  /** The agent process died: its connections reset, and the manager sees its streams end. */
  agentCrashed(): void {
    for (const s of this.#streams) this.#hangUp(s);
  }

  /** The manager process died: the agent sees its streams reset, if a packet can reach it. */
  managerCrashed(id: NodeId): void {
    for (const s of [...this.#streams]) {
      if (s.managerId !== id) continue;
      s.released = true;
      this.#streams.delete(s);
      if (s.closed) continue;
      this.#stream(s, () => s.fail(new Error('connection reset')), true);
    }
  }

  /** Heartbeats and reports name their session; one the manager no longer holds is refused. */
  #checked(inc: ManagerIncarnation, s: LinkStream | undefined): Dispatcher {
    const d = leaderLoops(inc).dispatcher;
    if (!s || !this.tables(inc).isCurrent(this.w.nodeId, s.assignments.sessionId)) {
      this.host.trace(`agent ${this.w.name}: session invalid`);
      throw new LinkError('session invalid: open a new session');
    }
    return d;
  }

  heartbeat(nodeId: string): Promise<{ heartbeatMs: number }> {
    const s = this.#current;
    return this.#call('heartbeat', s?.managerId ?? Number(this.#managers.current), (inc) =>
      this.#checked(inc, s).heartbeat(nodeId),
    );
  }

  updateTaskStatus(nodeId: string, updates: readonly TaskStatusUpdate[]): Promise<void> {
    const s = this.#current;
    const copy = structuredClone(updates);
    return this.#call('report', s?.managerId ?? Number(this.#managers.current), (inc) =>
      this.#checked(inc, s).updateTaskStatus(nodeId, copy),
    ).then(() => s?.assignments.acknowledged(updates));
  }

  /** The simulation asks for no logs (its executor keeps none). */
  publishLogs(): Promise<boolean> {
    return Promise.resolve(false);
  }
}
