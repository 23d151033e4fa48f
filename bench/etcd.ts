// A 3-member etcd 3.4 cluster on loopback for the Raft-vs-etcd bench, with etcd's defaults
// (heartbeat 100 ms, election 1000 ms, fsynced WAL). Puts go over etcd's native gRPC KV API (one
// HTTP/2 channel per member, the request protobuf encoded by hand); status over its JSON gateway.
import { spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Client as GrpcClient, Metadata, credentials } from '@grpc/grpc-js';
import { Child, LoopbackHttp, until, type KvCluster, type MemberStatus, type PutResult } from './kv.js';

const CLIENT_PORT = 23790;
const PEER_PORT = 23800;

/** The etcd binary's version line, or undefined when it is not installed. */
export function etcdVersion(): string | undefined {
  const r = spawnSync('etcd', ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error || r.status !== 0) return undefined;
  return /etcd Version: (\S+)/.exec(r.stdout)?.[1];
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** etcdserverpb.PutRequest{key, value}: fields 1 and 2, both bytes. */
function putRequest(key: string, value: Buffer): Buffer {
  const k = Buffer.from(key);
  return Buffer.concat([
    Buffer.from([0x0a, ...varint(k.length)]),
    k,
    Buffer.from([0x12, ...varint(value.length)]),
    value,
  ]);
}

interface StatusJson {
  header?: { member_id?: string };
  leader?: string;
  raftTerm?: string;
}

export class EtcdCluster implements KvCluster {
  readonly name = 'etcd';
  readonly size = 3;
  readonly #dir: string;
  readonly #members: Child[] = [];
  readonly #grpc: GrpcClient[] = [];
  readonly #http: LoopbackHttp[] = [];
  /** etcd member ID (decimal string) → index. */
  readonly #ids = new Map<string, number>();

  constructor(dir: string) {
    this.#dir = dir;
    const initial = Array.from(
      { length: this.size },
      (_, i) => `m${i}=http://127.0.0.1:${PEER_PORT + i}`,
    ).join(',');
    for (let i = 0; i < this.size; i++) {
      const client = `http://127.0.0.1:${CLIENT_PORT + i}`;
      const peer = `http://127.0.0.1:${PEER_PORT + i}`;
      this.#members.push(
        new Child(
          'etcd',
          [
            `--name=m${i}`,
            `--data-dir=${join(dir, `m${i}`)}`,
            `--listen-client-urls=${client}`,
            `--advertise-client-urls=${client}`,
            `--listen-peer-urls=${peer}`,
            `--initial-advertise-peer-urls=${peer}`,
            `--initial-cluster=${initial}`,
            '--initial-cluster-token=shoal-bench',
            '--initial-cluster-state=new',
            '--heartbeat-interval=100',
            '--election-timeout=1000',
            '--logger=zap',
            '--log-level=warn',
          ],
          join(dir, `m${i}.log`),
        ),
      );
      this.#grpc.push(new GrpcClient(`127.0.0.1:${CLIENT_PORT + i}`, credentials.createInsecure()));
      this.#http.push(new LoopbackHttp(CLIENT_PORT + i));
    }
  }

  async #rawStatus(member: number, timeoutMs: number): Promise<StatusJson> {
    const r = await this.#http[member]!.call('POST', '/v3/maintenance/status', '{}', timeoutMs);
    if (r.status !== 200) throw new Error(`etcd status ${r.status}: ${r.body}`);
    return JSON.parse(r.body) as StatusJson;
  }

  async start(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    for (const m of this.#members) m.start();
    for (let i = 0; i < this.size; i++) {
      await until(
        `etcd m${i} up`,
        async () => {
          const s = await this.#rawStatus(i, 1000);
          if (!s.header?.member_id) return false;
          this.#ids.set(s.header.member_id, i);
          return true;
        },
        30_000,
      );
    }
  }

  async status(member: number, timeoutMs = 1000): Promise<MemberStatus> {
    const s = await this.#rawStatus(member, timeoutMs);
    const leader = this.#ids.get(s.leader ?? '0') ?? -1;
    return { leader, isLeader: leader === member, term: Number(s.raftTerm ?? 0) };
  }

  put(member: number, key: string, value: Buffer, timeoutMs: number): Promise<PutResult> {
    return new Promise((resolve) => {
      this.#grpc[member]!.makeUnaryRequest(
        '/etcdserverpb.KV/Put',
        (b: Buffer) => b,
        (b: Buffer) => b,
        putRequest(key, value),
        new Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err) => resolve(err ? { ok: false, error: err.message } : { ok: true }),
      );
    });
  }

  kill(member: number): Promise<void> {
    return this.#members[member]!.kill();
  }

  pause(): void {
    for (const m of this.#members) m.signal('SIGSTOP');
  }

  resume(): void {
    for (const m of this.#members) m.signal('SIGCONT');
  }

  async restart(member: number): Promise<void> {
    this.#members[member]!.start();
    await until(`etcd m${member} back`, async () => (await this.status(member)).leader >= 0, 30_000);
  }

  async stop(): Promise<void> {
    for (const c of this.#grpc) c.close();
    for (const h of this.#http) h.close();
    for (const m of this.#members) await m.kill();
  }
}
