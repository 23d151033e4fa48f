// npm run bench: shoal beside a real Docker swarm and the engine's own limit, in one run, on this
// machine. Writes the figures to BENCHMARKS.md. Flags: --quick (N=10 only, fewer rounds),
// --no-swarm (skip the real swarm when its dockerd cannot run here), --no-raft (skip shoal's Raft
// vs etcd 3.4, bench/raft.ts; `node dist/bench/raft-only.js` runs that part alone), --no-ha (skip
// manager failover and state at scale, bench/ha-rows.ts; `node dist/bench/ha-only.js` runs it alone),
// --overlay (only the overlay data plane on three namespace hosts, bench/overlay.ts, which writes
// its own section; hold `flock /tmp/shoal-e2e.lock` around it).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { EngineApiClient as Client } from '../src/engineclient/index.js';
import type { Service } from '../src/api/index.js';
import { RealSwarm, SWARM_SOCK } from './swarm.js';
import { serviceListLatency } from './scale.js';
import { nodeFailover } from './failover.js';
import { raftVsEtcd } from './raft.js';
import { haRows } from './ha-rows.js';
import { benchServiceSpec } from './spec.js';

const quick = process.argv.includes('--quick');
const withSwarm = !process.argv.includes('--no-swarm');
const withRaft = !process.argv.includes('--no-raft');
const withHa = !process.argv.includes('--no-ha');
const SIZES = quick ? [10] : [10, 50, 100];
const KILL_ROUNDS = quick ? 3 : 7;
const HOST_ENGINE = '/var/run/docker.sock';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Target {
  name: string;
  api: Client;
  engine: Docker;
}

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(20);
  }
}

async function running(api: Client, id: string): Promise<number> {
  const list = await api.call<Service[]>(
    'GET',
    `/services?status=true&filters=${encodeURIComponent(JSON.stringify({ id: { [id]: true } }))}`,
  );
  return list[0]?.ServiceStatus?.RunningTasks ?? 0;
}

async function containersOf(engine: Docker, service: string, all = false): Promise<Docker.ContainerInfo[]> {
  return engine.listContainers({ all, filters: { label: [`com.docker.swarm.service.name=${service}`] } });
}

async function removeService(t: Target, id: string, name: string): Promise<void> {
  await t.api.call('DELETE', `/services/${id}`);
  await waitFor(
    `${t.name}: containers of ${name} removed`,
    async () => (await containersOf(t.engine, name, true)).length === 0,
    180_000,
  );
}

/** Seconds from `service create --replicas n` until n tasks run. */
async function createTime(t: Target, n: number): Promise<number> {
  const name = `bench${n}`;
  const t0 = performance.now();
  const { ID } = await t.api.call<{ ID: string }>('POST', '/services/create', benchServiceSpec(name, n));
  await waitFor(`${t.name}: ${n} running`, async () => (await running(t.api, ID)) >= n, 300_000);
  const secs = (performance.now() - t0) / 1000;
  await removeService(t, ID, name);
  return secs;
}

/** Seconds from `docker rm -f` of a task container until a replacement runs. */
async function replaceTime(t: Target): Promise<number[]> {
  const name = 'benchkill';
  const { ID } = await t.api.call<{ ID: string }>('POST', '/services/create', benchServiceSpec(name, 1));
  await waitFor(`${t.name}: 1 running`, async () => (await running(t.api, ID)) === 1, 60_000);
  const out: number[] = [];
  for (let i = 0; i < KILL_ROUNDS; i++) {
    await sleep(300);
    const [victim] = await containersOf(t.engine, name);
    const t0 = performance.now();
    await t.engine.getContainer(victim!.Id).remove({ force: true });
    await waitFor(
      `${t.name}: replacement`,
      async () => {
        const now = await containersOf(t.engine, name);
        return (
          now.some((c) => c.Id !== victim!.Id && c.State === 'running') && (await running(t.api, ID)) === 1
        );
      },
      60_000,
    );
    out.push((performance.now() - t0) / 1000);
  }
  await removeService(t, ID, name);
  return out;
}

/**
 * The engine's own limit for a replacement: `rm -f` of a container, and the moment its die event
 * arrives, a new one created and started straight through the API. No orchestrator can see the
 * death sooner or start the next container faster on this engine.
 */
async function engineReplaceFloor(engine: Docker, rounds: number): Promise<number[]> {
  const opts = {
    Image: 'busybox:local',
    Cmd: ['sleep', '3600'],
    Labels: { 'shoal.bench': 'engine' },
    StopSignal: 'SIGKILL',
    StopTimeout: 1,
  };
  const events = (await engine.getEvents({
    filters: { type: ['container'], event: ['die'] },
  })) as NodeJS.ReadableStream & { destroy(): void };
  const dieWaiters = new Map<string, () => void>();
  let buf = '';
  events.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const e = JSON.parse(buf.slice(0, i)) as { id: string };
      buf = buf.slice(i + 1);
      dieWaiters.get(e.id)?.();
    }
  });
  const out: number[] = [];
  let current = await engine.createContainer(opts);
  try {
    await current.start();
    for (let i = 0; i < rounds; i++) {
      await sleep(300);
      const t0 = performance.now();
      const victim = current;
      const died = new Promise<void>((r) => dieWaiters.set(victim.id, r));
      const removed = victim.remove({ force: true });
      await died;
      current = await engine.createContainer(opts);
      await current.start();
      out.push((performance.now() - t0) / 1000);
      await removed;
    }
  } finally {
    events.destroy();
    await current.remove({ force: true });
  }
  return out;
}

/** The engine's own limit: the same containers created and started straight through its API. */
async function engineTime(engine: Docker, n: number): Promise<{ secs: number; concurrency: number }> {
  let best = { secs: Infinity, concurrency: 0 };
  for (const concurrency of [4, 8, 16]) {
    const t0 = performance.now();
    let next = 0;
    const ids: string[] = [];
    await Promise.all(
      Array.from({ length: Math.min(concurrency, n) }, async () => {
        while (next < n) {
          next++;
          const c = await engine.createContainer({
            Image: 'busybox:local',
            Cmd: ['sleep', '3600'],
            Labels: { 'shoal.bench': 'engine' },
            HostConfig: { Init: false },
          });
          await c.start();
          ids.push(c.id);
        }
      }),
    );
    const secs = (performance.now() - t0) / 1000;
    if (secs < best.secs) best = { secs, concurrency };
    // Removed four at a time: dozens of concurrent force-removes can deadlock dockerd 20.10's
    // libnetwork (seen here: sandbox delete vs. network store), which hangs every later call.
    for (let i = 0; i < ids.length; i += 4)
      await Promise.all(ids.slice(i, i + 4).map((id) => engine.getContainer(id).remove({ force: true })));
  }
  return best;
}

async function rssMB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

async function startShoal(dir: string): Promise<{ proc: ChildProcess; api: Client }> {
  const sock = join(dir, 'shoal.sock');
  const proc = spawn(
    process.execPath,
    ['bin/shoald.js', '--data-plane', 'off', '--data-root', join(dir, 'data'), '-H', `unix://${sock}`],
    { stdio: 'ignore' },
  );
  const api = new Client({ host: `unix://${sock}` });
  await waitFor(
    'shoald up',
    async () =>
      api.call('GET', '/version').then(
        () => true,
        () => false,
      ),
    20_000,
  );
  await api.call('POST', '/swarm/init', { ListenAddr: '127.0.0.1:0', AdvertiseAddr: '127.0.0.1' });
  return { proc, api };
}

const fmt = (x: number, d = 2): string => x.toFixed(d);

/** bench/overlay.ts as a child: it needs root and namespace hosts, and writes its own section. */
async function overlayOnly(): Promise<void> {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'overlay.js'), '--write'], {
    stdio: 'inherit',
  });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`bench/overlay.ts exited with ${code}`);
}

async function main(): Promise<void> {
  if (process.argv.includes('--overlay')) return overlayOnly();
  const dir = await mkdtemp(join(tmpdir(), 'shoal-bench-'));
  const hostEngine = new Docker({ socketPath: HOST_ENGINE });
  const shoal = await startShoal(dir);
  const swarm = withSwarm ? new RealSwarm() : undefined;
  const rows: string[] = [];
  const notes: string[] = [];
  try {
    if (swarm) await swarm.start();
    await sleep(2000);
    const shoalRss = await rssMB(shoal.proc.pid!);
    const swarmRss = swarm ? await rssMB(swarm.pid()) : NaN;
    const targets: Target[] = [{ name: 'shoal', api: shoal.api, engine: hostEngine }];
    if (swarm)
      targets.push({
        name: 'swarm',
        api: new Client({ host: `unix://${SWARM_SOCK}` }),
        engine: new Docker({ socketPath: SWARM_SOCK }),
      });

    rows.push(
      '| measure | shoal | Docker swarm | engine alone | shoal / swarm | shoal / engine |',
      '|---|---|---|---|---|---|',
    );
    const engineShare: number[] = [];
    for (const n of SIZES) {
      const s = await createTime(targets[0]!, n);
      const w = swarm ? await createTime(targets[1]!, n) : NaN;
      const e = await engineTime(hostEngine, n);
      engineShare.push(e.secs / w);
      rows.push(
        `| create --replicas ${n} until ${n}/${n} running (s) | ${fmt(s)} | ${fmt(w)} | ${fmt(e.secs)} (concurrency ${e.concurrency}) | ${fmt(s / w)} | ${fmt(s / e.secs)} |`,
      );
      console.log(rows.at(-1));
    }
    const ks = await replaceTime(targets[0]!);
    const kw = swarm ? await replaceTime(targets[1]!) : [NaN];
    const kf = await engineReplaceFloor(hostEngine, KILL_ROUNDS);
    rows.push(
      `| rm -f of a task container until replaced, restart delay 0 (s, median of ${KILL_ROUNDS}) | ${fmt(median(ks))} | ${fmt(median(kw))} | ${fmt(median(kf))} (die event, then create + start) | ${fmt(median(ks) / median(kw))} | ${fmt(median(ks) / median(kf))} |`,
    );
    notes.push(
      `engine alone ÷ swarm, the lowest ratio any orchestrator on this engine could reach: create ${engineShare.map((x) => fmt(x)).join(' / ')} (N=${SIZES.join(' / ')}); replace ${fmt(median(kf) / median(kw))}.`,
    );
    console.log(rows.at(-1));
    rows.push(
      `| idle manager RSS (MB) | ${fmt(shoalRss, 0)} | ${fmt(swarmRss, 0)} (dockerd) | | ${fmt(shoalRss / swarmRss)} | |`,
    );
    console.log(rows.at(-1));
    const fo = await nodeFailover(quick ? 2 : 6);
    rows.push(
      `| kill -9 of a worker until Down (s, median of ${fo.downMs.length}) | ${fmt(median(fo.downMs) / 1000)} | 12.6 (anchors.md) | | ${fmt(median(fo.downMs) / 12600)} | |`,
      `| kill -9 of a worker until its 3 tasks run elsewhere, default restart policy (s, median of ${fo.replacedMs.length}) | ${fmt(median(fo.replacedMs) / 1000)} | 18.0 (anchors.md) | | ${fmt(median(fo.replacedMs) / 18000)} | |`,
    );
    console.log(rows.at(-2));
    console.log(rows.at(-1));
    notes.push(
      `node failure: 1 drained manager and 2 workers (shoald processes on 127.0.0.2-4), 6 replicas, kill -9 of the worker holding 3; per-round figures down ${fo.downMs.join(', ')} ms, replaced ${fo.replacedMs.join(', ')} ms. The swarm column is the anchors.md measurement of a 3-manager + 1-worker swarm on this machine type (not this run): its multi-node setup needs one dockerd per network namespace, which this bench does not build yet.`,
    );
    const ls = await serviceListLatency(quick ? 200 : 1000, 10, quick ? 50 : 200);
    rows.push(
      `| GET /services?status=true, ${ls.services} services / ${ls.tasks} tasks: p50 / p99 (ms) | ${fmt(ls.p50)} / ${fmt(ls.p99)} | | | | |`,
    );
    console.log(rows.at(-1));
    notes.push(
      `service list latency runs on the simulated executor (${ls.services} services, ${ls.tasks} running tasks in one shoald), over the HTTP API on a unix socket.`,
    );
    if (withRaft) {
      const raft = await raftVsEtcd({ quick });
      for (const r of raft.rows) {
        rows.push(r);
        console.log(r);
      }
      notes.push(...raft.notes);
    }
    if (withHa) {
      const ha = await haRows({ quick, withSwarm });
      for (const r of ha.rows) {
        rows.push(r);
        console.log(r);
      }
      notes.push(...ha.notes);
    }
  } finally {
    await shoal.api.call('POST', '/swarm/leave?force=true').catch(() => undefined);
    shoal.proc.kill('SIGTERM');
    await swarm?.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const section = [
    `## Run of ${when} UTC (\`npm run bench${quick ? ' -- --quick' : ''}\`)`,
    '',
    ...rows,
    '',
    ...notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
  const path = 'BENCHMARKS.md';
  const old = await readFile(path, 'utf8').catch(() => '');
  const marker = '<!-- results -->';
  const head = old.includes(marker)
    ? old.slice(0, old.indexOf(marker) + marker.length)
    : `# Benchmarks\n\n${marker}`;
  await writeFile(path, `${head}\n\n${section}`);
  console.log(`\nwritten to ${path}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
