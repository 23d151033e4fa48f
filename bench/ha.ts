// Manager failover on real shoald processes: three managers on 127.0.2.1-3 (cluster port 42379),
// joined with the manager token. Each round kills -9 the leader and times how long until a write
// (a config create through the Engine API) succeeds on a survivor: a write is fired at every
// survivor each 20 ms. The victim then restarts and the next round waits until it is a reachable
// manager again. Defaults: Raft tick 100 ms, elections after 10-20 ticks.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Node } from '../src/api/index.js';
import { ShoaldProc, until } from './proc.js';

const PORT = 42379;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A manager: a shoald with its loopback address. */
class Manager extends ShoaldProc {
  constructor(
    name: string,
    readonly addr: string,
    dir: string,
  ) {
    super(name, dir);
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
      const via = ms.find((m) => m.running);
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
