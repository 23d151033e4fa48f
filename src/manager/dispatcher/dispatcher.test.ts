import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../platform/index.js';
import { MemoryStore, type Proposer } from '../../state/index.js';
import type { Node, Task, TaskState } from '../../api/index.js';
import { Dispatcher } from './index.js';

const proposer: Proposer = (() => {
  let i = 0;
  return { propose: () => Promise.resolve(++i) };
})();

const DESCRIPTION = {
  Hostname: 'w1',
  Platform: { Architecture: 'x86_64', OS: 'linux' },
  Resources: { NanoCPUs: 1e9, MemoryBytes: 1e9 },
  Engine: { EngineVersion: 'sim' },
};

async function setup(): Promise<{ clock: ManualClock; store: MemoryStore; d: Dispatcher }> {
  const clock = new ManualClock();
  const store = new MemoryStore(proposer);
  const node: Node = {
    ID: 'n1',
    Version: { Index: 0 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Role: 'worker', Availability: 'active' },
    Description: DESCRIPTION,
    Status: { State: 'unknown', Addr: '' },
  };
  await store.update((tx) => tx.create('nodes', node));
  const d = new Dispatcher(store, clock, () => undefined, { heartbeatMs: 1000 });
  d.start();
  await d.register('n1', DESCRIPTION, '127.0.0.3');
  return { clock, store, d };
}

const state = (store: MemoryStore): string => store.view((tx) => tx.get('nodes', 'n1')!.Status.State);

/** Lets the store's update (a promise) land after timers fired. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

test('late heartbeats (200 ms jitter) and a 1.5 s pause never mark a node down', async () => {
  const { clock, store, d } = await setup();
  // Beats every 500-700 ms, then one 1.5 s gap (a long GC pause on the agent), then normal again.
  const gaps = [700, 500, 700, 650, 1500, 700, 500, 700, 600, 700];
  for (const g of gaps) {
    clock.advance(g);
    await settle();
    await d.heartbeat('n1');
    assert.equal(state(store), 'ready', `down after a ${g} ms gap`);
  }
  await d.stop();
});

test('a node that stops beating is down within three periods', async () => {
  const { clock, store, d } = await setup();
  clock.advance(2900);
  await settle();
  assert.equal(state(store), 'ready');
  clock.advance(300);
  await settle();
  assert.equal(state(store), 'down');
  await d.stop();
});

test("the leader's own stall marks no node down; a node silent after it is down three periods later", async () => {
  const { clock, store, d } = await setup();
  clock.advance(700);
  await d.heartbeat('n1');
  // The leader's event loop is blocked for 4 s: the node's beats wait unread in its socket, and
  // the liveness timer fires late, before them.
  clock.stall(4000);
  clock.advance(0);
  await settle();
  assert.equal(state(store), 'ready', 'down for a stall of the leader');
  await d.heartbeat('n1');
  // After the stall a node that stays silent is judged as usual.
  clock.advance(2900);
  await settle();
  assert.equal(state(store), 'ready');
  clock.advance(300);
  await settle();
  assert.equal(state(store), 'down');
  await d.stop();
});

test('a closed session leaves the node one period to come back, not three', async () => {
  const { clock, store, d } = await setup();
  d.sessionLost('n1');
  clock.advance(900);
  await settle();
  assert.equal(state(store), 'ready');
  clock.advance(300);
  await settle();
  assert.equal(state(store), 'down');
  await d.stop();
});

test('an older report arriving after a newer one of the same task never replaces it (regression: seeds 778474, 803996)', async () => {
  const { clock, store, d } = await setup();
  const task: Task = {
    ID: 't1',
    Version: { Index: 0 },
    CreatedAt: '',
    UpdatedAt: '',
    Labels: {},
    Spec: { ContainerSpec: { Image: 'x' } },
    ServiceID: 'svc',
    NodeID: 'n1',
    Status: { Timestamp: '2026-01-01T00:00:00Z', State: 'starting', Message: 'starting', PortStatus: {} },
    DesiredState: 'running',
  };
  await store.update((tx) => tx.create('tasks', task));
  const status = (State: TaskState, Message: string): Task['Status'] => ({
    Timestamp: '2026-01-01T00:00:01Z',
    State,
    Message,
    PortStatus: {},
  });
  // Two concurrent reports of the agent cross: RUNNING lands first, the re-sent STARTING behind it,
  // both before the next flush.
  await d.updateTaskStatus('n1', [{ taskId: 't1', status: status('running', 'started') }]);
  await d.updateTaskStatus('n1', [{ taskId: 't1', status: status('starting', 'starting') }]);
  clock.advance(1);
  await settle();
  await settle();
  assert.equal(
    store.view((tx) => tx.get('tasks', 't1')!.Status.State),
    'running',
  );
  await d.stop();
});

test('a node marked down while its session is open must register again: its late heartbeats are refused (regression: seed 800478)', async () => {
  const { clock, store, d } = await setup();
  // No beat reaches the dispatcher for longer than the grace (beats held up past the deadline, or
  // a stream whose end came after a newer session began).
  clock.advance(3200);
  await settle();
  await settle();
  assert.equal(state(store), 'down');
  // A late beat that were taken would leave the node down for good (only registration marks it ready).
  await assert.rejects(d.heartbeat('n1'), /open a new session/);
  await d.register('n1', DESCRIPTION, '127.0.0.3');
  assert.equal(state(store), 'ready');
  await d.heartbeat('n1');
  await d.stop();
});

test('a session whose registration lands after the dispatcher stopped is refused, not left open with no pushes (regression: seed 1129)', async () => {
  const { d } = await setup();
  const closed: Error[] = [];
  // stop() runs while openSession waits for its registration to be written.
  const opening = d.openSession('n1', DESCRIPTION, '127.0.0.3', {
    onAssignments: () => undefined,
    onClose: (e) => closed.push(e),
  });
  await d.stop();
  await assert.rejects(opening, /no longer the leader/);
  assert.equal(closed.length, 0);
});
