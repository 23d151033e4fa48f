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
import { waitFor, type Shoald } from '../test/support/shoald.js';

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

async function main(): Promise<void> {
  const load = loadavg().map(r2);
  const h = await NsHosts.create({ count: 3, prefix: PREFIX, log });
  const servers: ChildProcess[] = [];
  try {
    const nodes: Shoald[] = [];
    for (let i = 0; i < 3; i++) nodes.push(await h.startShoald(i));
    const m = nodes[0]!;
    await m.ok(['swarm', 'init', '--advertise-addr', h.addr(0)]);
    const token = (await m.ok(['swarm', 'join-token', '-q', 'worker'])).trim();
    for (const i of [1, 2])
      await nodes[i]!.ok([
        'swarm',
        'join',
        '--token',
        token,
        '--advertise-addr',
        h.addr(i),
        `${h.addr(0)}:2377`,
      ]);
    await waitFor(
      'three nodes ready',
      async () =>
        (await m.ok(['node', 'ls', '--format', '{{.Status}}'])).split('\n').filter((l) => l === 'Ready')
          .length === 3,
      30_000,
      250,
    );
    for (let i = 0; i < 3; i++) await m.ok(['node', 'update', '--label-add', `host=${i}`, `${PREFIX}-h${i}`]);
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
    // "Direct": the outside client routes the ingress subnet through host 1, so no DNAT on the way.
    const subnet = taskIp.split('.').slice(0, 3).join('.') + '.0/24';
    await h.execOutside(['ip', 'route', 'replace', subnet, 'via', h.addr(1)]);
    const targets = {
      mesh_no_task: { host: h.addr(0), http: 8080, iperf: 5201 },
      mesh_task_host: { host: h.addr(1), http: 8080, iperf: 5201 },
      direct: { host: taskIp, http: 80, iperf: 5201 },
    };
    await waitFor(
      'every path answers',
      async () => {
        for (const t of Object.values(targets)) {
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
        },
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
