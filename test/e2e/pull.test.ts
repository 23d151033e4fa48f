// End to end: images pulled on the node, with the stock docker CLI against a manager and a fresh
// worker (shoald processes on 127.0.0.x sharing this machine's dockerd) and the two loopback
// registries of scripts/setup-host.sh (127.0.0.1:5000 open, 127.0.0.1:5001 with a login). Every
// image named here has a loopback registry host and every create passes --no-resolve-image, so
// neither dockerd nor the CLI goes anywhere else. Run under the e2e lock.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Shoald, engine, waitFor as waitUntil, type CliResult } from '../support/shoald.js';

const MANAGER_ADDR = '127.0.0.7';
const MANAGER_PORT = 43377;
const WORKER_ADDR = '127.0.0.8';
const OPEN_IMAGE = '127.0.0.1:5000/shoal/busybox:1';
const PRIVATE_IMAGE = '127.0.0.1:5001/shoal/private:1';
const PASSWORD = 'shoal-registry-pass';

let dir = '';
let dockerConfig = '';
let m: Shoald;
let w: Shoald;
const nodeIds: string[] = [];

/** The docker CLI against the manager, with this test's own client config (its registry login). */
function cli(args: string[], input?: string, host = m.host): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      'docker',
      args,
      {
        env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: dockerConfig },
        timeout: 120_000,
        maxBuffer: 16 << 20,
      },
      (err, stdout, stderr) =>
        resolve({ stdout, stderr, code: err ? (typeof err.code === 'number' ? err.code : 1) : 0 }),
    );
    child.stdin!.end(input ?? '');
  });
}

async function ok(args: string[], input?: string): Promise<string> {
  const r = await cli(args, input);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}\n--- m1 ---\n${m.log.slice(-2000)}`);
  return r.stdout;
}

/** Removes an image tag from the engine if it has it (the registries keep theirs). */
async function untag(image: string): Promise<void> {
  await engine(['image', 'rm', image]);
}

const hasImage = async (image: string): Promise<boolean> =>
  (await engine(['image', 'inspect', image])).code === 0;

/** `service ps --no-trunc` lines: name, image, node, desired, current state, error. */
let lastPs = '';
const ps = async (service: string): Promise<string> =>
  (lastPs = await ok([
    'service',
    'ps',
    '--no-trunc',
    '--format',
    '{{.Name}}|{{.Image}}|{{.Node}}|{{.DesiredState}}|{{.CurrentState}}|{{.Error}}',
    service,
  ]));

const running = async (service: string): Promise<boolean> =>
  /\|w1\|Running\|Running /.test(await ps(service));

/** Go's padded base64.URLEncoding, as the docker CLI encodes X-Registry-Auth. */
const encodeAuth = (o: object): string =>
  Buffer.from(JSON.stringify(o)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');

/** POST /services/create on the manager's socket with an X-Registry-Auth of the test's choosing. */
function createWithAuth(spec: object, auth: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(spec);
    const req = request(
      {
        socketPath: m.sock,
        method: 'POST',
        path: '/v1.41/services/create',
        headers: { 'Content-Type': 'application/json', 'X-Registry-Auth': auth },
        timeout: 30_000,
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** waitFor, with the last `service ps` seen in its error. */
async function waitFor(
  what: string,
  cond: () => Promise<boolean>,
  timeoutMs: number,
  everyMs: number,
): Promise<void> {
  try {
    await waitUntil(what, cond, timeoutMs, everyMs);
  } catch (e) {
    throw new Error(
      `${(e as Error).message}; last service ps:\n${lastPs}\n--- w1 ---\n${w.log.slice(-2000)}`,
    );
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-pull-'));
  dockerConfig = join(dir, 'docker-config');
  m = new Shoald('m1', dir);
  w = new Shoald('w1', dir);
  await m.start();
  await m.ok([
    'swarm',
    'init',
    '--advertise-addr',
    MANAGER_ADDR,
    '--listen-addr',
    `${MANAGER_ADDR}:${MANAGER_PORT}`,
  ]);
  nodeIds.push((await m.ok(['info', '--format', '{{.Swarm.NodeID}}'])).trim());
  const token = (await m.ok(['swarm', 'join-token', '-q', 'worker'])).trim();
  await w.start();
  await w.ok([
    'swarm',
    'join',
    '--token',
    token,
    '--advertise-addr',
    WORKER_ADDR,
    `${MANAGER_ADDR}:${MANAGER_PORT}`,
  ]);
  nodeIds.push((await w.ok(['info', '--format', '{{.Swarm.NodeID}}'])).trim());
  // `docker login` asks an engine to check the login with the registry (POST /auth): the node's
  // dockerd, on loopback. The credentials land in this test's own client config.
  const login = await cli(
    ['login', '127.0.0.1:5001', '-u', 'shoal', '--password-stdin'],
    PASSWORD,
    'unix:///var/run/docker.sock',
  );
  assert.equal(login.code, 0, login.stderr);
  for (const image of [OPEN_IMAGE, PRIVATE_IMAGE]) await untag(image);
});

after(async () => {
  for (const n of [w, m]) {
    await n?.docker(['swarm', 'leave', '--force']).catch(() => undefined);
    await n?.stop('SIGKILL');
  }
  for (const id of nodeIds) {
    const left = (await engine(['ps', '-aq', '--filter', `label=com.docker.swarm.node.id=${id}`])).stdout
      .split('\n')
      .filter(Boolean);
    if (left.length > 0) await engine(['rm', '-f', ...left]);
  }
  for (const image of [OPEN_IMAGE, PRIVATE_IMAGE]) await untag(image);
  await rm(dir, { recursive: true, force: true });
});

test('a service of an image only the local registry has runs on a fresh node', async () => {
  assert.equal(await hasImage(OPEN_IMAGE), false, 'the engine must not have the image before');
  await ok([
    'service',
    'create',
    '--detach',
    '--no-resolve-image',
    '--name',
    'fromreg',
    '--constraint',
    'node.role==worker',
    OPEN_IMAGE,
    'sleep',
    '600',
  ]);
  await waitFor('fromreg running on w1', () => running('fromreg'), 60_000, 250);
  assert.equal(await hasImage(OPEN_IMAGE), true, 'the node pulled it');
  await ok(['service', 'rm', 'fromreg']);
});

test('a missing image is rejected with the registry answer, and retried by the restart policy', async () => {
  const missing = '127.0.0.1:5000/shoal/nosuchimage:1';
  await ok([
    'service',
    'create',
    '--detach',
    '--no-resolve-image',
    '--name',
    'missing',
    '--restart-delay',
    '500ms',
    '--constraint',
    'node.role==worker',
    missing,
    'true',
  ]);
  const rejected = async (): Promise<number> =>
    (await ps('missing'))
      .split('\n')
      .filter((l) =>
        /\|w1\|\w+\|Rejected [^|]*\|"?pulling 127\.0\.0\.1:5000\/shoal\/nosuchimage:1: manifest for \S+ not found: manifest unknown/.test(
          l,
        ),
      ).length;
  await waitFor('two rejected attempts', async () => (await rejected()) >= 2, 60_000, 250);
  await ok(['service', 'rm', 'missing']);
});

test('--with-registry-auth pulls from the registry that needs a login; without it, or with a wrong password, the task says why', async () => {
  assert.equal(await hasImage(PRIVATE_IMAGE), false);
  // Without credentials: the registry refuses.
  await ok([
    'service',
    'create',
    '--detach',
    '--no-resolve-image',
    '--name',
    'noauth',
    '--restart-delay',
    '500ms',
    '--constraint',
    'node.role==worker',
    PRIVATE_IMAGE,
    'sleep',
    '600',
  ]);
  await waitFor(
    'noauth rejected',
    async () =>
      /\|Rejected [^|]*\|"?pulling 127\.0\.0\.1:5001\/shoal\/private:1: .*no basic auth credentials/.test(
        await ps('noauth'),
      ),
    60_000,
    250,
  );

  // A wrong password, sent as the CLI would send one (docker login refuses to store it).
  const wrong = encodeAuth({
    username: 'shoal',
    password: 'not-the-password',
    serveraddress: '127.0.0.1:5001',
  });
  const created = await createWithAuth(
    {
      Name: 'wrongauth',
      TaskTemplate: {
        ContainerSpec: { Image: PRIVATE_IMAGE, Args: ['sleep', '600'] },
        RestartPolicy: { Condition: 'any', Delay: 500e6 },
        Placement: { Constraints: ['node.role==worker'] },
      },
    },
    wrong,
  );
  assert.equal(created.status, 201, created.body);
  await waitFor(
    'wrongauth rejected',
    async () =>
      /\|Rejected [^|]*\|"?pulling 127\.0\.0\.1:5001\/shoal\/private:1: unauthorized: authentication required/.test(
        await ps('wrongauth'),
      ),
    60_000,
    250,
  );
  // The stored credentials are not shown. It stops trying while the right login runs another.
  const inspect = await ok(['service', 'inspect', 'wrongauth']);
  assert.ok(!inspect.includes(wrong) && !inspect.includes('not-the-password'), inspect);
  await ok(['service', 'update', '--detach', '--no-resolve-image', '--replicas', '0', 'wrongauth']);
  await ok(['service', 'rm', 'noauth']);

  // The right login, with --with-registry-auth: runs.
  await ok([
    'service',
    'create',
    '--detach',
    '--no-resolve-image',
    '--with-registry-auth',
    '--name',
    'priv',
    '--constraint',
    'node.role==worker',
    PRIVATE_IMAGE,
    'sleep',
    '600',
  ]);
  await waitFor('priv running on w1', () => running('priv'), 60_000, 250);
  assert.ok(!(await ok(['service', 'inspect', 'priv'])).includes(PASSWORD));
  await ok(['service', 'rm', 'priv']);

  // An update with the right login fixes the service that had the wrong one (pulling again).
  await untag(PRIVATE_IMAGE);
  assert.equal(await hasImage(PRIVATE_IMAGE), false);
  await ok([
    'service',
    'update',
    '--detach',
    '--no-resolve-image',
    '--with-registry-auth',
    '--replicas',
    '1',
    'wrongauth',
  ]);
  await waitFor('wrongauth running after the update', () => running('wrongauth'), 60_000, 250);

  // Neither node logged the credentials.
  for (const n of [m, w]) {
    assert.ok(
      !n.log.includes(PASSWORD) && !n.log.includes('not-the-password'),
      `${n.name} logged a password`,
    );
    assert.ok(!n.log.includes(wrong), `${n.name} logged the auth header`);
  }
  await ok(['service', 'rm', 'wrongauth']);
});
