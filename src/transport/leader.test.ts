import { test } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { ManagerList } from '../api/index.js';
import { callLeader, notLeaderError } from './leader.js';

/** A fake clock: sleeping moves it, and each wait is recorded. */
function fakeTime(): { now: () => number; sleep: (ms: number) => Promise<void>; waits: number[] } {
  let t = 0;
  const waits: number[] = [];
  return {
    now: () => t,
    sleep: (ms) => {
      waits.push(ms);
      t += ms;
      return Promise.resolve();
    },
    waits,
  };
}

test('a not-leader answer naming the leader sends the call there at once', async () => {
  const time = fakeTime();
  const tried: string[] = [];
  const res = await callLeader({ managers: ['a:1', 'b:1'], ...time }, (addr) => {
    tried.push(addr);
    return addr === 'c:1' ? Promise.resolve('done') : Promise.reject(notLeaderError('c:1'));
  });
  assert.equal(res, 'done');
  assert.deepEqual(tried, ['a:1', 'c:1']);
  assert.deepEqual(time.waits, []);
});

test('with no leader named, the next manager is tried after a growing backoff until the deadline', async () => {
  const time = fakeTime();
  const tried: string[] = [];
  await assert.rejects(
    callLeader(
      { managers: ['a:1', 'b:1'], retryForMs: 3000, retryDelayMs: 500, maxRetryDelayMs: 1000, ...time },
      (addr) => {
        tried.push(addr);
        return Promise.reject(notLeaderError(undefined));
      },
    ),
    /no leader/,
  );
  assert.deepEqual(tried, ['a:1', 'b:1', 'a:1', 'b:1']);
  assert.deepEqual(time.waits, [500, 1000, 1000]);
});

test('a failure not worth retrying is the answer at once, and redirects stop after maxHops', async () => {
  const time = fakeTime();
  await assert.rejects(
    callLeader({ managers: ['a:1'], retryForMs: 10_000, ...time }, () =>
      Promise.reject(Object.assign(new Error('no'), { code: status.PERMISSION_DENIED })),
    ),
    /no/,
  );
  let calls = 0;
  await assert.rejects(
    callLeader({ managers: ['a:1'], maxHops: 2, ...time }, (addr) => {
      calls++;
      // Two managers that each name the other: a loop, cut after two hops.
      return Promise.reject(notLeaderError(addr === 'b:1' ? 'a:1' : 'b:1'));
    }),
  );
  assert.equal(calls, 3);
});

test('a ManagerList kept across calls starts the next call at the leader it learnt', async () => {
  const list = new ManagerList(['a:1', 'b:1']);
  await callLeader({ managers: list }, (addr) =>
    addr === 'b:1' ? Promise.resolve() : Promise.reject(notLeaderError('b:1')),
  );
  assert.equal(list.current, 'b:1');
  assert.equal(list.replace(['b:1', 'a:1']), true, 'the cluster’s own list replaces ours');
  assert.equal(list.current, 'b:1');
  list.failed();
  assert.equal(list.current, 'a:1');
});
