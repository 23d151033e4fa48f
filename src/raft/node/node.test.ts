import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { aesGcmCipher, ManualClock, randomKey } from '../../platform/index.js';
import { message } from '../core/index.js';
import type { Entry, NodeId } from '../core/index.js';
import { ShoalError } from '../../api/index.js';
import {
  decodeMessage,
  decodeRecord,
  decodeSnapshot,
  DurableStorage,
  encodeSnapshot,
  encodeSnapshotParts,
  encodeMessage,
  encodeRecord,
  MemoryNetwork,
  MemoryRaftDisk,
  NodeRaftDisk,
  RaftNode,
} from './index.js';
import type { RaftDisk, StateMachine } from './index.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** The application under test: the list of payloads applied, in order. */
class ListMachine implements StateMachine {
  items: string[] = [];
  index = 0;
  apply(e: Entry): void {
    assert.ok(e.index > this.index, `apply ${e.index} after ${this.index}`);
    this.items.push(dec(e.data));
    this.index = e.index;
  }
  snapshot(): Uint8Array {
    return enc(JSON.stringify(this.items));
  }
  restore(data: Uint8Array, index: number): void {
    this.items = JSON.parse(dec(data)) as string[];
    this.index = index;
  }
}

/** A seeded generator, so elections go the same way every run. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Member {
  node: RaftNode;
  fsm: ListMachine;
  disk: RaftDisk;
}

class Cluster {
  readonly clock = new ManualClock(0);
  readonly net = new MemoryNetwork();
  readonly members = new Map<NodeId, Member>();

  async add(
    id: NodeId,
    opts: { peers?: NodeId[]; disk?: RaftDisk; snapshotInterval?: number; requestTimeoutMs?: number } = {},
  ): Promise<Member> {
    const fsm = new ListMachine();
    const disk = opts.disk ?? new MemoryRaftDisk();
    const node = new RaftNode({
      id,
      disk,
      transport: this.net.transport(id),
      clock: this.clock,
      rand: lcg(id * 7919),
      stateMachine: fsm,
      ...(opts.peers ? { peers: opts.peers } : {}),
      snapshotInterval: opts.snapshotInterval ?? 10_000,
      snapshotKeep: 2,
      ...(opts.requestTimeoutMs ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
    });
    await node.start();
    const m = { node, fsm, disk };
    this.members.set(id, m);
    return m;
  }

  /** Moves simulated time forward in 10 ms steps, letting every async step settle in between. */
  /** With a real disk, waits are bounded in real time: fsync is slow on a loaded machine. */
  constructor(readonly realIo = false) {}

  async run(ms: number): Promise<void> {
    for (let t = 0; t < ms; t += 10) {
      this.clock.advance(10);
      for (let i = 0; i < 5; i++) await tick();
      if (this.realIo) await sleep(1);
    }
  }

  async until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (let t = 0; this.realIo ? Date.now() < deadline : t < ms; t += 50) {
      if (cond()) return;
      await this.run(50);
    }
    assert.fail(`timed out waiting for ${what}`);
  }

  leader(): Member | undefined {
    const ls = [...this.members.values()].filter((m) => m.node.isLeader);
    return ls.length === 1 ? ls[0] : undefined;
  }

  async stopAll(): Promise<void> {
    for (const m of this.members.values()) await m.node.stop();
  }

  /** Resolves a proposal while time runs. */
  async settle<T>(p: Promise<T>, ms = 10_000): Promise<T> {
    let done = false;
    const q = p.finally(() => (done = true));
    q.catch(() => undefined);
    await this.until('the request to complete', () => done, ms);
    return q;
  }
}

async function threeNodes(opts: { snapshotInterval?: number } = {}): Promise<Cluster> {
  const c = new Cluster();
  for (const id of [1, 2, 3]) await c.add(id, { peers: [1, 2, 3], ...opts });
  await c.until('a leader', () => c.leader() !== undefined);
  return c;
}

test('messages and WAL records survive the codec unchanged', () => {
  const m = message({
    type: 'MsgSnap',
    to: 2,
    from: 1,
    term: 7,
    logTerm: 6,
    index: 2 ** 40,
    commit: 99,
    reject: true,
    rejectHint: 3,
    entries: [{ index: 5, term: 6, type: 'EntryConfChange', data: enc('cc') }],
    context: enc('ctx'),
    snapshot: { index: 9, term: 2, confState: { voters: [1, 2], learners: [3] } },
    chunk: { offset: 4, total: 10, done: false, data: enc('chunk') },
  });
  assert.deepEqual(decodeMessage(encodeMessage(m)), m);
  const plain = message({ type: 'MsgHeartbeat', to: 1, from: 2, term: 3 });
  assert.deepEqual(decodeMessage(encodeMessage(plain)), plain);
  const rec = {
    kind: 'ready' as const,
    hardState: { term: 2, vote: 1, commit: 4 },
    entries: [{ index: 4, term: 2, type: 'EntryNormal' as const, data: enc('x') }],
  };
  assert.deepEqual(decodeRecord(encodeRecord(rec)), rec);
  assert.throws(() => decodeRecord(encodeRecord(rec).subarray(0, 10)), /truncated/);
  const snap = {
    metadata: { index: 9, term: 3, confState: { voters: [1, 2], learners: [3] } },
    data: enc('state'),
  };
  const parts = encodeSnapshotParts(snap);
  assert.equal(parts[1], snap.data, 'the data is not copied');
  assert.deepEqual(Buffer.concat(parts), Buffer.from(encodeSnapshot(snap)));
  assert.deepEqual(decodeSnapshot(new Uint8Array(Buffer.concat(parts))), snap);
});

test('durable storage replays hard state, entries and an installed snapshot; an unnamed snapshot file is ignored', async () => {
  const disk = new MemoryRaftDisk();
  const s = await DurableStorage.open(disk);
  assert.ok(s.isEmpty);
  const e = (index: number, term: number): Entry => ({
    index,
    term,
    type: 'EntryNormal',
    data: enc(`e${index}`),
  });
  await s.save({ hardState: { term: 1, vote: 1, commit: 0 }, entries: [e(1, 1), e(2, 1), e(3, 1)] });
  // A new leader overwrites entry 3.
  await s.save({ hardState: { term: 2, vote: 2, commit: 2 }, entries: [e(3, 2), e(4, 2)] });
  let r = await DurableStorage.open(disk);
  assert.deepEqual(r.hardState, { term: 2, vote: 2, commit: 2 });
  assert.deepEqual(r.mem.entries(1, 5, Infinity), [e(1, 1), e(2, 1), e(3, 2), e(4, 2)]);
  // A crash after writing a snapshot file but before its record: the file does not count.
  await disk.writeSnapshot(4, enc('orphan'));
  r = await DurableStorage.open(disk);
  assert.equal(r.mem.snapshot().metadata.index, 0);
  assert.deepEqual(await disk.listSnapshots(), []);
  // An installed snapshot replaces the log.
  const snap = {
    metadata: { index: 10, term: 3, confState: { voters: [1, 2, 3], learners: [] } },
    data: enc('state@10'),
  };
  await r.save({ snapshot: snap, hardState: { term: 3, vote: 2, commit: 10 }, entries: [] });
  await r.save({ entries: [e(11, 3)] });
  r = await DurableStorage.open(disk);
  assert.deepEqual(r.mem.snapshot(), snap);
  assert.equal(r.mem.firstIndex(), 11);
  assert.equal(r.mem.lastIndex(), 11);
  assert.equal(r.hardState.term, 3);
  // Compaction keeps trailing entries and rewrites the log as one record.
  await r.save({ hardState: { term: 3, vote: 2, commit: 13 }, entries: [e(12, 3), e(13, 3)] });
  const meta13 = { index: 13, term: 3, confState: snap.metadata.confState };
  await r.commitSnapshot(await r.prepareSnapshot(meta13, enc('state@13')), 1);
  assert.equal(disk.recordCount, 1);
  r = await DurableStorage.open(disk);
  assert.equal(r.mem.snapshot().metadata.index, 13);
  assert.equal(r.mem.firstIndex(), 13);
  assert.deepEqual(r.mem.entries(13, 14, Infinity), [e(13, 3)]);
  assert.deepEqual(await disk.listSnapshots(), [13]);
});

test('a snapshot prepared beside the loop and overtaken by an install at the same index keeps the installed file', async () => {
  const disk = new MemoryRaftDisk();
  const s = await DurableStorage.open(disk);
  const confState = { voters: [1, 2, 3], learners: [] };
  await s.save({
    hardState: { term: 1, vote: 1, commit: 3 },
    entries: [1, 2, 3].map((index) => ({
      index,
      term: 1,
      type: 'EntryNormal' as const,
      data: enc(`e${index}`),
    })),
  });
  const mine = await s.prepareSnapshot({ index: 3, term: 1, confState }, enc('mine@3'));
  // Meanwhile the leader's snapshot at the same index is installed.
  const theirs = { metadata: { index: 3, term: 1, confState }, data: enc('theirs@3') };
  await s.save({ snapshot: theirs, hardState: { term: 1, vote: 1, commit: 3 }, entries: [] });
  await s.commitSnapshot(mine, 1);
  assert.deepEqual(await disk.listSnapshots(), [3]);
  const r = await DurableStorage.open(disk);
  assert.equal(r.mem.snapshot().metadata.index, 3);
});

test('a commit index alone is written with the next record or on close, never on its own', async () => {
  const disk = new MemoryRaftDisk();
  const s = await DurableStorage.open(disk);
  const e = (index: number): Entry => ({ index, term: 1, type: 'EntryNormal', data: enc(`e${index}`) });
  await s.save({ hardState: { term: 1, vote: 1, commit: 0 }, entries: [e(1), e(2)] });
  assert.equal(disk.recordCount, 1);
  await s.save({ hardState: { term: 1, vote: 1, commit: 1 }, entries: [], mustSync: false });
  assert.equal(disk.recordCount, 1, 'a commit-only Ready writes nothing');
  assert.deepEqual(s.hardState, { term: 1, vote: 1, commit: 1 }, 'but counts at once in memory');
  // Lost in a crash now: the reopened log has the old commit index (the leader tells it again).
  assert.equal((await DurableStorage.open(disk)).hardState.commit, 0);
  // The next record (here entries alone, no hard state of its own) carries it.
  await s.save({ entries: [e(3)] });
  assert.equal(disk.recordCount, 2);
  assert.equal((await DurableStorage.open(disk)).hardState.commit, 1);
  await s.save({ hardState: { term: 1, vote: 1, commit: 3 }, entries: [], mustSync: false });
  assert.equal(disk.recordCount, 2);
  await s.close();
  assert.equal(disk.recordCount, 3, 'close writes what is left');
  const r = await DurableStorage.open(disk);
  assert.deepEqual(r.hardState, { term: 1, vote: 1, commit: 3 });
  await r.close();
  assert.equal(disk.recordCount, 3, 'nothing left to write');
});

test('snapshots are taken beside the loop one at a time, and the next starts once one is installed', async () => {
  // A state machine whose slow snapshot the test finishes by hand.
  const releases: (() => void)[] = [];
  class SlowSnapshots extends ListMachine {
    snapshotAsync(): Promise<Uint8Array> {
      const data = this.snapshot(); // captured now, as RaftProposer does
      return new Promise((resolve) => releases.push(() => resolve(data)));
    }
  }
  const clock = new ManualClock(0);
  const net = new MemoryNetwork();
  const disk = new MemoryRaftDisk();
  const fsm = new SlowSnapshots();
  const node = new RaftNode({
    id: 1,
    disk,
    transport: net.transport(1),
    clock,
    rand: lcg(1),
    stateMachine: fsm,
    peers: [1],
    snapshotInterval: 5,
    snapshotKeep: 1,
  });
  await node.start();
  const run = async (): Promise<void> => {
    for (let i = 0; i < 20; i++) await tick();
  };
  while (!node.isLeader) {
    clock.advance(10);
    await run();
  }
  for (let i = 0; i < 6; i++) await node.propose(enc(`a${i}`));
  await run();
  assert.equal(releases.length, 1, 'the interval was reached: one snapshot started');
  assert.ok(node.snapshotPending);
  for (let i = 0; i < 8; i++) await node.propose(enc(`b${i}`));
  await run();
  assert.equal(releases.length, 1, 'one at a time, while entries keep committing');
  // The first finishes; it is installed, and since the log has grown past another interval the
  // next starts at once, with no new entry to prompt it.
  releases[0]!();
  await run();
  assert.equal(releases.length, 2);
  assert.ok(node.snapshotPending, 'pending from start to install');
  releases[1]!();
  await run();
  assert.equal(node.snapshotPending, false);
  assert.equal(releases.length, 2);
  // The log now starts right behind the second snapshot, which holds everything applied.
  const applied = node.appliedIndex;
  await node.stop();
  const reopened = await DurableStorage.open(disk);
  assert.equal(reopened.mem.snapshot().metadata.index, applied);
  assert.deepEqual(JSON.parse(dec(reopened.mem.snapshot().data)), fsm.items);
});

test('three nodes elect one leader; a proposal resolves once applied, in the same order everywhere', async () => {
  const c = await threeNodes();
  const lead = c.leader()!;
  const idx: number[] = [];
  for (const v of ['a', 'b', 'c']) idx.push(await c.settle(lead.node.propose(enc(v))));
  assert.deepEqual(lead.fsm.items, ['a', 'b', 'c']);
  assert.ok(idx[0]! < idx[1]! && idx[1]! < idx[2]!);
  await c.until('followers to apply', () => [...c.members.values()].every((m) => m.fsm.items.length === 3));
  for (const m of c.members.values()) assert.deepEqual(m.fsm.items, ['a', 'b', 'c']);
  await c.stopAll();
});

test('a follower refuses a proposal at once with NotLeader naming the leader, and serves ReadIndex reads', async () => {
  const c = await threeNodes();
  const lead = c.leader()!;
  const follower = [...c.members.values()].find((m) => m !== lead)!;
  await assert.rejects(
    follower.node.propose(enc('x')),
    (e: unknown) =>
      e instanceof ShoalError && e.code === 'NotLeader' && e.leader === lead.node.id && !e.maybeCommitted,
  );
  const w = await c.settle(lead.node.propose(enc('w')));
  const ri = await c.settle(follower.node.readIndex());
  assert.ok(ri >= w, `read index ${ri} covers the write at ${w}`);
  assert.ok(follower.node.appliedIndex >= ri);
  assert.deepEqual(follower.fsm.items, ['w']);
  await c.stopAll();
});

test('an isolated leader fails its pending write visibly and the others elect a new leader that takes writes', async () => {
  const c = await threeNodes();
  const old = c.leader()!;
  c.net.isolate(old.node.id);
  const pending = old.node.propose(enc('lost?')).then(
    () => 'ok',
    (e: unknown) => e,
  );
  await c.until('a new leader', () => [...c.members.values()].some((m) => m !== old && m.node.isLeader));
  const outcome = await c.settle(pending);
  assert.ok(outcome instanceof ShoalError && outcome.maybeCommitted, `outcome ${String(outcome)}`);
  await c.until('the old leader to step down', () => !old.node.isLeader);
  const lead = c.leader()!;
  await c.settle(lead.node.propose(enc('after')));
  c.net.heal(old.node.id);
  await c.until('the old leader to catch up', () => old.fsm.items.includes('after'));
  assert.deepEqual(old.fsm.items, lead.fsm.items);
  await c.stopAll();
});

test('stop fails pending requests with Stopped and later calls fail the same way', async () => {
  const c = await threeNodes();
  const lead = c.leader()!;
  for (const m of c.members.values()) if (m !== lead) c.net.isolate(m.node.id);
  const p = lead.node.propose(enc('never'));
  await lead.node.stop();
  await assert.rejects(p, (e: unknown) => e instanceof ShoalError && e.code === 'Stopped');
  await assert.rejects(
    lead.node.readIndex(),
    (e: unknown) => e instanceof ShoalError && e.code === 'Stopped',
  );
  await c.stopAll();
});

test('a follower restarted from its disk catches up, through a snapshot once the leader has compacted', async () => {
  const c = await threeNodes({ snapshotInterval: 5 });
  const lead = c.leader()!;
  const f = [...c.members.values()].find((m) => m !== lead)!;
  await c.settle(lead.node.propose(enc('before')));
  await c.until('the follower to apply', () => f.fsm.items.length === 1);
  await f.node.stop();
  c.members.delete(f.node.id);
  for (let i = 0; i < 20; i++) await c.settle(lead.node.propose(enc(`v${i}`)));
  const back = await c.add(f.node.id, { disk: f.disk, snapshotInterval: 5 });
  await c.until('the restarted follower to catch up', () => back.fsm.items.length === 21);
  assert.deepEqual(back.fsm.items, lead.fsm.items);
  // It restarted from its own state, not from scratch: the first write came from its disk.
  assert.equal(back.fsm.items[0], 'before');
  await c.stopAll();
});

test('a learner is added, catches up, is promoted, and the cluster keeps a quorum without the old leader', async () => {
  const c = await threeNodes();
  const lead = c.leader()!;
  await c.settle(lead.node.propose(enc('x')));
  const four = await c.add(4);
  await c.settle(lead.node.addLearner(4));
  await c.until('the learner to catch up', () => four.fsm.items.length === 1);
  await c.settle(lead.node.promote(4));
  await c.until('everyone to see 4 as a voter', () =>
    [...c.members.values()].every((m) => m.node.confState.voters.includes(4)),
  );
  await c.settle(lead.node.removeMember(lead.node.id));
  await c.until(
    'a new leader among the rest',
    () => [...c.members.values()].some((m) => m !== lead && m.node.isLeader),
    20_000,
  );
  const nl = [...c.members.values()].find((m) => m !== lead && m.node.isLeader)!;
  await c.settle(nl.node.propose(enc('y')));
  await c.until('the new voter to apply', () => four.fsm.items.join() === 'x,y');
  await c.stopAll();
});

test('leadership moves on request and the change is reported', async () => {
  const c = await threeNodes();
  const lead = c.leader()!;
  const to = [...c.members.values()].find((m) => m !== lead)!;
  lead.node.transferLeadership(to.node.id);
  await c.until('the transferee to lead', () => to.node.isLeader);
  assert.equal(lead.node.leader, to.node.id);
  await c.stopAll();
});

test('a single node on the real disk elects itself, encrypts its log, and reopens with its state', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'raftnode-'));
  try {
    const cipher = aesGcmCipher(randomKey());
    const c = new Cluster(true);
    // Real disk I/O takes real time, which the manual clock does not count.
    const real = { snapshotInterval: 4, requestTimeoutMs: 1e9 };
    const m = await c.add(1, { peers: [1], disk: new NodeRaftDisk(dir, { cipher }), ...real });
    await c.until('leadership', () => m.node.isLeader);
    for (let i = 0; i < 6; i++) await c.settle(m.node.propose(enc(`secret-${i}`)));
    await m.node.stop();
    for (const f of await readdir(dir)) {
      assert.equal(
        (await readFile(join(dir, f))).includes(Buffer.from('secret-')),
        false,
        `${f} holds plaintext`,
      );
    }
    c.members.clear();
    const again = await c.add(1, {
      peers: [1],
      disk: new NodeRaftDisk(dir, { cipher }),
      ...real,
    });
    await c.until('leadership after restart', () => again.node.isLeader);
    assert.deepEqual(
      again.fsm.items,
      [0, 1, 2, 3, 4, 5].map((i) => `secret-${i}`),
    );
    await c.settle(again.node.propose(enc('more')));
    await again.node.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a disk opened after a crash removes the temp files a write left behind, and keeps the rest', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-raftdisk-'));
  try {
    const disk = new NodeRaftDisk(dir);
    await disk.readLog();
    await disk.append([Uint8Array.of(1, 2, 3)]);
    await disk.writeSnapshot(7, Uint8Array.of(9));
    await disk.close();
    const snap = 'snap-0000000000000009.bin';
    for (const leftover of [`${snap}.4242.1.tmp`, 'wal.log.tmp'])
      await writeFile(join(dir, leftover), 'half');
    await writeFile(join(dir, 'notes.tmp'), 'not ours');

    const reopened = new NodeRaftDisk(dir);
    assert.deepEqual(
      (await reopened.readLog()).map((r) => [...r]),
      [[1, 2, 3]],
    );
    assert.deepEqual((await readdir(dir)).sort(), ['notes.tmp', 'snap-0000000000000007.bin', 'wal.log']);
    assert.deepEqual(await reopened.listSnapshots(), [7]);
    await reopened.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
