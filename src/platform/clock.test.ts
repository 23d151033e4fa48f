import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, systemClock } from './clock.js';

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

test("the system clock's timer waits out a delay longer than setTimeout takes, in steps", () => {
  // setTimeout fires at once past 2^31-1 ms; record what the clock asks of it instead of waiting.
  const real = globalThis.setTimeout;
  const asked: { ms: number; fn: () => void }[] = [];
  globalThis.setTimeout = ((fn: () => void, ms: number) => {
    asked.push({ fn, ms });
    return real(() => undefined, 0);
  }) as typeof setTimeout;
  let fired = 0;
  try {
    const year = 365 * 24 * 3_600_000;
    systemClock.setTimer(year, () => fired++);
    for (let i = 0; i < 100 && fired === 0; i++) asked.at(-1)!.fn();
  } finally {
    globalThis.setTimeout = real;
  }
  assert.equal(fired, 1);
  assert.ok(
    asked.every((a) => a.ms <= 2 ** 31 - 1),
    `asked for ${asked.map((a) => a.ms).join(', ')}`,
  );
  assert.equal(
    asked.reduce((sum, a) => sum + a.ms, 0),
    365 * 24 * 3_600_000,
    'the steps add up to the delay',
  );
  assert.equal(asked.length, 15);
});
