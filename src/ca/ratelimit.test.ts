import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JoinRateLimiter } from './ratelimit.js';

function limiter(o: { perSecond: number; burst: number; maxKeys?: number }) {
  const clock = { t: 1_000_000 };
  const rl = new JoinRateLimiter({ ...o, now: () => clock.t });
  return { rl, clock };
}

test('allows a burst, then refills at the configured rate', () => {
  const { rl, clock } = limiter({ perSecond: 2, burst: 3 });
  assert.deepEqual([rl.take('a'), rl.take('a'), rl.take('a'), rl.take('a')], [true, true, true, false]);
  clock.t += 400; // 0.8 token
  assert.equal(rl.take('a'), false);
  clock.t += 100; // 1.0 token
  assert.equal(rl.take('a'), true);
  assert.equal(rl.take('a'), false);
  clock.t += 3_600_000; // capped at burst
  assert.deepEqual([rl.take('a'), rl.take('a'), rl.take('a'), rl.take('a')], [true, true, true, false]);
});

test('keys have separate buckets', () => {
  const { rl } = limiter({ perSecond: 1, burst: 1 });
  assert.equal(rl.take('10.0.0.1'), true);
  assert.equal(rl.take('10.0.0.1'), false);
  assert.equal(rl.take('10.0.0.2'), true);
});

test('a clock stepping back refills nothing', () => {
  const { rl, clock } = limiter({ perSecond: 1, burst: 1 });
  assert.equal(rl.take('a'), true);
  clock.t -= 10_000;
  assert.equal(rl.take('a'), false);
  clock.t += 1000;
  assert.equal(rl.take('a'), true);
});

test('evicts the least recently used key beyond the bound', () => {
  const { rl } = limiter({ perSecond: 1, burst: 1, maxKeys: 3 });
  for (const k of ['a', 'b', 'c']) assert.equal(rl.take(k), true);
  assert.equal(rl.take('a'), false); // a is now the most recent
  assert.equal(rl.take('d'), true); // evicts b
  assert.equal(rl.size, 3);
  assert.equal(rl.take('a'), false, 'a kept its empty bucket');
  assert.equal(rl.take('c'), false, 'c kept its empty bucket');
  assert.equal(rl.take('b'), true, 'b was forgotten and starts full');
});

test('tracks at most 10,000 keys by default', () => {
  const { rl } = limiter({ perSecond: 1, burst: 1 });
  for (let i = 0; i <= 10_000; i++) rl.take(`k${i}`);
  assert.equal(rl.size, 10_000);
  assert.equal(rl.take('k10000'), false, 'the newest key is kept');
  assert.equal(rl.take('k0'), true, 'the oldest key was evicted');
});

test('rejects nonsensical settings', () => {
  assert.throws(() => new JoinRateLimiter({ perSecond: 0, burst: 1, now: () => 0 }), RangeError);
  assert.throws(() => new JoinRateLimiter({ perSecond: 1, burst: 0, now: () => 0 }), RangeError);
});
