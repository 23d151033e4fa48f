// Manager state at scale, in one process with the production pieces: a MemoryStore on a RaftNode
// (RaftProposer, encrypted NodeRaftDisk under a temp dir), members joined by the in-process
// network (every message through the wire codec). A store of 100,000 tasks (about 1 KB each, as
// the orchestrator writes them) is written in entries of 500 tasks, then
//   (a) a new member joins with an empty disk and is caught up by a chunked snapshot install:
//       time from its start until its store holds every task;
//   (b) the first member restarts: time to open its disk (snapshot + log replay) and apply it all.
// Before (a), the event-loop stalls of a snapshot: in one piece, in slices, and one whole
// background cycle of the node (snapshots are taken beside the Raft loop).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aesGcmCipher, randomKey, systemClock } from '../src/platform/index.js';
import { MemoryStore, RaftProposer } from '../src/state/index.js';
import { MemoryNetwork, NodeRaftDisk, RaftNode } from '../src/raft/index.js';
import type { Task } from '../src/api/index.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function task(i: number): Task {
  const now = new Date().toISOString();
  return {
    ID: `t${String(i).padStart(24, '0')}`,
    Version: { Index: 0 },
    CreatedAt: now,
    UpdatedAt: now,
    Labels: {},
    Spec: {
      ContainerSpec: {
        Image: 'busybox:local',
        Args: ['sleep', '3600'],
        Env: ['A=1', 'B=2', 'SOME_LONGER_SETTING=a-value-that-takes-some-room'],
        Labels: { 'com.example.team': 'bench', 'com.example.tier': 'backend' },
        Init: false,
      },
      Resources: { Limits: {}, Reservations: {} },
      RestartPolicy: { Condition: 'any', Delay: 5e9, MaxAttempts: 0 },
      Placement: { Constraints: ['node.role==worker'] },
      ForceUpdate: 0,
    },
    ServiceID: `s${String(i % 1000).padStart(24, '0')}`,
    Slot: Math.floor(i / 1000) + 1,
    NodeID: `n${String(i % 100).padStart(24, '0')}`,
    Status: {
      Timestamp: now,
      State: 'running',
      Message: 'started',
      ContainerStatus: { ContainerID: 'c'.repeat(64), PID: 1000 + (i % 30000), ExitCode: 0 },
    },
    DesiredState: 'running',
  } as unknown as Task;
}

interface Member {
  store: MemoryStore;
  raft: RaftNode;
}

function member(id: number, dir: string, net: MemoryNetwork, key: Uint8Array, peers?: number[]): Member {
  const store = new MemoryStore({ propose: (changes): Promise<number> => proposer.propose(changes) });
  const proposer = new RaftProposer(store, { raft: (): RaftNode => raft });
  const raft = new RaftNode({
    id,
    disk: new NodeRaftDisk(dir, { cipher: aesGcmCipher(key) }),
    transport: net.transport(id),
    clock: systemClock,
    rand: Math.random,
    stateMachine: proposer,
    ...(peers ? { peers } : {}),
    snapshotInterval: 50,
    snapshotKeep: 10,
  });
  return { store, raft };
}

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(5);
  }
}

export interface SnapshotBenchResult {
  tasks: number;
  writeSecs: number;
  snapshotBytes: number;
  /** One synchronous snapshot of the store (the event loop is blocked meanwhile). */
  serializeSecs: number;
  /** The same in slices, as managers take it, and the longest the event loop waited meanwhile. */
  asyncSecs: number;
  asyncMaxStallMs: number;
  /** The longest event-loop stall during one whole background snapshot cycle of the node. */
  cycleMaxStallMs: number;
  installSecs: number;
  restartSecs: number;
}

export async function snapshotAtScale(tasks: number): Promise<SnapshotBenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-bench-snap-'));
  const key = randomKey();
  const net = new MemoryNetwork();
  const a = member(1, join(dir, 'a'), net, key, [1]);
  let b: Member | undefined;
  let a2: Member | undefined;
  try {
    await a.raft.start();
    await until('a leader', () => a.raft.isLeader, 10_000);
    const t0 = performance.now();
    const ids = Array.from({ length: tasks }, (_, i) => i);
    await a.store.batch(ids, (tx, i) => tx.create('tasks', task(i)), 500);
    const writeSecs = (performance.now() - t0) / 1000;
    // The way managers take it: beside the Raft loop, in slices (RaftProposer.snapshotAsync), with
    // the longest event-loop stall meanwhile. Measured first, once the node's own background
    // snapshot is done, so the collector is not still paying for the one-piece copies below.
    await until('the leader to finish its snapshot', () => !a.raft.snapshotPending, 120_000);
    const stall = monitorEventLoopDelay({ resolution: 1 });
    stall.enable();
    const ta = performance.now();
    await new RaftProposer(a.store).snapshotAsync();
    const asyncSecs = (performance.now() - ta) / 1000;
    stall.disable();
    const asyncMaxStallMs = stall.max / 1e6;
    // One manager's whole background cycle at this size (serialize in slices, seal and write the
    // file, then install it and rewrite the log): 50 small writes reach the snapshot interval.
    const cycle = monitorEventLoopDelay({ resolution: 1 });
    cycle.enable();
    for (let i = 0; i < 50; i++) await a.store.update((tx) => tx.create('tasks', task(tasks + i)));
    await until('the snapshot cycle', () => a.raft.snapshotPending, 10_000);
    await until('the snapshot cycle to end', () => !a.raft.snapshotPending, 120_000);
    cycle.disable();
    const cycleMaxStallMs = cycle.max / 1e6;
    // How long one snapshot in one piece blocks the event loop (the best of three): what every
    // manager did each snapshotInterval entries before snapshots moved beside the loop.
    const serializeMs: number[] = [];
    let snapshotBytes = 0;
    for (let i = 0; i < 3; i++) {
      const ts = performance.now();
      snapshotBytes = new RaftProposer(a.store).snapshot().byteLength;
      serializeMs.push(performance.now() - ts);
    }
    const serializeSecs = Math.min(...serializeMs) / 1000;
    // (a) a new member, caught up by a snapshot (the log behind it was compacted).
    // Let the leader finish the snapshot it takes beside its loop: with snapshotKeep 10, one that
    // lands while the new member installs the previous one would send it a second whole snapshot.
    await until('the leader to finish its snapshot', () => !a.raft.snapshotPending, 120_000);
    await a.raft.addLearner(2);
    b = member(2, join(dir, 'b'), net, key);
    const t1 = performance.now();
    await b.raft.start();
    const bs = b.store;
    await until(
      'the new member to hold every task',
      () => bs.view((tx) => tx.all('tasks').length) === tasks + 50,
      300_000,
    );
    const installSecs = (performance.now() - t1) / 1000;
    // (b) restart of the first member from its disk.
    await b.raft.stop();
    b = undefined;
    const applied = a.raft.appliedIndex;
    await a.raft.stop();
    a2 = member(1, join(dir, 'a'), new MemoryNetwork(), key);
    const t2 = performance.now();
    await a2.raft.start();
    const r = a2.raft;
    await until('the restarted member to apply its log', () => r.appliedIndex >= applied, 300_000);
    const restartSecs = (performance.now() - t2) / 1000;
    if (a2.store.view((tx) => tx.all('tasks').length) !== tasks + 50) throw new Error('restart lost tasks');
    return {
      tasks,
      writeSecs,
      snapshotBytes,
      serializeSecs,
      asyncSecs,
      asyncMaxStallMs,
      cycleMaxStallMs,
      installSecs,
      restartSecs,
    };
  } finally {
    await b?.raft.stop();
    await a2?.raft.stop();
    await a.raft.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
