// The Raft transport on real mutual-TLS gRPC over 127.0.0.1: three Raft nodes replicate through it,
// only managers of this cluster may open a Raft stream, a dead peer costs bounded memory and is
// reached again when it returns, and undecodable bytes end the stream.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import {
  createKeyAndCsr,
  createRootCA,
  signNodeCertificate,
  type CertKey,
  type NodeRole,
} from '../ca/index.js';
import { systemClock } from '../platform/index.js';
import {
  encodeMessage,
  message,
  MemoryRaftDisk,
  RaftNode,
  type Entry,
  type Message,
  type NodeId,
  type StateMachine,
} from '../raft/index.js';
import {
  CLUSTER_CHANNEL_OPTIONS,
  ClusterServer,
  GrpcRaftTransport,
  RaftServiceClient,
  managerChannelCredentials,
  registerRaftService,
  type PeerPolicy,
  type TlsMaterial,
} from './index.js';

const CLUSTER = 'cluster1';
const policy: PeerPolicy = { clusterId: () => CLUSTER, isRemoved: (id) => id === 'removed' };
const cleanup: (() => unknown)[] = [];

after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

const rootP = createRootCA({ now: Date.now() });

async function nodeTls(
  nodeId: string,
  role: NodeRole,
  o: { root?: CertKey; clusterId?: string } = {},
): Promise<TlsMaterial> {
  const root = o.root ?? (await rootP);
  const { keyPem, csrPem } = await createKeyAndCsr();
  const certPem = await signNodeCertificate(
    root,
    csrPem,
    { nodeId, role, clusterId: o.clusterId ?? CLUSTER },
    { now: Date.now(), validityMs: 3600_000 },
  );
  return { rootsPem: (await rootP).certPem, certPem, keyPem };
}

async function raftServer(
  tls: TlsMaterial,
  deliver: (m: Message) => void,
  addr = '127.0.0.1:0',
): Promise<{ server: ClusterServer; addr: string }> {
  const server = new ClusterServer(tls);
  registerRaftService(server, { policy, deliver });
  const port = await server.listen(addr);
  cleanup.push(() => server.stop(100));
  return { server, addr: `127.0.0.1:${port}` };
}

async function until(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const wire = (m: Message): Buffer => Buffer.from(encodeMessage(m));
const heartbeat = (to: NodeId, from: NodeId): Message => message({ type: 'MsgHeartbeat', to, from, term: 1 });

/** Opens a Raft stream with the given credentials, writes payloads, ends it; resolves with the status. */
function streamCode(addr: string, tls: Partial<TlsMaterial> & { rootsPem: string }, payloads: Buffer[]) {
  const client = new RaftServiceClient(addr, managerChannelCredentials(tls), CLUSTER_CHANNEL_OPTIONS);
  return new Promise<status>((resolve) => {
    const s = client.streamRaftMessage(new Metadata(), { deadline: Date.now() + 5000 }, (err) => {
      client.close();
      resolve(err ? (err as ServiceError).code : status.OK);
    });
    s.on('error', () => undefined);
    for (const p of payloads) s.write({ message: p });
    s.end();
  });
}

class ListMachine implements StateMachine {
  items: string[] = [];
  apply(e: Entry): void {
    if (e.data.byteLength > 0) this.items.push(Buffer.from(e.data).toString());
  }
  snapshot(): Uint8Array {
    return Buffer.from(JSON.stringify(this.items));
  }
  restore(data: Uint8Array): void {
    this.items = JSON.parse(Buffer.from(data).toString()) as string[];
  }
}

test('three Raft nodes elect a leader and replicate over mutual-TLS streams', async () => {
  const ids: NodeId[] = [1, 2, 3];
  const addrs = new Map<NodeId, string>();
  const members: { node: RaftNode; fsm: ListMachine; transport: GrpcRaftTransport }[] = [];
  for (const id of ids) {
    const tls = await nodeTls(`manager${id}`, 'manager');
    const transport = new GrpcRaftTransport({
      selfId: id,
      peers: () => new Map([...addrs].filter(([p]) => p !== id)),
      tls: () => tls,
      maxQueuedPerPeer: 256,
    });
    cleanup.push(() => transport.close());
    const { addr } = await raftServer(tls, (m) => transport.deliver(m));
    addrs.set(id, addr);
    const fsm = new ListMachine();
    const node = new RaftNode({
      id,
      disk: new MemoryRaftDisk(),
      transport,
      clock: systemClock,
      rand: Math.random,
      stateMachine: fsm,
      peers: ids,
      tickMs: 20,
    });
    members.push({ node, fsm, transport });
  }
  for (const m of members) await m.node.start();
  cleanup.push(async () => {
    for (const m of members) await m.node.stop();
  });

  await until('a leader', () => members.filter((m) => m.node.isLeader).length === 1);
  const leader = members.find((m) => m.node.isLeader)!;
  for (const v of ['a', 'b', 'c']) await leader.node.propose(Buffer.from(v));
  await until('every member to apply the proposals', () =>
    members.every((m) => m.fsm.items.join() === 'a,b,c'),
  );
  for (const m of members) {
    // A follower that never campaigned has never written to the other follower.
    const stats = m.transport.stats();
    assert.ok(stats.peers.size >= 1);
    for (const s of stats.peers.values()) {
      assert.equal(s.dropped, 0);
      assert.equal(s.channels, 1, 'one channel per peer');
    }
  }
});

test('only managers of this cluster may open a Raft stream', async () => {
  const delivered: Message[] = [];
  const { addr } = await raftServer(await nodeTls('manager1', 'manager'), (m) => delivered.push(m));
  const valid = [wire(heartbeat(1, 2))];

  assert.equal(await streamCode(addr, await nodeTls('worker1', 'worker'), valid), status.PERMISSION_DENIED);
  const rootsPem = (await rootP).certPem;
  assert.equal(await streamCode(addr, { rootsPem }, valid), status.UNAUTHENTICATED);
  const otherCluster = await nodeTls('manager2', 'manager', { clusterId: 'cluster2' });
  assert.equal(await streamCode(addr, otherCluster, valid), status.PERMISSION_DENIED);
  const otherCA = await nodeTls('manager2', 'manager', { root: await createRootCA({ now: Date.now() }) });
  assert.equal(await streamCode(addr, otherCA, valid), status.UNAUTHENTICATED);
  const removed = await nodeTls('removed', 'manager');
  assert.equal(await streamCode(addr, removed, valid), status.PERMISSION_DENIED);
  assert.equal(delivered.length, 0, 'nothing delivered from a refused stream');

  // The same stream from a manager of this cluster gets through.
  assert.equal(await streamCode(addr, await nodeTls('manager2', 'manager'), valid), status.OK);
  assert.equal(delivered.length, 1);
  assert.equal(delivered[0]!.type, 'MsgHeartbeat');
});

test('undecodable bytes end the stream with INVALID_ARGUMENT and deliver nothing', async () => {
  const delivered: Message[] = [];
  const { addr } = await raftServer(await nodeTls('manager1', 'manager'), (m) => delivered.push(m));
  const tls = await nodeTls('manager2', 'manager');
  const code = await streamCode(addr, tls, [Buffer.from('not a raft message'), wire(heartbeat(1, 2))]);
  assert.equal(code, status.INVALID_ARGUMENT);
  assert.equal(delivered.length, 0);
});

test('a peer that is down costs a bounded queue, and is reached again when it returns', async () => {
  const tlsB = await nodeTls('manager2', 'manager');
  // Find a free port, then leave it closed: peer 2 is down.
  const probe = await raftServer(tlsB, () => undefined);
  const addr = probe.addr;
  await probe.server.stop(0);

  const cap = 32;
  const logs: string[] = [];
  const a = new GrpcRaftTransport({
    selfId: 1,
    peers: () => new Map([[2, addr]]),
    tls: await nodeTls('manager1', 'manager').then((t) => () => t),
    log: (msg) => logs.push(msg),
    maxQueuedPerPeer: cap,
  });
  cleanup.push(() => a.close());

  const big = Buffer.alloc(64 * 1024, 1);
  const app = (i: number): Message =>
    message({
      type: 'MsgApp',
      to: 2,
      from: 1,
      term: 1,
      entries: [{ term: 1, index: i, type: 'EntryNormal', data: big }],
    });
  const memBefore = process.memoryUsage().arrayBuffers;
  let sent = 0;
  for (let round = 0; round < 40; round++) {
    a.send(Array.from({ length: 100 }, () => app(++sent)));
    const s = a.stats().peers.get(2)!;
    assert.ok(s.queued <= cap, `queued ${s.queued} > ${cap}`);
    await sleep(5);
  }
  const s = a.stats().peers.get(2)!;
  assert.equal(s.connected, false);
  // 4000 messages of 64 KiB (250 MiB) went to a dead peer: each failed stream took at most its
  // write buffer (16), the queue holds the cap, and the rest were dropped rather than kept.
  assert.equal(s.dropped + s.queued + s.written, sent);
  assert.ok(s.written <= s.streams * 17, `written ${s.written} on ${s.streams} streams`);
  assert.ok(process.memoryUsage().arrayBuffers - memBefore < 64 * 1024 * 1024, 'memory stays bounded');
  assert.ok(
    logs.filter((l) => l.includes('broke')).length <= 2,
    `a dead peer is not logged on every retry: ${logs.join('\n')}`,
  );

  // Peer 2 comes back on the same port: messages flow again.
  const delivered: Message[] = [];
  await raftServer(tlsB, (m) => delivered.push(m), addr);
  await until('delivery after the peer returns', () => {
    a.send([heartbeat(2, 1)]);
    return delivered.length > 0;
  });
  await until('the stream to count as up', () => a.stats().peers.get(2)!.connected);
  assert.equal(delivered.at(-1)!.to, 2);
});

test('a renewed certificate reconnects with a new channel; unknown peers are dropped', async () => {
  const delivered: Message[] = [];
  const { addr } = await raftServer(await nodeTls('manager2', 'manager'), (m) => delivered.push(m));
  let tls = await nodeTls('manager1', 'manager');
  const a = new GrpcRaftTransport({ selfId: 1, peers: () => new Map([[2, addr]]), tls: () => tls });
  cleanup.push(() => a.close());

  a.send([heartbeat(2, 1)]);
  await until('first delivery', () => delivered.length === 1);
  tls = await nodeTls('manager1', 'manager');
  a.send([heartbeat(2, 1)]);
  await until('delivery with the renewed certificate', () => delivered.length === 2);
  assert.equal(a.stats().peers.get(2)!.channels, 2);

  a.send([heartbeat(9, 1), heartbeat(1, 1)]);
  assert.equal(a.stats().unknownDropped, 2);
  assert.equal(a.stats().peers.size, 1);

  a.close();
  a.send([heartbeat(2, 1)]);
  await sleep(100);
  assert.equal(delivered.length, 2, 'nothing is sent after close');
});
