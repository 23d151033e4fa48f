// A real Docker swarm for side-by-side figures: Debian's dockerd in a network namespace that the
// bench creates (so the host's network and iptables are never touched), with busybox:local loaded.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';

/** The bench's network namespace, where the real swarm's dockerd runs. */
export const BENCH_NETNS = 'shoalbench';
const NS = BENCH_NETNS;
const RUN = '/run/shoalbench';
export const SWARM_SOCK = `${RUN}/docker.sock`;

// With `pulls`, the swarm's executor pulls images as it does by default (bench/pull.ts);
// otherwise it uses the engine's copy (DOCKER_SERVICE_PREFER_OFFLINE_IMAGE), as the other benches want.
const start = (pulls: boolean): string => `set -e
mount -t tmpfs cgroup_root /sys/fs/cgroup
for c in cpu cpuacct cpuset memory devices freezer blkio pids; do mkdir -p /sys/fs/cgroup/$c; mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c; done
mkdir -p /sys/fs/cgroup/systemd; mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
${pulls ? '' : 'export DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1\n'}exec dockerd --data-root /var/lib/shoalbench-docker --exec-root ${RUN}/exec --pidfile ${RUN}/docker.pid -H unix://${SWARM_SOCK} --cgroup-parent shoalbench --config-file ${RUN}/daemon.json
`;

function sh(cmd: string, args: string[], input?: Buffer): string {
  return execFileSync(cmd, args, {
    stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    ...(input ? { input } : {}),
  }).toString();
}

export class RealSwarm {
  constructor(private readonly o: { pulls?: boolean } = {}) {}

  async start(): Promise<void> {
    mkdirSync(RUN, { recursive: true });
    writeFileSync(`${RUN}/daemon.json`, '{}');
    writeFileSync(`${RUN}/start.sh`, start(this.o.pulls ?? false));
    try {
      sh('ip', ['netns', 'add', NS]);
    } catch {
      /* exists already */
    }
    sh('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up']);
    // The dockerd outlives this call; stop() ends it through its pid file.
    spawn('ip', ['netns', 'exec', NS, 'sh', `${RUN}/start.sh`], { stdio: 'ignore', detached: true }).unref();
    for (let i = 0; i < 120; i++) {
      if (existsSync(SWARM_SOCK) && this.#docker(['version']).ok) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    if (!this.#docker(['version']).ok) throw new Error('the bench dockerd did not start');
    if (!this.#docker(['image', 'inspect', 'busybox:local']).ok) {
      const tar = execFileSync('docker', ['-H', 'unix:///var/run/docker.sock', 'save', 'busybox:local'], {
        maxBuffer: 64 << 20,
      });
      sh('docker', ['-H', `unix://${SWARM_SOCK}`, 'load'], tar);
    }
    this.#docker(['swarm', 'leave', '--force']);
    const init = this.#docker(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
    if (!init.ok) throw new Error(`swarm init failed: ${init.err}`);
  }

  #docker(args: string[]): { ok: boolean; out: string; err: string } {
    try {
      return { ok: true, out: sh('docker', ['-H', `unix://${SWARM_SOCK}`, ...args]), err: '' };
    } catch (e) {
      return { ok: false, out: '', err: String((e as { stderr?: Buffer }).stderr ?? e) };
    }
  }

  pid(): number {
    return Number(readFileSync(`${RUN}/docker.pid`, 'utf8').trim());
  }

  async stop(): Promise<void> {
    this.#docker(['swarm', 'leave', '--force']);
    const ids = this.#docker(['ps', '-aq']).out.split('\n').filter(Boolean);
    if (ids.length) this.#docker(['rm', '-f', ...ids]);
    try {
      process.kill(this.pid(), 'SIGTERM');
    } catch {
      /* gone */
    }
    for (let i = 0; i < 80 && existsSync(SWARM_SOCK) && this.#docker(['version']).ok; i++)
      await new Promise((r) => setTimeout(r, 250));
    try {
      sh('ip', ['netns', 'del', NS]);
    } catch {
      /* already gone */
    }
  }
}
