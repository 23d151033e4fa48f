// What the dispatcher heartbeat costs the leader at scale: leader CPU and RSS with N worker
// sessions heartbeating, at a heartbeat period of 1 s (shoal's default) and 5 s (Docker's).
//
//   flock /tmp/shoal-e2e.lock node dist/bench/heartbeat.js [N,N,...] [window s] [rounds]
//
// One real shoald manager (swarm init, cluster port on 127.0.0.1); the workers are AgentFleet's:
// each joined once through the CA with the worker token and holds its own certificate, mTLS
// channel and session, all in this process. For each N (ascending; the fleet only grows), each
// round measures the leader over a window at 1 s, then at 5 s, set through POST /swarm/update.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cluster as Swarm, Node } from '../src/api/index.js';
import { AgentFleet } from './agents.js';
import { measure, openFds, rssMb } from './procstat.js';
import { ShoaldProc, until } from './proc.js';

const PERIODS_MS = [1000, 5000];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (m: string): void => console.error(`[${new Date().toISOString().slice(11, 19)}] ${m}`);
/** Sessions the fleet lost (a node marked down by the leader ends its session), from each period change. */
let lost = 0;
const fleetLog = (m: string): void => {
  if (m.includes('session with the manager lost')) lost++;
  log(m);
};

const steps = (process.argv[2] ?? '0,100,250,500,1000').split(',').map(Number);
const windowS = Number(process.argv[3] ?? 20);
const rounds = Number(process.argv[4] ?? 2);
if (steps.some((n) => !Number.isInteger(n) || n < 0 || n > 5000) || !(windowS >= 1 && windowS <= 600))
  throw new Error('usage: heartbeat.js [N,N,... each 0..5000] [window seconds 1..600] [rounds]');
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 10) throw new Error('rounds: 1..10');

const dir = await mkdtemp(join(tmpdir(), 'shoal-bench-hb-'));
// SHOAL_BENCH_LEADER_NODE_FLAGS (say "--cpu-prof --cpu-prof-dir=/tmp/x"): node flags of the leader only.
const leaderFlags = (process.env.SHOAL_BENCH_LEADER_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const leader = new ShoaldProc('hb-leader', dir, leaderFlags);
let fleet: AgentFleet | undefined;
try {
  await leader.start();
  const pid = leader.proc!.pid!;
  await leader.api.call('POST', '/swarm/init', { ListenAddr: '127.0.0.1:0', AdvertiseAddr: '127.0.0.1' });
  const self = (await leader.api.call<Node[]>('GET', '/nodes'))[0]!;
  const clusterAddr = self.ManagerStatus!.Addr;
  const swarm = await leader.api.call<Swarm>('GET', '/swarm');
  fleet = new AgentFleet(clusterAddr, swarm.JoinTokens.Worker);

  const setPeriod = async (ms: number): Promise<void> => {
    const cur = await leader.api.call<Swarm>('GET', '/swarm');
    const spec = { ...cur.Spec, Dispatcher: { ...cur.Spec.Dispatcher, HeartbeatPeriod: ms * 1e6 } };
    await leader.api.call('POST', `/swarm/update?version=${cur.Version.Index}`, spec);
  };
  const ready = async (): Promise<number> =>
    (await leader.api.call<Node[]>('GET', '/nodes')).filter((n) => n.Status.State === 'ready').length;

  console.log(`leader cluster port ${clusterAddr}; window ${windowS} s; ${rounds} round(s)`);
  console.log(
    '| N | period | leader CPU % of a core | leader RSS MB | leader fds | sessions lost | slowest ping ms | agents process CPU % | machine busy % |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const n of steps) {
    const t0 = Date.now();
    await fleet.grow(n, fleetLog);
    if (n > 0) log(`fleet at ${n} nodes (${((Date.now() - t0) / 1000).toFixed(0)} s to grow)`);
    await until(`${n + 1} nodes ready`, async () => (await ready()) === n + 1, 120_000);
    for (let r = 0; r < rounds; r++)
      for (const period of PERIODS_MS) {
        lost = 0;
        await setPeriod(period);
        // Every agent picks the new period up from its next beat (at most half the old period).
        // Meanwhile the leader's API is asked its /version every 100 ms: a stall there is a stall of its loop.
        let slowestPing = 0;
        for (
          const end = Date.now() + Math.max(PERIODS_MS.at(-1)! / 2, 2 * period) + 1000;
          Date.now() < end;
        ) {
          const t = performance.now();
          await leader.api.call('GET', '/version');
          slowestPing = Math.max(slowestPing, performance.now() - t);
          await sleep(100);
        }
        const w = await measure([pid, process.pid], windowS * 1000);
        const rss = await rssMb(pid);
        const fds = await openFds(pid);
        const [readyNow, connected] = [await ready(), fleet.connected()];
        if (readyNow !== n + 1 || connected !== n)
          log(
            `N=${n} period ${period} ms: only ${readyNow - 1} nodes ready, ${connected} sessions connected`,
          );
        console.log(
          `| ${n} | ${period / 1000} s | ${w.cpuPct[0]!.toFixed(2)} | ${rss.toFixed(0)} | ${fds} | ${lost} | ${slowestPing.toFixed(0)} | ${w.cpuPct[1]!.toFixed(1)} | ${w.machinePct.toFixed(0)} |`,
        );
      }
  }
} finally {
  await fleet?.stop().catch((e: unknown) => log(`stopping the fleet: ${(e as Error).message}`));
  // SIGTERM first, so a profile asked for is written; SIGKILL if it has not exited in 10 s.
  if (leader.running) {
    const exited = new Promise((r) => leader.proc!.once('exit', r));
    leader.proc!.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
  }
  await leader.kill();
  await rm(dir, { recursive: true, force: true });
}
