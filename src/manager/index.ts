// The manager: the leader-only loops around the store. With one manager it is always the leader;
// the Raft issue starts and stops these loops on leadership changes.
import type { Clock } from '../platform/index.js';
import type { MemoryStore } from '../state/index.js';
import { Allocator } from './allocator/index.js';
import { ControlAPI } from './controlapi/index.js';
import { Dispatcher } from './dispatcher/index.js';
import { NodeCA } from './nodeca/index.js';
import type { EventLog } from './events.js';
import { Orchestrator } from './orchestrator/index.js';
import { Scheduler } from './scheduler/index.js';

export { ControlAPI, DEFAULT_SWARM_SPEC, mergeSwarmSpec } from './controlapi/index.js';
export { Dispatcher } from './dispatcher/index.js';
export { dispatcherService } from './dispatcher/grpc.js';
export { NodeCA } from './nodeca/index.js';
export { EventLog } from './events.js';
export type { EngineEvent } from './events.js';
export * from './orchestrator/index.js';
export { Scheduler, scheduleTasks, filterNodes } from './scheduler/index.js';
export { Allocator, serviceNetworks } from './allocator/index.js';

export interface ManagerOptions {
  store: MemoryStore;
  clock: Clock;
  events: EventLog;
  log?: (msg: string) => void;
  heartbeatMs?: number;
}

export class Manager {
  readonly control: ControlAPI;
  readonly dispatcher: Dispatcher;
  readonly orchestrator: Orchestrator;
  readonly allocator: Allocator;
  readonly scheduler: Scheduler;
  readonly events: EventLog;
  readonly ca: NodeCA;

  constructor(readonly o: ManagerOptions) {
    const log = o.log ?? (() => undefined);
    this.control = new ControlAPI(o.store, o.clock);
    this.dispatcher = new Dispatcher(
      o.store,
      o.clock,
      log,
      o.heartbeatMs !== undefined ? { heartbeatMs: o.heartbeatMs } : {},
    );
    this.orchestrator = new Orchestrator(o.store, o.clock, log);
    this.allocator = new Allocator(o.store, o.clock, log);
    this.scheduler = new Scheduler(o.store, o.clock, log);
    this.events = o.events;
    this.ca = new NodeCA(o.store, o.clock, log);
  }

  start(): void {
    this.events.attach(this.o.store);
    this.ca.start();
    this.dispatcher.start();
    this.allocator.start();
    this.scheduler.start();
    this.orchestrator.start();
  }

  async stop(): Promise<void> {
    this.orchestrator.stop();
    this.scheduler.stop();
    this.allocator.stop();
    await this.dispatcher.stop();
    this.ca.stop();
    this.events.detach();
  }
}
