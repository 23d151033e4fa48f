// The ingress routing mesh on three namespace hosts (test/support/nshosts.ts): requests per second
// and throughput from the outside client (its own netns on the underlay) to one published task on
// host 1, through the mesh of host 0 (no task), through the mesh of host 1 (the task's host), and
// direct to the task (its ingress address routed through host 1, no NAT), in alternating order.
// Prints one JSON summary line. Needs the manager's side of the mesh.
//
//   flock /tmp/shoal-e2e.lock node dist/bench/ingress.js [--prefix ib] [--rounds N]
//
// Bounded: iperf3 -t 3 s; each request loop stops after 3 s or 5000 requests.
import { spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { NsHosts, run } from '../test/support/nshosts.js';
import { startOverlaySwarm } from '../test/support/overlayswarm.js';
import { waitFor } from '../test/support/shoald.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const PREFIX = arg('--prefix') ?? 'ib';
const ROUNDS = Math.min(10, Math.max(1, Number(arg('--rounds') ?? 3)));
const IPERF_SECS = 3;
const RPS_SECS = 3;
const RPS_MAX = 5000;
const log = (m: string): void => console.error(`[ingress ${new Date().toISOString().slice(11, 23)}] ${m}`);
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
};
const r2 = (x: number): number => Math.round(x * 100) / 100;

/** Sequential HTTP/1.0 requests for RPS_SECS (at most RPS_MAX); prints ok and failed counts. */
const RPS = `
const net = require('net');
const [host, port, secs, max] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3]), Number(process.argv[4])];
const end = Date.now() + secs * 1000;
let ok = 0, bad = 0;
function one() {
  if (Date.now() >= end || ok + bad >= max) { console.log(JSON.stringify({ ok, bad, secs })); return; }
  let got = false;
  const s = net.connect({ host, port, timeout: 2000 });
  s.on('connect', () => s.write('GET / HTTP/1.0\\r\\n\\r\\n'));
  s.on('data', () => (got = true));
  s.on('close', () => { got ? ok++ : bad++; one(); });
  s.on('timeout', () => s.destroy());
  s.on('error', () => {});
}
one();
`;

/**
 * One new connection every `every` ms for `secs` (each with a 300 ms timeout), not waiting for the
 * last: prints [start ms since the epoch, 1 answered | 0 failed] per attempt.
 */
const PROBE = `
const net = require('net');
const [host, port, secs, every] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3]), Number(process.argv[4])];
const out = []; let pending = 0, printed = false; const end = Date.now() + secs * 1000;
const print = () => { if (!printed) { printed = true; console.log(JSON.stringify(out)); } };
const timer = setInterval(() => {
  if (Date.now() >= end) { clearInterval(timer); if (pending === 0) print(); return; }
  const rec = [Date.now(), 0]; out.push(rec); pending++;
  let got = false;
  const s = net.connect({ host, port, timeout: 300 });
  s.on('connect', () => s.write('GET / HTTP/1.0\\r\\n\\r\\n'));
  s.on('data', () => (got = true));
  s.on('timeout', () => s.destroy());
  s.on('error', () => {});
  s.on('close', () => { rec[1] = got ? 1 : 0; if (--pending === 0 && Date.now() >= end) print(); });
}, every);
`;

async function main(): Promise<void> {
  const load = loadavg().map(r2);
  const h = await NsHosts.create({ count: 3, prefix: PREFIX, log });
  const servers: ChildProcess[] = [];
  try {
    const { m } = await startOverlaySwarm(h, { nodes: 3, network: 'front', subnet: '10.72.1.0/24' });
    await m.ok([
      'service',
      'create',
      '--detach',
      '--name',
      'web',
      '--publish',
      'published=8080,target=80',
      '--publish',
      'published=5201,target=5201',
      '--constraint',
      'node.labels.host==1',
      'busybox:local',
      'sh',
      '-c',
      'mkdir -p /w && echo hi > /w/index.html && exec httpd -f -p 80 -h /w',
    ]);
    let cid = '';
    await waitFor(
      'the web task running on host 1',
      async () => {
        cid = (
          await h.docker(1, ['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=web'])
        ).stdout.trim();
        return cid !== '';
      },
      60_000,
      250,
    );
    const info = JSON.parse((await h.docker(1, ['inspect', cid])).stdout) as {
      State: { Pid: number };
      NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
    }[];
    const pid = info[0]!.State.Pid;
    const taskIp = info[0]!.NetworkSettings.Networks.ingress?.IPAddress;
    if (!taskIp) throw new Error('the task has no ingress address');
    // iperf3 (the machine's binary) in the task's network namespace: the PID namespace is the machine's.
    servers.push(
      spawn('nsenter', ['-t', String(pid), '-n', 'iperf3', '-s', '-p', '5201'], { stdio: 'ignore' }),
    );
    // "Direct": the outside client routes the ingress subnet to the task without DNAT, either
    // through host 1 (the task's own host: no overlay hop) or through host 0 (over the overlay, the
    // same hops as the mesh of host 0 without its DNAT: what the mesh itself costs).
    const subnet = taskIp.split('.').slice(0, 3).join('.') + '.0/24';
    const targets: Record<string, { host: string; http: number; iperf: number; via?: number }> = {
      mesh_no_task: { host: h.addr(0), http: 8080, iperf: 5201 },
      mesh_task_host: { host: h.addr(1), http: 8080, iperf: 5201 },
      direct: { host: taskIp, http: 80, iperf: 5201, via: 1 },
      direct_overlay: { host: taskIp, http: 80, iperf: 5201, via: 0 },
    };
    const routeFor = async (t: { via?: number }): Promise<void> => {
      if (t.via !== undefined) await h.execOutside(['ip', 'route', 'replace', subnet, 'via', h.addr(t.via)]);
    };
    await waitFor(
      'every path answers',
      async () => {
        for (const t of Object.values(targets)) {
          await routeFor(t);
          const r = await h.execOutside([process.execPath, '-e', RPS, t.host, String(t.http), '0.3', '3']);
          if (r.code !== 0 || (JSON.parse(r.stdout) as { bad: number }).bad > 0) return false;
        }
        return true;
      },
      60_000,
      500,
    );
    const rps: Record<string, number[]> = {};
    const gbps: Record<string, number[]> = {};
    for (let round = 0; round < ROUNDS; round++) {
      const order = Object.entries(targets);
      if (round % 2) order.reverse();
      for (const [name, t] of order) {
        await routeFor(t);
        const r = await h.execOutside(
          [process.execPath, '-e', RPS, t.host, String(t.http), String(RPS_SECS), String(RPS_MAX)],
          { timeoutMs: (RPS_SECS + 10) * 1000 },
        );
        const j = JSON.parse(r.stdout) as { ok: number; bad: number; secs: number };
        (rps[name] ??= []).push(j.ok / j.secs);
        const ip = await run(
          'nsenter',
          [
            `--net=/run/netns/${h.outside.netns}`,
            'iperf3',
            '-c',
            t.host,
            '-p',
            String(t.iperf),
            '-t',
            String(IPERF_SECS),
            '-J',
          ],
          { timeoutMs: (IPERF_SECS + 20) * 1000 },
        );
        const bps = (
          JSON.parse(ip.stdout || '{}') as { end?: { sum_received?: { bits_per_second: number } } }
        ).end?.sum_received?.bits_per_second;
        (gbps[name] ??= []).push(bps === undefined ? NaN : bps / 1e9);
        log(`${name}: ${r2(j.ok / j.secs)} req/s (${j.bad} failed), ${r2((bps ?? NaN) / 1e9)} Gbit/s`);
      }
    }
    // A task's death: `docker kill` of one of two backends, while a client sends through the mesh
    // of a node with no task; how long after the kill connections still went to the dead task.
    await m.ok([
      'service',
      'create',
      '--detach',
      '--name',
      'dies',
      '--publish',
      'published=8081,target=80',
      '--replicas',
      '2',
      '--replicas-max-per-node',
      '1',
      '--constraint',
      'node.labels.host!=0',
      'busybox:local',
      'sh',
      '-c',
      'mkdir -p /w && echo hi > /w/index.html && exec httpd -f -p 80 -h /w',
    ]);
    const deathMs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      let victim = '';
      await waitFor(
        'two dies tasks answering through host 0',
        async () => {
          const running = (
            await m.ok([
              'service',
              'ps',
              '--filter',
              'desired-state=running',
              '--format',
              '{{.CurrentState}}',
              'dies',
            ])
          )
            .split('\n')
            .filter((l) => l.startsWith('Running')).length;
          victim = (
            await h.docker(2, ['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=dies'])
          ).stdout.trim();
          if (running !== 2 || victim === '') return false;
          const r = await h.execOutside([process.execPath, '-e', RPS, h.addr(0), '8081', '0.5', '10']);
          return r.code === 0 && (JSON.parse(r.stdout) as { bad: number }).bad === 0;
        },
        90_000,
        500,
      );
      // Settle past the replacement's first seconds, then probe 1 s before and 4 s after the kill.
      await new Promise((r) => setTimeout(r, 2000));
      const probe = h.execOutside([process.execPath, '-e', PROBE, h.addr(0), '8081', '5', '20'], {
        timeoutMs: 20_000,
      });
      await new Promise((r) => setTimeout(r, 1000));
      const killedAt = Date.now();
      await h.docker(2, ['kill', victim]);
      const attempts = JSON.parse((await probe).stdout) as [number, number][];
      const failed = attempts.filter(([t, ok]) => ok === 0 && t >= killedAt);
      const last = failed.length === 0 ? 0 : Math.max(...failed.map(([t]) => t)) - killedAt;
      deathMs.push(last);
      log(
        `death round ${round + 1}: ${failed.length} of ${attempts.length} attempts failed; last ${last} ms after the kill`,
      );
    }
    const med = (o: Record<string, number[]>): Record<string, number> =>
      Object.fromEntries(Object.entries(o).map(([k, v]) => [k, r2(median(v))]));
    const mr = med(rps);
    const mg = med(gbps);
    console.log(
      JSON.stringify({
        bench: 'ingress',
        load,
        load_end: loadavg().map(r2),
        rounds: ROUNDS,
        rps: mr,
        gbps: mg,
        mesh_over_direct: {
          rps_no_task: r2(mr.mesh_no_task! / mr.direct!),
          rps_task_host: r2(mr.mesh_task_host! / mr.direct!),
          gbps_no_task: r2(mg.mesh_no_task! / mg.direct!),
          gbps_task_host: r2(mg.mesh_task_host! / mg.direct!),
          rps_no_task_over_direct_overlay: r2(mr.mesh_no_task! / mr.direct_overlay!),
          gbps_no_task_over_direct_overlay: r2(mg.mesh_no_task! / mg.direct_overlay!),
        },
        death_to_out_of_mesh_ms: { median: median(deathMs), max: Math.max(...deathMs), runs: deathMs },
        runs: { rps, gbps },
      }),
    );
  } finally {
    for (const s of servers) s.kill('SIGKILL');
    await h.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
