// One shoal Raft member as its own process, for the Raft-vs-etcd bench (bench/raft.ts): a RaftNode on
// the real durable disk (fsynced WAL), the Raft service on a mutual-TLS ClusterServer, a
// GrpcRaftTransport to its peers, and a trivial in-memory key/value map as the state machine.
// The bench talks to it over loopback HTTP:
//   PUT /kv/<key>  body = value → 200 once committed and applied here; 503 {"leader":id} otherwise
//   GET /status    → {"id","leader","isLeader","term","applied"}
// Usage: node dist/bench/raftd.js --id 1 --raft-port P --http-port H --data DIR
//          --peers 1=127.0.0.1:P1,2=127.0.0.1:P2,3=127.0.0.1:P3 --ca ca.pem --cert c.pem --key k.pem
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { systemClock } from '../src/platform/index.js';
import { isShoalError } from '../src/api/index.js';
import { NodeRaftDisk, RaftNode, raftTiming } from '../src/raft/index.js';
import type { Entry, NodeId, StateMachine } from '../src/raft/index.js';
import { ClusterServer, GrpcRaftTransport, registerRaftService } from '../src/transport/index.js';
import type { PeerPolicy, TlsMaterial } from '../src/transport/index.js';

export const BENCH_CLUSTER_ID = 'raftbench';

/** Entry data: u16 key length, key bytes, value bytes. */
export function encodePut(key: string, value: Uint8Array): Buffer {
  const k = Buffer.from(key);
  const out = Buffer.allocUnsafe(2 + k.length + value.byteLength);
  out.writeUInt16BE(k.length, 0);
  k.copy(out, 2);
  out.set(value, 2 + k.length);
  return out;
}

class KvMachine implements StateMachine {
  map = new Map<string, Buffer>();
  apply(e: Entry): void {
    const b = Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
    if (b.length < 2) return;
    const n = b.readUInt16BE(0);
    this.map.set(b.subarray(2, 2 + n).toString(), Buffer.from(b.subarray(2 + n)));
  }
  snapshot(): Uint8Array {
    const parts: Buffer[] = [];
    for (const [k, v] of this.map) {
      const kb = Buffer.from(k);
      const h = Buffer.allocUnsafe(6);
      h.writeUInt16BE(kb.length, 0);
      h.writeUInt32BE(v.length, 2);
      parts.push(h, kb, v);
    }
    return Buffer.concat(parts);
  }
  restore(data: Uint8Array): void {
    const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.map = new Map();
    for (let i = 0; i + 6 <= b.length;) {
      const kl = b.readUInt16BE(i);
      const vl = b.readUInt32BE(i + 2);
      const k = b.subarray(i + 6, i + 6 + kl).toString();
      this.map.set(k, Buffer.from(b.subarray(i + 6 + kl, i + 6 + kl + vl)));
      i += 6 + kl + vl;
    }
  }
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const s = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
  res.end(s);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 1 << 20) req.destroy(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      id: { type: 'string' },
      'raft-port': { type: 'string' },
      'http-port': { type: 'string' },
      data: { type: 'string' },
      peers: { type: 'string' },
      ca: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      // 'pool': every WAL flush through libuv's thread pool (for A/B runs; see bench/raft-ab.ts).
      'wal-io': { type: 'string' },
      // Followers learn each commit index from an empty MsgApp at once (etcd's way), for A/B runs.
      'eager-commit': { type: 'boolean' },
    },
  });
  const need = (v: string | undefined, name: string): string => {
    if (v === undefined) throw new Error(`raftd: --${name} is required`);
    return v;
  };
  const id: NodeId = Number(need(a.id, 'id'));
  const peers = new Map<NodeId, string>();
  for (const p of need(a.peers, 'peers').split(',')) {
    const [pid, addr] = p.split('=');
    if (pid === undefined || addr === undefined) throw new Error(`raftd: bad peer ${p}`);
    peers.set(Number(pid), addr);
  }
  const tls: TlsMaterial = {
    rootsPem: readFileSync(need(a.ca, 'ca'), 'utf8'),
    certPem: readFileSync(need(a.cert, 'cert'), 'utf8'),
    keyPem: readFileSync(need(a.key, 'key'), 'utf8'),
  };
  const log = (m: string): void => void process.stderr.write(`raftd ${id}: ${m}\n`);
  const others = new Map([...peers].filter(([p]) => p !== id));
  const transport = new GrpcRaftTransport({ selfId: id, peers: () => others, tls: () => tls, log });
  const policy: PeerPolicy = { clusterId: () => BENCH_CLUSTER_ID, isRemoved: () => false };
  const server = new ClusterServer(tls);
  registerRaftService(server, { policy, deliver: (m) => transport.deliver(m), log });
  await server.listen(`127.0.0.1:${need(a['raft-port'], 'raft-port')}`);

  const fsm = new KvMachine();
  const node = new RaftNode({
    id,
    disk: new NodeRaftDisk(need(a.data, 'data'), { inlineWrites: a['wal-io'] !== 'pool' }),
    transport,
    clock: systemClock,
    rand: Math.random,
    stateMachine: fsm,
    peers: [...peers.keys()],
    // A manager's timing (10 ms ticks, heartbeat 100 ms, election timeout in [1, 1.5) s).
    ...raftTiming(),
    ...(a['eager-commit'] === true ? { raft: { lazyCommitBroadcast: false } } : {}),
    onFatal: (e) => {
      log(`fatal: ${String(e)}`);
      process.exit(2);
    },
  });
  await node.start();

  const http = createServer((req, res) => {
    const url = req.url ?? '/';
    if (req.method === 'GET' && url === '/status') {
      send(res, 200, {
        id,
        leader: node.leader,
        isLeader: node.isLeader,
        term: node.term,
        applied: node.appliedIndex,
      });
      return;
    }
    if (req.method === 'PUT' && url.startsWith('/kv/')) {
      const key = decodeURIComponent(url.slice(4));
      readBody(req)
        .then((value) => node.propose(encodePut(key, value)))
        .then(
          (index) => send(res, 200, { index }),
          (e: unknown) => {
            if (isShoalError(e, 'raft'))
              send(res, 503, { error: e.code, message: e.message, leader: e.leader ?? 0 });
            else send(res, 500, { error: String(e) });
          },
        );
      return;
    }
    send(res, 404, { error: 'not found' });
  });
  http.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) =>
    http.listen(Number(need(a['http-port'], 'http-port')), '127.0.0.1', resolve),
  );
  log(`up: raft 127.0.0.1:${server.port}, http ${need(a['http-port'], 'http-port')}`);

  const shutdown = (): void => {
    http.close();
    transport.close();
    void node
      .stop()
      .then(() => server.stop(100))
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

// Run only as the entry point, so bench/raft.ts may import the helpers above.
if (process.argv[1]?.endsWith('raftd.js')) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
