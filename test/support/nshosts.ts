// Namespace hosts: a multi-host shoal cluster on one machine, for data-plane tests and benches.
// Each host is a network namespace on a private underlay bridge, plus a private mount and UTS
// namespace held by one long-lived process (the holder), with its own dockerd (and containerd)
// inside. The recipe and its pitfalls are in ../shared/reference/networking.md; the private
// /run below covers several of them at once (plugin dir, containerd socket, netns dir, sockets).
//
// Use (root; hold flock /tmp/shoal-e2e.lock; one harness per prefix at a time):
//   const h = await NsHosts.create({ count: 3, prefix: 'sh' });   // hosts sh-h0.. at 10.99.0.1..
//   await h.docker(1, ['run', '--rm', 'busybox:local', 'ping', '-c1', h.addr(2)]);
//   const m = await h.startShoald(0);                              // the docker CLI: m.ok([...])
//   await m.ok(['swarm', 'init', '--advertise-addr', h.addr(0)]);
//   await h.exec(0, ['nft', 'list', 'ruleset']);  h.execOutside([...]);  await h.stop();
//
// Everything a host owns is found again from the kernel (netns pids, cgroups, shim command
// lines) rather than from this object, so teardown after a kill -9 of the test works the same.
import { execFile, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import {
  closeSync,
  createReadStream,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
} from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dockerAt, Shoald, waitFor, type CliResult } from './shoald.js';

/** Where hosts keep their data roots, logs and API sockets (on disk, visible outside the hosts). */
export const NSHOSTS_ROOT = '/var/lib/shoal-nshosts';
const IMAGE = 'busybox:local';
const IMAGE_TAR = join(NSHOSTS_ROOT, 'busybox-local.tar');
const HOST_ENGINE = 'unix:///var/run/docker.sock';
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const MAX_HOSTS = 16;

export type ExecResult = CliResult;

export interface ExecOptions {
  timeoutMs?: number;
  input?: string;
  env?: NodeJS.ProcessEnv;
}

export interface NsHostsOptions {
  /** Hosts to create, 1 to 16. */
  count: number;
  /** Names every kernel object: netns `<prefix>-h<i>`, `<prefix>-ul`, `<prefix>-out`; 1–6 of [a-z0-9]. */
  prefix: string;
  /** The underlay, a /24: host i is .(i+1), the outside client .200. Default 10.99.0.0/24. */
  subnet?: string;
  /** Start a dockerd in every host and load busybox:local into it (default true). */
  dockerd?: boolean;
  /** Progress lines (create and teardown steps with their times). */
  log?: (msg: string) => void;
}

export interface NsHost {
  index: number;
  /** The host's name: its netns, hostname and cgroup parent. */
  name: string;
  /** Its underlay address (eth0). */
  addr: string;
  /** The process holding its mount and UTS namespaces; `nsenter -t` targets it. */
  holderPid: number;
  /** Its directory under NSHOSTS_ROOT: docker/ (data root), dockerd.log, docker.sock, shoal/. */
  dir: string;
  /** DOCKER_HOST for its dockerd, usable from outside the host. */
  dockerHost: string;
  /** Its dockerd's bridge (`--bip`). */
  bip: string;
}

export interface CreateTimings {
  /** Leftovers of an earlier run removed. */
  cleanupMs: number;
  /** Namespaces, underlay and holders. */
  netMs: number;
  /** All dockerds answering. */
  dockerdMs: number;
  /** busybox:local loaded everywhere. */
  imageMs: number;
  totalMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs a command; never throws on a non-zero exit; killed after timeoutMs. */
export function run(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((done) => {
    const child = execFile(
      cmd,
      args,
      {
        timeout: opts.timeoutMs ?? 30_000,
        killSignal: 'SIGKILL',
        maxBuffer: 16 << 20,
        ...(opts.env ? { env: opts.env } : {}),
      },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: unknown; killed?: boolean }) | null;
        const code = !e ? 0 : typeof e.code === 'number' ? e.code : e.killed ? 124 : 127;
        const why = e?.killed ? `\n(killed after ${opts.timeoutMs ?? 30_000} ms)` : '';
        done({ stdout, stderr: stderr + why, code });
      },
    );
    // A command that never reads its stdin (ping) closes it first: not an error.
    child.stdin?.on('error', () => undefined);
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

async function must(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0)
    throw new Error(`nshosts: ${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Running, or at least not yet a zombie (a zombie holds nothing, and its reaper may be slow). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function kill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

async function waitGone(pids: readonly number[], timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (pids.some(alive)) {
    if (Date.now() > end) return false;
    await sleep(20);
  }
  return true;
}

const HOST_RE = (prefix: string): RegExp => new RegExp(`^${prefix}-(h\\d+|ul|out)$`);

/** Our netns names as `ip netns ls` lists them. */
async function ourNetns(prefix: string): Promise<string[]> {
  const out = (await run('ip', ['netns', 'list'])).stdout;
  const re = HOST_RE(prefix);
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => re.test(n));
}

async function netnsPids(ns: string): Promise<number[]> {
  const out = (await run('ip', ['netns', 'pids', ns], { timeoutMs: 5_000 })).stdout;
  return out
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((p) => Number.isInteger(p) && p > 0);
}

/**
 * Engine processes of our containerd namespaces found by command line: shims (`-namespace <ns>`)
 * and a dockerd (`--containerd-namespace <ns>`), even when their netns is already gone.
 */
function shimPids(namespaces: ReadonlySet<string>): number[] {
  const found: number[] = [];
  for (const d of readdirSync('/proc')) {
    const pid = Number(d);
    if (!Number.isInteger(pid)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const flag = argv[0]?.includes('containerd-shim')
      ? '-namespace'
      : argv[0]?.endsWith('dockerd')
        ? '--containerd-namespace'
        : undefined;
    const i = flag ? argv.indexOf(flag) : -1;
    if (i >= 0 && namespaces.has(argv[i + 1] ?? '')) found.push(pid);
  }
  return found;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/** Container processes: every pid in the host's cgroup subtree (dockerd's `--cgroup-parent`). */
function cgroupPids(name: string): number[] {
  const pids: number[] = [];
  const walk = (dir: string): void => {
    try {
      for (const l of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) {
        const p = Number(l);
        if (Number.isInteger(p) && p > 0) pids.push(p);
      }
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
    } catch {
      /* gone meanwhile */
    }
  };
  walk(join(CGROUP_ROOT, 'pids', name));
  return pids;
}

/** Removes the host's cgroup subtrees (empty once its containers are gone), deepest first. */
async function removeCgroups(name: string): Promise<void> {
  const rmdirTree = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) rmdirTree(join(d, e.name));
    // rmdir, never rm -r: a cgroup directory holds only the kernel's files.
    rmdirSync(d);
  };
  for (let attempt = 0; attempt < 100; attempt++) {
    let left = 0;
    for (const h of readdirSync(CGROUP_ROOT)) {
      const dir = join(CGROUP_ROOT, h, name);
      if (!existsSync(dir)) continue;
      try {
        rmdirTree(dir);
      } catch {
        left++; // EBUSY while the last processes exit
      }
    }
    if (left === 0) return;
    await sleep(20);
  }
  throw new Error(`nshosts: cgroups of ${name} still busy after 2 s`);
}

/** Ends every process of one host, in the order the pitfalls demand, then its netns, cgroups and files. */
async function teardownHost(name: string, containerdNs: string, log: (m: string) => void): Promise<void> {
  const dir = join(NSHOSTS_ROOT, name);
  const sock = join(dir, 'docker.sock');
  const docker = (args: string[], timeoutMs: number): Promise<ExecResult> =>
    run('docker', ['-H', `unix://${sock}`, ...args], { timeoutMs });
  const removeContainers = async (timeoutMs: number): Promise<void> => {
    if (!existsSync(sock)) return;
    const ids = (await docker(['ps', '-aq'], 3_000)).stdout.split('\n').filter(Boolean);
    if (ids.length > 0) await docker(['rm', '-f', ...ids], timeoutMs);
  };
  const comm = (pid: number): string => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      return '';
    }
  };
  const ENGINE = new Set(['dockerd', 'containerd', 'sleep']);
  const hasNetns = existsSync(`/run/netns/${name}`);
  const pidsNow = async (): Promise<number[]> => (hasNetns ? await netnsPids(name) : []);

  // Containers first, while dockerd (and the shoald serving their network plugin) still answer.
  await removeContainers(20_000);
  // Then what runs beside the engine (shoald, test processes), so nothing restarts containers.
  const others = (await pidsNow()).filter(
    (p) => !ENGINE.has(comm(p)) && !comm(p).startsWith('containerd-shim'),
  );
  for (const p of others) kill(p, 'SIGTERM');
  if (!(await waitGone(others, 5_000))) for (const p of others) kill(p, 'SIGKILL');
  await removeContainers(10_000);
  // dockerd, given time to stop its containerd: a SIGKILLed dockerd leaves shims and containers.
  const dockerds = (await pidsNow()).filter((p) => comm(p) === 'dockerd');
  for (const p of dockerds) kill(p, 'SIGTERM');
  if (!(await waitGone(dockerds, 10_000))) log(`${name}: dockerd ignored SIGTERM for 10 s; killing`);
  // Whatever is left: the holder, containerd, shims of our containerd namespace, containers.
  const rest = [
    ...(await pidsNow()),
    ...shimPids(new Set([containerdNs, `${containerdNs}p`])),
    ...cgroupPids(name),
  ];
  for (const p of rest) kill(p, 'SIGKILL');
  if (!(await waitGone(rest, 5_000))) throw new Error(`nshosts: processes of ${name} survive SIGKILL`);
  if (hasNetns) await must('ip', ['netns', 'delete', name]);
  await removeCgroups(name);
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** The netns of the underlay or the outside client: nothing runs there but what tests exec. */
async function teardownPlainNetns(name: string): Promise<void> {
  const pids = await netnsPids(name);
  for (const p of pids) kill(p, 'SIGKILL');
  await waitGone(pids, 5_000);
  await must('ip', ['netns', 'delete', name]);
}

// The holder: enters the host's netns inside a new mount and UTS namespace, makes that mount
// namespace a separate host's, then sleeps. Its pid is the one `nsenter -t` targets.
// - A private tmpfs on /run: the docker plugin dir, /run/containerd (so dockerd starts its own
//   containerd rather than finding the system's socket), /run/netns (so `ip netns add` inside is
//   private), and /run/docker.sock, the host's own engine under the usual name.
// - A fresh sysfs, so /sys/class/net shows this netns; the real cgroup tree is moved back
//   on top of it, or runc fails (what a bare `ip netns exec` gets wrong).
function holderScript(name: string): string {
  return `set -e
mount -t tmpfs -o mode=755,size=64m ${name}-run /run
mkdir -p /run/.cgroup /run/netns /run/docker/plugins /run/containerd /run/shoal
mount --rbind /sys/fs/cgroup /run/.cgroup
mount -t sysfs sysfs /sys
mount --move /run/.cgroup /sys/fs/cgroup
rmdir /run/.cgroup
mount -t tmpfs -o mode=755,size=16m ${name}-etc-docker /etc/docker
hostname ${name}
ip link set lo up
echo 1 > /proc/sys/net/ipv4/ip_forward
echo 0 > /proc/sys/net/ipv4/conf/all/rp_filter
echo 0 > /proc/sys/net/ipv4/conf/default/rp_filter
echo 0 > /proc/sys/net/ipv4/conf/all/send_redirects
echo ready
exec sleep infinity
`;
}

async function startHolder(name: string): Promise<number> {
  const child = spawn(
    'unshare',
    [
      '--mount',
      '--uts',
      '--propagation',
      'private',
      '--',
      'nsenter',
      `--net=/run/netns/${name}`,
      '--',
      'sh',
      '-c',
      holderScript(name),
    ],
    // Its own process group: a Ctrl-C of the test must not take a host down half-way.
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  try {
    await waitFor(
      `the holder of ${name}`,
      () => {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`the holder of ${name} exited`);
        return Promise.resolve(out.includes('ready\n'));
      },
      5_000,
      10,
    ).catch((e: unknown) => {
      throw new Error(`nshosts: ${(e as Error).message}: ${err.trim()}`);
    });
  } finally {
    child.stdout!.destroy();
    child.stderr!.destroy();
    child.unref();
  }
  return child.pid!;
}

/** The host's busybox:local as a tar, saved once from the machine's dockerd and kept until its image changes. */
async function imageTar(): Promise<string> {
  const id = (
    await must('docker', ['-H', HOST_ENGINE, 'image', 'inspect', '--format', '{{.Id}}', IMAGE])
  ).trim();
  const idFile = `${IMAGE_TAR}.id`;
  const cached = await readFile(idFile, 'utf8').catch(() => '');
  if (cached.trim() === id && existsSync(IMAGE_TAR)) return IMAGE_TAR;
  await mkdir(NSHOSTS_ROOT, { recursive: true });
  // Saved under a private name and renamed: other harnesses may be saving it at the same time.
  const tmp = `${IMAGE_TAR}.${process.pid}`;
  await must('docker', ['-H', HOST_ENGINE, 'save', '-o', tmp, IMAGE], { timeoutMs: 60_000 });
  renameSync(tmp, IMAGE_TAR);
  await writeFile(idFile, id);
  return IMAGE_TAR;
}

function envWithoutDockerHost(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  // Inside a host, the docker CLI's default (/var/run/docker.sock) is that host's own dockerd.
  const { DOCKER_HOST: _h, DOCKER_CONTEXT: _c, ...rest } = env;
  return rest;
}

export class NsHosts {
  readonly #log: (m: string) => void;
  readonly #shoalds: Shoald[] = [];
  #stopped = false;

  private constructor(
    readonly prefix: string,
    readonly hosts: readonly NsHost[],
    /** The outside client's netns (on the underlay, no engine) and address. */
    readonly outside: { netns: string; addr: string },
    readonly underlayNetns: string,
    readonly timings: CreateTimings,
    log: (m: string) => void,
  ) {
    this.#log = log;
  }

  /**
   * Creates `count` hosts after removing any leftovers of an earlier run with the same prefix.
   * Throws (after tearing down what it made) if a step fails or takes too long.
   */
  static async create(o: NsHostsOptions): Promise<NsHosts> {
    if (!/^[a-z][a-z0-9]{0,5}$/.test(o.prefix))
      throw new Error('nshosts: prefix must be 1-6 of [a-z0-9], starting with a letter (names fit IFNAMSIZ)');
    if (!Number.isInteger(o.count) || o.count < 1 || o.count > MAX_HOSTS)
      throw new Error(`nshosts: count must be an integer from 1 to ${MAX_HOSTS}`);
    const m = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(o.subnet ?? '10.99.0.0/24');
    if (!m) throw new Error('nshosts: subnet must be a /24 such as 10.99.0.0/24');
    if (process.getuid?.() !== 0) throw new Error('nshosts: needs root (namespaces, mounts)');
    const net = m[1]!;
    const log = o.log ?? (() => undefined);
    const p = o.prefix;
    const t0 = performance.now();
    await NsHosts.cleanupLeftovers(p, log);
    const cleanupMs = performance.now() - t0;

    const ul = `${p}-ul`;
    const out = { netns: `${p}-out`, addr: `${net}.200` };
    const hosts: NsHost[] = Array.from({ length: o.count }, (_, i) => {
      const name = `${p}-h${i}`;
      const dir = join(NSHOSTS_ROOT, name);
      return {
        index: i,
        name,
        addr: `${net}.${i + 1}`,
        holderPid: 0,
        dir,
        dockerHost: `unix://${join(dir, 'docker.sock')}`,
        bip: `172.30.${i}.1/24`,
      };
    });
    const made = new NsHosts(
      p,
      hosts,
      out,
      ul,
      { cleanupMs, netMs: 0, dockerdMs: 0, imageMs: 0, totalMs: 0 },
      log,
    );
    try {
      // `ip -batch`: one process per namespace rather than one per step (each costs ~50 ms here).
      const batch = (lines: string[], ns?: string): Promise<string> =>
        must('ip', [...(ns ? ['-n', ns] : []), '-batch', '-'], {
          input: lines.join('\n') + '\n',
          timeoutMs: 5_000,
        });
      const tar = o.dockerd === false ? Promise.resolve('') : imageTar();
      tar.catch(() => undefined); // awaited below
      const plugged = [
        ...hosts.map((h) => ({ ns: h.name, port: `${p}v${h.index}`, addr: h.addr })),
        {
          ns: out.netns,
          port: `${p}vout`,
          addr: out.addr,
        },
      ];
      // The underlay: a bridge in its own netns, and no route anywhere else (no default route, so
      // nothing, DNS included, can leave the machine from a host or its containers).
      await batch([ul, ...plugged.map((x) => x.ns)].map((ns) => `netns add ${ns}`));
      await batch(
        [
          'link set lo up',
          `link add ${p}br0 type bridge`,
          `link set ${p}br0 up`,
          ...plugged.flatMap((x) => [
            `link add ${x.port} mtu 1500 type veth peer name eth0 netns ${x.ns}`,
            `link set ${x.port} master ${p}br0 up`,
          ]),
        ],
        ul,
      );
      await Promise.all([
        ...plugged.map((x) =>
          batch([`addr add ${x.addr}/24 dev eth0`, 'link set eth0 mtu 1500 up', 'link set lo up'], x.ns),
        ),
        ...hosts.map(async (h) => {
          await rm(h.dir, { recursive: true, force: true });
          await mkdir(h.dir, { recursive: true });
        }),
      ]);
      await Promise.all(hosts.map(async (h) => (h.holderPid = await startHolder(h.name))));
      made.timings.netMs = performance.now() - t0 - cleanupMs;
      if (o.dockerd !== false) {
        // Per host: its dockerd, then the image, without waiting for the other hosts.
        let dockerdsUp = 0;
        await Promise.all(
          hosts.map(async (h) => {
            await made.#startDockerd(h);
            dockerdsUp = Math.max(dockerdsUp, performance.now());
            const sock = join(h.dir, 'docker.sock');
            if ((await engineCall(sock, 'GET', `/images/${IMAGE}/json`)).status === 200) return;
            const r = await engineCall(sock, 'POST', '/images/load?quiet=1', await tar, 60_000);
            if (r.status !== 200)
              throw new Error(`nshosts: loading ${IMAGE} into ${h.name}: ${r.status} ${r.text}`);
          }),
        );
        made.timings.dockerdMs = dockerdsUp - t0 - cleanupMs - made.timings.netMs;
        made.timings.imageMs = performance.now() - dockerdsUp;
      }
      made.timings.totalMs = performance.now() - t0;
      log(
        `nshosts: ${o.count} hosts up in ${Math.round(made.timings.totalMs)} ms ` +
          `(cleanup ${Math.round(cleanupMs)}, net ${Math.round(made.timings.netMs)}, dockerd ${Math.round(made.timings.dockerdMs)}, image ${Math.round(made.timings.imageMs)})`,
      );
      return made;
    } catch (e) {
      await made.stop().catch((s: unknown) => log(`nshosts: teardown after a failed create: ${String(s)}`));
      throw e;
    }
  }

  /**
   * Removes every host, underlay and outside client netns of this prefix, their processes
   * (containers included), cgroups and files: the state a kill -9 of an earlier run leaves.
   */
  static async cleanupLeftovers(prefix: string, log: (m: string) => void = () => undefined): Promise<void> {
    const names = new Set(await ourNetns(prefix));
    // Hosts whose netns is gone may still have files, cgroups or processes in their cgroups.
    for (const d of await readdirSafe(NSHOSTS_ROOT)) if (HOST_RE(prefix).test(d)) names.add(d);
    for (const d of await readdirSafe(join(CGROUP_ROOT, 'pids'))) if (HOST_RE(prefix).test(d)) names.add(d);
    if (names.size === 0) return;
    log(`nshosts: removing leftovers ${[...names].join(', ')}`);
    const hostNames = [...names].filter((n) => /-h\d+$/.test(n));
    await Promise.all(hostNames.map((n) => teardownHost(n, n.replace('-', ''), log)));
    for (const n of names) if (!hostNames.includes(n)) await teardownPlainNetns(n);
  }

  get count(): number {
    return this.hosts.length;
  }

  /** Host i's underlay address. */
  addr(i: number): string {
    return this.host(i).addr;
  }

  host(i: number): NsHost {
    const h = this.hosts[i];
    if (!h) throw new Error(`nshosts: no host ${i} (there are ${this.hosts.length})`);
    return h;
  }

  /** The nsenter command that puts what follows into host i (mount, UTS and network namespaces). */
  enter(i: number): string[] {
    return ['nsenter', '-t', String(this.host(i).holderPid), '-m', '-n', '-u', `--wd=${REPO}`, '--'];
  }

  /** Runs argv inside host i; never throws on a non-zero exit; killed after timeoutMs (default 30 s). */
  exec(i: number, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const [cmd, ...args] = this.enter(i);
    return run(cmd!, [...args, ...argv], { ...opts, env: envWithoutDockerHost(opts.env) });
  }

  /** Runs argv in the outside client's netns (only the network namespace: a plain client). */
  execOutside(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return run('nsenter', [`--net=/run/netns/${this.outside.netns}`, '--', ...argv], opts);
  }

  /** The docker CLI against host i's dockerd. */
  docker(i: number, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
    return dockerAt(this.host(i).dockerHost, args, { timeoutMs: 60_000, ...opts });
  }

  /** A long-lived process inside host i; the caller ends it (stop() ends it too, with the host). */
  spawnIn(
    i: number,
    argv: readonly string[],
    opts: { stdio?: StdioOptions; env?: NodeJS.ProcessEnv } = {},
  ): ChildProcess {
    const [cmd, ...args] = this.enter(i);
    return spawn(cmd!, [...args, ...argv], {
      stdio: opts.stdio ?? ['ignore', 'ignore', 'pipe'],
      env: envWithoutDockerHost(opts.env),
    });
  }

  /**
   * Starts shoald inside host i: hostname = the host's name, data root `<dir>/shoal`, exec root
   * /run/shoal, engine = the host's own dockerd at its /var/run/docker.sock (shoald's default),
   * API on `<dir>/shoald.sock` (the returned `host`, usable outside) and on the host's
   * /var/run/shoal.sock. Resolves once its API answers; stop() stops it.
   */
  async startShoald(i: number, extraArgs: readonly string[] = []): Promise<Shoald> {
    const h = this.host(i);
    const s = new Shoald(
      'shoald',
      h.dir,
      ['--hostname', h.name, '-H', 'unix:///run/shoal.sock', ...extraArgs],
      {
        via: this.enter(i),
        execRoot: '/run/shoal',
      },
    );
    this.#shoalds.push(s);
    await s.start();
    return s;
  }

  /** A path inside host i's mount namespace, reachable from outside (its private /run, for one). */
  hostPath(i: number, path: string): string {
    return `/proc/${this.host(i).holderPid}/root${path.startsWith('/') ? path : `/${path}`}`;
  }

  /**
   * Ends everything: shoalds, containers, dockerds (SIGTERM, then SIGKILL), leftover shims and
   * container processes, holders; deletes the netns, cgroups and host directories. Idempotent.
   */
  async stop(): Promise<number> {
    if (this.#stopped) return 0;
    this.#stopped = true;
    const t0 = performance.now();
    await Promise.all(
      this.#shoalds.map(async (s) => {
        const term = s.stop('SIGTERM');
        if (await Promise.race([term.then(() => true), sleep(10_000).then(() => false)])) return;
        await s.stop('SIGKILL');
      }),
    );
    await Promise.all(this.hosts.map((h) => teardownHost(h.name, `${this.prefix}h${h.index}`, this.#log)));
    for (const ns of [this.outside.netns, this.underlayNetns])
      if (existsSync(`/run/netns/${ns}`)) await teardownPlainNetns(ns);
    const ms = performance.now() - t0;
    this.#log(`nshosts: torn down in ${Math.round(ms)} ms`);
    return ms;
  }

  async #startDockerd(h: NsHost): Promise<void> {
    const logFile = join(h.dir, 'dockerd.log');
    const fd = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(
        this.enter(h.index)[0]!,
        [
          ...this.enter(h.index).slice(1),
          'dockerd',
          '--data-root',
          join(h.dir, 'docker'),
          // Short: containerd's and the shims' sockets live under it (108-byte limit).
          '--exec-root',
          '/run/docker',
          '--pidfile',
          '/run/docker.pid',
          '-H',
          h.dockerHost,
          '-H',
          'unix:///run/docker.sock',
          '--containerd-namespace',
          `${this.prefix}h${h.index}`,
          '--containerd-plugins-namespace',
          `${this.prefix}h${h.index}p`,
          '--cgroup-parent',
          h.name,
          '--bip',
          h.bip,
          '--userland-proxy=false',
          '--iptables=true',
        ],
        { stdio: ['ignore', fd, fd], detached: true, env: envWithoutDockerHost() },
      );
    } finally {
      closeSync(fd);
    }
    child.unref();
    const tail = (): string => {
      try {
        return readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
      } catch {
        return '';
      }
    };
    await waitFor(
      `dockerd of ${h.name}`,
      async () => {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`dockerd of ${h.name} exited`);
        // A request, not a docker CLI per poll: those cost CPU the starting dockerds need.
        return (
          (await engineCall(join(h.dir, 'docker.sock'), 'GET', '/_ping', undefined, 1_000)).status === 200
        );
      },
      20_000,
    ).catch((e: unknown) => {
      throw new Error(`nshosts: ${(e as Error).message}; its log ends:\n${tail()}`);
    });
  }
}

/** One Engine API request over a unix socket; status 0 when it cannot connect or times out. */
function engineCall(
  sock: string,
  method: string,
  path: string,
  /** A file to send as the body (a tar for /images/load). */
  bodyFile?: string,
  timeoutMs = 5_000,
): Promise<{ status: number; text: string }> {
  return new Promise((done) => {
    const req = request(
      {
        socketPath: sock,
        method,
        path,
        headers: bodyFile ? { 'content-type': 'application/x-tar' } : {},
        timeout: timeoutMs,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => text.length < 65_536 && (text += c));
        res.on('end', () => done({ status: res.statusCode ?? 0, text }));
        res.on('error', (e) => done({ status: 0, text: e.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', (e) => done({ status: 0, text: e.message }));
    if (bodyFile)
      createReadStream(bodyFile)
        .on('error', (e) => req.destroy(e))
        .pipe(req);
    else req.end();
  });
}

async function readdirSafe(dir: string): Promise<string[]> {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * What a prefix still holds on this machine: netns, host directories, cgroups, processes
 * (netns members, shims of its containerd namespaces, container processes) and mounts. Empty
 * after stop() or cleanupLeftovers().
 */
export async function leftovers(prefix: string): Promise<string[]> {
  const found: string[] = [];
  const re = HOST_RE(prefix);
  for (const ns of await ourNetns(prefix)) {
    found.push(`netns ${ns}`);
    for (const p of await netnsPids(ns)) found.push(`process ${p} in netns ${ns}`);
  }
  for (const d of await readdirSafe(NSHOSTS_ROOT))
    if (re.test(d)) found.push(`directory ${join(NSHOSTS_ROOT, d)}`);
  const hostNames = new Set<string>();
  for (const h of await readdirSafe(CGROUP_ROOT))
    for (const d of await readdirSafe(join(CGROUP_ROOT, h)))
      if (re.test(d)) {
        found.push(`cgroup ${join(CGROUP_ROOT, h, d)}`);
        hostNames.add(d);
      }
  for (const n of hostNames) for (const p of cgroupPids(n)) found.push(`process ${p} in cgroup ${n}`);
  const shimNs = new Set<string>();
  for (let i = 0; i < MAX_HOSTS; i++) shimNs.add(`${prefix}h${i}`).add(`${prefix}h${i}p`);
  for (const p of shimPids(shimNs)) found.push(`engine process ${p} (dockerd or shim)`);
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  for (const l of mounts.split('\n'))
    if (l.includes(`${NSHOSTS_ROOT}/${prefix}-`) || l.includes(`/run/netns/${prefix}-`))
      found.push(`mount ${l}`);
  return found;
}
