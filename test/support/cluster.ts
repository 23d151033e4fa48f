// An in-process single-node cluster on the simulated executor: the real store, manager loops,
// dispatcher and agent, with no engine. Used by orchestration tests.
import { MemoryStore, type Proposer } from '../../src/state/index.js';
import { EventLog, Manager } from '../../src/manager/index.js';
import { Agent, SimExecutor } from '../../src/agent/index.js';
import { systemClock } from '../../src/platform/index.js';
import {
  newId,
  type Assignment,
  type ContainerSpec,
  type NodeDescription,
  type Service,
  type Task,
} from '../../src/api/index.js';
import { createRootCA } from '../../src/ca/index.js';

export const DESCRIPTION: NodeDescription = {
  Hostname: 'sim1',
  Platform: { Architecture: 'x86_64', OS: 'linux' },
  Resources: { NanoCPUs: 2e9, MemoryBytes: 4 * 1024 ** 3 },
  Engine: { EngineVersion: 'sim' },
};

export class MemoryProposer implements Proposer {
  index = 0;
  propose(): Promise<number> {
    return Promise.resolve(++this.index);
  }
}

export interface SimCluster {
  store: MemoryStore;
  manager: Manager;
  executor: SimExecutor;
  agent: Agent;
  nodeId: string;
  stop(): Promise<void>;
  tasks(serviceId: string): Task[];
  service(id: string): Service;
  waitFor(what: string, cond: () => boolean, timeoutMs?: number): Promise<void>;
}

export async function simCluster(
  opts: { behaviour?: (a: Assignment) => { exitCode?: number } } = {},
): Promise<SimCluster> {
  const store = new MemoryStore(new MemoryProposer());
  const manager = new Manager({ store, clock: systemClock, events: new EventLog(systemClock) });
  const nodeId = 'simnode00000000000000001a';
  await manager.control.initCluster({
    nodeId,
    hostname: 'sim1',
    addr: '127.0.0.1',
    listenAddr: '127.0.0.1:2377',
    description: DESCRIPTION,
    clusterId: newId(),
    rootCA: await createRootCA({ now: Date.now() }),
  });
  manager.start();
  manager.lead();
  const executor = new SimExecutor(DESCRIPTION, opts.behaviour);
  const agent = new Agent({
    nodeId,
    addr: '127.0.0.1',
    dispatcher: manager.leader!.dispatcher,
    executor,
    clock: systemClock,
  });
  await agent.start();
  return {
    store,
    manager,
    executor,
    agent,
    nodeId,
    async stop() {
      await agent.stop();
      await manager.stop();
    },
    tasks: (id) => store.view((tx) => tx.tasksByService(id)),
    service: (id) => store.view((tx) => tx.get('services', id)!),
    async waitFor(what, cond, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

export function spec(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Name: name,
    TaskTemplate: { ContainerSpec: { Image: 'busybox:local', Args: ['sleep', '3600'] } },
    ...extra,
  };
}

export const running = (ts: readonly Task[]): Task[] =>
  ts.filter((t) => t.Status.State === 'running' && t.DesiredState === 'running');

/** Updates a service's container spec the way `docker service update` does (GET, change, POST with version). */
export async function updateContainer(
  c: SimCluster,
  id: string,
  change: (cs: ContainerSpec) => void,
): Promise<void> {
  const s = c.service(id);
  const tt = structuredClone(s.Spec.TaskTemplate!);
  change(tt.ContainerSpec!);
  await c.manager.control.updateService(
    id,
    s.Version.Index,
    { ...s.Spec, TaskTemplate: tt },
    { rollback: false },
  );
}
