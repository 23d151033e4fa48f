import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Assignment, NetworkView, SessionMessage, Task, TaskState } from '../../api/index.js';
import { fromWireSession, toWireSession } from '../../transport/index.js';
import { SessionAssignments } from './assignments.js';

const status = (State: TaskState, Message: string = State): Task['Status'] => ({
  Timestamp: '2026-01-01T00:00:00Z',
  State,
  Message,
  PortStatus: {},
});

function cached(state: TaskState): SessionAssignments {
  const task = {
    ID: 't1',
    Version: { Index: 3 },
    Status: status(state),
    DesiredState: 'running',
  } as unknown as Task;
  const session = new SessionAssignments();
  session.apply({
    sessionId: 's1',
    heartbeatMs: 5000,
    managers: [],
    complete: true,
    changes: [{ kind: 'task', task, serviceName: 'web', serviceLabels: {} }],
    nodeRole: '',
    logs: [],
  });
  return session;
}

test("a taken report moves the session's copy of the task (the manager sends no echo)", () => {
  const session = cached('assigned');
  const tasks = session.tasks;
  session.acknowledged([{ taskId: 't1', status: status('running') }]);
  assert.equal(tasks.get('t1')!.task.Status.State, 'running');
  assert.equal(tasks.get('t1')!.task.DesiredState, 'running', 'the rest of the task is the manager’s');
  // Never backwards (an older report answered late), and news in the same state is kept.
  session.acknowledged([{ taskId: 't1', status: status('starting') }]);
  assert.equal(tasks.get('t1')!.task.Status.State, 'running');
  session.acknowledged([{ taskId: 't1', status: status('running', 'healthy') }]);
  assert.equal(tasks.get('t1')!.task.Status.Message, 'healthy');
  // A task the session does not hold is not invented.
  session.acknowledged([{ taskId: 't2', status: status('running') }]);
  assert.equal(tasks.size, 1);
});

test('a complete message and then changes rebuild the set, payloads with the tasks that use them, over the wire', () => {
  const session = new SessionAssignments();
  const task = (ID: string, secret?: string): Task =>
    ({
      ID,
      Version: { Index: 1 },
      Status: status('assigned'),
      DesiredState: 'running',
      Spec: {
        ContainerSpec: { Image: 'x', Secrets: secret ? [{ SecretID: secret, SecretName: secret }] : [] },
      },
    }) as unknown as Task;
  const base = { sessionId: 's1', heartbeatMs: 5000, managers: [], nodeRole: '' as const, logs: [] };
  const secret = { id: 'sec', name: 'sec', data: new Uint8Array([1, 2]) };
  const sets: string[][] = [];
  const handlers = {
    onAssignments: (set: Assignment[]) => sets.push(set.map((a) => `${a.task.ID}:${a.secrets.length}`)),
    onClose: () => undefined,
  };
  const send = (m: SessionMessage): void => session.receive(fromWireSession(toWireSession(m)), handlers);
  send({
    ...base,
    complete: true,
    changes: [
      { kind: 'secret', payload: secret },
      { kind: 'task', task: task('a', 'sec'), serviceName: 'web', serviceLabels: {} },
    ],
  });
  send({
    ...base,
    complete: false,
    changes: [{ kind: 'task', task: task('b'), serviceName: 'web', serviceLabels: {} }],
  });
  send({
    ...base,
    complete: false,
    changes: [
      { kind: 'removeTask', id: 'a' },
      { kind: 'removeSecret', id: 'sec' },
    ],
  });
  // A new session starts from its complete set, whatever the old one held.
  send({
    ...base,
    complete: true,
    changes: [{ kind: 'task', task: task('c'), serviceName: 'web', serviceLabels: {} }],
  });
  assert.deepEqual(sets, [['a:1'], ['a:1', 'b:0'], ['b:0'], ['c:0']]);
});

test('the session keeps network views and tells onNetworks the full list when a message changed them', () => {
  const session = new SessionAssignments();
  const view = (id: string, vni: number): NetworkView => ({
    id,
    name: id,
    vni,
    subnets: [],
    attachable: false,
    internal: false,
    ingress: false,
    options: {},
    endpoints: [],
    services: [],
  });
  const heard: string[] = [];
  const handlers = {
    onAssignments: (set: Assignment[]) => heard.push(`set ${set.length}`),
    onNetworks: (v: NetworkView[]) => heard.push(`views ${v.map((x) => `${x.id}:${x.vni}`).join(',')}`),
    onClose: () => undefined,
  };
  const msg = (complete: boolean, changes: SessionMessage['changes']): SessionMessage => ({
    sessionId: 's1',
    heartbeatMs: 1000,
    managers: [],
    complete,
    changes,
    nodeRole: '',
    logs: [],
  });
  session.receive(msg(true, []), handlers);
  assert.deepEqual(heard.splice(0), ['views ', 'set 0'], 'a complete message always tells both');
  session.receive(
    msg(false, [
      { kind: 'network', view: view('b', 2) },
      { kind: 'network', view: view('a', 1) },
    ]),
    handlers,
  );
  assert.deepEqual(heard.splice(0), ['views a:1,b:2'], 'views only: the set is not offered again');
  session.receive(msg(false, [{ kind: 'removeNetwork', id: 'a' }]), handlers);
  assert.deepEqual(heard.splice(0), ['views b:2']);
  session.receive(msg(false, []), handlers);
  assert.deepEqual(heard.splice(0), ['set 0'], 'a message without network changes leaves the views unsaid');
  session.receive(msg(true, [{ kind: 'network', view: view('c', 3) }]), handlers);
  assert.deepEqual(
    heard.splice(0),
    ['views c:3', 'set 0'],
    "a new session's complete set replaces the views",
  );
});
