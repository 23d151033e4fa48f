// The manager: the store's API (ControlAPI, CA), which every manager serves, and the leader-only
// loops around the store (dispatcher, allocator, scheduler, orchestrators, Raft membership, the
// CA's rotation loop). The daemon calls lead() when this manager's Raft node becomes a ready
// leader and stepDown() when it loses that; each term gets fresh loops, so nothing a previous
// term learned (heartbeat deadlines, sessions) leaks into the next.
import type { Clock } from '../platform/index.js';
import type { MemoryStore } from '../state/index.js';
import { Allocator } from './allocator/index.js';
import { ControlAPI } from './controlapi/index.js';
import { Dispatcher } from './dispatcher/index.js';
import { NodeCA } from './nodeca/index.js';
import type { EventLog } from './events.js';
import { Membership, type RaftGroup } from './membership.js';
import { Orchestrator } from './orchestrator/index.js';
import { Scheduler } from './scheduler/index.js';

export { ControlAPI, DEFAULT_SWARM_SPEC, mergeSwarmSpec } from './controlapi/index.js';
export type { ControlOptions } from './controlapi/index.js';
export { Dispatcher, networkViews, NetworkViews, holdsNetworks, isEndpointTask } from './dispatcher/index.js';
export { dispatcherService } from './dispatcher/grpc.js';
export { ServedSession, SessionTable, SentState, SentNetworks } from './dispatcher/session.js';
export type { SessionSink } from './dispatcher/session.js';
export { LogBroker } from './dispatcher/logs.js';
export type { LogRequest, LogSink } from './dispatcher/logs.js';
export { NodeCA } from './nodeca/index.js';
export { EventLog } from './events.js';
export type { EngineEvent } from './events.js';
export * from './orchestrator/index.js';
export { Scheduler, scheduleTasks, filterNodes } from './scheduler/index.js';
export { Allocator, serviceNetworks } from './allocator/index.js';
export { Membership, raftMembers } from './membership.js';
export type { RaftGroup, RaftMemberInfo } from './membership.js';
export { ManagerReplica } from './replica.js';
export type { ManagerReplicaOptions } from './replica.js';

export interface ManagerOptions {
  store: MemoryStore;
  clock: Clock;
  events: EventLog;
  /** The local Raft node; absent in tests that run one manager without Raft. */
  raft?: RaftGroup;
  log?: (msg: string) => void;
  heartbeatMs?: number;
  /** The cluster ID in this manager's certificate. */
  clusterId?: string;
  /** This manager's cluster address, which agents are told to prefer while it leads. */
  selfAddr?: () => string;
  /** Why this manager refuses encrypted networks, if it does (see ControlOptions). */
  encryption?: () => Promise<string | undefined>;
}

/** The loops one leadership term runs. */
export interface LeaderLoops {
  dispatcher: Dispatcher;
  orchestrator: Orchestrator;
  allocator: Allocator;
  scheduler: Scheduler;
  membership: Membership | undefined;
}

export class Manager {
  readonly control: ControlAPI;
  readonly events: EventLog;
  readonly ca: NodeCA;
  #leader: LeaderLoops | undefined;
  #log: (msg: string) => void;

  constructor(readonly o: ManagerOptions) {
    this.#log = o.log ?? (() => undefined);
    this.control = new ControlAPI(
      o.store,
      o.clock,
      () => this.#leader?.membership,
      o.encryption ? { encryption: o.encryption } : {},
    );
    this.events = o.events;
    this.ca = new NodeCA(o.store, o.clock, this.#log, o.clusterId ?? '');
  }

  /** This term's loops, while this manager leads. */
  get leader(): LeaderLoops | undefined {
    return this.#leader;
  }

  /** Starts what every manager runs (the event log). */
  start(): void {
    this.events.attach(this.o.store);
  }

  /** This manager became the ready leader: start a fresh set of leader loops. */
  lead(): void {
    if (this.#leader) return;
    const { store, clock } = this.o;
    const log = this.#log;
    const loops: LeaderLoops = {
      dispatcher: new Dispatcher(store, clock, log, {
        ...(this.o.heartbeatMs !== undefined ? { heartbeatMs: this.o.heartbeatMs } : {}),
        ...(this.o.selfAddr ? { selfAddr: this.o.selfAddr } : {}),
      }),
      orchestrator: new Orchestrator(store, clock, log),
      allocator: new Allocator(store, clock, log),
      scheduler: new Scheduler(store, clock, log),
      membership: this.o.raft ? new Membership(store, this.o.raft, clock, log) : undefined,
    };
    this.#leader = loops;
    this.ca.start();
    loops.dispatcher.start();
    loops.allocator.start();
    loops.scheduler.start();
    loops.orchestrator.start();
    loops.membership?.start();
  }

  /** Leadership is gone: stop this term's loops; their sessions end and agents find the new leader. */
  async stepDown(): Promise<void> {
    const loops = this.#leader;
    if (!loops) return;
    this.#leader = undefined;
    loops.membership?.stop();
    loops.orchestrator.stop();
    loops.scheduler.stop();
    loops.allocator.stop();
    this.ca.stop();
    await loops.dispatcher.stop();
  }

  async stop(): Promise<void> {
    await this.stepDown();
    this.events.detach();
  }
}
