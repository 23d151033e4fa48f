import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from './agent.js';
import { SimExecutor } from '../exec/sim.js';
import { systemClock } from '../../platform/index.js';
import type { Assignment, DispatcherAPI, NetworkView, Task, TaskStatusUpdate } from '../../api/index.js';

const desc = {
  Hostname: 'n',
  Platform: { OS: 'linux', Architecture: 'x86_64' },
  Resources: { NanoCPUs: 1e9, MemoryBytes: 1e9 },
  Engine: { EngineVersion: 'sim' },
};

function assignment(id: string): Assignment {
  const task: Task = {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    Labels: {},
    Spec: { ContainerSpec: { Image: 'x' } },
    ServiceID: 'svc',
    Slot: 1,
    NodeID: 'node',
    Status: { Timestamp: '', State: 'assigned', Message: '', PortStatus: {} },
    DesiredState: 'running',
  };
  return { task, serviceName: 'web', serviceLabels: {}, secrets: [], configs: [] };
}

/** A dispatcher that records reports and lets the test push assignment sets to the open session. */
function stubDispatcher(): {
  dispatcher: DispatcherAPI;
  push: (set: Assignment[]) => void;
  reports: TaskStatusUpdate[];
} {
  const out = {
    push: (_set: Assignment[]): void => undefined,
    reports: [] as TaskStatusUpdate[],
    dispatcher: undefined as unknown as DispatcherAPI,
  };
  out.dispatcher = {
    openSession: (_n, _d, _a, h) => {
      out.push = (set) => h.onAssignments(set);
      return Promise.resolve({ heartbeatMs: 60_000, managers: [], close: () => undefined });
    },
    heartbeat: () => Promise.resolve({ heartbeatMs: 60_000 }),
    updateTaskStatus: (_n, u) => {
      out.reports.push(...u);
      return Promise.resolve();
    },
    publishLogs: () => Promise.resolve(false),
  };
  return { dispatcher: out.dispatcher, push: (set) => out.push(set), reports: out.reports };
}

test('an older assignment set applied after a newer one never closes the newer tasks (regression)', async () => {
  const { dispatcher, push, reports } = stubDispatcher();
  const executor = new SimExecutor(desc);
  const agent = new Agent({ nodeId: 'node', addr: '127.0.0.1', dispatcher, executor, clock: systemClock });
  await agent.start();
  push([assignment('t1')]);
  await new Promise((r) => setTimeout(r, 20));
  // t1 leaves (its close awaits the executor) while t2 arrives right behind.
  push([]);
  push([assignment('t2')]);
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(executor.containers.has('t2'), "t2's container was not removed by the stale set");
  assert.equal(executor.containers.get('t2')?.state, 'running');
  assert.ok(!reports.some((r) => r.taskId === 't2' && r.status.State === 'failed'));
  await agent.stop();
});

test('a lost session keeps tasks running and reconnects with a fresh complete set', async () => {
  const sessions: { close: (e: Error) => void; push: (set: Assignment[]) => void }[] = [];
  const dispatcher: DispatcherAPI = {
    openSession: (_n, _d, _a, h) => {
      sessions.push({ close: (e) => h.onClose(e), push: (set) => h.onAssignments(set) });
      return Promise.resolve({ heartbeatMs: 60_000, managers: [], close: () => undefined });
    },
    heartbeat: () => Promise.resolve({ heartbeatMs: 60_000 }),
    updateTaskStatus: () => Promise.resolve(),
    publishLogs: () => Promise.resolve(false),
  };
  const executor = new SimExecutor(desc);
  const agent = new Agent({ nodeId: 'node', addr: '127.0.0.1', dispatcher, executor, clock: systemClock });
  await agent.start();
  sessions[0]!.push([assignment('t1')]);
  await new Promise((r) => setTimeout(r, 20));
  sessions[0]!.close(new Error('manager went away'));
  assert.equal(agent.connected, false);
  // Late messages of the dead session are ignored.
  sessions[0]!.push([]);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(executor.containers.get('t1')?.state, 'running', 'tasks keep running while disconnected');
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(sessions.length, 2, 'a new session was opened after the backoff');
  assert.equal(agent.connected, true);
  sessions[1]!.push([assignment('t2')]);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(executor.containers.get('t2')?.state, 'running');
  assert.ok(!executor.containers.has('t1'), 't1 left with the new complete set');
  await agent.stop();
});

test('a task whose state the manager shows behind is reported again (a report lost with a leader)', async () => {
  const { dispatcher, push, reports } = stubDispatcher();
  const executor = new SimExecutor(desc);
  const agent = new Agent({ nodeId: 'node', addr: '127.0.0.1', dispatcher, executor, clock: systemClock });
  await agent.start();
  push([assignment('t1')]);
  await new Promise((r) => setTimeout(r, 30));
  const running = (): number =>
    reports.filter((r) => r.taskId === 't1' && r.status.State === 'running').length;
  assert.equal(running(), 1);
  // The new leader's set still says ASSIGNED: the RUNNING report never reached the store.
  push([assignment('t1')]);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(running(), 2, 'the runner said RUNNING again');
  // A set that has caught up brings no new report.
  const caughtUp = assignment('t1');
  caughtUp.task.Status = { ...caughtUp.task.Status, State: 'running' };
  push([caughtUp]);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(running(), 2);
  await agent.stop();
});

test('a restarted agent stops a container whose start the manager never heard of', async () => {
  const { dispatcher, push } = stubDispatcher();
  // The agent before the crash started t1; its RUNNING report never reached the store.
  const executor = new SimExecutor(desc);
  executor.containers.set('t1', { taskId: 't1', serviceId: 'svc', state: 'running', exitCode: 0 });
  const agent = new Agent({ nodeId: 'node', addr: '127.0.0.1', dispatcher, executor, clock: systemClock });
  await agent.start();
  // Meanwhile the node was down, so the manager shut the task down (it still says ASSIGNED).
  const a = assignment('t1');
  a.task.DesiredState = 'shutdown';
  push([a]);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(executor.containers.get('t1')?.state, 'exited');
  await agent.stop();
});

test("the agent hands its session's network views on, keeps them across a lost session, and takes the next session's", async () => {
  const sessions: { close: (e: Error) => void; views: (v: NetworkView[]) => void }[] = [];
  const dispatcher: DispatcherAPI = {
    openSession: (_n, _d, _a, h) => {
      sessions.push({ close: (e) => h.onClose(e), views: (v) => h.onNetworks?.(v) });
      return Promise.resolve({ heartbeatMs: 60_000, managers: [], close: () => undefined });
    },
    heartbeat: () => Promise.resolve({ heartbeatMs: 60_000 }),
    updateTaskStatus: () => Promise.resolve(),
    publishLogs: () => Promise.resolve(false),
  };
  const view = (id: string): NetworkView => ({
    id,
    name: id,
    vni: 4096,
    subnets: [],
    attachable: false,
    internal: false,
    ingress: false,
    options: {},
    endpoints: [],
    services: [],
  });
  const heard: string[][] = [];
  const agent = new Agent({
    nodeId: 'node',
    addr: '127.0.0.1',
    dispatcher,
    executor: new SimExecutor(desc),
    clock: systemClock,
    onNetworks: (v) => heard.push(v.map((x) => x.id)),
  });
  await agent.start();
  sessions[0]!.views([view('a')]);
  assert.deepEqual(heard, [['a']]);
  sessions[0]!.close(new Error('manager went away'));
  sessions[0]!.views([]);
  assert.deepEqual(
    agent.networks.map((v) => v.id),
    ['a'],
    'the last views stay in force while disconnected; a dead session is not heard',
  );
  assert.equal(heard.length, 1);
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(sessions.length, 2, 'a new session was opened after the backoff');
  sessions[1]!.views([view('b')]);
  assert.deepEqual(heard, [['a'], ['b']]);
  assert.deepEqual(
    agent.networks.map((v) => v.id),
    ['b'],
  );
  await agent.stop();
});
