// The overlay data plane on three namespace hosts (test/support/nshosts.ts): throughput task to
// task across hosts (direct, through the VIP, and the underlay for reference), the time from a new
// task's RUNNING until every other host reaches it through the VIP and sees it in tasks.<service>,
// the node resolver's figures (bench/dns.ts, as a child), and what the real swarm does on this
// kernel (no IPVS). Prints one JSON summary line; --write adds a section to BENCHMARKS.md.
//
//   flock /tmp/shoal-e2e.lock node dist/bench/overlay.js [--rounds N] [--scale-only] [--prefix P]
//     [--write] [--pause-on-error]
// (--scale-only: only the scale rounds; --prefix: of the namespace hosts' kernel objects, default
// "ob"; --pause-on-error: waits 150 s before teardown, to inspect the hosts with `docker -H …`)
//
// The shoalds run with SHOAL_TRACE=datapath: each scale round reads from their stderr when the
// manager committed the new task's RUNNING, when it sent each node its views, and when each node
// received them, changed its DNS records and finished the data-plane pass (with its commands).
//
// Placement by node label: the client on host 0, backends on hosts 1 and 2. Task containers run
// busybox:local only, so iperf3 (the machine's binary) runs in a container's network namespace
// through `nsenter -t <pid> -n` from the machine's root (the PID namespace is the machine's).
// Every load is bounded: iperf3 runs -t 3 s, probes stop after 20 s, the swarm experiment after 60 s.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { NsHosts, run } from '../test/support/nshosts.js';
import { startOverlaySwarm, serviceVip as vipOf, WHO_SERVER } from '../test/support/overlayswarm.js';
import { waitFor, type Shoald } from '../test/support/shoald.js';
import { parseTraceLine } from '../src/platform/index.js';

const argPrefix = process.argv.indexOf('--prefix');
const PREFIX = argPrefix > 0 ? (process.argv[argPrefix + 1] ?? 'ob') : 'ob';
const SCALE_ONLY = process.argv.includes('--scale-only');
const SUBNET = '10.71.1.0/24';
const IPERF_SECS = 3;
const THROUGHPUT_ROUNDS = 3;
const PROBE_SECS = 20;
const argRounds = process.argv.indexOf('--rounds');
const SCALE_ROUNDS = argRounds > 0 ? Math.min(20, Number(process.argv[argRounds + 1] ?? 5)) : 5;
const WRITE = process.argv.includes('--write');

/** Task failures seen during the run (service ps history), reported with the figures. */
const failures: string[] = [];
const log = (m: string): void => console.error(`[overlay ${new Date().toISOString().slice(11, 23)}] ${m}`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
};
/** The nearest-rank 90th percentile. */
const p90 = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil(0.9 * s.length) - 1)]!;
};
const r2 = (x: number): number => Math.round(x * 100) / 100;

/** A backend whose answer names its task (the hostname is the task's ID). */
const WEB = WHO_SERVER;

// The probe, inside a client container: two loops side by side (so a hung connection does not
// delay the DNS check). One asks the VIP (nc, since busybox-static's wget crashes here) and prints
// the uptime (10 ms resolution; busybox date has no %N) of the first answer from a task other
// than $OLD, and of every attempt that got no answer (E); the other prints when tasks.web first
// has two addresses after having had one. READY_A / READY_D once armed. Bounded by PROBE_SECS,
// and 20 ms apart: six busy fork loops on 2 vCPUs would slow the very path being measured.
const PROBE = `VIP=$1; OLD=$2
read up _ </proc/uptime; end=$((\${up%.*} + ${PROBE_SECS}))
vip() {
  r=0
  while :; do
    read up _ </proc/uptime; [ \${up%.*} -ge $end ] && { echo TIMEOUT_A; return; }
    b=$(printf 'GET /cgi-bin/who HTTP/1.0\\r\\n\\r\\n' | nc -w 1 $VIP 80 2>/dev/null | tail -n 1)
    who=\${b%% *}
    read up _ </proc/uptime
    case "$who" in
      "$OLD") [ $r = 0 ] && { echo READY_A; r=1; };;
      web-*) [ $r = 1 ] && { echo "A $up $who"; return; };;
      *) [ $r = 1 ] && echo "E $up";;
    esac
    usleep 20000
  done
}
dns() {
  n1=0
  while :; do
    read up _ </proc/uptime; [ \${up%.*} -ge $end ] && { echo TIMEOUT_D; return; }
    c=$(nslookup -type=a tasks.web 2>/dev/null | sed -n '/^Name:/,$p' | grep -c '^Address')
    read up _ </proc/uptime
    if [ "$c" = 1 ]; then [ $n1 = 0 ] && echo READY_D; n1=1; elif [ $n1 = 1 ] && [ "$c" -ge 2 ]; then echo "D $up"; return; fi
    usleep 20000
  done
}
vip & dns & wait`;

/** Seconds since the epoch at boot: converts the probes' /proc/uptime readings to wall-clock time. */
function bootEpoch(): number {
  const up = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return Date.now() / 1000 - up;
}

/** A Go/RFC 3339 timestamp with up to nanoseconds, in ms since the epoch. */
function parseTs(ts: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) return NaN;
  return Date.parse(`${m[1]}${m[3]}`) + (m[2] ? Number(`0${m[2]}`) * 1000 : 0);
}

interface Cluster {
  h: NsHosts;
  m: Shoald;
  nodes: Shoald[];
  hostOfNode: Map<string, number>;
}

async function bringUp(): Promise<Cluster> {
  // Host 3 runs no shoald: the real swarm's experiment gets its own engine.
  const h = await NsHosts.create({ count: 4, prefix: PREFIX, log });
  return { h, ...(await startOverlaySwarm(h, { nodes: 3, network: 'app', subnet: SUBNET })) };
}

/**
 * The ID and PID of the container of the service's running task on host i, by task ID: a task
 * that failed may leave its container running beside its replacement (seen under load).
 */
async function taskContainer(c: Cluster, i: number, service: string): Promise<{ id: string; pid: number }> {
  let id = '';
  await waitFor(
    `a running ${service} task on host ${i}`,
    async () => {
      const t = (await tasksOf(c, service)).find((x) => x.host === i && x.state === 'running');
      if (!t) return false;
      id = (
        await c.h.docker(i, ['ps', '-q', '--filter', `label=com.docker.swarm.task.id=${t.id}`])
      ).stdout.trim();
      return id !== '';
    },
    60_000,
    250,
  );
  const pid = Number((await c.h.docker(i, ['inspect', '-f', '{{.State.Pid}}', id])).stdout.trim());
  return { id, pid };
}

/** Tasks of the service that failed (history included), with their errors: not expected here. */
async function failedTasks(c: Cluster, service: string): Promise<string[]> {
  const r = await c.m.docker([
    'service',
    'ps',
    '--no-trunc',
    '--format',
    '{{.Name}} {{.CurrentState}} | {{.Error}}',
    service,
  ]);
  return r.stdout
    .split('\n')
    .filter((l) => /Failed|Rejected/.test(l))
    .map((l) => l.replace(/\s+/g, ' ').trim());
}

interface TaskInfo {
  id: string;
  host: number;
  state: string;
  timestamp: string;
  addr: string;
}

async function tasksOf(c: Cluster, service: string): Promise<TaskInfo[]> {
  const ids = (await c.m.ok(['service', 'ps', '-q', '--filter', 'desired-state=running', service]))
    .trim()
    .split('\n')
    .filter(Boolean);
  const out: TaskInfo[] = [];
  for (const id of ids) {
    const r = await c.m.docker(['inspect', '--type', 'task', '--format', '{{json .}}', id]);
    if (r.code !== 0) continue;
    const t = JSON.parse(r.stdout) as {
      ID: string;
      NodeID?: string;
      Status: { State: string; Timestamp: string };
      NetworksAttachments?: { Network: { Spec: { Name: string } }; Addresses: string[] }[];
    };
    const addr = t.NetworksAttachments?.find((a) => a.Network.Spec.Name === 'app')?.Addresses[0] ?? '';
    out.push({
      id: t.ID,
      host: c.hostOfNode.get(t.NodeID ?? '') ?? -1,
      state: t.Status.State,
      timestamp: t.Status.Timestamp,
      addr: addr.split('/')[0]!,
    });
  }
  return out;
}

function serviceVip(c: Cluster, service: string): Promise<string> {
  return vipOf(c.m, service, 'app');
}

/** iperf3 for `secs` from a network namespace (`nsenter` args) to target:port; Gbit/s received. */
async function iperf(nsArgs: string[], target: string, port: number): Promise<number> {
  const r = await run(
    'nsenter',
    [...nsArgs, 'iperf3', '-c', target, '-p', String(port), '-t', String(IPERF_SECS), '-J'],
    { timeoutMs: (IPERF_SECS + 20) * 1000 },
  );
  const j = JSON.parse(r.stdout || '{}') as {
    error?: string;
    end?: { sum_received?: { bits_per_second: number } };
  };
  const bps = j.end?.sum_received?.bits_per_second;
  if (bps === undefined) throw new Error(`iperf3 to ${target}:${port}: ${j.error ?? r.stderr.trim()}`);
  return bps / 1e9;
}

function iperfServer(nsArgs: string[], port: number): ChildProcess {
  // Our own child (nsenter execs iperf3 in place): ended by its pid in finally.
  return spawn('nsenter', [...nsArgs, 'iperf3', '-s', '-p', String(port)], { stdio: 'ignore' });
}

interface Throughput {
  runs: { direct: number[]; vip: number[]; underlay: number[] };
  median: { direct: number; vip: number; underlay: number };
  vip_over_direct: number;
  direct_over_underlay: number;
}

async function throughput(c: Cluster): Promise<Throughput> {
  await c.m.ok([
    'service',
    'create',
    '--detach',
    '--name',
    'ipf',
    '--network',
    'app',
    '--constraint',
    'node.labels.host==1',
    'busybox:local',
    'sleep',
    '1d',
  ]);
  await c.m.ok([
    'service',
    'create',
    '--detach',
    '--name',
    'cli',
    '--network',
    'app',
    '--constraint',
    'node.labels.host==0',
    'busybox:local',
    'sleep',
    '1d',
  ]);
  const back = await taskContainer(c, 1, 'ipf');
  const cli = await taskContainer(c, 0, 'cli');
  await waitFor(
    'ipf running',
    async () => (await tasksOf(c, 'ipf')).some((t) => t.state === 'running'),
    30_000,
  );
  const backAddr = (await tasksOf(c, 'ipf'))[0]!.addr;
  const vip = await serviceVip(c, 'ipf');
  const servers = [
    iperfServer(['-t', String(back.pid), '-n'], 5201),
    iperfServer([`--net=/run/netns/${c.h.host(1).name}`], 5202),
  ];
  try {
    await sleep(300);
    const cliNs = ['-t', String(cli.pid), '-n'];
    const paths = {
      direct: (): Promise<number> => iperf(cliNs, backAddr, 5201),
      vip: (): Promise<number> => iperf(cliNs, vip, 5201),
      underlay: (): Promise<number> => iperf([`--net=/run/netns/${c.h.host(0).name}`], c.h.addr(1), 5202),
    };
    const runs = { direct: [] as number[], vip: [] as number[], underlay: [] as number[] };
    const orders: (keyof typeof paths)[][] = [
      ['direct', 'vip', 'underlay'],
      ['vip', 'underlay', 'direct'],
      ['underlay', 'direct', 'vip'],
    ];
    for (let round = 0; round < THROUGHPUT_ROUNDS; round++)
      for (const p of orders[round % orders.length]!) {
        const g = await paths[p]();
        runs[p].push(r2(g));
        log(`throughput ${p}: ${g.toFixed(2)} Gbit/s`);
      }
    const med = { direct: median(runs.direct), vip: median(runs.vip), underlay: median(runs.underlay) };
    return {
      runs,
      median: med,
      vip_over_direct: r2(med.vip / med.direct),
      direct_over_underlay: r2(med.direct / med.underlay),
    };
  } finally {
    for (const s of servers) if (s.pid) process.kill(s.pid, 'SIGKILL');
    for (const svc of ['ipf', 'cli']) failures.push(...(await failedTasks(c, svc)));
    await c.m.docker(['service', 'rm', 'ipf', 'cli']);
  }
}

interface ScaleRound {
  round: number;
  new_task_host: number;
  /** ms from `service scale` to the task's RUNNING timestamp. */
  scale_to_running_ms: number;
  /** ms from RUNNING until the bench, polling the manager every 50 ms with the CLI, saw it: an upper bound of the report's delay. */
  manager_seen_ms: number;
  /** Per host (the new task's own included): ms from RUNNING to the first VIP answer from the new task, and to tasks.web with it. */
  vip_ms: Record<string, number | null>;
  dns_ms: Record<string, number | null>;
  /** VIP attempts that got no answer (refused or timed out after 1 s) during the round, all hosts. */
  vip_misses: number;
  /** ms from the RUNNING timestamp to the manager's commit of it (trace). */
  running_to_commit_ms: number | null;
  /** Per host, ms after the commit (trace): the data path's steps and the probes' first answers. */
  after_commit: Record<string, HostPath>;
}

/** One host's path from the RUNNING commit (ms after it; null: not seen). */
interface HostPath {
  /** The manager sent the node views with the task ready. */
  sent: number | null;
  /** The node's agent received them (its DNS records changed in the same tick). */
  received: number | null;
  /** The node's data-plane pass that applied them began and ended (VIP rules in the kernel). */
  pass_start: number | null;
  pass_end: number | null;
  /** The commands of that pass: how many, and the slowest ("ms argv"). */
  cmds: number;
  slowest_cmd: string;
  /** The probe on the host: first answer from the new task through the VIP, and tasks.web with it. */
  vip: number | null;
  dns: number | null;
}

interface TraceLine {
  ms: number;
  event: string;
  detail: string;
}

/** The trace lines (platform/trace.ts) of a shoald's stderr from offset on. */
function traceLines(log: string, from: number): TraceLine[] {
  const out: TraceLine[] = [];
  for (const l of log.slice(from).split('\n')) {
    const t = parseTraceLine(l);
    if (t) out.push(t);
  }
  return out;
}

const readyIn = (t: TraceLine, taskId: string): boolean =>
  (/new-ready=(\S+)/.exec(t.detail)?.[1] ?? '').split(',').includes(taskId);

/** Where the time went on host i for the task's RUNNING, from the trace lines of the round. */
function hostPath(
  manager: TraceLine[],
  node: TraceLine[],
  nodeId: string,
  taskId: string,
  commit: number,
): Omit<HostPath, 'vip' | 'dns'> {
  const rel = (x: number | undefined): number | null => (x === undefined ? null : Math.round(x - commit));
  const sent = manager.find(
    (t) => t.event === 'views-sent' && t.ms >= commit && t.detail.includes(`node=${nodeId} `),
  );
  const recv = node.find((t) => t.event === 'views-received' && readyIn(t, taskId));
  const end = node.find((t) => t.event === 'pass-end' && readyIn(t, taskId));
  const start = end ? node.filter((t) => t.event === 'pass-start' && t.ms <= end.ms).at(-1) : undefined;
  const cmds =
    start && end ? node.filter((t) => t.event === 'cmd' && t.ms >= start.ms && t.ms <= end.ms) : [];
  const cmdMs = (t: TraceLine): number => Number(/ms=([\d.]+)/.exec(t.detail)?.[1] ?? 0);
  const slowest = cmds.reduce<TraceLine | undefined>(
    (a, b) => (a && cmdMs(a) >= cmdMs(b) ? a : b),
    undefined,
  );
  return {
    sent: rel(sent?.ms),
    received: rel(recv?.ms),
    pass_start: rel(start?.ms),
    pass_end: rel(end?.ms),
    cmds: cmds.length,
    slowest_cmd: slowest ? slowest.detail.replace(/^ms=/, '') : '',
  };
}

/** Starts the probe in a container on host i; resolves on READY; `done` resolves with its lines. */
function startProbe(
  c: Cluster,
  i: number,
  cid: string,
  vip: string,
  old: string,
): { ready: Promise<void>; done: Promise<string[]> } {
  const child = spawn('docker', ['exec', cid, 'sh', '-c', PROBE, 'probe', vip, old], {
    env: { ...process.env, DOCKER_HOST: c.h.host(i).dockerHost },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let buf = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((res, rej) => {
    onReady = res;
    child.once('exit', () => rej(new Error(`probe on host ${i} ended before READY: ${lines.join(' | ')}`)));
  });
  ready.catch(() => undefined);
  child.stdout!.on('data', (b: Buffer) => {
    buf += b.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      lines.push(l);
      if (lines.includes('READY_A') && lines.includes('READY_D')) onReady();
    }
  });
  const done = new Promise<string[]>((res) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), (PROBE_SECS + 10) * 1000);
    child.once('exit', () => {
      clearTimeout(timer);
      res(lines);
    });
  });
  return { ready, done };
}

async function scaleRounds(c: Cluster): Promise<{ rounds: ScaleRound[]; summary: Record<string, number> }> {
  await c.m.ok([
    'service',
    'create',
    '--detach',
    '--name',
    'web',
    '--network',
    'app',
    '--constraint',
    'node.labels.host!=0',
    '--hostname',
    'web-{{.Task.ID}}',
    'busybox:local',
    ...WEB,
  ]);
  await c.m.ok([
    'service',
    'create',
    '--detach',
    '--name',
    'probe',
    '--mode',
    'global',
    '--network',
    'app',
    'busybox:local',
    'sleep',
    '1d',
  ]);
  const probes = await Promise.all([0, 1, 2].map((i) => taskContainer(c, i, 'probe')));
  const vip = await serviceVip(c, 'web');
  const rounds: ScaleRound[] = [];
  try {
    for (let round = 1; round <= SCALE_ROUNDS; round++) {
      let before: TaskInfo[] = [];
      await waitFor(
        'web at one running task',
        async () => {
          before = await tasksOf(c, 'web');
          return before.length === 1 && before[0]!.state === 'running';
        },
        60_000,
        200,
      );
      // Let the scale-down of the previous round leave every node's VIP rules and DNS.
      await sleep(1500);
      const old = `web-${before[0]!.id}`;
      const logFrom = c.nodes.map((n) => n.log.length);
      const running = probes.map((p, i) => startProbe(c, i, p.id, vip, old));
      await Promise.all(running.map((p) => p.ready));
      const t0 = Date.now();
      await c.m.ok(['service', 'scale', '--detach', 'web=2']);
      let fresh: TaskInfo | undefined;
      await waitFor(
        'the new web task running',
        async () => {
          fresh = (await tasksOf(c, 'web')).find((t) => t.id !== before[0]!.id && t.state === 'running');
          return fresh !== undefined;
        },
        60_000,
        50,
      );
      const seenAt = Date.now();
      const runningAt = parseTs(fresh!.timestamp);
      const outs = await Promise.all(running.map((p) => p.done));
      const boot = bootEpoch();
      const r: ScaleRound = {
        round,
        new_task_host: fresh!.host,
        scale_to_running_ms: Math.round(runningAt - t0),
        manager_seen_ms: Math.round(seenAt - runningAt),
        vip_ms: {},
        dns_ms: {},
        vip_misses: outs.flat().filter((l) => l.startsWith('E ')).length,
        running_to_commit_ms: null,
        after_commit: {},
      };
      const traces = c.nodes.map((n, i) => traceLines(n.log, logFrom[i]!));
      const commit = traces[0]!.find(
        (t) => t.event === 'running-committed' && t.detail === `task=${fresh!.id}`,
      )?.ms;
      if (commit !== undefined) r.running_to_commit_ms = Math.round(commit - runningAt);
      const nodeOfHost = new Map([...c.hostOfNode].map(([id, i]) => [i, id]));
      outs.forEach((lines, i) => {
        const at = (tag: string, check?: (w: string) => boolean): number | null => {
          const l = lines.find((x) => x.startsWith(`${tag} `) && (!check || check(x.split(' ')[2] ?? '')));
          return l ? (boot + Number(l.split(' ')[1])) * 1000 : null;
        };
        const since = (from: number | undefined, x: number | null): number | null =>
          from === undefined || x === null ? null : Math.round(x - from);
        const vipAt = at('A', (w) => w === `web-${fresh!.id}`);
        const dnsAt = at('D');
        r.vip_ms[`h${i}`] = since(runningAt, vipAt);
        r.dns_ms[`h${i}`] = since(runningAt, dnsAt);
        if (commit !== undefined)
          r.after_commit[`h${i}`] = {
            ...hostPath(traces[0]!, traces[i]!, nodeOfHost.get(i) ?? '', fresh!.id, commit),
            vip: since(commit, vipAt),
            dns: since(commit, dnsAt),
          };
      });
      rounds.push(r);
      log(`scale round ${round}: ${JSON.stringify(r)}`);
      await c.m.ok(['service', 'scale', '--detach', 'web=1']);
    }
  } finally {
    for (const svc of ['web', 'probe']) failures.push(...(await failedTasks(c, svc)));
    await c.m.docker(['service', 'rm', 'web', 'probe']);
  }
  const worst = (k: 'vip_ms' | 'dns_ms'): number[] =>
    rounds.map((r) => {
      const v = Object.entries(r[k])
        .filter(([host]) => host !== `h${r.new_task_host}`)
        .map(([, x]) => x);
      return v.some((x) => x === null) ? Infinity : Math.max(...(v as number[]));
    });
  const vipW = worst('vip_ms');
  const dnsW = worst('dns_ms');
  const worstAfterCommit = (k: 'vip' | 'dns' | 'received' | 'pass_end'): number[] =>
    rounds.map((r) => {
      const v = Object.entries(r.after_commit)
        .filter(([host]) => host !== `h${r.new_task_host}`)
        .map(([, p]) => p[k]);
      return v.length < 2 || v.some((x) => x === null) ? Infinity : Math.max(...(v as number[]));
    });
  const cVip = worstAfterCommit('vip');
  const cDns = worstAfterCommit('dns');
  return {
    rounds,
    summary: {
      commit_vip_all_hosts_median_ms: median(cVip),
      commit_vip_all_hosts_p90_ms: p90(cVip),
      commit_dns_all_hosts_median_ms: median(cDns),
      commit_dns_all_hosts_p90_ms: p90(cDns),
      commit_received_all_hosts_median_ms: median(worstAfterCommit('received')),
      commit_pass_end_all_hosts_median_ms: median(worstAfterCommit('pass_end')),
      running_to_commit_median_ms: median(rounds.map((r) => r.running_to_commit_ms ?? Infinity)),
      vip_all_hosts_median_ms: median(vipW),
      vip_all_hosts_max_ms: Math.max(...vipW),
      dns_all_hosts_median_ms: median(dnsW),
      dns_all_hosts_max_ms: Math.max(...dnsW),
      scale_to_running_median_ms: median(rounds.map((r) => r.scale_to_running_ms)),
      manager_seen_median_ms: median(rounds.map((r) => r.manager_seen_ms)),
    },
  };
}

/** The real swarm on host 3's plain dockerd: what an overlay service and its VIP do without IPVS. */
async function swarmExperiment(c: Cluster): Promise<Record<string, string>> {
  const d = (args: string[], timeoutMs = 20_000): Promise<{ stdout: string; stderr: string; code: number }> =>
    c.h.docker(3, args, { timeoutMs });
  const out: Record<string, string> = {};
  const end = Date.now() + 60_000;
  const init = await d(['swarm', 'init', '--advertise-addr', c.h.addr(3)]);
  out.init = init.code === 0 ? 'ok' : init.stderr.trim().slice(0, 200);
  if (init.code !== 0) return out;
  const net = await d(['network', 'create', '-d', 'overlay', '--attachable', 'sw']);
  out.network_create = net.code === 0 ? 'ok' : net.stderr.trim().slice(0, 200);
  const t0 = Date.now();
  const svc = await d([
    'service',
    'create',
    '--detach',
    '--name',
    'sweb',
    '--network',
    'sw',
    'busybox:local',
    ...WEB,
  ]);
  out.service_create = svc.code === 0 ? 'accepted' : svc.stderr.trim().slice(0, 200);
  let state = '';
  while (Date.now() < end - 20_000) {
    state = (
      await d(['service', 'ps', '--no-trunc', '--format', '{{.CurrentState}} | {{.Error}}', 'sweb'])
    ).stdout.trim();
    if (/^Running/m.test(state) || /Rejected|Failed/.test(state)) break;
    await sleep(500);
  }
  out.task_state = `${state.split('\n').slice(0, 3).join(' ; ')} (after ${((Date.now() - t0) / 1000).toFixed(1)} s)`;
  if (/^Running/m.test(state)) {
    const cid = (await d(['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=sweb'])).stdout
      .trim()
      .split('\n')[0]!;
    const addr = (
      await d(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', cid])
    ).stdout.trim();
    const req = `printf 'GET /cgi-bin/who HTTP/1.0\\r\\n\\r\\n'`;
    const probe = await d(
      [
        'run',
        '--rm',
        '--network',
        'sw',
        'busybox:local',
        'sh',
        '-c',
        `echo "lookup $(nslookup -type=a sweb 2>&1 | sed -n '/^Name:/,$p' | grep '^Address' | tr '\\n' ' ')"; ` +
          `b=$(${req} | nc -w 3 sweb 80 2>&1); echo "vip exit=$? $(echo "$b" | tail -n 1)"; ` +
          `b=$(${req} | nc -w 3 ${addr} 80 2>&1); echo "direct exit=$? $(echo "$b" | tail -n 1)"`,
      ],
      Math.max(5_000, end - Date.now()),
    );
    for (const l of probe.stdout.split('\n')) {
      const [k, ...rest] = l.trim().split(' ');
      if (k === 'lookup' || k === 'vip' || k === 'direct') out[`${k}_from_a_task`] = rest.join(' ').trim();
    }
    if (probe.code !== 0) out.probe_error = probe.stderr.trim().slice(0, 200);
  }
  const logText = await readFile(`${c.h.host(3).dir}/dockerd.log`, 'utf8').catch(() => '');
  const ipvs = logText.split('\n').find((l) => /ipvs|ip_vs/i.test(l));
  out.dockerd_log_ipvs = ipvs ? ipvs.slice(0, 300) : 'no IPVS line in dockerd.log';
  await d(['swarm', 'leave', '--force'], 20_000);
  return out;
}

async function dnsBench(): Promise<unknown[]> {
  const r = await run(process.execPath, ['dist/bench/dns.js', '5', '200000', '32'], { timeoutMs: 90_000 });
  if (r.code !== 0) throw new Error(`bench/dns.js failed: ${r.stderr.trim()}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as unknown);
}

function section(s: Summary): string {
  const t = s.throughput;
  const row = (k: keyof Throughput['runs']): string =>
    t ? `| ${k} | ${t.runs[k].map((x) => x.toFixed(2)).join(', ')} | **${t.median[k].toFixed(2)}** |` : '';
  const ms = (v: number | null | undefined): string => (v === null || v === undefined ? 'none' : String(v));
  const hosts = ['h0', 'h1', 'h2'];
  // The new task's own host is shown in parentheses: the target is about the other hosts.
  const own = (r: ScaleRound, k: string, v: string): string => (k === `h${r.new_task_host}` ? `(${v})` : v);
  const dns = s.dns as { mode: string; qps: number; p50_ms: number; p99_ms: number; lost: number }[];
  return [
    // Under "## The overlay data plane", which the marker follows.
    `### Run of ${s.when} UTC (\`node dist/bench/overlay.js\`)`,
    '',
    `Three namespace hosts (test/support/nshosts.ts), each with its own dockerd and shoald, on ${s.machine}; ` +
      `load average (1/5/15 min) ${s.load.map((x) => x.toFixed(2)).join(' / ')} at the start, ${s.load_end.map((x) => x.toFixed(2)).join(' / ')} at the end (a 2-vCPU machine: other work was running). Client task on host 0, ` +
      `backends on hosts 1 and 2; iperf3 -t ${IPERF_SECS} s in the task's netns (nsenter), rounds in alternating order.`,
    '',
    ...(t
      ? [
          '| path (Gbit/s) | runs | median |',
          '|---|---|---|',
          row('direct'),
          row('vip'),
          row('underlay'),
          '',
          `VIP ÷ direct: **${t.vip_over_direct}** (target ≥ 0.9); overlay direct ÷ underlay: ${t.direct_over_underlay}.`,
          '',
        ]
      : ['(`--scale-only`: no throughput, resolver or real-swarm figures in this run.)', '']),
    `Scale 1 → 2: ms from the new task's RUNNING timestamp until a client on each other host gets an answer ` +
      `from it through the VIP / sees it in tasks.web (negative: before the status said RUNNING; probes read ` +
      `/proc/uptime, 10 ms resolution, one attempt per loop every 20 ms or more):`,
    '',
    '| round | new task on | scale → RUNNING | RUNNING → seen on the manager (≤) | VIP h0 / h1 / h2 | tasks.web h0 / h1 / h2 | VIP attempts unanswered |',
    '|---|---|---|---|---|---|---|',
    ...s.scale.rounds.map(
      (r) =>
        `| ${r.round} | h${r.new_task_host} | ${r.scale_to_running_ms} | ${r.manager_seen_ms} | ${hosts.map((k) => own(r, k, ms(r.vip_ms[k]))).join(' / ')} | ${hosts.map((k) => own(r, k, ms(r.dns_ms[k]))).join(' / ')} | ${r.vip_misses} |`,
    ),
    '',
    `Worst other host per round: VIP median ${s.scale.summary.vip_all_hosts_median_ms} ms, max ${s.scale.summary.vip_all_hosts_max_ms} ms; ` +
      `tasks.web median ${s.scale.summary.dns_all_hosts_median_ms} ms, max ${s.scale.summary.dns_all_hosts_max_ms} ms (from the RUNNING timestamp).`,
    '',
    `After the manager's commit of RUNNING (the shoalds' SHOAL_TRACE=datapath timestamps): ms until the ` +
      `manager sent the node its views → the node received them (DNS records changed) → its data-plane ` +
      `pass ended (VIP rules in; commands in the pass, the slowest) → the probe's first VIP answer / tasks.web:`,
    '',
    '| round | RUNNING → commit | h0 | h1 | h2 |',
    '|---|---|---|---|---|',
    ...s.scale.rounds.map(
      (r) =>
        `| ${r.round} | ${ms(r.running_to_commit_ms)} | ${hosts
          .map((k) => {
            const p = r.after_commit[k];
            const v = p
              ? `${ms(p.sent)} → ${ms(p.received)} → ${ms(p.pass_end)} (${p.cmds}, ${p.slowest_cmd}) → **${ms(p.vip)}** / ${ms(p.dns)}`
              : 'none';
            return own(r, k, v);
          })
          .join(' | ')} |`,
    ),
    '',
    `Worst other host per round, after the commit: VIP median **${s.scale.summary.commit_vip_all_hosts_median_ms}** ms, ` +
      `p90 **${s.scale.summary.commit_vip_all_hosts_p90_ms}** ms; tasks.web median ${s.scale.summary.commit_dns_all_hosts_median_ms} ms, ` +
      `p90 ${s.scale.summary.commit_dns_all_hosts_p90_ms} ms (target ≤ 1000 ms after RUNNING). ` +
      `RUNNING timestamp → commit median ${s.scale.summary.running_to_commit_median_ms} ms.`,
    '',
    dns.length === 0
      ? ''
      : `Resolver (\`node dist/bench/dns.js 5 200000 32\`, in-process, loopback): ` +
        dns
          .map(
            (d) =>
              `${d.mode}: ${Math.round(d.qps)} qps, p50 ${d.p50_ms} ms, p99 ${d.p99_ms} ms, ${d.lost} lost`,
          )
          .join('; ') +
        '.',
    '',
    `Task failures during the run: ${s.task_failures.length === 0 ? 'none' : s.task_failures.join('; ')}.`,
    '',
    `Real swarm on a namespace host's dockerd (no IPVS on this kernel): ${Object.entries(s.swarm)
      .map(([k, v]) => `${k}: ${v}`)
      .join('; ')}.`,
    '',
  ].join('\n');
}

interface Summary {
  when: string;
  machine: string;
  load: number[];
  load_end: number[];
  throughput: Throughput | undefined;
  scale: Awaited<ReturnType<typeof scaleRounds>>;
  dns: unknown[];
  swarm: Record<string, string>;
  task_failures: string[];
  seconds: number;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const load = loadavg().map(r2);
  let c: Cluster | undefined;
  let tp: Throughput | undefined;
  let sc: Summary['scale'];
  let swarm: Record<string, string> = {};
  // The shoalds inherit it: their stderr carries the data path's timestamps.
  process.env['SHOAL_TRACE'] = 'datapath';
  try {
    c = await bringUp();
    log('cluster up');
    if (!SCALE_ONLY) tp = await throughput(c);
    sc = await scaleRounds(c);
    if (!SCALE_ONLY)
      swarm = await swarmExperiment(c).catch((e: unknown) => ({ error: String(e).slice(0, 300) }));
  } catch (e) {
    if (process.argv.includes('--pause-on-error')) {
      log(`failed (${String(e)}); pausing 150 s before teardown for inspection`);
      await sleep(150_000);
    }
    throw e;
  } finally {
    const h = c?.h;
    if (h) await h.stop();
    else await NsHosts.cleanupLeftovers(PREFIX, log);
  }
  const dns = SCALE_ONLY ? [] : await dnsBench();
  const s: Summary = {
    when,
    machine: `${cpus().length} vCPUs, Linux ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}`,
    load,
    load_end: loadavg().map(r2),
    throughput: tp,
    scale: sc,
    dns,
    swarm,
    task_failures: failures,
    seconds: Math.round((performance.now() - t0) / 1000),
  };
  console.log(JSON.stringify({ bench: 'overlay', ...s }));
  if (WRITE) {
    const path = 'BENCHMARKS.md';
    const old = await readFile(path, 'utf8');
    const marker = '<!-- results -->';
    const at = old.indexOf(marker);
    // Above the generated `npm run bench` results, which that run rewrites.
    const text = at >= 0 ? `${old.slice(0, at)}${section(s)}\n${old.slice(at)}` : `${old}\n${section(s)}`;
    await writeFile(path, text);
    log(`written to ${path}`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
