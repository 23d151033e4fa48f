// A real cluster on loopback: one manager and worker shoald processes, each with its own data
// dir and 127.0.0.x address, sharing this machine's dockerd, driven by the stock docker CLI.
// Containers of different nodes are told apart by the com.docker.swarm.node.id label.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Shoald, engine, waitFor } from '../support/shoald.js';

let dir = '';
let m: Shoald;
const w: Shoald[] = [];
const ids = new Map<Shoald, string>();
let joinCommand: string[] = [];
const SECRET = 'shoal-e2e-plaintext-7f3a9c';

const MANAGER_ADDR = '127.0.0.2';
const MANAGER_PORT = 42377;

async function join_(node: Shoald, addr: string): Promise<void> {
  await node.start();
  const out = await node.ok([...joinCommand, '--advertise-addr', addr]);
  assert.match(out, /This node joined a swarm as a worker/);
  ids.set(node, (await node.ok(['info', '--format', '{{.Swarm.NodeID}}'])).trim());
  await waitFor(`${node.name} ready`, async () =>
    (await nodeStatus(node.name)).startsWith(`${node.name} Ready`),
  );
}

/** Running tasks of a service per node hostname (desired running and observed running). */
async function placement(service: string): Promise<Map<string, number>> {
  const out = await m.ok([
    'service',
    'ps',
    service,
    '--filter',
    'desired-state=running',
    '--format',
    '{{.Node}} {{.CurrentState}}',
  ]);
  const counts = new Map<string, number>();
  for (const l of out.split('\n').filter((x) => /\sRunning\b/.test(x))) {
    const node = l.split(' ')[0]!;
    counts.set(node, (counts.get(node) ?? 0) + 1);
  }
  return counts;
}

const total = (c: Map<string, number>): number => [...c.values()].reduce((a, b) => a + b, 0);

async function nodeStatus(name: string): Promise<string> {
  const out = await m.ok(['node', 'ls', '--format', '{{.Hostname}} {{.Status}} {{.Availability}}']);
  return out.split('\n').find((l) => l.startsWith(`${name} `)) ?? '';
}

async function filesUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { withFileTypes: true, recursive: true })) {
    const p = join(e.parentPath, e.name);
    if ((await stat(p)).isFile()) out.push(p);
  }
  return out;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-cluster-'));
  m = new Shoald('m1', dir);
  for (let i = 1; i <= 4; i++) w.push(new Shoald(`w${i}`, dir));
  await m.start();
  const init = await m.ok([
    'swarm',
    'init',
    '--advertise-addr',
    MANAGER_ADDR,
    '--listen-addr',
    `${MANAGER_ADDR}:${MANAGER_PORT}`,
  ]);
  assert.match(init, /Swarm initialized/);
  ids.set(m, (await m.ok(['info', '--format', '{{.Swarm.NodeID}}'])).trim());
  const cmd = (await m.ok(['swarm', 'join-token', 'worker']))
    .trim()
    .split('\n')
    .find((l) => l.includes('docker swarm join'))!;
  joinCommand = cmd.trim().split(/\s+/).slice(1);
  assert.deepEqual(joinCommand.slice(-1), [`${MANAGER_ADDR}:${MANAGER_PORT}`]);
});

after(async () => {
  for (const n of [...w, m]) {
    await n.docker(['swarm', 'leave', '--force']).catch(() => undefined);
    await n.stop('SIGKILL');
  }
  // Whatever a killed node left behind.
  for (const id of ids.values()) {
    const left = (await engine(['ps', '-aq', '--filter', `label=com.docker.swarm.node.id=${id}`])).stdout
      .split('\n')
      .filter(Boolean);
    if (left.length > 0) await engine(['rm', '-f', ...left]);
  }
  await rm(dir, { recursive: true, force: true });
});

test('three workers join with the docker CLI and show up in node ls', async () => {
  for (const [i, n] of w.slice(0, 3).entries()) await join_(n, `127.0.0.${i + 3}`);
  const ls = await m.ok([
    'node',
    'ls',
    '--format',
    '{{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}',
  ]);
  for (const name of ['w1', 'w2', 'w3']) assert.match(ls, new RegExp(`^${name} Ready Active $`, 'm'));
  assert.match(ls, /^m1 Ready Active Leader$/m);
  // Workers are not managers: their API says so, as Docker's does.
  const r = await w[0]!.docker(['node', 'ls']);
  assert.notEqual(r.code, 0);
  assert.match(
    r.stderr,
    /This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state/,
  );
  // The manager does not run tasks in this test.
  await m.ok(['node', 'update', '--availability', 'drain', 'm1']);
});

test('a 6-replica service spreads 2/2/2 over the workers', async () => {
  await m.ok([
    'service',
    'create',
    '--detach',
    '--name',
    'web',
    '--replicas',
    '6',
    '--no-resolve-image',
    'busybox:local',
    'sleep',
    '100000',
  ]);
  await waitFor('6 running tasks', async () => total(await placement('web')) === 6);
  const p = await placement('web');
  assert.deepEqual(Object.fromEntries([...p].sort()), { w1: 2, w2: 2, w3: 2 });
});

test('service logs on the manager shows the tasks of every worker, and -f follows them', async () => {
  await m.ok([
    'service',
    'create',
    '--detach',
    '--name',
    'talk',
    '--replicas',
    '3',
    '--no-resolve-image',
    'busybox:local',
    'sh',
    '-c',
    'echo hello-log; i=0; while true; do i=$((i+1)); echo tick$i; sleep 1; done',
  ]);
  await waitFor('3 running', async () => total(await placement('talk')) === 3);
  // The manager is drained: every line comes from a worker, through the log broker.
  const origins = (out: string, text: RegExp): Set<string> => {
    const seen = new Set<string>();
    for (const l of out.split('\n')) {
      const mt = /^talk\.(\d)\.\w+@(w\d)\s+\| (.*)$/.exec(l);
      if (mt && text.test(mt[3]!)) seen.add(`${mt[1]}@${mt[2]}`);
    }
    return seen;
  };
  let out = '';
  await waitFor('hello-log from the 3 tasks', async () => {
    out = await m.ok(['service', 'logs', 'talk']);
    return origins(out, /^hello-log$/).size === 3;
  });
  assert.equal(new Set([...origins(out, /^hello-log$/)].map((o) => o.split('@')[1])).size, 3, 'on 3 workers');
  const tail = await m.ok(['service', 'logs', '--tail', '1', 'talk']);
  assert.equal(tail.trim().split('\n').length, 3, 'one line per task');
  assert.equal(origins(tail, /^hello-log$/).size, 0, 'only the last line of each');

  const follower = spawn('docker', ['service', 'logs', '-f', '--tail', '0', 'talk'], {
    env: { ...process.env, DOCKER_HOST: m.host },
  });
  let followed = '';
  follower.stdout.on('data', (b: Buffer) => (followed += b.toString()));
  try {
    await waitFor(
      'new ticks from the 3 tasks',
      async () => origins(followed, /^tick\d+$/).size === 3,
      30_000,
    );
    assert.equal(origins(followed, /^hello-log$/).size, 0, '--tail 0: no earlier line');
  } finally {
    follower.kill('SIGINT');
  }
  await m.ok(['service', 'rm', 'talk']);
});

test('a secret from stdin reaches only its task, at /run/secrets, and is never at rest in plaintext', async () => {
  assert.match(await m.ok(['secret', 'create', 'x', '-'], { input: SECRET }), /^\w{25}\n$/);
  assert.match(await m.ok(['config', 'create', 'conf', '-'], { input: 'listen 8080\n' }), /^\w{25}\n$/);
  await m.ok([
    'service',
    'create',
    '--detach',
    '--name',
    'sec',
    '--config',
    'source=conf,target=/etc/app.conf,mode=0440',
    '--secret',
    'x',
    '--no-resolve-image',
    'busybox:local',
    'sleep',
    '100000',
  ]);
  await waitFor('the secret task running', async () => total(await placement('sec')) === 1);
  const cid = (await engine(['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=sec'])).stdout
    .trim()
    .split('\n')[0]!;
  const read = await engine(['exec', cid, 'cat', '/run/secrets/x']);
  assert.equal(read.code, 0, read.stderr);
  assert.equal(read.stdout, SECRET);
  const conf = await engine(['exec', cid, 'sh', '-c', 'cat /etc/app.conf; stat -c %a /etc/app.conf']);
  assert.equal(conf.stdout, 'listen 8080\n440\n');
  // The API never returns the data.
  assert.doesNotMatch(await m.ok(['secret', 'inspect', 'x']), /"Data"/);
  // No file under any node's data dir, and no log line, holds it (raw or base64).
  const needles = [Buffer.from(SECRET), Buffer.from(Buffer.from(SECRET).toString('base64'))];
  for (const n of [m, ...w]) {
    assert.ok(!needles.some((x) => n.log.includes(x.toString())), `${n.name}'s log holds the secret`);
    for (const f of await filesUnder(n.dataRoot).catch(() => [])) {
      const bytes = await readFile(f);
      assert.ok(!needles.some((x) => bytes.includes(x)), `${f} holds the secret in plaintext`);
    }
  }
  // When the task ends, the secret leaves the node: its tmpfs is unmounted and removed.
  const secretDirs = async (): Promise<string[]> =>
    (await readdir(join(dir, 'run'), { recursive: true }).catch(() => [] as string[])).filter((p) =>
      /secrets\/\w+$/.test(p),
    );
  assert.equal((await secretDirs()).length, 1);
  await m.ok(['service', 'rm', 'sec']);
  await waitFor('the secret tmpfs removed', async () => (await secretDirs()).length === 0);
});

test('kill -9 of a worker: it goes Down and its tasks run on the other two in under 5 s', async () => {
  const victim = w[2]!;
  const started = Date.now();
  await victim.stop('SIGKILL');
  await waitFor('w3 down', async () => (await nodeStatus('w3')).startsWith('w3 Down'), 30_000, 50);
  const down = Date.now() - started;
  await waitFor(
    '6/6 on w1 and w2',
    async () => {
      const p = await placement('web');
      return (p.get('w1') ?? 0) + (p.get('w2') ?? 0) === 6;
    },
    30_000,
    50,
  );
  const replaced = Date.now() - started;
  console.log(`# kill -9 of a worker: Down after ${down} ms, 6/6 running elsewhere after ${replaced} ms`);
  assert.ok(down < 5000, `Down after ${down} ms`);
  assert.ok(replaced < 5000, `6/6 after ${replaced} ms`);
  // Back again, it reconciles: the tasks it ran were replaced, so their containers stop.
  const wid = ids.get(victim)!;
  await victim.start();
  await waitFor('w3 ready', async () => (await nodeStatus('w3')).startsWith('w3 Ready'), 30_000);
  await waitFor('w3 stopped its old tasks', async () => {
    const r = await engine([
      'ps',
      '-q',
      '--filter',
      `label=com.docker.swarm.node.id=${wid}`,
      '--filter',
      'label=com.docker.swarm.service.name=web',
    ]);
    return r.stdout.trim() === '';
  });
});

test('drain moves tasks away; active takes new ones again', async () => {
  await m.ok(['node', 'update', '--availability', 'drain', 'w1']);
  await waitFor('no web task on w1, 6 running', async () => {
    const p = await placement('web');
    return !p.has('w1') && total(p) === 6;
  });
  assert.match(await nodeStatus('w1'), /^w1 Ready Drain$/);
  await m.ok(['node', 'update', '--availability', 'active', 'w1']);
  await m.ok(['service', 'scale', '--detach', 'web=9']);
  await waitFor('9 running, some on w1', async () => {
    const p = await placement('web');
    return total(p) === 9 && (p.get('w1') ?? 0) > 0;
  });
});

test('swarm ca --rotate: every node moves to the new root without an outage', async () => {
  const before = await m.ok(['swarm', 'ca']);
  const tokenBefore = (await m.ok(['swarm', 'join-token', '-q', 'worker'])).trim();
  await m.ok(['swarm', 'ca', '--rotate'], { timeoutMs: 60_000 });
  const after = await m.ok(['swarm', 'ca']);
  assert.match(after, /BEGIN CERTIFICATE/);
  assert.notEqual(after, before);
  const tls = await m.ok([
    'node',
    'inspect',
    '--format',
    '{{json .Description.TLSInfo}}',
    'm1',
    'w1',
    'w2',
    'w3',
  ]);
  const want = (await m.ok(['info', '--format', '{{json .Swarm.Cluster.TLSInfo}}'])).trim();
  for (const l of tls.trim().split('\n')) assert.equal(l, want);
  // Tokens name the new root and keep their secret.
  const tokenAfter = (await m.ok(['swarm', 'join-token', '-q', 'worker'])).trim();
  assert.notEqual(tokenAfter, tokenBefore);
  assert.equal(tokenAfter.split('-')[3], tokenBefore.split('-')[3]);
  const cmd = (await m.ok(['swarm', 'join-token', 'worker']))
    .split('\n')
    .find((l) => l.includes('docker swarm join'))!;
  joinCommand = cmd.trim().split(/\s+/).slice(1);
  // The workers still get work.
  await m.ok(['service', 'scale', '--detach', 'web=10']);
  await waitFor('10 running', async () => total(await placement('web')) === 10);
});

test('a global service gains a task when a 4th worker joins', async () => {
  await m.ok([
    'service',
    'create',
    '--detach',
    '--name',
    'glob',
    '--mode',
    'global',
    '--no-resolve-image',
    'busybox:local',
    'sleep',
    '100000',
  ]);
  await waitFor('one global task per active worker', async () => {
    const p = await placement('glob');
    return total(p) === 3 && ['w1', 'w2', 'w3'].every((n) => p.get(n) === 1);
  });
  await join_(w[3]!, '127.0.0.6');
  await waitFor('a global task on w4', async () => (await placement('glob')).get('w4') === 1);
  assert.equal(total(await placement('glob')), 4);
});

test('a worker leaves; node rm needs it down unless --force', async () => {
  const busy = await m.docker(['node', 'rm', 'w1']);
  assert.notEqual(busy.code, 0);
  assert.match(busy.stderr, /is not down and can't be removed/);
  await w[3]!.ok(['swarm', 'leave']);
  await waitFor('w4 down', async () => (await nodeStatus('w4')).startsWith('w4 Down'));
  await m.ok(['node', 'rm', 'w4']);
  assert.equal(await nodeStatus('w4'), '');
  assert.equal(total(await placement('glob')), 3);
});

test('autolock: a restarted manager serves nothing but unlock until it gets the key', async () => {
  await m.ok(['swarm', 'update', '--autolock=true']);
  const key = (await m.ok(['swarm', 'unlock-key', '-q'])).trim();
  assert.match(key, /^SWMKEY-1-/);
  await m.stop('SIGTERM');
  await m.start();
  assert.equal((await m.ok(['info', '--format', '{{.Swarm.LocalNodeState}}'])).trim(), 'locked');
  const refused = await m.docker(['service', 'ls']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /Swarm is encrypted and needs to be unlocked/);
  const wrong = await m.docker(['swarm', 'unlock'], { input: 'SWMKEY-1-' + 'A'.repeat(43) + '\n' });
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /invalid key/);
  await m.ok(['swarm', 'unlock'], { input: `${key}\n` });
  const ls = await m.ok(['service', 'ls', '--format', '{{.Name}}']);
  assert.deepEqual(ls.trim().split('\n').sort(), ['glob', 'web']);
  // Workers kept running their tasks and reconnect to the unlocked manager.
  await waitFor('all workers ready again', async () => {
    const out = await m.ok(['node', 'ls', '--format', '{{.Hostname}} {{.Status}}']);
    return ['w1', 'w2', 'w3'].every((n) => out.includes(`${n} Ready`));
  });
});
