// End to end: docker-py (Debian's python3-docker) against shoald, which drives the real dockerd.
// docker-py writes some bodies with lower-case keys ({"global": {}}, {"replicated": {...}},
// {"name": ...}), which Docker's Go decoder reads case-insensitively, and sends booleans in the
// query as "True"/"1". Needs dockerd, the busybox:local image and python3-docker (.ci/run).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
let dataRoot = '';
let sock = '';
let daemon: ChildProcess | undefined;
let daemonLog = '';

/** Runs a docker-py script against shoald; it prints one JSON object. */
async function python(script: string): Promise<Record<string, unknown>> {
  const file = join(dataRoot, 'script.py');
  await writeFile(file, script);
  try {
    const { stdout } = await run('python3', [file, `unix://${sock}`], { timeout: 180_000 });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    throw new Error(
      `docker-py script failed:\n${err.stderr ?? String(e)}\n${err.stdout ?? ''}\n--- shoald log ---\n${daemonLog.slice(-3000)}`,
    );
  }
}

before(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'shoal-e2e-py-'));
  sock = join(dataRoot, 'shoal.sock');
  daemon = spawn(
    process.execPath,
    ['bin/shoald.js', '--data-plane', 'off', '--data-root', dataRoot, '-H', `unix://${sock}`],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  daemon.stderr!.on('data', (b: Buffer) => (daemonLog += b.toString()));
  const env = { ...process.env, DOCKER_HOST: `unix://${sock}` };
  for (let i = 0; i < 100; i++) {
    try {
      await run('docker', ['version'], { env, timeout: 5_000 });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`shoald did not come up:\n${daemonLog}`);
});

after(async () => {
  await run('docker', ['swarm', 'leave', '--force'], {
    env: { ...process.env, DOCKER_HOST: `unix://${sock}` },
    timeout: 60_000,
  }).catch(() => undefined);
  if (daemon && daemon.exitCode === null) {
    const exited = new Promise((r) => daemon!.once('exit', r));
    daemon.kill('SIGTERM');
    await exited;
  }
  await rm(dataRoot, { recursive: true, force: true });
});

test('docker-py: a global service, Service.scale() and service logs', { timeout: 240_000 }, async () => {
  const out = await python(`
import docker, json, sys, time
c = docker.DockerClient(base_url=sys.argv[1], version='auto', timeout=60)
c.swarm.init(advertise_addr='127.0.0.1')

def wait(cond, what, limit=60):
    end = time.time() + limit
    while time.time() < end:
        if cond():
            return
        time.sleep(0.25)
    raise SystemExit('timed out: ' + what)

def running(name, n):
    return len([t for t in c.services.get(name).tasks() if t['Status']['State'] == 'running']) == n

cmd = ['sh', '-c', 'echo hello-from-py; sleep 3600']
g = c.services.create('busybox:local', command=cmd, name='pyglobal', mode='global')
wait(lambda: running('pyglobal', 1), 'the global task runs')
r = c.services.create('busybox:local', command=cmd, name='pyrep')
wait(lambda: running('pyrep', 1), 'the replicated task runs')
c.services.get('pyrep').scale(3)
wait(lambda: running('pyrep', 3), 'scaled to 3')
logs = b''.join(c.services.get('pyrep').logs(stdout=True, stderr=True)).decode()
print(json.dumps({
  'global': c.services.get('pyglobal').attrs['Spec']['Mode'],
  'scaled': c.services.get('pyrep').attrs['Spec']['Mode'],
  'hellos': logs.count('hello-from-py'),
}))
`);
  assert.deepEqual(out.global, { Global: {} });
  assert.deepEqual(out.scaled, { Replicated: { Replicas: 3 } });
  assert.equal(out.hellos, 3, 'each of the 3 tasks logged its line, through stdout=True');
});
