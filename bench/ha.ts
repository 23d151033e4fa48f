// Manager failover on real shoald processes: three managers on 127.0.2.1-3 (cluster port 42379),
// joined with the manager token. Each round kills -9 the leader and times how long until a write
// (a config create through the Engine API) succeeds on a survivor: a write is fired at every
// survivor each 20 ms. The victim then restarts and the next round waits until it is a reachable
// manager again. Defaults: Raft tick 100 ms, elections after 10-20 ticks.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '../src/cli/index.js';
import type { Node } from '../src/api/index.js';

const PORT = 42379;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class Manager {
  proc: ChildProcess | undefined;
  readonly api: Client;
  readonly sock: string;
  constructor(
    readonly name: string,
    readonly addr: string,
    readonly dir: string,
  ) {
    this.sock = join(dir, `${name}.sock`);
    this.api = new Client({ host: `unix://${this.sock}` });
  }
  async start(): Promise<void> {
    this.proc = spawn(
      process.execPath,
      [
        'bin/shoald.js',
        '--data-root',
        join(this.dir, this.name),
        '--exec-root',
        join(this.dir, 'run'),
        '-H',
        `unix://${this.sock}`,
        '--hostname',
        this.name,
      ],
      { stdio: ['ignore', 'ignore', process.env.SHOAL_BENCH_LOGS ? 'pipe' : 'ignore'] },
    );
    const logs = process.env.SHOAL_BENCH_LOGS;
    if (logs) this.proc.stderr!.pipe(createWriteStream(join(logs, `${this.name}.log`), { flags: 'a' }));
    await until(`${this.name} up`, () => this.api.call('GET', '/version').then(() => true));
  }
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(25);
  }
}

const nodes = (m: Manager): Promise<Node[]> => m.api.call<Node[]>('GET', '/nodes');

let seq = 0;
async function write(m: Manager): Promise<boolean> {
  const name = `fo${seq++}`;
  return m.api
    .call('POST', '/configs/create', { Name: name, Data: Buffer.from(name).toString('base64') })
    .then(
      () => true,
      () => false,
    );
}

export interface ManagerFailoverResult {
  /** Milliseconds from kill -9 of the leader until a write succeeded, per round. */
  ms: number[];
}

export async function managerFailover(
  rounds: number,
  log: (m: string) => void,
): Promise<ManagerFailoverResult> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-bench-ha-'));
  const ms = Array.from({ length: 3 }, (_, i) => new Manager(`bm${i + 1}`, `127.0.2.${i + 1}`, dir));
  const out: number[] = [];
  try {
    for (const m of ms) await m.start();
    const first = ms[0]!;
    await first.api.call('POST', '/swarm/init', {
      ListenAddr: `${first.addr}:${PORT}`,
      AdvertiseAddr: first.addr,
    });
    const token = (await first.api.call<{ JoinTokens: { Manager: string } }>('GET', '/swarm')).JoinTokens
      .Manager;
    for (const m of ms.slice(1)) {
      await m.api.call('POST', '/swarm/join', {
        ListenAddr: `${m.addr}:${PORT}`,
        AdvertiseAddr: m.addr,
        RemoteAddrs: [`${first.addr}:${PORT}`],
        JoinToken: token,
      });
    }
    const healthy = async (): Promise<Manager | undefined> => {
      const via = ms.find((m) => m.proc?.exitCode === null && m.proc.signalCode === null);
      if (!via) return undefined;
      const ns = await nodes(via);
      const ok = ns.filter((n) => n.ManagerStatus?.Reachability === 'reachable').length === 3;
      const leader = ns.find((n) => n.ManagerStatus?.Leader);
      return ok && leader ? ms.find((m) => m.name === leader.Description.Hostname) : undefined;
    };
    for (let r = 0; r < rounds; r++) {
      let leader: Manager | undefined;
      await until('a healthy group of 3', async () => (leader = await healthy()) !== undefined, 90_000);
      await sleep(300);
      const survivors = ms.filter((m) => m !== leader);
      const t0 = performance.now();
      await leader!.kill();
      let done = -1;
      const inflight = new Set<Promise<void>>();
      while (done < 0 && performance.now() - t0 < 30_000) {
        for (const m of survivors) {
          if (inflight.size >= 200) break;
          const p = write(m).then((ok) => {
            if (ok && done < 0) done = performance.now() - t0;
          });
          inflight.add(p);
          void p.finally(() => inflight.delete(p));
        }
        await sleep(20);
      }
      await Promise.all(inflight);
      if (done < 0) throw new Error(`round ${r}: no write succeeded within 30 s of killing the leader`);
      out.push(Math.round(done));
      if (process.env.SHOAL_BENCH_LOGS)
        log(
          `round ${r}: killed ${leader!.name} at ${new Date(Date.now() - done).toISOString()}, ${Math.round(done)} ms`,
        );
      if ((r + 1) % 10 === 0 || r === rounds - 1) log(`manager failover: ${r + 1}/${rounds} rounds`);
      await leader!.start();
    }
  } finally {
    for (const m of ms) await m.kill();
    await rm(dir, { recursive: true, force: true });
  }
  return { ms: out };
}
