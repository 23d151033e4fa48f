import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { ManualClock } from '../platform/index.js';
import { MemoryNetwork, MemoryRaftDisk, RaftNode } from '../raft/index.js';
import type { NodeId, RaftDisk } from '../raft/index.js';
import { httpStatusFor, ShoalError, type Config } from '../api/index.js';
import { MemoryStore } from './store/memory.js';
import { RaftProposer } from './proposer.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function config(id: string, data: string): Config {
  return {
    ID: id,
    Version: { Index: 0 },
    CreatedAt: '2026-01-01T00:00:00Z',
    UpdatedAt: '2026-01-01T00:00:00Z',
    Spec: { Name: `cfg-${id}`, Data: data },
  };
}

interface Manager {
  store: MemoryStore;
  node: RaftNode;
  disk: RaftDisk;
}

class Managers {
  readonly clock = new ManualClock(0);
  readonly net = new MemoryNetwork();
  readonly all = new Map<NodeId, Manager>();

  async start(id: NodeId, disk: RaftDisk = new MemoryRaftDisk()): Promise<Manager> {
    const store = new MemoryStore({ propose: (changes): Promise<number> => proposer.propose(changes) });
    const proposer = new RaftProposer(store, { raft: (): RaftNode => node });
    const node = new RaftNode({
      id,
      disk,
      transport: this.net.transport(id),
      clock: this.clock,
      rand: lcg(id),
      stateMachine: proposer,
      peers: [1, 2, 3],
      snapshotInterval: 8,
      snapshotKeep: 2,
    });
    await node.start();
    const m = { store, node, disk };
    this.all.set(id, m);
    return m;
  }

  async until(what: string, cond: () => boolean): Promise<void> {
    for (let t = 0; t < 20_000; t += 10) {
      if (cond()) return;
      this.clock.advance(10);
      for (let i = 0; i < 5; i++) await tick();
    }
    assert.fail(`timed out waiting for ${what}`);
  }

  async write<T>(p: Promise<T>): Promise<T> {
    let done = false;
    const q = p.finally(() => (done = true));
    q.catch(() => undefined);
    await this.until('the write', () => done);
    return q;
  }

  leader(): Manager | undefined {
    return [...this.all.values()].find((m) => m.node.isLeader);
  }
}

/** Every object of every table, as one comparable value. */
function contents(s: MemoryStore): unknown {
  return s.snapshot();
}

test('writes on the leader reach every manager with the same Version.Index, and a restarted manager catches up from its disk', async () => {
  const ms = new Managers();
  for (const id of [1, 2, 3]) await ms.start(id);
  await ms.until('a leader', () => ms.leader() !== undefined);
  const lead = ms.leader()!;
  const follower = [...ms.all.values()].find((m) => m !== lead)!;

  await assert.rejects(
    follower.store.update((tx) => tx.create('configs', config('f', 'x'))),
    (e: unknown) =>
      e instanceof ShoalError &&
      e.code === 'NotLeader' &&
      e.leader === lead.node.id &&
      httpStatusFor(e.code) === 503 &&
      e.message.startsWith('cannot write to the cluster store: '),
  );
  for (let i = 0; i < 5; i++)
    await ms.write(lead.store.update((tx) => tx.create('configs', config(`c${i}`, 'v1'))));
  await ms.write(
    lead.store.update((tx) => {
      const c = tx.get('configs', 'c0')!;
      tx.update('configs', { ...c, Spec: { ...c.Spec, Data: 'v2' } });
    }),
  );
  const c0 = lead.store.view((tx) => tx.get('configs', 'c0'))!;
  await ms.until('every store to apply', () =>
    [...ms.all.values()].every((m) => m.store.index === lead.store.index),
  );
  for (const m of ms.all.values()) {
    assert.deepEqual(contents(m.store), contents(lead.store));
    assert.equal(m.store.view((tx) => tx.get('configs', 'c0'))!.Version.Index, c0.Version.Index);
  }

  // The follower goes down, misses enough writes for the leader to compact past it, and comes back
  // from its own disk.
  await follower.node.stop();
  ms.all.delete(follower.node.id);
  for (let i = 5; i < 25; i++)
    await ms.write(lead.store.update((tx) => tx.create('configs', config(`c${i}`, 'v1'))));
  const back = await ms.start(follower.node.id, follower.disk);
  await ms.until('the restarted manager to catch up', () => back.store.index === lead.store.index);
  assert.deepEqual(contents(back.store), contents(lead.store));
  assert.equal(back.store.view((tx) => tx.all('configs')).length, 25);
  for (const m of ms.all.values()) await m.node.stop();
});

test('the leader applies each write once, and watchers see every change then a commit', async () => {
  const ms = new Managers();
  for (const id of [1, 2, 3]) await ms.start(id);
  await ms.until('a leader', () => ms.leader() !== undefined);
  const lead = ms.leader()!;
  const events: string[] = [];
  lead.store.subscribe((e) =>
    events.push(e.kind === 'commit' ? 'commit' : `${e.change.action}:${e.change.object.ID}`),
  );
  await ms.write(lead.store.update((tx) => tx.create('configs', config('a', '1'))));
  assert.deepEqual(events, ['create:a', 'commit']);
  for (const m of ms.all.values()) await m.node.stop();
});

test('snapshotAsync gives the bytes snapshot() gives, as of the moment it is called, yielding as it goes', async () => {
  const store = new MemoryStore({ propose: () => Promise.reject(new Error('unused')) });
  const configs = Array.from({ length: 4500 }, (_, i) => ({
    ...config(`c${String(i).padStart(24, '0')}`, `data ${i}`),
    Version: { Index: i + 1 },
  }));
  store.restore({ index: 4500, tables: { configs } });
  const proposer = new RaftProposer(store);
  const expected = proposer.snapshot();
  let yielded = 0;
  let done = false;
  const pending = proposer.snapshotAsync().then((b) => ((done = true), b));
  while (!done) {
    await tick();
    yielded++;
    // A change after the call must not show in the snapshot.
    if (yielded === 1) store.restore({ index: 4501, tables: {} });
  }
  assert.ok(yielded > 1, 'the serialization yielded to the event loop');
  assert.deepEqual(Buffer.from(await pending), Buffer.from(expected));
});
