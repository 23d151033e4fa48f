import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../platform/index.js';
import type { LogSubscription, TaskLogLine } from '../../api/index.js';
import { LOG_ANSWER_TIMEOUT_MS, LogBroker } from './logs.js';

function channel() {
  const subs: LogSubscription[] = [];
  const cancelled: string[] = [];
  return {
    subs,
    cancelled,
    subscribe: (s: LogSubscription) => subs.push(s),
    cancel: (id: string) => cancelled.push(id),
  };
}
const line = (taskId: string, text: string): TaskLogLine => ({
  taskId,
  stream: 1,
  timestamp: '2026-01-01T00:00:00.000000000Z',
  line: text,
});

test('a node speaks only for the tasks it was asked about, and the subscription ends when every node is done', () => {
  const broker = new LogBroker(new ManualClock());
  const a = channel();
  const b = channel();
  broker.attach('a', a);
  broker.attach('b', b);
  const got: string[] = [];
  let ended = 0;
  broker.subscribe(
    {
      tasksByNode: new Map([
        ['a', ['ta']],
        ['b', ['tb']],
      ]),
      follow: false,
      tail: 5,
    },
    { lines: (ls) => got.push(...ls.map((l) => l.line)), end: () => ended++ },
  );
  assert.deepEqual(
    a.subs.map((s) => [s.taskIds, s.tail, s.follow]),
    [[['ta'], 5, false]],
  );
  const id = a.subs[0]!.id;
  assert.equal(broker.publish('a', id, [line('ta', 'mine'), line('tb', 'not mine')], true), true);
  assert.deepEqual(got, ['mine']);
  assert.equal(
    broker.publish('a', id, [line('ta', 'late')], false),
    false,
    'a node that is done is told to stop',
  );
  assert.equal(ended, 0, 'b has not answered');
  assert.equal(broker.publish('b', id, [line('tb', 'b')], true), true);
  assert.equal(ended, 1);
  assert.deepEqual(got, ['mine', 'b']);
  assert.equal(broker.size, 0);
  assert.equal(broker.publish('b', id, [], true), false);
});

test('nodes without a session are not waited for; a silent node is given up on after the timeout', () => {
  const clock = new ManualClock();
  const broker = new LogBroker(clock);
  let ended = 0;
  broker.subscribe(
    { tasksByNode: new Map([['gone', ['t']]]), follow: false },
    { lines: () => undefined, end: () => ended++ },
  );
  assert.equal(ended, 1, 'nothing to wait for');

  const silent = channel();
  broker.attach('silent', silent);
  broker.subscribe(
    { tasksByNode: new Map([['silent', ['t']]]), follow: false },
    { lines: () => undefined, end: () => ended++ },
  );
  clock.advance(LOG_ANSWER_TIMEOUT_MS - 1);
  assert.equal(ended, 1);
  clock.advance(1);
  assert.equal(ended, 2);
  assert.deepEqual(silent.cancelled, [silent.subs[0]!.id], 'the node is told to stop');
});

test('following a service asks every node but the subscriber, also nodes whose session opens later; cancel reaches them', () => {
  const broker = new LogBroker(new ManualClock());
  const self = channel();
  const a = channel();
  broker.attach('self', self);
  broker.attach('a', a);
  const cancel = broker.subscribe(
    { tasksByNode: new Map(), follow: true, serviceId: 's1', excludeNode: 'self' },
    { lines: () => undefined, end: () => assert.fail('a follow does not end by itself') },
  );
  assert.equal(self.subs.length, 0);
  assert.equal(a.subs.length, 1);
  assert.equal(a.subs[0]!.serviceId, 's1');
  const later = channel();
  broker.attach('later', later);
  assert.equal(later.subs.length, 1, 'a node that connects later is asked too');
  assert.equal(broker.publish('later', later.subs[0]!.id, [line('new-task', 'x')], false), true);
  cancel();
  assert.deepEqual(a.cancelled, [a.subs[0]!.id]);
  assert.deepEqual(later.cancelled, [later.subs[0]!.id]);
  assert.equal(broker.size, 0);
});

test('a manager that stops leading ends every subscription', () => {
  const broker = new LogBroker(new ManualClock());
  broker.attach('a', channel());
  let ended = 0;
  broker.subscribe(
    { tasksByNode: new Map([['a', ['t']]]), follow: true },
    { lines: () => undefined, end: () => ended++ },
  );
  broker.endAll();
  assert.equal(ended, 1);
  assert.equal(broker.size, 0);
});
