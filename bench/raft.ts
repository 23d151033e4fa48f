// shoal's Raft beside etcd 3.4, side by side on this machine: each as 3 member processes on
// 127.0.0.1 with the same timing (heartbeat 100 ms, election timeout 1000 ms: shoal draws it from
// [T, 1.5T) as its managers do, etcd from [T, 2T)) and an fsynced WAL in the
// same temp directory. One system runs at a time. Measured through each one's client path: shoal's
// members answer loopback HTTP (bench/raftd.ts), etcd its gRPC KV API (bench/etcd.ts).
//   (a) sequential puts of 256-byte values to the leader: writes/s, p50, p99
//   (b) 64 concurrent writers to the leader: writes/s, p50, p99
//   (c) kill -9 of the leader until a put succeeds on a survivor (the client fires a put at every
//       survivor each 20 ms), then the victim restarts and rejoins: median and max seconds
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createKeyAndCsr, createRootCA, signNodeCertificate } from '../src/ca/index.js';
import { EtcdCluster, etcdVersion } from './etcd.js';
import {
  agreedLeader,
  Child,
  LoopbackHttp,
  sleep,
  until,
  type KvCluster,
  type MemberStatus,
  type PutResult,
} from './kv.js';
import { BENCH_CLUSTER_ID } from './raftd.js';

const RAFT_PORT = 24790;
const HTTP_PORT = 24800;
const VALUE_BYTES = 256;
const KEYS = 1000;

/** Three bench/raftd.js processes. Raft IDs are 1..3; member index = ID - 1. */
export class ShoalRaftCluster implements KvCluster {
  readonly name: string;
  readonly size = 3;
  readonly #dir: string;
  readonly #members: Child[] = [];
  readonly #http: LoopbackHttp[] = [];
  readonly #portOffset: number;
  readonly #args: readonly string[];

  /** `variant` runs a second cluster beside the first (other ports) with extra raftd flags. */
  constructor(dir: string, variant?: { name: string; portOffset: number; args: readonly string[] }) {
    this.#dir = dir;
    this.name = variant?.name ?? 'shoal';
    this.#portOffset = variant?.portOffset ?? 0;
    this.#args = variant?.args ?? [];
  }

  async start(): Promise<void> {
    const dir = this.#dir;
    await mkdir(dir, { recursive: true });
    const now = Date.now();
    const root = await createRootCA({ now });
    await writeFile(join(dir, 'ca.pem'), root.certPem);
    const raftd = join(dirname(fileURLToPath(import.meta.url)), 'raftd.js');
    const raftPort = RAFT_PORT + this.#portOffset;
    const httpPort = HTTP_PORT + this.#portOffset;
    const peers = Array.from({ length: this.size }, (_, i) => `${i + 1}=127.0.0.1:${raftPort + i}`).join(',');
    for (let i = 0; i < this.size; i++) {
      const { keyPem, csrPem } = await createKeyAndCsr();
      const certPem = await signNodeCertificate(
        root,
        csrPem,
        { nodeId: `manager${i + 1}`, role: 'manager', clusterId: BENCH_CLUSTER_ID },
        { now, validityMs: 24 * 3600_000 },
      );
      await writeFile(join(dir, `m${i + 1}.crt`), certPem);
      await writeFile(join(dir, `m${i + 1}.key`), keyPem, { mode: 0o600 });
      this.#members.push(
        new Child(
          process.execPath,
          [
            ...(process.env.RAFTD_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
            raftd,
            `--id=${i + 1}`,
            `--raft-port=${raftPort + i}`,
            `--http-port=${httpPort + i}`,
            `--data=${join(dir, `m${i + 1}`)}`,
            `--peers=${peers}`,
            `--ca=${join(dir, 'ca.pem')}`,
            `--cert=${join(dir, `m${i + 1}.crt`)}`,
            `--key=${join(dir, `m${i + 1}.key`)}`,
            ...this.#args,
          ],
          join(dir, `m${i + 1}.log`),
        ),
      );
      this.#http.push(new LoopbackHttp(httpPort + i));
    }
    for (const m of this.#members) m.start();
    for (let i = 0; i < this.size; i++)
      await until(`shoal raftd ${i + 1} up`, async () => (await this.status(i)).term >= 0, 30_000);
  }

  async status(member: number, timeoutMs = 1000): Promise<MemberStatus> {
    const r = await this.#http[member]!.call('GET', '/status', undefined, timeoutMs);
    if (r.status !== 200) throw new Error(`raftd status ${r.status}: ${r.body}`);
    const s = JSON.parse(r.body) as { leader: number; isLeader: boolean; term: number };
    return { leader: s.leader > 0 ? s.leader - 1 : -1, isLeader: s.isLeader, term: s.term };
  }

  async put(member: number, key: string, value: Buffer, timeoutMs: number): Promise<PutResult> {
    try {
      const r = await this.#http[member]!.call('PUT', `/kv/${encodeURIComponent(key)}`, value, timeoutMs);
      if (r.status === 200) return { ok: true };
      const b = JSON.parse(r.body) as { leader?: number; error?: string };
      return b.leader !== undefined && b.leader > 0
        ? { ok: false, leader: b.leader - 1, error: b.error ?? String(r.status) }
        : { ok: false, error: b.error ?? String(r.status) };
    } catch (e) {
      return { ok: false, error: String(e) };
    }
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
    await until(
      `shoal raftd ${member + 1} back`,
      async () => (await this.status(member)).leader >= 0,
      30_000,
    );
  }

  async stop(): Promise<void> {
    for (const h of this.#http) h.close();
    for (const m of this.#members) await m.stop(2000);
  }
}

export interface WriteStats {
  writes: number;
  failed: number;
  perSec: number;
  p50: number;
  p99: number;
}

const pct = (sorted: number[], p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

/** One load window: every latency, and how long it ran. */
interface Window {
  lat: number[];
  failed: number;
  secs: number;
}

/** Windows pooled: throughput over their total time, percentiles over all their latencies. */
function pooled(ws: readonly Window[]): WriteStats {
  const lat = ws.flatMap((w) => w.lat).sort((a, b) => a - b);
  const secs = ws.reduce((n, w) => n + w.secs, 0);
  const failed = ws.reduce((n, w) => n + w.failed, 0);
  return { writes: lat.length, failed, perSec: lat.length / secs, p50: pct(lat, 0.5), p99: pct(lat, 0.99) };
}

/** `writers` clients putting 256-byte values to the leader for `ms` or `maxWrites` puts. */
async function writeLoad(c: KvCluster, writers: number, ms: number, maxWrites: number): Promise<Window> {
  let target = await agreedLeader(c, [0, 1, 2]);
  const value = randomBytes(VALUE_BYTES);
  // Warm-up: connections, JIT, the first WAL segment.
  for (let i = 0; i < 200; i++) await c.put(target, `bench/k${i % KEYS}`, value, 5000);
  const lat: number[] = [];
  let failed = 0;
  let next = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (performance.now() < end && next < maxWrites && failed < 1000) {
        const key = `bench/k${next++ % KEYS}`;
        const s = performance.now();
        const r = await c.put(target, key, value, 5000);
        if (r.ok) lat.push(performance.now() - s);
        else {
          failed++;
          if (r.leader !== undefined) target = r.leader;
          await sleep(10);
        }
      }
    }),
  );
  return { lat, failed, secs: (performance.now() - t0) / 1000 };
}

/** Seconds from kill -9 of the leader until a put succeeds on a survivor, per round. */
async function leaderFailover(c: KvCluster, rounds: number): Promise<number[]> {
  const all = [0, 1, 2];
  const value = randomBytes(VALUE_BYTES);
  const out: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const leader = await agreedLeader(c, all);
    await sleep(300);
    const survivors = all.filter((m) => m !== leader);
    const t0 = performance.now();
    await c.kill(leader);
    let done = -1;
    const inflight = new Set<Promise<void>>();
    const deadline = t0 + 30_000;
    while (done < 0 && performance.now() < deadline) {
      for (const m of survivors) {
        if (inflight.size >= 1000) break; // a put waits at most 3 s: about 300 in flight
        const p = c.put(m, `bench/failover${r}`, value, 3000).then((res) => {
          if (res.ok && done < 0) done = performance.now() - t0;
        });
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      }
      await sleep(20);
    }
    await Promise.all(inflight);
    if (done < 0) throw new Error(`${c.name}: no put succeeded within 30 s of killing the leader`);
    out.push(done / 1000);
    await c.restart(leader);
    await agreedLeader(c, all);
    await sleep(700);
  }
  return out;
}

interface SystemResult {
  seq: WriteStats;
  conc: WriteStats | undefined;
  failover: number[];
}

/**
 * Both systems are up side by side and are loaded in turn, in short windows that alternate which
 * goes first: this machine's fsync latency drifts by tens of percent over minutes, and one long
 * run per system measured the drift as much as the systems.
 */
export async function measureBoth(
  systems: readonly KvCluster[],
  quick: boolean,
  log: (m: string) => void,
  opts: { failover?: boolean; rounds?: number; concurrent?: boolean } = {},
): Promise<Map<string, SystemResult>> {
  const rounds = opts.rounds ?? (quick ? 2 : 6);
  const ms = quick ? 1500 : 2500;
  const seq = new Map<string, Window[]>(systems.map((c) => [c.name, []]));
  const conc = new Map<string, Window[]>(systems.map((c) => [c.name, []]));
  for (const c of systems) await c.start();
  // The system under load runs alone: the others are stopped (SIGSTOP), so their timers and
  // heartbeats take no CPU from it. writeLoad waits for an agreed leader after each resume.
  const focus = (c: KvCluster): void => {
    for (const o of systems) if (o !== c) o.pause();
    c.resume();
  };
  try {
    // Steady state, not start-up: a fresh Node process needs some thousands of puts before its
    // JIT has compiled the hot paths (CPU per entry fell by half over the first 3,000), which the
    // 200 puts of writeLoad's own warm-up do not cover. Both systems get the same, discarded.
    for (const c of systems) {
      focus(c);
      await writeLoad(c, 1, ms, 20_000);
      await writeLoad(c, 64, ms, 100_000);
    }
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? systems : [...systems].reverse();
      for (const c of order) {
        focus(c);
        const w = await writeLoad(c, 1, ms, 20_000);
        seq.get(c.name)!.push(w);
        const l = [...w.lat].sort((a, b) => a - b);
        log(
          `${c.name} sequential window: ${l.length} puts, p50 ${pct(l, 0.5).toFixed(2)} p99 ${pct(l, 0.99).toFixed(2)} ms`,
        );
        if (opts.concurrent !== false) conc.get(c.name)!.push(await writeLoad(c, 64, ms, 100_000));
      }
    }
    const out = new Map<string, SystemResult>();
    for (const c of systems) {
      const s = pooled(seq.get(c.name)!);
      const k = opts.concurrent === false ? undefined : pooled(conc.get(c.name)!);
      log(`${c.name} sequential (${rounds} windows of ${ms} ms): ${JSON.stringify(s)}`);
      log(`${c.name} 64 writers (${rounds} windows of ${ms} ms): ${JSON.stringify(k)}`);
      focus(c);
      const failover = opts.failover === false ? [] : await leaderFailover(c, quick ? 3 : 10);
      log(`${c.name} leader failover (s): ${failover.map((x) => x.toFixed(2)).join(', ')}`);
      out.set(c.name, { seq: s, conc: k, failover });
    }
    return out;
  } finally {
    for (const c of systems) c.resume();
    for (const c of systems) await c.stop();
  }
}

export interface RaftBenchResult {
  rows: string[];
  notes: string[];
}

/** Rows in bench/run.ts's table: | measure | shoal | etcd 3.4 (in the swarm column) | | shoal / etcd | |. */
export async function raftVsEtcd(opts: { quick: boolean }): Promise<RaftBenchResult> {
  const log = (m: string): void => console.log(`  raft: ${m}`);
  const dir = await mkdtemp(join(tmpdir(), 'shoal-raftbench-'));
  const notes: string[] = [];
  let shoal: SystemResult | undefined;
  let etcd: SystemResult | undefined;
  try {
    const version = etcdVersion();
    const systems: KvCluster[] = [new ShoalRaftCluster(join(dir, 'shoal'))];
    if (version === undefined)
      notes.push('etcd column empty: the `etcd` binary is not installed (`apt-get install -y etcd-server`).');
    else systems.push(new EtcdCluster(join(dir, 'etcd')));
    try {
      const r = await measureBoth(systems, opts.quick, log);
      shoal = r.get('shoal');
      etcd = r.get('etcd');
    } catch (e) {
      notes.push(`Raft bench failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (version !== undefined)
      notes.push(
        `Raft vs etcd ${version}: 3 member processes each on 127.0.0.1, heartbeat 100 ms / election 1000 ms, fsynced WAL on the same disk; both systems up and loaded in turn, after one discarded round to warm up, in ${opts.quick ? 2 : 6} alternating rounds of a 1-writer and a 64-writer window (latencies pooled) so that the disk's drift falls on both, the other system stopped (SIGSTOP) meanwhile; ${VALUE_BYTES}-byte values over ${KEYS} keys, sent to the leader; shoal members over mutual-TLS gRPC with a client interface on loopback HTTP/1.1 (bench/raftd.ts), etcd over plain HTTP (peers) and its gRPC KV API (clients). Failover, one system at a time: kill -9 of the leader, then a put to every survivor each 20 ms until one succeeds; the victim restarts and rejoins between rounds.`,
      );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const f = (x: number | undefined, d = 0): string =>
    x === undefined || Number.isNaN(x) ? '' : x.toFixed(d);
  const ratio = (a: number | undefined, b: number | undefined): string =>
    a === undefined || b === undefined ? '' : f(a / b, 2);
  const sorted = (xs: number[] | undefined): number[] | undefined =>
    xs === undefined ? undefined : [...xs].sort((a, b) => a - b);
  const med = (xs: number[] | undefined): number | undefined => {
    const s = sorted(xs);
    return s === undefined ? undefined : s[Math.floor(s.length / 2)];
  };
  const max = (xs: number[] | undefined): number | undefined =>
    xs === undefined ? undefined : Math.max(...xs);
  const lat = (w: WriteStats | undefined): string => (w ? `${f(w.p50, 2)} / ${f(w.p99, 2)}` : '');
  const rows: string[] = [];
  const load = (what: string, s: WriteStats | undefined, e: WriteStats | undefined): void => {
    rows.push(
      `| Raft, 3 members, vs etcd 3.4: ${what} (writes/s) | ${f(s?.perSec)} | ${f(e?.perSec)} (etcd) | | ${ratio(s?.perSec, e?.perSec)} | |`,
      `| Raft, 3 members, vs etcd 3.4: ${what}, p50 / p99 latency (ms) | ${lat(s)} | ${lat(e)} (etcd) | | ${ratio(s?.p50, e?.p50)} (p50) | |`,
    );
  };
  load('sequential 256-byte puts', shoal?.seq, etcd?.seq);
  load('64 concurrent writers', shoal?.conc, etcd?.conc);
  const fs = shoal?.failover;
  const fe = etcd?.failover;
  const n = fs?.length ?? fe?.length ?? 0;
  rows.push(
    `| Raft, 3 members, vs etcd 3.4: kill -9 of the leader until a put succeeds (s, median / max of ${n}) | ${fs ? `${f(med(fs), 2)} / ${f(max(fs), 2)}` : ''} | ${fe ? `${f(med(fe), 2)} / ${f(max(fe), 2)}` : ''} (etcd) | | ${ratio(med(fs), med(fe))} | |`,
  );
  return { rows, notes };
}
