// The task runner around the image pull: PREPARING is reported before the pull and stays while it
// runs, a failed pull rejects the task with the pull's error, and the pull holds no engine slot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../platform/index.js';
import type { Assignment, TaskStatus } from '../../api/index.js';
import type { Controller } from '../exec/executor.js';
import { Limiter } from './limit.js';
import { TaskRunner } from './taskrunner.js';

function assignment(): Assignment {
  return {
    serviceName: 'web',
    serviceLabels: {},
    secrets: [],
    configs: [],
    registryAuth: 'e30=',
    task: {
      ID: 'task1',
      Version: { Index: 1 },
      CreatedAt: '',
      UpdatedAt: '',
      Labels: {},
      ServiceID: 'svc',
      Slot: 1,
      NodeID: 'n1',
      Status: { Timestamp: '', State: 'assigned', Message: '', PortStatus: {} },
      DesiredState: 'running',
      Spec: { ContainerSpec: { Image: '127.0.0.1:5000/shoal/busybox:1' } },
    },
  };
}

/** A controller whose pull waits for the test; everything after it succeeds at once. */
function controller(): { ctl: Controller; release: (err?: Error) => void; calls: string[] } {
  const calls: string[] = [];
  let release!: (err?: Error) => void;
  const pulled = new Promise<void>((resolve, reject) => {
    release = (err) => (err ? reject(err) : resolve());
  });
  const ctl: Controller = {
    pull: async () => {
      calls.push('pull');
      await pulled;
    },
    prepare: () => (calls.push('prepare'), Promise.resolve('cid')),
    start: () => (calls.push('start'), Promise.resolve({ pid: 42 })),
    healthy: () => Promise.resolve(undefined),
    wait: () => new Promise(() => undefined),
    shutdown: () => Promise.resolve(),
    terminate: () => Promise.resolve(),
    remove: () => Promise.resolve(),
    recover: () => Promise.resolve({ kind: 'missing' }),
  };
  return { ctl, release, calls };
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

test('the task shows PREPARING while its image is pulled, then runs; the pull takes no engine slot', async () => {
  const { ctl, release, calls } = controller();
  const seen: TaskStatus[] = [];
  // A limiter with one slot, held by someone else: only prepare and start need it.
  const limiter = new Limiter(1);
  let freeSlot!: () => void;
  void limiter.run(() => new Promise<void>((r) => (freeSlot = r)));
  const r = new TaskRunner(
    assignment(),
    ctl,
    new ManualClock(),
    (_id, s) => seen.push(s),
    () => {},
    limiter,
  );
  r.kick();
  await settle();
  assert.deepEqual(
    seen.map((s) => s.State),
    ['accepted', 'preparing'],
  );
  assert.deepEqual(calls, ['pull']);
  release();
  await settle();
  assert.deepEqual(calls, ['pull'], 'prepare waits for the engine slot, the pull did not');
  freeSlot();
  await settle();
  assert.deepEqual(
    seen.map((s) => s.State),
    ['accepted', 'preparing', 'ready', 'starting', 'running'],
  );
});

test('a failed pull rejects the task with the pull error and creates nothing', async () => {
  const { ctl, release, calls } = controller();
  const seen: TaskStatus[] = [];
  const r = new TaskRunner(
    assignment(),
    ctl,
    new ManualClock(),
    (_id, s) => seen.push(s),
    () => {},
    new Limiter(8),
  );
  r.kick();
  await settle();
  release(new Error('pulling 127.0.0.1:5001/shoal/private:1: unauthorized: authentication required'));
  await settle();
  const last = seen.at(-1)!;
  assert.equal(last.State, 'rejected');
  assert.equal(last.Err, 'pulling 127.0.0.1:5001/shoal/private:1: unauthorized: authentication required');
  assert.deepEqual(calls, ['pull']);
});

test("a running task's status carries the host ports its container got", async () => {
  const { ctl, release } = controller();
  const ports = [
    { Protocol: 'tcp' as const, TargetPort: 80, PublishedPort: 32768, PublishMode: 'host' as const },
  ];
  ctl.start = () => Promise.resolve({ pid: 42, ports });
  const seen: TaskStatus[] = [];
  const r = new TaskRunner(
    assignment(),
    ctl,
    new ManualClock(),
    (_id, s) => seen.push(s),
    () => {},
    new Limiter(1),
  );
  release();
  r.kick();
  await settle();
  const running = seen.find((s) => s.State === 'running');
  assert.deepEqual(running?.PortStatus, { Ports: ports });
  assert.deepEqual(seen.find((s) => s.State === 'starting')?.PortStatus, {});
});
