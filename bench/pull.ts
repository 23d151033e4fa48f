// Create → RUNNING for an image the node must pull, shoal beside a real Docker swarm, both pulling
// the same image from the same registry storage over loopback. The swarm's dockerd lives in the
// bench's network namespace (bench/swarm.ts), which has only its own loopback, so the registry
// is served twice from one storage directory: one Debian docker-registry on the host's
// 127.0.0.1:5002 and one on the namespace's 127.0.0.1:5002. The image is busybox:local plus a
// 16 MiB layer of random bytes (incompressible), so each pull transfers that layer; before each
// round it is removed from the engine that will pull it. Nothing leaves the machine.
//
//   flock /tmp/shoal-e2e.lock node dist/bench/pull.js [--rounds N]      (as root)
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineApiClient as Client } from '../src/engineclient/index.js';
import type { Service } from '../src/api/index.js';
import { ShoaldProc, until } from './proc.js';
import { BENCH_NETNS, RealSwarm, SWARM_SOCK } from './swarm.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const ROUNDS = Math.min(20, Math.max(1, Number(arg('--rounds') ?? 5)));
const REGISTRY = '127.0.0.1:5002';
const HOST_ENGINE = 'unix:///var/run/docker.sock';
const LAYER_BYTES = 16 << 20;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function docker(host: string, args: string[], input?: Buffer): string {
  return execFileSync('docker', ['-H', host, ...args], {
    stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
    ...(input ? { input } : {}),
  }).toString();
}

/** One docker-registry on 127.0.0.1:5002 of a namespace (or the host's), over `storage`. */
async function startRegistry(dir: string, storage: string, netns?: string): Promise<ChildProcess> {
  const config = join(dir, `registry-${netns ?? 'host'}.yml`);
  await writeFile(
    config,
    [
      'version: 0.1',
      'log: {level: error}',
      `storage: {filesystem: {rootdirectory: ${storage}}}`,
      `http: {addr: ${REGISTRY}}`,
      '',
    ].join('\n'),
  );
  const cmd = netns ? ['ip', 'netns', 'exec', netns, 'docker-registry'] : ['docker-registry'];
  const proc = spawn(cmd[0]!, [...cmd.slice(1), 'serve', config], { stdio: 'ignore' });
  const probe = netns
    ? ['ip', 'netns', 'exec', netns, 'curl', '-sf', `http://${REGISTRY}/v2/`]
    : ['curl', '-sf', `http://${REGISTRY}/v2/`];
  await until(
    `registry ${netns ?? 'host'}`,
    async () => {
      try {
        execFileSync(probe[0]!, probe.slice(1), { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    },
    20_000,
  );
  return proc;
}

/** busybox:local plus a layer of random bytes, pushed to the registry and gone from the host engine. */
async function buildImage(dir: string): Promise<string> {
  const image = `${REGISTRY}/shoal/pullbench:${randomBytes(4).toString('hex')}`;
  const blob = join(dir, 'blob');
  await writeFile(blob, randomBytes(LAYER_BYTES));
  const cid = docker(HOST_ENGINE, ['create', 'busybox:local', 'true']).trim();
  try {
    docker(HOST_ENGINE, ['cp', blob, `${cid}:/blob`]);
    docker(HOST_ENGINE, ['commit', cid, image]);
  } finally {
    docker(HOST_ENGINE, ['rm', '-f', cid]);
  }
  docker(HOST_ENGINE, ['push', image]);
  docker(HOST_ENGINE, ['image', 'rm', image]);
  return image;
}

interface Target {
  name: string;
  api: Client;
  /** The engine that pulls, as a docker -H value. */
  engine: string;
}

async function runningTasks(api: Client, id: string): Promise<number> {
  const list = await api.call<Service[]>(
    'GET',
    `/services?status=true&filters=${encodeURIComponent(JSON.stringify({ id: { [id]: true } }))}`,
  );
  return list[0]?.ServiceStatus?.RunningTasks ?? 0;
}

/** Seconds from POST /services/create of one replica of `image` until it runs (the engine lacks the image). */
async function createToRunning(t: Target, image: string, round: number): Promise<number> {
  try {
    docker(t.engine, ['image', 'rm', image]);
  } catch {
    /* not there */
  }
  const name = `pullbench${round}`;
  const spec = {
    Name: name,
    TaskTemplate: {
      ContainerSpec: { Image: image, Args: ['sleep', '3600'], StopGracePeriod: 1e9, StopSignal: 'SIGKILL' },
      RestartPolicy: { Condition: 'none' },
    },
    Mode: { Replicated: { Replicas: 1 } },
  };
  const t0 = performance.now();
  const { ID } = await t.api.call<{ ID: string }>('POST', '/services/create', spec);
  await until(`${t.name}: ${name} running`, async () => (await runningTasks(t.api, ID)) >= 1, 120_000);
  const secs = (performance.now() - t0) / 1000;
  await t.api.call('DELETE', `/services/${ID}`);
  await until(
    `${t.name}: ${name} containers removed`,
    async () =>
      docker(t.engine, ['ps', '-aq', '--filter', `label=com.docker.swarm.service.name=${name}`]).trim() ===
      '',
    60_000,
  );
  docker(t.engine, ['image', 'rm', image]);
  return secs;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-pullbench-'));
  const storage = join(dir, 'registry');
  const procs: ChildProcess[] = [];
  const swarm = new RealSwarm({ pulls: true });
  let shoal: ShoaldProc | undefined;
  try {
    procs.push(await startRegistry(dir, storage));
    const image = await buildImage(dir);
    await swarm.start();
    procs.push(await startRegistry(dir, storage, BENCH_NETNS));
    shoal = new ShoaldProc('shoal', dir);
    await shoal.start();
    await shoal.api.call('POST', '/swarm/init', { ListenAddr: '127.0.0.1:0', AdvertiseAddr: '127.0.0.1' });
    const targets: Target[] = [
      { name: 'shoal', api: shoal.api, engine: HOST_ENGINE },
      { name: 'swarm', api: new Client({ host: `unix://${SWARM_SOCK}` }), engine: `unix://${SWARM_SOCK}` },
    ];
    const times: Record<string, number[]> = { shoal: [], swarm: [] };
    // Alternating, so a slow moment of the machine falls on both.
    for (let r = 0; r < ROUNDS; r++)
      for (const t of targets) times[t.name]!.push(await createToRunning(t, image, r));
    const s = median(times.shoal!);
    const w = median(times.swarm!);
    const fmt = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(', ');
    const lines = [
      `create → RUNNING with a pull of ${image.slice(0, image.lastIndexOf(':'))} (busybox:local + a ${LAYER_BYTES >> 20} MiB layer), median of ${ROUNDS} rounds:`,
      `shoal ${s.toFixed(2)} s (${fmt(times.shoal!)}), swarm ${w.toFixed(2)} s (${fmt(times.swarm!)}), shoal / swarm ${(s / w).toFixed(2)}`,
    ];
    console.log(lines.join('\n'));
  } finally {
    if (shoal) {
      await shoal.api.call('POST', '/swarm/leave?force=true').catch(() => undefined);
      shoal.proc?.kill('SIGTERM');
    }
    // The namespace's registry goes before its namespace.
    for (const p of procs) p.kill('SIGTERM');
    await sleep(500);
    await swarm.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
