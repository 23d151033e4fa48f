// Manager state at scale, in one process with the production pieces: a MemoryStore on a RaftNode
// (RaftProposer, encrypted NodeRaftDisk under a temp dir), members joined by the in-process
// network (every message through the wire codec). A store of 100,000 tasks (about 1 KB each, as
// the orchestrator writes them) is written in entries of 500 tasks, then
//   (a) a new member joins with an empty disk and is caught up by a chunked snapshot install:
//       time from its start until its store holds every task;
//   (b) the first member restarts: time to open its disk (snapshot + log replay) and apply it all.
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
  const store = new MemoryStore({ propose: () => Promise.reject(new Error('not attached')) });
  const proposer = new RaftProposer(store);
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
  proposer.attach(raft);
  store.setProposer(proposer);
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
    // How long one snapshot blocks the event loop: RaftNode takes one every snapshotInterval
    // entries, synchronously, on every manager (the best of three, after warm-up).
    const serializeMs: number[] = [];
    let snapshotBytes = 0;
    for (let i = 0; i < 3; i++) {
      const ts = performance.now();
      snapshotBytes = new RaftProposer(a.store).snapshot().byteLength;
      serializeMs.push(performance.now() - ts);
    }
    const serializeSecs = Math.min(...serializeMs) / 1000;
    // (a) a new member, caught up by a snapshot (the log behind it was compacted).
    await a.raft.addLearner(2);
    b = member(2, join(dir, 'b'), net, key);
    const t1 = performance.now();
    await b.raft.start();
    const bs = b.store;
    await until(
      'the new member to hold every task',
      () => bs.view((tx) => tx.all('tasks').length) === tasks,
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
    if (a2.store.view((tx) => tx.all('tasks').length) !== tasks) throw new Error('restart lost tasks');
    return { tasks, writeSecs, snapshotBytes, serializeSecs, installSecs, restartSecs };
  } finally {
    await b?.raft.stop();
    await a2?.raft.stop();
    await a.raft.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
