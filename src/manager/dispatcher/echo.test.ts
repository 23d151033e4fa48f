// A status the agent reported is not pushed back to it (no echo), in-process or over gRPC, while
// changes the agent must see still are; a report the store failed to take is written again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../platform/index.js';
import { MemoryStore, type Proposer } from '../../state/index.js';
import type { Assignment, Node, SessionMessage, Task, TaskState } from '../../api/index.js';
import { Dispatcher } from './index.js';
import { SentState, ServedSession, SessionTable } from './session.js';

const DESCRIPTION = {
  Hostname: 'w1',
  Platform: { Architecture: 'x86_64', OS: 'linux' },
  Resources: { NanoCPUs: 1e9, MemoryBytes: 1e9 },
  Engine: { EngineVersion: 'sim' },
};

function node(): Node {
  return {
    ID: 'n1',
    Version: { Index: 0 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Role: 'worker', Availability: 'active' },
    Description: DESCRIPTION,
    Status: { State: 'ready', Addr: '127.0.0.3' },
  };
}

function task(id: string): Task {
  return {
    ID: id,
    Version: { Index: 0 },
    CreatedAt: '',
    UpdatedAt: '',
    Labels: {},
    Spec: { ContainerSpec: { Image: 'busybox' } },
    ServiceID: 'svc',
    Slot: 1,
    NodeID: 'n1',
    Status: {
      Timestamp: '2026-01-01T00:00:00Z',
      State: 'assigned',
      Message: 'scheduler assigned task to node',
      PortStatus: {},
    },
    DesiredState: 'running',
  };
}

const AGENT_STATES: TaskState[] = ['accepted', 'preparing', 'ready', 'starting', 'running'];
const status = (State: TaskState, i: number): Task['Status'] => ({
  Timestamp: `2026-01-01T00:00:0${i + 1}Z`,
  State,
  Message: State,
  PortStatus: {},
});

/** A store whose proposer can be made to refuse (a disk fault on the leader). */
function store(): { store: MemoryStore; failing: { on: boolean } } {
  const failing = { on: false };
  let i = 0;
  const proposer: Proposer = {
    propose: () => (failing.on ? Promise.reject(new Error('no space left on device')) : Promise.resolve(++i)),
  };
  return { store: new MemoryStore(proposer), failing };
}

/** Runs due timers and lets the store's promises and the dispatcher's setImmediate pushes land. */
async function settle(clock: ManualClock, ms = 0): Promise<void> {
  for (let i = 0; i < 5; i++) {
    clock.advance(i === 0 ? ms : 0);
    await new Promise((r) => setImmediate(r));
  }
}

async function setup(): Promise<{
  clock: ManualClock;
  store: MemoryStore;
  failing: { on: boolean };
  d: Dispatcher;
  pushes: Assignment[][];
}> {
  const clock = new ManualClock();
  const { store: s, failing } = store();
  await s.update((tx) => {
    tx.create('nodes', node());
    tx.create('tasks', task('t1'));
  });
  const d = new Dispatcher(s, clock, () => undefined, { heartbeatMs: 60_000 });
  d.start();
  const pushes: Assignment[][] = [];
  d.assignments('n1', (set) => pushes.push(set));
  return { clock, store: s, failing, d, pushes };
}

test('in-process: five status reports of a task push nothing back to its node', async () => {
  const { clock, store: s, d, pushes } = await setup();
  assert.equal(pushes.length, 1, 'the complete set on opening');
  for (const [i, st] of AGENT_STATES.entries()) {
    await d.updateTaskStatus('n1', [{ taskId: 't1', status: status(st, i) }]);
    await settle(clock);
  }
  assert.equal(
    s.view((tx) => tx.get('tasks', 't1')!.Status.State),
    'running',
    'every report was written',
  );
  assert.equal(pushes.length, 1, 'no report came back to the agent');
  await d.stop();
});

test('in-process: a desired-state change still pushes, with the status the agent reported', async () => {
  const { clock, store: s, d, pushes } = await setup();
  await d.updateTaskStatus('n1', [{ taskId: 't1', status: status('running', 4) }]);
  await settle(clock);
  await s.update((tx) => tx.update('tasks', { ...tx.get('tasks', 't1')!, DesiredState: 'shutdown' }));
  await settle(clock);
  assert.equal(pushes.length, 2);
  assert.equal(pushes[1]![0]!.task.DesiredState, 'shutdown');
  assert.equal(pushes[1]![0]!.task.Status.State, 'running');
  // A new task for the node, and a task leaving it, push as well.
  await s.update((tx) => tx.create('tasks', task('t2')));
  await settle(clock);
  assert.equal(pushes.length, 3);
  assert.deepEqual(
    pushes[2]!.map((a) => a.task.ID),
    ['t1', 't2'],
  );
  await s.update((tx) => tx.remove('tasks', 't1'));
  await settle(clock);
  assert.equal(pushes.length, 4);
  assert.deepEqual(
    pushes[3]!.map((a) => a.task.ID),
    ['t2'],
  );
  await d.stop();
});

test('gRPC session: status-only versions of a task bring no change, a desired-state change does', async () => {
  const { clock, store: s, d } = await setup();
  const sent = new SentState();
  const diffs: number[] = [];
  const taskChanges = (): number => {
    const changes = sent.diff(d.assignmentSet('n1'));
    diffs.push(changes.length);
    return changes.filter((c) => c.kind === 'task').length;
  };
  assert.equal(taskChanges(), 1, 'the complete set carries the task');
  for (const [i, st] of AGENT_STATES.entries()) {
    await d.updateTaskStatus('n1', [{ taskId: 't1', status: status(st, i) }]);
    await settle(clock);
    // Another task's change (or a TLS or role message) makes the session diff the node's set.
    assert.equal(taskChanges(), 0, `the ${st} report was sent back to the agent`);
  }
  await s.update((tx) => tx.update('tasks', { ...tx.get('tasks', 't1')!, DesiredState: 'shutdown' }));
  const changes = sent.diff(d.assignmentSet('n1'));
  assert.equal(changes.length, 1);
  const change = changes[0]!;
  assert.equal(change.kind, 'task');
  const sentTask = change.kind === 'task' ? change.task : undefined;
  assert.equal(sentTask?.DesiredState, 'shutdown');
  assert.equal(sentTask?.Status.State, 'running', 'it carries the status the agent reported');
  await d.stop();
});

test('a served session sends nothing down the stream for status reports, and a desired-state change', async () => {
  const { clock, store: s, d } = await setup();
  const sent: SessionMessage[] = [];
  const session = new ServedSession({
    table: new SessionTable(),
    dispatcher: d,
    nodeId: 'n1',
    description: DESCRIPTION,
    addr: '127.0.0.3',
    sink: { send: (m) => sent.push(m), close: () => undefined, fail: (e) => assert.fail(String(e)) },
  });
  await settle(clock);
  assert.equal(sent[0]!.complete, true);
  assert.deepEqual(
    sent[0]!.changes.map((c) => c.kind),
    ['task'],
  );
  for (const [i, st] of AGENT_STATES.entries()) {
    await d.updateTaskStatus('n1', [{ taskId: 't1', status: status(st, i) }]);
    await settle(clock);
  }
  // A change elsewhere makes the dispatcher push the node's set: the reported task stays out of it.
  await s.update((tx) => tx.create('tasks', task('t2')));
  await settle(clock);
  const pushed = sent.slice(1).flatMap((m) => m.changes);
  assert.deepEqual(
    pushed.map((c) => (c.kind === 'task' ? c.task.ID : c.kind)),
    ['t2'],
    'only the new task went down the session, none of the reports',
  );
  await s.update((tx) => tx.update('tasks', { ...tx.get('tasks', 't1')!, DesiredState: 'shutdown' }));
  await settle(clock);
  const last = sent.at(-1)!.changes;
  assert.equal(last.length, 1);
  assert.equal(last[0]!.kind === 'task' ? last[0]!.task.DesiredState : '', 'shutdown');
  session.end();
  await d.stop();
});

test('a report the store failed to write is written again (the agent hears no echo to notice)', async () => {
  const { clock, store: s, failing, d, pushes } = await setup();
  failing.on = true;
  await d.updateTaskStatus('n1', [{ taskId: 't1', status: status('running', 4) }]);
  await settle(clock);
  assert.equal(
    s.view((tx) => tx.get('tasks', 't1')!.Status.State),
    'assigned',
  );
  failing.on = false;
  await settle(clock, 5000);
  assert.equal(
    s.view((tx) => tx.get('tasks', 't1')!.Status.State),
    'running',
  );
  assert.equal(pushes.length, 1);
  await d.stop();
});

test('a report that arrives behind a newer one for its task does not replace it (reordered on the way)', async () => {
  const { clock, store: s, d, pushes } = await setup();
  // RUNNING and then the older STARTING land in the same batch.
  await d.updateTaskStatus('n1', [{ taskId: 't1', status: status('running', 4) }]);
  await d.updateTaskStatus('n1', [{ taskId: 't1', status: status('starting', 3) }]);
  await settle(clock);
  assert.equal(
    s.view((tx) => tx.get('tasks', 't1')!.Status.State),
    'running',
  );
  assert.equal(pushes.length, 1);
  await d.stop();
});
