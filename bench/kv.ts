// What bench/raft.ts needs of a 3-member replicated key/value store: shoal's Raft (bench/raftd.ts)
// and etcd 3.4 (bench/etcd.ts) both implement it, each as three local processes on 127.0.0.1.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { request, Agent } from 'node:http';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export type PutResult = { ok: true } | { ok: false; leader?: number; error: string };

export interface MemberStatus {
  /** Index (0..size-1) of the leader this member knows of, or -1. */
  leader: number;
  isLeader: boolean;
  term: number;
}

export interface KvCluster {
  readonly name: string;
  readonly size: number;
  start(): Promise<void>;
  status(member: number, timeoutMs?: number): Promise<MemberStatus>;
  /** One put sent to `member`; never throws. */
  put(member: number, key: string, value: Buffer, timeoutMs: number): Promise<PutResult>;
  kill(member: number): Promise<void>;
  restart(member: number): Promise<void>;
  /** SIGSTOP / SIGCONT of every member: a system not being measured takes no CPU from the one that is. */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

export async function until(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** The leader's index once every live member agrees on one. */
export async function agreedLeader(
  c: KvCluster,
  live: readonly number[],
  timeoutMs = 30_000,
): Promise<number> {
  let leader = -1;
  await until(
    `${c.name}: all members agree on a leader`,
    async () => {
      const st = await Promise.all(live.map((m) => c.status(m, 1000)));
      const l = st[0]?.leader ?? -1;
      if (l < 0 || !st.every((s) => s.leader === l)) return false;
      const ls = await c.status(l, 1000);
      if (!ls.isLeader) return false;
      leader = l;
      return true;
    },
    timeoutMs,
  );
  return leader;
}

/** A child process with its output in a log file, killed with SIGKILL. */
export class Child {
  #proc: ChildProcess | undefined;
  constructor(
    readonly cmd: string,
    readonly args: readonly string[],
    readonly logPath: string,
    readonly env: NodeJS.ProcessEnv = process.env,
  ) {}
  start(): void {
    const fd = openSync(this.logPath, 'a');
    this.#proc = spawn(this.cmd, this.args, { stdio: ['ignore', fd, fd], env: this.env });
    closeSync(fd);
  }
  get alive(): boolean {
    const p = this.#proc;
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }
  signal(sig: 'SIGSTOP' | 'SIGCONT'): void {
    if (this.alive) this.#proc!.kill(sig);
  }
  /** SIGTERM, then SIGKILL after `graceMs` (so a profile or a log gets written). */
  async stop(graceMs: number): Promise<void> {
    const p = this.#proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    p.kill('SIGCONT');
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(t);
  }
  async kill(): Promise<void> {
    const p = this.#proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }
}

/** A keep-alive HTTP/1.1 client for one loopback port. */
export class LoopbackHttp {
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 64 });
  constructor(readonly port: number) {}
  call(
    method: string,
    path: string,
    body: Buffer | string | undefined,
    timeoutMs: number,
  ): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.port,
          method,
          path,
          agent: this.#agent,
          headers: body === undefined ? {} : { 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
          res.on('error', reject);
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }
  close(): void {
    this.#agent.destroy();
  }
}
