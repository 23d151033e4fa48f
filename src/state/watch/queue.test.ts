import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedQueue } from './queue.js';

test('a queue hands over what is queued in one batch and wakes a waiting reader', async () => {
  const q = new BoundedQueue<number>(10);
  q.push(1);
  q.push(2);
  assert.deepEqual((await q.next()).value, [1, 2]);
  const waiting = q.next();
  q.push(3);
  assert.deepEqual((await waiting).value, [3]);
  q.close();
  assert.equal((await q.next()).done, true);
  q.push(4);
  assert.equal((await q.next()).done, true, 'nothing is queued after close');
});

test('a reader that falls more than the limit behind is closed, not allowed to grow', async () => {
  const q = new BoundedQueue<number>(3);
  for (let i = 0; i < 5; i++) q.push(i);
  assert.equal(q.overflowed, true);
  assert.equal(q.closed, true);
  const got: number[][] = [];
  for await (const batch of q) got.push(batch);
  assert.deepEqual(got, [[0, 1, 2]], 'what was queued before the overflow drains, then it ends');
});
