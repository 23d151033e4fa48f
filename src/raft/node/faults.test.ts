// The Raft driver on a disk that fails: writes refused (full disk, I/O errors) are retried until
// the disk takes them, with nothing acknowledged, voted or committed that is not durable; a
// member whose state is missing or damaged refuses to start, naming the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, rm, unlink, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { aesGcmCipher, DiskWriteError, ManualClock, randomKey, systemClock } from '../../platform/index.js';
import type { Clock, RecordCipher } from '../../platform/index.js';
import type { Entry, HardState, NodeId } from '../core/index.js';
import { mountTmpfs } from '../log/tmpfs.testutil.js';
import { ShoalError } from '../../api/index.js';
import {
  decodeRecord,
  MemoryNetwork,
  MemoryRaftDisk,
  NodeRaftDisk,
  RaftNode,
  RaftStorageCorruptError,
  SnapshotCorruptError,
} from './index.js';
import type { RaftDisk, RaftNodeOptions, RaftTransport, StateMachine } from './index.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

class ListMachine implements StateMachine {
  items: string[] = [];
  apply(e: Entry): void {
    this.items.push(dec(e.data));
  }
  snapshot(): Uint8Array {
    return enc(JSON.stringify(this.items));
  }
  restore(data: Uint8Array): void {
    this.items = JSON.parse(dec(data)) as string[];
  }
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const enospc = (): DiskWriteError =>
  new DiskWriteError(
    '/flaky/wal.log',
    Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }),
  );

/** A disk in memory that refuses writes while told to, and knows what it holds durably. */
class FlakyDisk implements RaftDisk {
  readonly inner = new MemoryRaftDisk();
  failing = false;
  /** Refuse snapshot files; refuse log rewrites (a snapshot's install). */
  failSnapshots = false;
  failRewrites = false;
  refused = 0;
  /** The last entry index and the hard state the disk holds. */
  lastIndex = 0;
  hardState: HardState = { term: 0, vote: 0, commit: 0 };

  #note(records: readonly Uint8Array[]): void {
    for (const r of records) {
      const rec = decodeRecord(r);
      if (rec.kind === 'base' || rec.snapshot) this.lastIndex = rec.snapshot!.index;
      const last = rec.entries[rec.entries.length - 1];
      if (last) this.lastIndex = last.index;
      if (rec.hardState) this.hardState = rec.hardState;
    }
  }
  #refuse(): Promise<never> {
    this.refused++;
    return Promise.reject(enospc());
  }
  readLog(): Promise<Uint8Array[]> {
    return this.inner.readLog();
  }
  async append(records: readonly Uint8Array[]): Promise<void> {
    if (this.failing) return this.#refuse();
    await this.inner.append(records);
    this.#note(records);
  }
  async rewriteLog(records: readonly Uint8Array[]): Promise<void> {
    if (this.failing || this.failRewrites) return this.#refuse();
    await this.inner.rewriteLog(records);
    this.#note(records);
  }
  listSnapshots(): Promise<number[]> {
    return this.inner.listSnapshots();
  }
  readSnapshot(index: number): Promise<Uint8Array> {
    return this.inner.readSnapshot(index);
  }
  writeSnapshot(index: number, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    if (this.failing || this.failSnapshots) return this.#refuse();
    return this.inner.writeSnapshot(index, data);
  }
  removeSnapshot(index: number): Promise<void> {
    return this.inner.removeSnapshot(index);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * Checks every message a member sends against what its disk holds: an append acknowledged, a
 * vote granted or a commit index announced must already be durable there.
 */
function checked(id: NodeId, disk: FlakyDisk, t: RaftTransport, violations: string[]): RaftTransport {
  return {
    send(msgs) {
      for (const m of msgs) {
        if (m.type === 'MsgAppResp' && !m.reject && m.index > disk.lastIndex)
          violations.push(`${id} acknowledged ${m.index} holding ${disk.lastIndex}`);
        const hs = disk.hardState;
        if (m.type === 'MsgVoteResp' && !m.reject && (hs.term !== m.term || hs.vote !== m.to))
          violations.push(`${id} voted for ${m.to} in ${m.term} holding ${hs.vote} in ${hs.term}`);
        if ((m.type === 'MsgApp' || m.type === 'MsgHeartbeat') && m.commit > disk.lastIndex)
          violations.push(`${id} announced commit ${m.commit} holding ${disk.lastIndex}`);
      }
      t.send(msgs);
    },
    onMessage: (h) => t.onMessage(h),
  };
}

interface Member {
  node: RaftNode;
  fsm: ListMachine;
  disk: FlakyDisk;
  faults: (DiskWriteError | undefined)[];
}

class Group {
  readonly clock = new ManualClock(0);
  readonly net = new MemoryNetwork();
  readonly members = new Map<NodeId, Member>();
  readonly violations: string[] = [];

  async add(id: NodeId, peers: NodeId[], opts: Partial<RaftNodeOptions> = {}): Promise<Member> {
    const fsm = new ListMachine();
    const disk = new FlakyDisk();
    const faults: (DiskWriteError | undefined)[] = [];
    const node = new RaftNode({
      id,
      disk,
      transport: checked(id, disk, this.net.transport(id), this.violations),
      clock: this.clock,
      rand: lcg(id * 7919),
      stateMachine: fsm,
      peers,
      snapshotKeep: 2,
      onDiskFault: (e) => faults.push(e),
      ...opts,
    });
    await node.start();
    const m = { node, fsm, disk, faults };
    this.members.set(id, m);
    return m;
  }

  async run(ms: number): Promise<void> {
    for (let t = 0; t < ms; t += 10) {
      this.clock.advance(10);
      for (let i = 0; i < 5; i++) await tick();
    }
  }

  async until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
    for (let t = 0; t < ms; t += 50) {
      if (cond()) return;
      await this.run(50);
    }
    assert.fail(`timed out waiting for ${what}`);
  }

  leader(among = [...this.members.values()]): Member | undefined {
    const ls = among.filter((m) => m.node.isLeader);
    return ls.length === 1 ? ls[0] : undefined;
  }

  async settle<T>(p: Promise<T>): Promise<T> {
    let done = false;
    const q = p.finally(() => (done = true));
    q.catch(() => undefined);
    await this.until('the request to complete', () => done);
    return q;
  }

  async stopAll(): Promise<void> {
    for (const m of this.members.values()) await m.node.stop();
  }
}

async function threeMembers(): Promise<Group> {
  const g = new Group();
  for (const id of [1, 2, 3]) await g.add(id, [1, 2, 3]);
  await g.until('a leader', () => g.leader() !== undefined);
  return g;
}

test('a follower whose disk refuses writes acknowledges and votes for nothing it has not written, and catches up by itself', async () => {
  const g = await threeMembers();
  const lead = g.leader()!;
  const [f, other] = [...g.members.values()].filter((m) => m !== lead) as [Member, Member];
  await g.settle(lead.node.propose(enc('before')));
  f.disk.failing = true;
  // The other two are a quorum: writes go on.
  for (const s of ['a', 'b', 'c']) await g.settle(lead.node.propose(enc(s)));
  await g.run(200);
  assert.ok(f.node.diskFault instanceof DiskWriteError);
  assert.ok(f.disk.refused > 0);
  assert.ok(!f.fsm.items.includes('a'), f.fsm.items.join());
  assert.equal(f.faults.length, 1);
  await assert.rejects(
    f.node.readIndex(),
    (e: unknown) => e instanceof ShoalError && e.code === 'DiskFault' && e.cause instanceof DiskWriteError,
  );

  // Without the leader, the other member needs this one's vote, which it cannot write: no leader.
  g.net.isolate(lead.node.id);
  await g.run(5000);
  assert.equal(g.leader([f, other]), undefined);

  f.disk.failing = false;
  await g.until('a leader of the two', () => g.leader([f, other]) !== undefined);
  g.net.heal(lead.node.id);
  await g.until('every member to apply every write', () =>
    [...g.members.values()].every((m) => m.fsm.items.join() === 'before,a,b,c'),
  );
  assert.equal(f.node.diskFault, undefined);
  assert.deepEqual(f.faults.length, 2);
  assert.equal(f.faults[1], undefined);
  await g.settle(g.leader()!.node.propose(enc('after')));
  assert.deepEqual(g.violations, []);
  await g.stopAll();
});

test('a leader whose disk refuses writes fails requests at once with the disk error, announces no commit it has not written, and recovers', async () => {
  const g = await threeMembers();
  const lead = g.leader()!;
  await g.settle(lead.node.propose(enc('before')));
  lead.disk.failing = true;
  // Its entry went to the followers before its own write failed: the outcome is unknown.
  const failed = await g.settle(lead.node.propose(enc('refused'))).catch((e: unknown) => e);
  assert.ok(
    failed instanceof ShoalError &&
      failed.code === 'DiskFault' &&
      failed.maybeCommitted &&
      failed.message.startsWith(
        'no space left on device writing /flaky/wal.log; the write was not acknowledged',
      ),
    String(failed),
  );
  // Until the disk takes writes, requests fail at once, and the leader does not pretend there is none.
  let fast: unknown = 'still pending';
  lead.node.propose(enc('fast')).then(
    () => (fast = 'resolved'),
    (e: unknown) => (fast = e),
  );
  for (let i = 0; i < 3; i++) await tick();
  assert.ok(fast instanceof ShoalError && fast.code === 'DiskFault' && !fast.maybeCommitted, String(fast));
  assert.ok(lead.node.isLeader);
  assert.equal(lead.faults.length, 1);

  // It sends nothing more (no heartbeats): the others elect a leader, which takes writes.
  const others = [...g.members.values()].filter((m) => m !== lead);
  await g.until('a new leader', () => g.leader(others) !== undefined);
  await g.settle(g.leader(others)!.node.propose(enc('elsewhere')));

  lead.disk.failing = false;
  await g.until(
    'the old leader to follow and catch up',
    () => !lead.node.isLeader && lead.node.diskFault === undefined,
  );
  await g.until('every member to apply the same writes', () => {
    const lists = [...g.members.values()].map((m) => m.fsm.items.join());
    return lists.every((l) => l === lists[0] && l.includes('elsewhere'));
  });
  const items = lead.fsm.items;
  assert.ok(items.includes('before') && !items.includes('fast'), items.join());
  assert.deepEqual(g.violations, []);
  await g.stopAll();
});

test('a sole voter tells its learner of no commit it has not written, also while its disk refuses writes', async () => {
  const g = new Group();
  const lead = await g.add(1, [1]);
  await g.until('leadership', () => lead.node.isLeader);
  const learner = await g.add(2, []);
  await g.settle(lead.node.addLearner(2));
  for (let i = 0; i < 3; i++) await g.settle(lead.node.propose(enc(`w${i}`)));
  await g.until('the learner to catch up', () => learner.fsm.items.length === 3);
  // A quorum of one commits an entry as soon as it is appended: only its durable copy may count.
  lead.disk.failing = true;
  const refused = g.settle(lead.node.propose(enc('refused'))).catch((e: unknown) => e);
  await g.run(500);
  assert.ok((await refused) instanceof ShoalError);
  assert.deepEqual(learner.fsm.items, ['w0', 'w1', 'w2']);
  lead.disk.failing = false;
  await g.until('the learner to apply it once it is durable', () => learner.fsm.items.includes('refused'));
  assert.deepEqual(g.violations, []);
  await g.stopAll();
});

test('a snapshot the disk refuses does not stop the member, leaves no file behind, and is taken once the disk has room', async () => {
  const g = new Group();
  const m = await g.add(1, [1], { snapshotInterval: 3 });
  await g.until('leadership', () => m.node.isLeader);
  const before = await m.disk.listSnapshots();
  // First the snapshot file cannot be written; then (after the retry delay) the log rewrite that installs it.
  m.disk.failSnapshots = true;
  for (let i = 0; i < 4; i++) await g.settle(m.node.propose(enc(`w${i}`)));
  await g.run(100);
  assert.ok(m.node.running);
  assert.ok(m.disk.refused > 0);
  m.disk.failSnapshots = false;
  m.disk.failRewrites = true;
  const refused = m.disk.refused;
  await g.run(11_000);
  for (let i = 4; i < 8; i++) await g.settle(m.node.propose(enc(`w${i}`)));
  await g.until('the rewrite to be refused', () => m.disk.refused > refused && !m.node.snapshotPending);
  assert.ok(m.node.running);
  assert.deepEqual(await m.disk.listSnapshots(), before, 'the refused snapshot file is removed');
  m.disk.failRewrites = false;
  await g.run(11_000);
  await g.settle(m.node.propose(enc('more')));
  let after = before;
  for (let t = 0; t < 100 && after[after.length - 1] === before[before.length - 1]; t++) {
    await g.run(50);
    after = await m.disk.listSnapshots();
  }
  assert.ok(after[after.length - 1]! > before[before.length - 1]!, `${before.join()} then ${after.join()}`);
  assert.equal(m.fsm.items.length, 9);
  await g.stopAll();
});

/** A member on a real disk, on the system clock (real I/O takes real time). */
async function realMember(
  dir: string,
  o: { cipher?: RecordCipher; expectState?: string; snapshotInterval?: number; clock?: Clock } = {},
): Promise<{ node: RaftNode; fsm: ListMachine; faults: (DiskWriteError | undefined)[] }> {
  const fsm = new ListMachine();
  const faults: (DiskWriteError | undefined)[] = [];
  const node = new RaftNode({
    id: 1,
    disk: new NodeRaftDisk(dir, { cipher: o.cipher }),
    transport: new MemoryNetwork().transport(1),
    clock: o.clock ?? systemClock,
    rand: lcg(1),
    stateMachine: fsm,
    peers: [1],
    tickMs: 10,
    snapshotInterval: o.snapshotInterval ?? 10_000,
    snapshotKeep: 2,
    onDiskFault: (e) => faults.push(e),
    ...(o.expectState !== undefined ? { expectState: o.expectState } : {}),
  });
  await node.start();
  return { node, fsm, faults };
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

test('a member on a full disk fails the write with ENOSPC, loses nothing acknowledged, and takes writes again once there is room', async () => {
  const disk = await mountTmpfs(512);
  try {
    const dir = join(disk.dir, 'raft');
    const cipher = aesGcmCipher(randomKey());
    const m = await realMember(dir, { cipher });
    await until('leadership', () => m.node.isLeader);
    const acked: string[] = [];
    for (let i = 0; i < 5; i++) {
      await m.node.propose(enc(`w${i}`));
      acked.push(`w${i}`);
    }
    await disk.fill();
    const big = 'x'.repeat(6000);
    const failed = await m.node.propose(enc(big)).catch((e: unknown) => e);
    assert.ok(
      failed instanceof ShoalError &&
        failed.code === 'DiskFault' &&
        failed.cause instanceof DiskWriteError &&
        failed.cause.code === 'ENOSPC' &&
        failed.message.startsWith(
          `no space left on device writing ${dir}/wal.log; the write was not acknowledged`,
        ),
      String(failed),
    );
    assert.ok(m.node.isLeader, 'a leader with a full disk still says it leads');
    const fast = await m.node.propose(enc('fast')).catch((e: unknown) => e);
    assert.ok(fast instanceof ShoalError && fast.code === 'DiskFault', String(fast));

    await disk.free();
    // No restart: the member writes the refused Ready again and takes writes.
    await until('the disk to take writes', () => m.node.diskFault === undefined);
    await m.node.propose(enc('after'));
    acked.push('after');
    assert.deepEqual(
      m.fsm.items.filter((s) => s !== big),
      acked,
    );
    assert.deepEqual(
      m.faults.map((e) => e?.code),
      ['ENOSPC', undefined],
    );
    await m.node.stop();

    const again = await realMember(dir, { cipher, expectState: 'it was a member' });
    await until('leadership after restart', () => again.node.isLeader);
    assert.deepEqual(
      again.fsm.items.filter((s) => s !== big),
      acked,
    );
    await again.node.stop();
  } finally {
    await disk.unmount();
  }
});

test('a member whose log is missing, empty or only torn refuses to start when it must hold state, naming the file, and keeps its snapshot', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-raftstate-'));
  try {
    const m = await realMember(dir);
    await until('leadership', () => m.node.isLeader);
    await m.node.propose(enc('kept'));
    await m.node.stop();
    const wal = join(dir, 'wal.log');
    const snap = join(dir, 'snap-0000000000000001.bin');
    const saved = await readFile(wal);
    for (const damage of ['missing', 'empty', 'torn'] as const) {
      if (damage === 'missing') await unlink(wal);
      else await writeFile(wal, damage === 'empty' ? '' : Buffer.from([0x05, 0x00, 0x00]));
      await assert.rejects(
        realMember(dir, { expectState: 'node.json says so' }),
        (e: unknown) =>
          e instanceof RaftStorageCorruptError &&
          e.message.includes(
            `${wal} is missing or empty (snapshot files are there: ${snap}), but node.json says so`,
          ) &&
          /rejoin this member/.test(e.message),
        damage,
      );
      assert.deepEqual(
        (await readdir(dir)).filter((f) => f.startsWith('snap-')),
        ['snap-0000000000000001.bin'],
      );
    }
    await writeFile(wal, saved);
    const back = await realMember(dir, { expectState: 'node.json says so' });
    await until('leadership', () => back.node.isLeader);
    assert.deepEqual(back.fsm.items, ['kept']);
    await back.node.stop();
    // A new member (nothing expected) starts from an empty disk.
    const fresh = await mkdtemp(join(tmpdir(), 'shoal-raftstate-'));
    const n = await realMember(fresh);
    await n.node.stop();
    await rm(fresh, { recursive: true, force: true });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a damaged or missing snapshot file is refused, naming it', async () => {
  for (const sealed of [true, false]) {
    const dir = await mkdtemp(join(tmpdir(), 'shoal-raftsnap-'));
    try {
      const cipher = sealed ? aesGcmCipher(randomKey()) : undefined;
      const o = cipher ? { cipher, snapshotInterval: 2 } : { snapshotInterval: 2 };
      const m = await realMember(dir, o);
      await until('leadership', () => m.node.isLeader);
      for (let i = 0; i < 4; i++) await m.node.propose(enc(`s${i}`));
      // One snapshot file past the first, installed (the one the log names).
      let snaps: string[] = [];
      for (let t = 0; t < 2000; t++) {
        snaps = (await readdir(dir)).filter((f) => f.startsWith('snap-'));
        if (!m.node.snapshotPending && snaps.length === 1 && snaps[0] !== 'snap-0000000000000001.bin') break;
        await sleep(5);
      }
      await m.node.stop();
      assert.equal(snaps.length, 1);
      const name = snaps[0]!;
      const path = join(dir, name);
      const good = await readFile(path);
      const bad = Buffer.from(good);
      if (sealed) bad[bad.length - 3] = bad[bad.length - 3]! ^ 0x10;
      await writeFile(path, sealed ? bad : good.subarray(0, 10));
      await assert.rejects(
        realMember(dir, o),
        (e: unknown) =>
          e instanceof SnapshotCorruptError &&
          e.message.startsWith(`snapshot ${path} is damaged: `) &&
          /rejoin this member/.test(e.message),
        `sealed ${sealed}`,
      );
      await unlink(path);
      await assert.rejects(
        realMember(dir, o),
        (e: unknown) =>
          e instanceof RaftStorageCorruptError && e.message.includes(`its file ${path} is missing`),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
});

test('a log rewrite that fails on a full disk keeps the old log in use and leaves no temp file behind', async () => {
  const disk = await mountTmpfs(256);
  try {
    const dir = join(disk.dir, 'raft');
    const raft = new NodeRaftDisk(dir);
    await raft.readLog();
    await raft.append([enc('one'), enc('two')]);
    await disk.fill();
    await assert.rejects(
      raft.rewriteLog([new Uint8Array(20_000)]),
      (e: unknown) =>
        e instanceof DiskWriteError && e.code === 'ENOSPC' && e.path === join(dir, 'wal.log.tmp'),
    );
    assert.deepEqual(await readdir(dir), ['wal.log']);
    await disk.free();
    await raft.append([enc('three')]);
    await raft.close();
    const again = new NodeRaftDisk(dir);
    assert.deepEqual((await again.readLog()).map(dec), ['one', 'two', 'three']);
    await again.close();
  } finally {
    await disk.unmount();
  }
});
