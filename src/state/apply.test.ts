// The state machine's apply is total and bounded: a committed entry that cannot be applied
// stops the member at that entry, loudly and with its index, leaving the store as it was; the
// operator's way past it is --raft-skip-entry, after which the member applies what follows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { ManualClock } from '../platform/index.js';
import { ApplyError, MemoryNetwork, MemoryRaftDisk, RaftNode } from '../raft/index.js';
import type { RaftDisk } from '../raft/index.js';
import type { Config } from '../api/index.js';
import { frozenCopy, MAX_STORED_DEPTH, MemoryStore, type Change } from './store/memory.js';
import { encodeChanges, RaftProposer } from './proposer.js';

function config(id: string, data: unknown): Config {
  return {
    ID: id,
    Version: { Index: 0 },
    CreatedAt: '2026-01-01T00:00:00Z',
    UpdatedAt: '2026-01-01T00:00:00Z',
    Spec: { Name: `cfg-${id}`, Data: data as string },
  };
}

function deep(n: number): unknown {
  let v: unknown = 'x';
  for (let i = 0; i < n; i++) v = { a: v };
  return v;
}

/** One manager: store, proposer and a one-member Raft group on a given disk, on a manual clock. */
async function manager(
  disk: RaftDisk,
  skipEntries?: ReadonlySet<number>,
): Promise<{ store: MemoryStore; node: RaftNode; fatal: unknown[]; run: (ms: number) => Promise<void> }> {
  const clock = new ManualClock(0);
  const store = new MemoryStore({ propose: (changes): Promise<number> => proposer.propose(changes) });
  const proposer = new RaftProposer(store, { raft: (): RaftNode => node });
  const fatal: unknown[] = [];
  const node = new RaftNode({
    id: 1,
    disk,
    transport: new MemoryNetwork().transport(1),
    clock,
    rand: () => 0.5,
    stateMachine: proposer,
    peers: [1],
    onFatal: (e) => fatal.push(e),
    ...(skipEntries ? { skipEntries } : {}),
  });
  await node.start();
  const run = async (ms: number): Promise<void> => {
    for (let t = 0; t < ms; t += 10) {
      clock.advance(10);
      for (let i = 0; i < 5; i++) await tick();
    }
  };
  for (let t = 0; t < 5000 && !node.isLeader && fatal.length === 0; t += 10) await run(10);
  return { store, node, fatal, run };
}

test('frozenCopy copies and freezes without recursion, and refuses what is nested too deep', () => {
  const o = { a: [1, { b: 'c' }], d: null };
  const c = frozenCopy(o);
  assert.deepEqual(c, o);
  assert.notEqual(c.a, o.a);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.a) && Object.isFrozen(c.a[1]));
  assert.doesNotThrow(() => frozenCopy(deep(MAX_STORED_DEPTH - 1)));
  assert.throws(() => frozenCopy(deep(100_000)), /nested deeper than 64 levels/);
});

test('a change that cannot be applied leaves the store as it was: no partial write', () => {
  const store = new MemoryStore({ propose: () => Promise.resolve(1) });
  const changes: Change[] = [
    { table: 'configs', action: 'create', object: config('a', 'YQ==') },
    { table: 'configs', action: 'create', object: config('b', deep(2000)) },
  ];
  assert.throws(() => store.apply(changes, 1), /nested deeper than 64 levels/);
  assert.equal(store.view((tx) => tx.all('configs')).length, 0);
  assert.throws(
    () => store.apply([{ table: 'nope' as 'configs', action: 'create', object: config('c', 'x') }], 1),
    /names no table/,
  );
  store.apply([changes[0]!], 1);
  assert.equal(store.view((tx) => tx.all('configs')).length, 1);
});

test('a committed entry that fails to apply stops the member at its index; --raft-skip-entry goes past it', async () => {
  const disk = new MemoryRaftDisk();
  const m = await manager(disk);
  assert.ok(m.node.isLeader);
  await m.store.update((tx) => tx.create('configs', config('ok1', 'YQ==')));
  // A poison entry, as the edge once let through: it reaches the log, then fails to apply.
  const poison = m.node.propose(
    encodeChanges([{ table: 'configs', action: 'create', object: config('p', deep(2000)) }]),
  );
  poison.catch(() => undefined);
  for (let i = 0; i < 100 && m.fatal.length === 0; i++) await m.run(10);
  assert.equal(m.fatal.length, 1, 'the member stopped once');
  const err = m.fatal[0] as ApplyError;
  assert.ok(err instanceof ApplyError);
  const index = err.index;
  assert.match(
    err.message,
    new RegExp(`committed entry ${index} \\(term \\d+\\) failed to apply: .*nested deeper than 64`),
  );
  assert.match(err.message, new RegExp(`--raft-skip-entry ${index}`));
  await assert.rejects(poison, new RegExp(`committed entry ${index}`));
  // Nothing of the poison entry is in the store, and writes fail with the reason, not "no leader".
  assert.deepEqual(
    m.store.view((tx) => tx.all('configs')).map((c) => c.ID),
    ['ok1'],
  );
  await assert.rejects(
    m.store.update((tx) => tx.create('configs', config('late', 'YQ=='))),
    /not running|failed/,
  );
  await m.node.stop();

  // Restarted without the flag, it stops at the same entry again: nothing is skipped silently.
  const again = await manager(disk);
  assert.equal((again.fatal[0] as ApplyError | undefined)?.index, index);
  assert.ok(!again.node.isLeader);
  await again.node.stop();

  // With the operator's flag it applies what follows and takes writes again.
  const fixed = await manager(disk, new Set([index]));
  assert.ok(fixed.node.isLeader);
  assert.deepEqual(
    fixed.store.view((tx) => tx.all('configs')).map((c) => c.ID),
    ['ok1'],
  );
  await fixed.store.update((tx) => tx.create('configs', config('ok2', 'YQ==')));
  assert.deepEqual(fixed.fatal, []);
  assert.deepEqual(
    fixed.store
      .view((tx) => tx.all('configs'))
      .map((c) => c.ID)
      .sort(),
    ['ok1', 'ok2'],
  );
  await fixed.node.stop();
});
