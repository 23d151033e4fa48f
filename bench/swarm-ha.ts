// Leader failover on a REAL Docker swarm, the reference for shoal's own failover figures: three
// Debian dockerd 20.10 managers on this one machine. Each runs in a network namespace the bench
// creates (shoalha1..3), wired by a veth pair to a bridge that lives in a fourth namespace
// (shoalhabr); the 10.99.1.x/24 addresses exist only inside those namespaces, and the dockerds run
// with --iptables=false --bridge=none, so the host's network and iptables are never touched. As in
// bench/swarm.ts, each dockerd remounts the cgroup hierarchies inside its namespace and has its
// own data root, exec root, pid file, socket, cgroup parent, config file, containerd namespace and
// /etc/docker (a private bind mount, so each engine has its own identity).
//
// A round finds the raft leader, kill -9s its dockerd and times how long until a pure raft write
// (the engine API's POST /configs/create, i.e. `docker config create`, with a fresh name) succeeds
// on a surviving manager. Writes sent while there is no leader hang rather than fail, so both
// survivors get a fresh attempt every 150 ms, overlapping (each bounded by 3 s), and the round's
// time is when the first attempt returns 201: it includes one HTTP round trip over the unix socket.
// A round gives up after 60 s. The victim then restarts with the same flags, and the next round
// starts once every manager reports all three managers Leader/Reachable (bounded by 90 s).
// Everything started or created (dockerds and their containerds, namespaces, bridge, veths, temp
// dir) is removed at the end, also on failure or SIGINT/SIGTERM.
//
// Run (as root): `node dist/bench/swarm-ha.js --rounds 5`, or call realSwarmFailover(). With
// SHOALHA_KEEP_LOGS=<dir> the dockerd logs are copied there before the temp dir is removed.
import { execFile, execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';

export interface SwarmFailoverResult {
  /** Seconds from kill -9 of the leader's dockerd until a write succeeded, per completed round. */
  rounds: number[];
  notes: string[];
}

const MANAGERS = 3;
const BRIDGE_NS = 'shoalhabr';
const NS_PREFIX = 'shoalha';
const DOCKER = 'docker';
const ROUND_LIMIT_MS = 60_000;
const HEALTHY_LIMIT_MS = 90_000;
const START_LIMIT_MS = 30_000;
const ATTEMPT_EVERY_MS = 150;
const ATTEMPT_TIMEOUT_MS = 3_000;
const MAX_IN_FLIGHT = 25; // > ATTEMPT_TIMEOUT_MS / ATTEMPT_EVERY_MS: a hung attempt never delays the next
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number): number => Math.round(ms) / 1000;

interface Manager {
  readonly n: number; // 1-based
  readonly ns: string;
  readonly addr: string;
  readonly dir: string;
  readonly sock: string;
  readonly pidfile: string;
  readonly log: string;
  proc: ChildProcess | undefined;
  nodeId: string;
}

interface Result {
  ok: boolean;
  out: string;
  err: string;
}

// Synchronous, for setup and cleanup (which also runs from signal handlers).
function run(cmd: string, args: string[], timeout = 15_000): string {
  return execFileSync(cmd, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout,
    killSignal: 'SIGKILL',
  }).toString();
}

// `ip` with a space-separated argument line (no argument here contains a space).
function ip(line: string): string {
  return run('ip', line.split(' '));
}

function tryRun(cmd: string, args: string[]): string | undefined {
  try {
    return run(cmd, args);
  } catch {
    return undefined;
  }
}

function startScript(m: Manager): string {
  return `set -e
export PATH=${PATH}
mount -t tmpfs cgroup_root /sys/fs/cgroup
for c in cpu cpuacct cpuset memory devices freezer blkio pids; do mkdir -p /sys/fs/cgroup/$c; mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c; done
mkdir -p /sys/fs/cgroup/systemd; mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
mount --bind ${m.dir}/etc /etc/docker
export DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1
exec dockerd --data-root ${m.dir}/data --exec-root ${m.dir}/exec --pidfile ${m.pidfile} -H unix://${m.sock} \\
  --cgroup-parent ${m.ns} --config-file ${m.dir}/daemon.json --containerd-namespace ${m.ns} \\
  --containerd-plugins-namespace ${m.ns}-plugins --storage-driver vfs \\
  --iptables=false --ip-masq=false --ip-forward=false --bridge=none
`;
}

function nsPids(ns: string): number[] {
  return (tryRun('ip', ['netns', 'pids', ns]) ?? '')
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((p) => Number.isInteger(p) && p > 0);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

// Kill every process living in our namespaces (the dockerds, their containerds and anything they
// started), then delete the namespaces, which takes the bridge and veths with them.
function teardownNamespaces(managers: readonly Manager[]): void {
  const names = Array.from({ length: MANAGERS }, (_, i) => `${NS_PREFIX}${i + 1}`);
  const pids = new Set<number>();
  for (const m of managers) if (m.proc?.pid !== undefined && m.proc.exitCode === null) pids.add(m.proc.pid);
  for (const ns of [...names, BRIDGE_NS]) for (const p of nsPids(ns)) pids.add(p);
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (let i = 0; i < 100 && [...pids].some(alive); i++) sleepSync(100);
  for (const ns of [...names, BRIDGE_NS]) tryRun('ip', ['netns', 'del', ns]);
}

function docker(m: Manager, args: string[], timeout = 15_000): Promise<Result> {
  return new Promise((done) => {
    execFile(
      DOCKER,
      ['-H', `unix://${m.sock}`, ...args],
      {
        timeout,
        killSignal: 'SIGKILL',
        env: { ...process.env, DOCKER_CONFIG: resolve(m.dir, '..', 'cli'), DOCKER_CLI_HINTS: 'false' },
      },
      (e, out, err) => {
        const why = e?.killed ? `timed out after ${timeout / 1000} s` : String(err).trim() || e?.message;
        done({ ok: !e, out: String(out), err: why ?? '' });
      },
    );
  });
}

// One `POST /configs/create` straight to the engine API over its socket: the same raft write as
// `docker config create`, without a CLI process per attempt, so attempts can overlap cheaply.
function createConfig(m: Manager, name: string, timeout: number): Promise<Result> {
  const body = JSON.stringify({ Name: name, Data: Buffer.from('shoal failover bench\n').toString('base64') });
  return new Promise((done) => {
    let settled = false;
    const finish = (r: Result): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      done(r);
    };
    const req = request(
      {
        socketPath: m.sock,
        agent: false,
        method: 'POST',
        path: '/configs/create',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => finish({ ok: res.statusCode === 201, out: text, err: text.trim() }));
        res.on('error', (e) => finish({ ok: false, out: '', err: e.message }));
      },
    );
    const timer = setTimeout(
      () => finish({ ok: false, out: '', err: `timed out after ${timeout / 1000} s` }),
      timeout,
    );
    req.on('error', (e) => finish({ ok: false, out: '', err: e.message }));
    req.end(body);
  });
}

function logTail(m: Manager, lines = 8): string {
  try {
    return readFileSync(m.log, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function startDockerd(m: Manager): Promise<void> {
  // A kill -9 leaves the pid file (and socket) behind; dockerd refuses a pid file naming a live pid.
  rmSync(m.pidfile, { force: true });
  const fd = openSync(m.log, 'a');
  try {
    m.proc = spawn('ip', ['netns', 'exec', m.ns, 'sh', `${m.dir}/start.sh`], {
      stdio: ['ignore', fd, fd],
      env: { ...process.env, PATH },
    });
  } finally {
    closeSync(fd);
  }
  const proc = m.proc;
  proc.on('error', () => undefined);
  const deadline = Date.now() + START_LIMIT_MS;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new Error(`dockerd ${m.n} exited during start:\n${logTail(m)}`);
    if (existsSync(m.sock) && (await docker(m, ['version', '--format', '{{.Server.Version}}'], 3_000)).ok)
      return;
    await sleep(250);
  }
  throw new Error(`dockerd ${m.n} did not answer within ${START_LIMIT_MS / 1000} s:\n${logTail(m)}`);
}

interface NodeRow {
  id: string;
  status: string;
}

async function nodeList(m: Manager): Promise<NodeRow[] | undefined> {
  const r = await docker(m, ['node', 'ls', '--format', '{{.ID}} {{.ManagerStatus}}'], ATTEMPT_TIMEOUT_MS);
  if (!r.ok) return undefined;
  return r.out
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [id = '', status = ''] = l.trim().split(/\s+/);
      return { id, status };
    });
}

// Every manager answers `node ls` with three managers, all Leader or Reachable, one Leader.
async function healthy(managers: readonly Manager[]): Promise<boolean> {
  const views = await Promise.all(managers.map(nodeList));
  return views.every(
    (rows) =>
      rows !== undefined &&
      rows.length === MANAGERS &&
      rows.every((r) => r.status === 'Leader' || r.status === 'Reachable') &&
      rows.filter((r) => r.status === 'Leader').length === 1,
  );
}

async function waitHealthy(managers: readonly Manager[], limitMs: number): Promise<number | undefined> {
  const t0 = performance.now();
  while (performance.now() - t0 < limitMs) {
    if (await healthy(managers)) return performance.now() - t0;
    await sleep(500);
  }
  return undefined;
}

async function findLeader(managers: readonly Manager[]): Promise<Manager | undefined> {
  for (const m of managers) {
    const rows = await nodeList(m);
    const id = rows?.find((r) => r.status === 'Leader')?.id;
    const leader = managers.find((x) => x.nodeId === id);
    if (leader) return leader;
  }
  return undefined;
}

// Fires a fresh `config create` at each survivor every ATTEMPT_EVERY_MS (capped in flight) until
// one succeeds; resolves with the ms since t0 and the manager that took the write (if any), and
// when each distinct error was first seen.
async function firstWrite(
  survivors: readonly Manager[],
  t0: number,
  round: number,
): Promise<{ won: { ms: number; by: Manager } | undefined; errors: string[] }> {
  let won: { ms: number; by: Manager } | undefined;
  const seen = new Map<string, string>();
  const inFlight = new Map<Manager, number>(survivors.map((m) => [m, 0]));
  const pending: Promise<void>[] = [];
  let k = 0;
  while (!won && performance.now() - t0 < ROUND_LIMIT_MS) {
    for (const m of survivors) {
      if ((inFlight.get(m) ?? 0) >= MAX_IN_FLIGHT) continue;
      inFlight.set(m, (inFlight.get(m) ?? 0) + 1);
      const name = `shoalha-r${round}-m${m.n}-${k++}`;
      pending.push(
        createConfig(m, name, ATTEMPT_TIMEOUT_MS).then((r) => {
          inFlight.set(m, (inFlight.get(m) ?? 1) - 1);
          const at = secs(performance.now() - t0);
          if (r.ok && !won) won = { ms: performance.now() - t0, by: m };
          const key = r.err.split('\n').pop()?.slice(0, 160) ?? '';
          if (!r.ok && !seen.has(key) && seen.size < 8) seen.set(key, `${at} s on ${m.n}: ${key}`);
        }),
      );
    }
    await sleep(ATTEMPT_EVERY_MS);
  }
  await Promise.allSettled(pending); // each is bounded by ATTEMPT_TIMEOUT_MS
  return { won, errors: [...seen.values()] };
}

function pidOf(m: Manager): number | undefined {
  try {
    const pid = Number(readFileSync(m.pidfile, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0) return pid;
  } catch {
    /* fall through */
  }
  return m.proc?.pid;
}

export async function realSwarmFailover(opts: {
  rounds: number;
  log?: (m: string) => void;
}): Promise<SwarmFailoverResult> {
  const log = opts.log ?? (() => undefined);
  const rounds: number[] = [];
  const notes: string[] = [];
  if (process.getuid?.() !== 0) throw new Error('realSwarmFailover needs root (network namespaces, mounts)');

  let engine = 'dockerd';
  const dir = mkdtempSync('/tmp/shoalha-');
  const managers: Manager[] = Array.from({ length: MANAGERS }, (_, i) => {
    const d = `${dir}/m${i + 1}`;
    return {
      n: i + 1,
      ns: `${NS_PREFIX}${i + 1}`,
      addr: `10.99.1.${i + 1}`,
      dir: d,
      sock: `${d}/docker.sock`,
      pidfile: `${d}/docker.pid`,
      log: `${d}/dockerd.log`,
      proc: undefined,
      nodeId: '',
    };
  });

  let cleaned = false;
  const cleanup = (): void => {
    if (cleaned) return;
    cleaned = true;
    teardownNamespaces(managers);
    const keep = process.env['SHOALHA_KEEP_LOGS'];
    if (keep) for (const m of managers) tryRun('cp', [m.log, `${keep}/dockerd-${m.n}.log`]);
    rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    cleanup();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    // Leftovers of an earlier run that died without cleaning up.
    teardownNamespaces([]);

    // Network: a bridge in its own namespace, a veth from each manager namespace into it.
    ip(`netns add ${BRIDGE_NS}`);
    ip(`-n ${BRIDGE_NS} link set lo up`);
    ip(`-n ${BRIDGE_NS} link add br0 type bridge`);
    ip(`-n ${BRIDGE_NS} link set br0 up`);
    for (const m of managers) {
      const peer = `veth${m.n}`;
      ip(`netns add ${m.ns}`);
      ip(`-n ${m.ns} link set lo up`);
      ip(`-n ${m.ns} link add eth0 type veth peer name ${peer} netns ${BRIDGE_NS}`);
      ip(`-n ${BRIDGE_NS} link set ${peer} master br0`);
      ip(`-n ${BRIDGE_NS} link set ${peer} up`);
      ip(`-n ${m.ns} addr add ${m.addr}/24 dev eth0`);
      ip(`-n ${m.ns} link set eth0 up`);
    }

    mkdirSync(`${dir}/cli`);
    for (const m of managers) {
      mkdirSync(`${m.dir}/etc`, { recursive: true });
      writeFileSync(`${m.dir}/daemon.json`, '{}');
      writeFileSync(`${m.dir}/start.sh`, startScript(m));
    }

    const t = performance.now();
    await Promise.all(managers.map(startDockerd));
    log(`3 dockerds up in ${secs(performance.now() - t)} s`);

    const [first, ...rest] = managers;
    if (!first) throw new Error('no managers');
    const init = await docker(first, ['swarm', 'init', '--advertise-addr', first.addr], 60_000);
    if (!init.ok) throw new Error(`swarm init failed: ${init.err}`);
    const token = await docker(first, ['swarm', 'join-token', '-q', 'manager']);
    if (!token.ok) throw new Error(`join-token failed: ${token.err}`);
    for (const m of rest) {
      const j = await docker(
        m,
        ['swarm', 'join', '--token', token.out.trim(), '--advertise-addr', m.addr, `${first.addr}:2377`],
        60_000,
      );
      if (!j.ok) throw new Error(`manager ${m.n} failed to join: ${j.err}`);
    }
    for (const m of managers) {
      const r = await docker(m, ['info', '--format', '{{.Swarm.NodeID}}']);
      m.nodeId = r.out.trim();
      if (!r.ok || !m.nodeId) throw new Error(`manager ${m.n}: no swarm node ID: ${r.err}`);
    }
    if (new Set(managers.map((m) => m.nodeId)).size !== MANAGERS)
      throw new Error(`node IDs collide: ${managers.map((m) => m.nodeId).join(' ')}`);
    const formed = await waitHealthy(managers, HEALTHY_LIMIT_MS);
    if (formed === undefined) throw new Error('the 3-manager swarm never became healthy');
    const version = await docker(first, ['version', '--format', '{{.Server.Version}}']);
    engine = version.out.trim() || engine;
    log(`swarm of 3 managers formed (${managers.map((m) => `${m.n}=${m.nodeId.slice(0, 8)}`).join(' ')})`);

    for (let round = 1; round <= opts.rounds; round++) {
      const leader = await findLeader(managers);
      if (!leader) {
        notes.push(`round ${round}: no leader found; stopped`);
        break;
      }
      const pid = pidOf(leader);
      if (pid === undefined) {
        notes.push(`round ${round}: no pid for manager ${leader.n}; stopped`);
        break;
      }
      const survivors = managers.filter((m) => m !== leader);
      const victim = leader.proc;
      const exited = victim && new Promise<void>((r) => victim.once('exit', () => r()));
      process.kill(pid, 'SIGKILL');
      const t0 = performance.now();
      const { won, errors } = await firstWrite(survivors, t0, round);
      for (const e of errors) log(`round ${round}: first seen at ${e}`);
      if (won) {
        rounds.push(secs(won.ms));
        log(
          `round ${round}: killed leader ${leader.n}; write took ${secs(won.ms)} s (on manager ${won.by.n})`,
        );
      } else {
        notes.push(`round ${round}: no write succeeded within ${ROUND_LIMIT_MS / 1000} s of killing leader`);
        log(notes[notes.length - 1] ?? '');
      }

      if (exited) await Promise.race([exited, sleep(5_000)]);
      const tr = performance.now();
      try {
        await startDockerd(leader);
      } catch (e) {
        notes.push(`round ${round}: manager ${leader.n} did not restart: ${String(e)}; stopped`);
        break;
      }
      const back = await waitHealthy(managers, HEALTHY_LIMIT_MS);
      if (back === undefined) {
        notes.push(`round ${round}: swarm not healthy ${HEALTHY_LIMIT_MS / 1000} s after restart; stopped`);
        break;
      }
      log(
        `round ${round}: manager ${leader.n} back, 3 managers healthy after ${secs(performance.now() - tr)} s`,
      );
    }
  } catch (e) {
    notes.push(`failed: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (rounds.length > 0)
    notes.push(
      `real swarm manager failover: 3 dockerd ${engine} managers in network namespaces on this machine, swarmkit's default Raft timing (tick 1 s, election after 10-20 ticks), a config create (engine API over the unix socket) fired at each survivor every ${ATTEMPT_EVERY_MS} ms after kill -9 of the leader's dockerd; the victim restarts and rejoins between rounds. Per-round s: ${rounds.join(', ')}.`,
    );
  return { rounds, notes };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--rounds');
  const n = i >= 0 ? Number(process.argv[i + 1]) : 5;
  if (!Number.isInteger(n) || n < 1) throw new Error('--rounds wants a positive integer');
  const t = performance.now();
  const r = await realSwarmFailover({ rounds: n, log: (m) => console.log(`[swarm-ha] ${m}`) });
  const sorted = [...r.rounds].sort((a, b) => a - b);
  console.log(`rounds (s): ${r.rounds.join(' ')}`);
  if (sorted.length)
    console.log(
      `min/median/max: ${sorted[0]} / ${sorted[Math.floor(sorted.length / 2)]} / ${sorted[sorted.length - 1]} s`,
    );
  for (const note of r.notes) console.log(`note: ${note}`);
  console.log(`total ${secs(performance.now() - t)} s`);
  if (r.notes.some((x) => x.startsWith('failed'))) process.exitCode = 1;
}
