import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MemoryStorage, RaftError, RaftInvariantError, RawNode, message } from './index.js';
import type { RaftConfig, Ready } from './index.js';

function bootstrapped(ids: number[]): MemoryStorage {
  const s = new MemoryStorage();
  s.applySnapshot({
    metadata: { index: 1, term: 1, confState: { voters: ids, learners: [] } },
    data: new Uint8Array(0),
  });
  return s;
}

function config(storage: MemoryStorage, extra: Partial<RaftConfig> = {}): RaftConfig {
  return { id: 1, storage, electionTick: 10, heartbeatTick: 1, rand: () => 0, ...extra };
}

/** Persists and applies one Ready the way a driver must; returns it. */
function handle(rn: RawNode, storage: MemoryStorage): Ready {
  const rd = rn.ready();
  if (rd.snapshot !== undefined) storage.applySnapshot(rd.snapshot);
  storage.append(rd.entries);
  if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
  rn.advance();
  return rd;
}

const text = (b: Uint8Array): string => String.fromCharCode(...b);

test('a single voter elects itself and commits a proposal in one Ready', () => {
  const s = bootstrapped([1]);
  const rn = new RawNode(config(s));
  rn.campaign();
  assert.equal(rn.status().state, 'StateLeader');
  handle(rn, s);
  rn.propose(Uint8Array.of(0x61));
  const rd = handle(rn, s);
  assert.deepEqual(
    rd.committedEntries.map((e) => text(e.data)),
    ['a'],
  );
  assert.equal(rd.mustSync, true);
  assert.equal(rn.hasReady(), false);
});

test('ready() refuses to run again before advance(), and hasReady() stays false meanwhile', () => {
  const s = bootstrapped([1]);
  const rn = new RawNode(config(s));
  rn.campaign();
  rn.ready();
  assert.equal(rn.hasReady(), false);
  assert.throws(
    () => rn.ready(),
    (e: unknown) => e instanceof RaftError && e.code === 'ReadyPending',
  );
  rn.advance();
  assert.throws(() => rn.advance(), RaftInvariantError);
});

test('a restart keeps term, vote and log, and redelivers only what was not applied', () => {
  const s = bootstrapped([1]);
  const rn = new RawNode(config(s));
  rn.campaign();
  handle(rn, s);
  rn.propose(Uint8Array.of(0x61));
  handle(rn, s);
  rn.propose(Uint8Array.of(0x62));
  handle(rn, s);
  const again = new RawNode(config(s, { applied: 3 }));
  const st = again.status();
  assert.equal(st.term, 1);
  assert.equal(st.vote, 1);
  assert.equal(st.commit, 4);
  assert.deepEqual(
    again.ready().committedEntries.map((e) => text(e.data)),
    ['b'],
  );
});

test('a rand() outside [0, 1) is an invariant violation', () => {
  assert.throws(() => new RawNode(config(bootstrapped([1]), { rand: () => 1 })), RaftInvariantError);
});

test('local message types cannot arrive from the network', () => {
  const rn = new RawNode(config(bootstrapped([1, 2])));
  assert.throws(
    () => rn.step(message({ type: 'MsgHup', from: 2, to: 1 })),
    (e: unknown) => e instanceof RaftError && e.code === 'StepLocalMessage',
  );
});

test('a proposal without a leader is refused with ProposalDropped', () => {
  const rn = new RawNode(config(bootstrapped([1, 2, 3])));
  assert.throws(
    () => rn.propose(Uint8Array.of(1)),
    (e: unknown) => e instanceof RaftError && e.code === 'ProposalDropped',
  );
});

test('the election timeout is drawn from rand() between electionTick and twice that', () => {
  for (const [r, expected] of [
    [0, 10],
    [0.5, 15],
    [0.99, 19],
  ] as const) {
    const rn = new RawNode(config(bootstrapped([1, 2, 3]), { rand: () => r }));
    let ticks = 0;
    while (rn.status().state === 'StateFollower') {
      rn.tick();
      ticks++;
    }
    assert.equal(ticks, expected, `rand=${r}`);
  }
});

test('the uncommitted budget drops proposals past it, but always admits one', () => {
  const s = bootstrapped([1, 2]);
  const rn = new RawNode(config(s, { maxUncommittedEntriesSize: 5 }));
  rn.campaign();
  // Become leader without a peer: force it through a vote response.
  rn.step(message({ type: 'MsgVoteResp', from: 2, to: 1, term: rn.status().term }));
  assert.equal(rn.status().state, 'StateLeader');
  rn.propose(new Uint8Array(8));
  assert.throws(
    () => rn.propose(Uint8Array.of(1)),
    (e: unknown) => e instanceof RaftError && e.code === 'ProposalDropped',
  );
});

test('the core sources use no clock, randomness, timers or Node APIs', () => {
  const dir = fileURLToPath(new URL('../../../../src/raft/core/', import.meta.url));
  const forbidden =
    /\b(Date\.now|new Date|Math\.random|setTimeout|setInterval|setImmediate|queueMicrotask|process\.|Buffer\b|require\(|performance\.)|from 'node:/;
  const sources = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  assert.ok(sources.length > 5);
  for (const f of sources) {
    const lines = readFileSync(dir + f, 'utf8').split('\n');
    lines.forEach((l, i) => {
      const t = l.trimStart();
      if (t.startsWith('//') || t.startsWith('*') || t.startsWith('/*')) return;
      assert.doesNotMatch(l, forbidden, `${f}:${i + 1}`);
    });
  }
});
