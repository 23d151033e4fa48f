import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from './prng.js';
import { Scheduler } from './scheduler.js';
import { runSim } from './cluster.js';
import type { SimResult } from './cluster.js';
import { CI_SEEDS, REGRESSION_SEEDS } from './seeds.js';

function report(r: SimResult): string {
  return [
    `seed ${r.seed} failed (replay: npm run sim -- --seed ${r.seed}${r.regime.handoff ? ' --handoff' : ''} --agents ${r.regime.agents} --timing ${r.regime.timing})`,
    ...r.failures,
    '--- trace tail ---',
    ...r.trace.slice(-60),
  ].join('\n');
}

test('the generator is a pure function of its seed, and forks are independent streams', () => {
  const a = new Prng(42);
  const b = new Prng(42);
  const xs = Array.from({ length: 100 }, () => a.u32());
  assert.deepEqual(
    Array.from({ length: 100 }, () => b.u32()),
    xs,
  );
  assert.notDeepEqual(
    Array.from({ length: 100 }, () => new Prng(43).u32()),
    xs.slice(0, 100),
  );
  const f = new Prng(7).fork();
  const g = new Prng(7).fork();
  assert.equal(f.next(), g.next());
  for (let i = 0; i < 1000; i++) {
    const v = a.range(3, 5);
    assert.ok(v >= 3 && v <= 5);
  }
});

test("the scheduler fires events in time order, ties in scheduling order, and drops a dead owner's", async () => {
  const s = new Scheduler();
  const fired: string[] = [];
  const owner = { alive: true };
  s.at(20, () => fired.push('b'));
  s.at(10, () => fired.push('a'));
  s.at(20, () => fired.push('c'));
  s.at(15, () => fired.push('dead'), owner);
  const cancel = s.at(12, () => fired.push('cancelled'));
  cancel();
  owner.alive = false;
  // Promise jobs an event starts finish before the next event.
  s.at(10, () => void Promise.resolve().then(() => fired.push('a-job')));
  await s.runUntil(100);
  assert.deepEqual(fired, ['a', 'a-job', 'b', 'c']);
  assert.equal(s.now, 100);
});

test('a seed replays byte for byte: the same trace digest twice', async () => {
  const seed = CI_SEEDS[3]!;
  const a = await runSim({ seed });
  const b = await runSim({ seed });
  assert.equal(a.digest, b.digest);
  assert.deepEqual(a.stats, b.stats);
  const other = await runSim({ seed: seed + 1 });
  assert.notEqual(other.digest, a.digest);
});

test(`CI seeds: ${CI_SEEDS.length} runs under faults keep every safety property and converge after healing`, async () => {
  let ops = 0;
  for (const seed of CI_SEEDS) {
    const r = await runSim({ seed });
    assert.ok(r.ok, report(r));
    ops += r.stats.okOps;
  }
  // The runs did real work: clients got answers.
  assert.ok(ops > CI_SEEDS.length * 20, `only ${ops} successful client operations`);
});

test('regression seeds stay fixed', async () => {
  for (const { seed, bug, handoff, agents, timing } of REGRESSION_SEEDS) {
    const r = await runSim({ seed, agents, timing: timing ?? 'coarse', ...(handoff ? { handoff } : {}) });
    assert.ok(r.ok, `${bug}\n${report(r)}`);
  }
});
