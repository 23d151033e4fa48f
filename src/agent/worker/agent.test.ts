import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from './agent.js';
import { SimExecutor } from '../exec/sim.js';
import { systemClock } from '../../platform/index.js';
import type { Assignment, DispatcherAPI, Task, TaskStatusUpdate } from '../../api/index.js';

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
  return { task, serviceName: 'web', serviceLabels: {} };
}

test('an older assignment set applied after a newer one never closes the newer tasks (regression)', async () => {
  let push: (set: Assignment[]) => void = () => undefined;
  const reports: TaskStatusUpdate[] = [];
  const dispatcher: DispatcherAPI = {
    register: () => Promise.resolve({ heartbeatMs: 60_000 }),
    heartbeat: () => Promise.resolve({ heartbeatMs: 60_000 }),
    assignments: (_n, onSet) => {
      push = onSet;
      return () => undefined;
    },
    updateTaskStatus: (_n, u) => {
      reports.push(...u);
      return Promise.resolve();
    },
  };
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
