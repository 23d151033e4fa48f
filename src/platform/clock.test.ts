import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from './clock.js';

test('a manual clock fires timers in time order only when advanced, and cancelled ones never', () => {
  const c = new ManualClock(1000);
  const fired: string[] = [];
  c.setTimer(30, () => fired.push('c'));
  c.setTimer(10, () => fired.push('a'));
  const cancel = c.setTimer(20, () => fired.push('cancelled'));
  c.setTimer(10, () => fired.push('b'));
  cancel();
  c.advance(9);
  assert.deepEqual(fired, []);
  c.advance(25);
  assert.deepEqual(fired, ['a', 'b', 'c']);
  assert.equal(c.now(), 1034);
});
