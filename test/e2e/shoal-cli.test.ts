// End to end with our own CLI: the same verbs as docker, against shoald on the real engine.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
let dataRoot = '';
let daemon: ChildProcess | undefined;
let log = '';

async function shoal(...args: string[]): Promise<{ out: string; err: string; code: number }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['bin/shoal.js', '-H', `unix://${join(dataRoot, 's.sock')}`, ...args],
      { timeout: 120_000 },
    );
    return { out: stdout, err: stderr, code: 0 };
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; code?: number };
    return { out: x.stdout ?? '', err: x.stderr ?? '', code: typeof x.code === 'number' ? x.code : 1 };
  }
}

async function ok(...args: string[]): Promise<string> {
  const r = await shoal(...args);
  assert.equal(r.code, 0, `shoal ${args.join(' ')}: ${r.err}\n${log.slice(-2000)}`);
  return r.out;
}

before(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'shoal-cli-'));
  daemon = spawn(
    process.execPath,
    [
      'bin/shoald.js',
      '--data-plane',
      'off',
      '--data-root',
      dataRoot,
      '-H',
      `unix://${join(dataRoot, 's.sock')}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  daemon.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  for (let i = 0; i < 100 && (await shoal('version')).code !== 0; i++)
    await new Promise((r) => setTimeout(r, 100));
});

after(async () => {
  await shoal('swarm', 'leave', '--force');
  daemon?.kill('SIGTERM');
  await new Promise((r) => daemon?.once('exit', r));
  await rm(dataRoot, { recursive: true, force: true });
});

test('shoal drives a service through its life with docker verbs', async () => {
  assert.match(await ok('swarm', 'init'), /Swarm initialized: current node \(\w{25}\) is now a manager/);
  const created = await ok(
    'service',
    'create',
    '--name',
    'hello',
    '--replicas',
    '2',
    '--restart-delay',
    '0s',
    '--stop-grace-period',
    '1s',
    '--update-monitor',
    '500ms',
    '--rollback-monitor',
    '500ms',
    'busybox:local',
    'sh',
    '-c',
    'echo hi from $(hostname); sleep 3600',
  );
  assert.match(created, /hello: 2\/2 running/);
  assert.match(created, /hello: converged/);
  assert.match(await ok('service', 'ls'), /hello\s+replicated\s+2\/2\s+busybox:local/);
  assert.match(await ok('service', 'ps', 'hello'), /hello\.1\s+busybox:local\s+\S+\s+Running\s+Running/);
  assert.match(await ok('service', 'scale', 'hello=3'), /hello: 3\/3 running/);
  // The stock docker CLI on a service our CLI made, whose UpdateConfig has no Order: the spec it
  // sends back carries Order "", which Docker takes as the default.
  const docker = await run('docker', ['service', 'scale', '--detach', 'hello=4'], {
    env: { ...process.env, DOCKER_HOST: `unix://${join(dataRoot, 's.sock')}` },
    timeout: 60_000,
  });
  assert.match(docker.stdout, /hello scaled to 4/);
  const upd = await ok('service', 'update', '--env-add', 'X=1', 'hello');
  assert.match(upd, /hello: converged/);
  assert.match(await ok('service', 'inspect', '--pretty', 'hello'), /Env:\s+X=1/);
  await ok('service', 'rollback', 'hello');
  assert.doesNotMatch(await ok('service', 'inspect', '--pretty', 'hello'), /X=1/);
  assert.match(await ok('service', 'logs', 'hello'), /^hello\.\d\.\w{12}\s+\| hi from \w+$/m);
  assert.match(await ok('node', 'ls'), /\*\s+\S+\s+Ready\s+Active\s+Leader/);
  const detached = await ok(
    'service',
    'create',
    '--detach',
    '--name',
    'quick',
    'busybox:local',
    'sleep',
    '60',
  );
  assert.match(detached.trim(), /^\w{25}$/, '--detach prints only the ID');
  const bad = await shoal('service', 'scale', 'hello=abc');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /replicas a whole number/);
  const missing = await shoal('service', 'rm', 'nosuch');
  assert.match(missing.err, /Error response from daemon: service nosuch not found/);
  await ok('service', 'rm', 'hello', 'quick');
  assert.equal((await ok('service', 'ls')).trim().split('\n').length, 1);
});

test('shoal gives a task a secret and manages autolock and the root CA', async () => {
  const file = join(dataRoot, 'pw.txt');
  await writeFile(file, 'hunter2');
  assert.match(await ok('secret', 'create', 'pw', file), /^\w{25}\n$/);
  await ok(
    'service',
    'create',
    '--name',
    'withsecret',
    '--secret',
    'source=pw,target=db-password,mode=0400',
    'busybox:local',
    'sleep',
    '600',
  );
  const { stdout: cid } = await run('docker', [
    'ps',
    '-q',
    '--filter',
    'label=com.docker.swarm.service.name=withsecret',
  ]);
  const { stdout: inside } = await run('docker', [
    'exec',
    cid.trim().split('\n')[0]!,
    'cat',
    '/run/secrets/db-password',
  ]);
  assert.equal(inside, 'hunter2');
  const busy = await shoal('secret', 'rm', 'pw');
  assert.match(busy.err, /secret 'pw' is in use by the following service: withsecret/);
  await ok('service', 'update', '--secret-rm', 'pw', 'withsecret');
  await ok('secret', 'rm', 'pw');
  await ok('service', 'rm', 'withsecret');

  assert.match(await ok('swarm', 'update', '--autolock', 'true'), /SWMKEY-1-\S+/);
  const key = (await ok('swarm', 'unlock-key', '-q')).trim();
  const rotated = (await ok('swarm', 'unlock-key', '--rotate', '-q')).trim();
  assert.match(rotated, /^SWMKEY-1-/);
  assert.notEqual(rotated, key);
  await ok('swarm', 'update', '--autolock', 'false');
  assert.match((await shoal('swarm', 'unlock-key')).err, /no unlock key is set/);

  const root = await ok('swarm', 'ca');
  const after = await ok('swarm', 'ca', '--rotate');
  assert.match(after, /1\/1 nodes moved over/);
  assert.notEqual(after.slice(after.indexOf('-----BEGIN')), root);
});
