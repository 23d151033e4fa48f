// End to end: shoal's API socket serves the node's engine as a swarm node's dockerd does. Routes
// shoal does not own reach the engine (ps, run with attach and a tty, exec, logs -f, cp, save/load,
// tag, image rm, volumes, login), over the unix socket and over TLS; lists and /info merge; local
// networks go to the engine; /distribution pins digests from the loopback registries, with auth,
// and answers as dockerd for a registry that is not there. Needs scripts/setup-host.sh's dockerd,
// busybox:local and the registries on 127.0.0.1:5000 (open) and :5001 (basic auth).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engine, Shoald, type CliResult } from '../support/shoald.js';
import { issue, makeCA } from '../support/tlscerts.js';

const IP = '127.0.4.1';
const TCP = `tcp://${IP}:23770`;
const LABEL = 'shoal-e2e=engine-proxy';
/** Names of this run, so leftovers of an interrupted run never collide. */
const S = Date.now().toString(36);

let dir = '';
let node: Shoald | undefined;

/** Runs a command with DOCKER_HOST at the node (or `host`) and a throwaway client config. */
function run(
  cmd: string,
  args: string[],
  o: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      {
        env: { ...process.env, DOCKER_HOST: node!.host, DOCKER_CONFIG: join(dir, 'cfg'), ...o.env },
        timeout: o.timeoutMs ?? 60_000,
        maxBuffer: 64 << 20,
        encoding: 'latin1',
      },
      (err, stdout, stderr) => {
        const c = (err as { code?: unknown } | null)?.code;
        resolve({ stdout, stderr, code: err ? (typeof c === 'number' ? c : -1) : 0 });
      },
    );
    child.stdin!.end(o.input);
  });
}
const docker = (args: string[], o: Parameters<typeof run>[2] = {}): Promise<CliResult> =>
  run('docker', args, o);

async function ok(args: string[], o: Parameters<typeof run>[2] = {}): Promise<string> {
  const r = await docker(args, o);
  assert.equal(
    r.code,
    0,
    `docker ${args.join(' ')}: ${r.stderr}\n--- shoald log ---\n${node!.log.slice(-3000)}`,
  );
  return r.stdout;
}

/** One raw request to a unix socket: status and body. */
function raw(
  sock: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        socketPath: sock,
        method,
        path,
        headers: payload
          ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }
          : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: no answer`)));
    req.end(payload);
  });
}

/** The digest a loopback registry gives for repo:tag (what dockerd's /distribution must report). */
async function registryDigest(port: number, repo: string, tag: string, auth?: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: {
      Accept: 'application/vnd.docker.distribution.manifest.v2+json',
      ...(auth ? { Authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {}),
    },
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(res.status, 200, `registry 127.0.0.1:${port} has ${repo}:${tag}`);
  return res.headers.get('docker-content-digest')!;
}

const specImage = async (svc: string): Promise<string> =>
  (await ok(['service', 'inspect', svc, '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}'])).trim();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-e2e-proxy-'));
  await mkdir(join(dir, 'cfg'));
  const ca = await makeCA('proxy test CA');
  const server = await issue(ca, 'shoald', IP);
  const client = await issue(ca, 'client');
  for (const [name, cert, key] of [
    ['server', server.certPem, server.keyPem],
    ['client', client.certPem, client.keyPem],
  ] as const) {
    await mkdir(join(dir, name));
    await writeFile(join(dir, name, 'ca.pem'), ca.certPem);
    await writeFile(join(dir, name, 'cert.pem'), cert);
    await writeFile(join(dir, name, 'key.pem'), key, { mode: 0o600 });
  }
  const s = join(dir, 'server');
  node = new Shoald('proxy', dir, [
    '-H',
    TCP,
    '--tlsverify',
    '--tlscacert',
    join(s, 'ca.pem'),
    '--tlscert',
    join(s, 'cert.pem'),
    '--tlskey',
    join(s, 'key.pem'),
  ]);
  await node.start();
  await ok(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', '127.0.0.1:2377']);
});

after(async () => {
  if (node) {
    await docker(['swarm', 'leave', '--force']);
    await node.stop();
  }
  const left = (await engine(['ps', '-aq', '--filter', `label=${LABEL}`])).stdout.split('\n').filter(Boolean);
  if (left.length > 0) await engine(['rm', '-f', ...left]);
  await engine(['network', 'rm', `pxlocal-${S}`]);
  await engine(['volume', 'rm', `pxvol-${S}`]);
  await engine(['image', 'rm', `shoal-proxy-e2e:${S}`]);
  await rm(dir, { recursive: true, force: true });
});

test("docker ps, images, tag, image rm and volumes on shoal's socket are the node engine's", async () => {
  const id = (await engine(['create', '--label', LABEL, 'busybox:local', 'true'])).stdout.trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  const ps = await ok(['ps', '-a', '--no-trunc', '--filter', `label=${LABEL}`, '--format', '{{.ID}}']);
  assert.ok(ps.split('\n').includes(id), `docker ps through shoal lists ${id}:\n${ps}`);
  assert.match(await ok(['images', '--format', '{{.Repository}}:{{.Tag}}']), /^busybox:local$/m);
  await ok(['tag', 'busybox:local', `shoal-proxy-e2e:${S}`]);
  assert.equal((await engine(['image', 'inspect', `shoal-proxy-e2e:${S}`])).code, 0);
  await ok(['image', 'rm', `shoal-proxy-e2e:${S}`]);
  assert.notEqual((await engine(['image', 'inspect', `shoal-proxy-e2e:${S}`])).code, 0);
  await ok(['volume', 'create', `pxvol-${S}`]);
  assert.match(
    (await engine(['volume', 'ls', '--format', '{{.Name}}'])).stdout,
    new RegExp(`^pxvol-${S}$`, 'm'),
  );
  assert.match(await ok(['volume', 'ls', '--format', '{{.Name}}']), new RegExp(`^pxvol-${S}$`, 'm'));
  await ok(['volume', 'rm', `pxvol-${S}`]);
  // Not found is the engine's 404.
  const missing = await docker(['container', 'inspect', `nosuch-${S}`]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /No such container/);
});

test('docker info and version: the engine figures beside the Swarm section and shoal', async () => {
  // Counts of containers and images move with whatever else uses the engine: not compared.
  const fmt = '{{.ServerVersion}}|{{.Driver}}|{{.DockerRootDir}}|{{json .Runtimes}}|{{.OperatingSystem}}';
  const mine = (await ok(['info', '--format', fmt])).trim();
  const theirs = (await engine(['info', '--format', fmt])).stdout.trim();
  assert.equal(mine, theirs);
  assert.ok(
    Number((await ok(['info', '--format', '{{.Images}}'])).trim()) >= 1,
    'the engine has busybox:local',
  );
  const swarm = (
    await ok(['info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Name}}'])
  ).trim();
  assert.equal(swarm, 'active true proxy');
  assert.match(await ok(['info']), /Is Manager: true/);
  const v = JSON.parse(await ok(['version', '--format', '{{json .Server}}'])) as {
    ApiVersion: string;
    Components: { Name: string }[];
  };
  assert.equal(v.ApiVersion, '1.41');
  const names = v.Components.map((c) => c.Name);
  assert.ok(names.includes('Engine') && names.includes('shoal'), names.join(','));
});

test('docker run (attached, stdin, tty), exec, logs -f, cp, save and load stream through shoal', async () => {
  assert.equal(
    (await ok(['run', '--rm', '--label', LABEL, 'busybox:local', 'echo', 'hello-run'])).trim(),
    'hello-run',
  );
  // cat ends only when the client's stdin ends: the hijacked connection half-closes.
  const echoed = await ok(
    ['run', '--rm', '-i', '--label', LABEL, 'busybox:local', 'sh', '-c', 'cat; echo done'],
    {
      input: 'from-stdin\n',
    },
  );
  assert.equal(echoed, 'from-stdin\ndone\n');
  // A tty needs one on the client's side too: script(1) gives the CLI a pseudo-terminal.
  const tty = await run('script', [
    '-qec',
    `docker run --rm -it --label ${LABEL} busybox:local sh -c 'tty; echo tty-ok'`,
    '/dev/null',
  ]);
  assert.equal(tty.code, 0, tty.stderr);
  assert.match(tty.stdout, /\/dev\/pts\/\d+/);
  assert.match(tty.stdout, /tty-ok/);

  const c = (
    await ok([
      'run',
      '-d',
      '--label',
      LABEL,
      'busybox:local',
      'sh',
      '-c',
      'for i in 1 2 3 4 5 6 7 8 9 10; do echo line$i; sleep 0.2; done',
    ])
  ).trim();
  assert.equal((await ok(['exec', c, 'echo', 'exec-ok'])).trim(), 'exec-ok');
  assert.equal(await ok(['exec', '-i', c, 'cat'], { input: 'exec-stdin\n' }), 'exec-stdin\n');
  // logs -f streams until the container exits, then ends.
  const logs = await ok(['logs', '-f', c], { timeoutMs: 20_000 });
  assert.match(logs, /^line1$/m);
  assert.match(logs, /^line10$/m);
  // cp out is a tar stream from the engine.
  const tar = await ok(['cp', `${c}:/etc/passwd`, '-']);
  assert.match(tar, /root:x:0:0/);
  await ok(['rm', c]);
  // save down and load up: tar streams both ways, never read whole by shoal.
  const file = join(dir, 'busybox.tar');
  await ok(['save', '-o', file, 'busybox:local']);
  assert.ok((await readFile(file)).byteLength > 1 << 20, 'the image tar is over 1 MB');
  assert.match(await ok(['load', '-i', file]), /Loaded image: busybox:local/);
});

test('the engine over TLS: docker ps and a hijacked run with stdin', async () => {
  const env = { DOCKER_HOST: TCP, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: join(dir, 'client') };
  const id = (await engine(['create', '--label', LABEL, 'busybox:local', 'true'])).stdout.trim();
  assert.match(await ok(['ps', '-a', '--no-trunc', '--format', '{{.ID}}'], { env }), new RegExp(id));
  const echoed = await ok(
    ['run', '--rm', '-i', '--label', LABEL, 'busybox:local', 'sh', '-c', 'cat; echo done'],
    {
      input: 'over-tls\n',
      env,
    },
  );
  assert.equal(echoed, 'over-tls\ndone\n');
});

test('networks: ls merges swarm and local, create goes where dockerd sends it, a swarm name is refused locally', async () => {
  const ls = async (host?: 'engine'): Promise<string> =>
    host
      ? (await engine(['network', 'ls', '--format', '{{.Name}} {{.Scope}}'])).stdout
      : ok(['network', 'ls', '--format', '{{.Name}} {{.Scope}}']);
  const before = await ls();
  for (const n of ['bridge local', 'host local', 'none local', 'ingress swarm'])
    assert.match(before, new RegExp(`^${n}$`, 'm'), before);
  await ok(['network', 'create', '-d', 'overlay', `pxover-${S}`]);
  await ok(['network', 'create', `pxlocal-${S}`]);
  const merged = await ls();
  assert.match(merged, new RegExp(`^pxover-${S} swarm$`, 'm'));
  assert.match(merged, new RegExp(`^pxlocal-${S} local$`, 'm'));
  const local = await ls('engine');
  assert.match(local, new RegExp(`^pxlocal-${S} local$`, 'm'));
  assert.doesNotMatch(local, new RegExp(`pxover-${S}`));
  assert.equal(
    (await ok(['network', 'inspect', `pxlocal-${S}`, '--format', '{{.Driver}} {{.Scope}}'])).trim(),
    'bridge local',
  );
  assert.equal(
    (await ok(['network', 'inspect', `pxover-${S}`, '--format', '{{.Driver}} {{.Scope}}'])).trim(),
    'overlay swarm',
  );
  // dockerd's answer for a local network named like a swarm one: 409, and nothing created.
  const dup = await raw(node!.sock, 'POST', '/v1.41/networks/create', {
    Name: `pxover-${S}`,
    Driver: 'bridge',
  });
  assert.deepEqual(
    [dup.status, JSON.parse(dup.text)],
    [409, { message: `network with name pxover-${S} already exists` }],
  );
  assert.doesNotMatch(await ls('engine'), new RegExp(`pxover-${S}`));
  const cli = await docker(['network', 'create', `pxover-${S}`]);
  assert.notEqual(cli.code, 0);
  assert.match(cli.stderr, new RegExp(`network with name pxover-${S} already exists`));
  // connect and disconnect are the engine's.
  const c = (await ok(['run', '-d', '--label', LABEL, 'busybox:local', 'sleep', '60'])).trim();
  await ok(['network', 'connect', `pxlocal-${S}`, c]);
  assert.match(
    await ok(['inspect', c, '--format', '{{json .NetworkSettings.Networks}}']),
    new RegExp(`pxlocal-${S}`),
  );
  await ok(['network', 'disconnect', `pxlocal-${S}`, c]);
  await ok(['rm', '-f', c]);
  await ok(['network', 'rm', `pxlocal-${S}`, `pxover-${S}`]);
  const after = await ls();
  assert.doesNotMatch(after, new RegExp(`px(local|over)-${S}`));
  assert.doesNotMatch(await ls('engine'), new RegExp(`pxlocal-${S}`));
});

test('digest pinning: /distribution is the engine’s, with registry auth; an unreachable registry answers as dockerd', async () => {
  const open = await registryDigest(5000, 'shoal/busybox', '1');
  await ok([
    'service',
    'create',
    '--detach',
    '--name',
    `pin-${S}`,
    '127.0.0.1:5000/shoal/busybox:1',
    'sleep',
    '600',
  ]);
  assert.equal(await specImage(`pin-${S}`), `127.0.0.1:5000/shoal/busybox:1@${open}`);

  // Without credentials the private registry refuses: the CLI warns and keeps the tag.
  const anon = await docker([
    'service',
    'create',
    '--detach',
    '--name',
    `anon-${S}`,
    '127.0.0.1:5001/shoal/private:1',
    'sleep',
    '600',
  ]);
  assert.equal(anon.code, 0, anon.stderr);
  assert.match(anon.stderr, /could not be accessed on a registry to record\s+its digest/);
  assert.equal(await specImage(`anon-${S}`), '127.0.0.1:5001/shoal/private:1');

  // docker login goes through shoal (/auth is the engine's); --with-registry-auth sends the credentials.
  const cfg = join(dir, 'login-cfg');
  await mkdir(cfg);
  const login = await docker(['login', '127.0.0.1:5001', '-u', 'shoal', '--password-stdin'], {
    input: 'shoal-registry-pass',
    env: { DOCKER_CONFIG: cfg },
  });
  assert.equal(login.code, 0, login.stderr);
  assert.match(login.stdout, /Login Succeeded/);
  const priv = await registryDigest(5001, 'shoal/private', '1', 'shoal:shoal-registry-pass');
  await ok(
    [
      'service',
      'create',
      '--detach',
      '--with-registry-auth',
      '--name',
      `priv-${S}`,
      '127.0.0.1:5001/shoal/private:1',
      'sleep',
      '600',
    ],
    {
      env: { DOCKER_CONFIG: cfg },
    },
  );
  assert.equal(await specImage(`priv-${S}`), `127.0.0.1:5001/shoal/private:1@${priv}`);

  // Nothing listens on 5999: the same answer as the engine's own, and the CLI goes on unpinned.
  const path = '/v1.41/distribution/127.0.0.1:5999/nothing:1/json';
  const viaShoal = await raw(node!.sock, 'GET', path);
  const viaEngine = await raw('/var/run/docker.sock', 'GET', path);
  assert.deepEqual(viaShoal, viaEngine);
  assert.equal(viaShoal.status, 500);
  assert.match(JSON.parse(viaShoal.text).message as string, /127\.0\.0\.1:5999.*connection refused/);
  const gone = await docker([
    'service',
    'create',
    '--detach',
    '--name',
    `gone-${S}`,
    '127.0.0.1:5999/nothing:1',
    'true',
  ]);
  assert.equal(gone.code, 0, gone.stderr);
  assert.match(gone.stderr, /could not be accessed on a registry/);
  assert.equal(await specImage(`gone-${S}`), '127.0.0.1:5999/nothing:1');
  // --no-resolve-image asks no registry at all.
  const before = (node!.log.match(/engine proxy: GET \/v[\d.]+\/distribution\//g) ?? []).length;
  await ok([
    'service',
    'create',
    '--detach',
    '--no-resolve-image',
    '--name',
    `nores-${S}`,
    '127.0.0.1:5000/shoal/busybox:1',
    'true',
  ]);
  assert.equal(await specImage(`nores-${S}`), '127.0.0.1:5000/shoal/busybox:1');
  assert.equal((node!.log.match(/engine proxy: GET \/v[\d.]+\/distribution\//g) ?? []).length, before);
  await ok(['service', 'rm', `pin-${S}`, `anon-${S}`, `priv-${S}`, `gone-${S}`, `nores-${S}`]);
});

test('every /distribution request that reached the engine named a loopback registry', () => {
  const asked = [...node!.log.matchAll(/engine proxy: GET \/v[\d.]+\/distribution\/(\S+)\/json/g)].map(
    (m) => m[1]!,
  );
  assert.ok(asked.length >= 4, asked.join(' '));
  for (const name of asked) assert.match(decodeURIComponent(name), /^127\.0\.0\.1:/);
});

test('an engine that is not there: Docker-style 500 for its routes, shoal still answers its own', async () => {
  const lone = new Shoald('lone', dir, ['--engine-host', `unix://${join(dir, 'no-engine.sock')}`]);
  await lone.start();
  try {
    const ps = await raw(lone.sock, 'GET', '/v1.41/containers/json');
    assert.equal(ps.status, 500);
    assert.match(
      JSON.parse(ps.text).message as string,
      new RegExp(`^Cannot connect to the container engine at unix://${join(dir, 'no-engine.sock')}: `),
    );
    const cli = await lone.docker(['ps']);
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /Cannot connect to the container engine/);
    assert.equal(
      (await lone.ok(['info', '--format', '{{.Swarm.LocalNodeState}} {{.Name}}'])).trim(),
      'inactive lone',
    );
    assert.equal((await lone.ok(['network', 'ls', '-q'])).trim(), '');
  } finally {
    await lone.stop();
  }
});
