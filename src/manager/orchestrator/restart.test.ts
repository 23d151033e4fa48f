import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRestarts, RestartHistory } from './restart.js';
import { newTask } from './tasks.js';
import type { Node, Service, Task } from '../../api/index.js';

const NOW = Date.UTC(2026, 0, 1);

const service: Service = {
  ID: 'svc',
  Version: { Index: 1 },
  CreatedAt: '',
  UpdatedAt: '',
  // Docker's default restart policy: condition any, delay 5 s.
  Spec: {
    Name: 'web',
    Mode: { Replicated: { Replicas: 1 } },
    TaskTemplate: { ContainerSpec: { Image: 'x' } },
  },
  Endpoint: { Spec: {} },
};

function node(id: string, state: 'ready' | 'down'): Node {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Role: 'worker', Availability: 'active' },
    Description: {
      Hostname: id,
      Platform: { Architecture: '', OS: '' },
      Resources: { NanoCPUs: 0, MemoryBytes: 0 },
      Engine: { EngineVersion: '' },
    },
    Status: { State: state, Addr: '' },
  };
}

function running(nodeId: string, state: 'running' | 'failed' = 'running'): Task {
  const t = newTask(service, { now: NOW - 60_000, slot: 1 });
  return { ...t, NodeID: nodeId, Status: { ...t.Status, State: state } };
}

test('a task that failed is replaced after the restart delay', () => {
  const { plan, wakeAt } = planRestarts({
    service,
    tasks: [running('n1', 'failed')],
    nodes: new Map([['n1', node('n1', 'ready')]]),
    now: NOW,
    history: new RestartHistory(),
  });
  assert.equal(plan.create.length, 1);
  assert.equal(plan.create[0]!.DesiredState, 'ready', 'waits the delay in READY');
  assert.equal(wakeAt, NOW + 5000);
});

test('a task whose node went down is replaced at once, without the restart delay', () => {
  const { plan, wakeAt } = planRestarts({
    service,
    tasks: [running('n1')],
    nodes: new Map([['n1', node('n1', 'down')]]),
    now: NOW,
    history: new RestartHistory(),
  });
  assert.equal(plan.update[0]?.DesiredState, 'shutdown');
  assert.equal(plan.create.length, 1);
  assert.equal(plan.create[0]!.DesiredState, 'running');
  assert.equal(plan.create[0]!.Slot, 1);
  assert.equal(wakeAt, undefined);
});

test('a task on a drained node moves at once, even with restart condition none', () => {
  const none: Service = {
    ...service,
    Spec: {
      ...service.Spec,
      TaskTemplate: { ...service.Spec.TaskTemplate, RestartPolicy: { Condition: 'none' } },
    },
  };
  const drained = {
    ...node('n1', 'ready'),
    Spec: { Role: 'worker' as const, Availability: 'drain' as const },
  };
  const { plan } = planRestarts({
    service: none,
    tasks: [running('n1')],
    nodes: new Map([['n1', drained]]),
    now: NOW,
    history: new RestartHistory(),
  });
  assert.equal(plan.update[0]?.DesiredState, 'shutdown');
  assert.equal(plan.create.length, 1);
  assert.equal(plan.create[0]!.DesiredState, 'running');
});

test('a task that already ended is not resurrected because its node went down', () => {
  const { plan } = planRestarts({
    service: {
      ...service,
      Spec: {
        ...service.Spec,
        TaskTemplate: { ...service.Spec.TaskTemplate, RestartPolicy: { Condition: 'none' } },
      },
    },
    tasks: [running('n1', 'failed')],
    nodes: new Map([['n1', node('n1', 'down')]]),
    now: NOW,
    history: new RestartHistory(),
  });
  assert.deepEqual(plan, { create: [], update: [] });
});

test('a slot gets one replacement when two of its live tasks stop, none while another runs', () => {
  const nodes = new Map([
    ['n1', node('n1', 'down')],
    ['n2', node('n2', 'down')],
    ['n3', node('n3', 'ready')],
  ]);
  // A start-first update left the slot with an old and a new task; both nodes went down.
  const both = planRestarts({
    service,
    tasks: [running('n1'), running('n2')],
    nodes,
    now: NOW,
    history: new RestartHistory(),
  });
  assert.equal(both.plan.update.length, 2, 'both are shut down');
  assert.equal(both.plan.create.length, 1, 'one task takes the slot');
  // The new task runs on a live node: the old one on the dead node is only shut down.
  const one = planRestarts({
    service,
    tasks: [running('n1'), running('n3')],
    nodes,
    now: NOW,
    history: new RestartHistory(),
  });
  assert.equal(one.plan.update.length, 1);
  assert.equal(one.plan.create.length, 0);
});

function withPolicy(
  policy: NonNullable<NonNullable<Service['Spec']['TaskTemplate']>['RestartPolicy']>,
): Service {
  return {
    ...service,
    Spec: { ...service.Spec, TaskTemplate: { ContainerSpec: { Image: 'x' }, RestartPolicy: policy } },
  };
}

function ended(s: Service, state: 'failed' | 'complete'): Task {
  const t = newTask(s, { now: NOW - 60_000, slot: 1 });
  return { ...t, NodeID: 'n1', Status: { ...t.Status, State: state } };
}

test('on-failure restarts a failed task but not one that exited cleanly; any restarts both', () => {
  const nodes = new Map([['n1', node('n1', 'ready')]]);
  const plan = (s: Service, t: Task) =>
    planRestarts({ service: s, tasks: [t], nodes, now: NOW, history: new RestartHistory() }).plan;
  const onFailure = withPolicy({ Condition: 'on-failure', Delay: 0 });
  assert.equal(plan(onFailure, ended(onFailure, 'failed')).create.length, 1);
  assert.equal(plan(onFailure, ended(onFailure, 'complete')).create.length, 0);
  const any = withPolicy({ Condition: 'any', Delay: 0 });
  assert.equal(plan(any, ended(any, 'complete')).create.length, 1);
});

test('MaxAttempts counts only the restarts inside Window', () => {
  const s = withPolicy({ Condition: 'any', Delay: 0, MaxAttempts: 1, Window: 10e9 });
  const nodes = new Map([['n1', node('n1', 'ready')]]);
  const history = new RestartHistory();
  const restarts = (now: number): number =>
    planRestarts({ service: s, tasks: [ended(s, 'failed')], nodes, now, history }).plan.create.length;
  assert.equal(restarts(NOW), 1, 'the first failure restarts');
  assert.equal(restarts(NOW + 5_000), 0, 'a second one within the 10 s window does not');
  assert.equal(restarts(NOW + 10_001), 1, 'once the first restart has left the window, it restarts again');
  assert.equal(restarts(NOW + 12_000), 0);
  const noWindow = withPolicy({ Condition: 'any', Delay: 0, MaxAttempts: 1 });
  const h2 = new RestartHistory();
  const r2 = (now: number): number =>
    planRestarts({ service: noWindow, tasks: [ended(noWindow, 'failed')], nodes, now, history: h2 }).plan
      .create.length;
  assert.equal(r2(NOW), 1);
  assert.equal(r2(NOW + 3600_000), 0, 'without a window the attempts are counted for ever');
});
