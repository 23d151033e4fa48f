// End to end: the stock docker CLI against shoald, which drives the real dockerd on this machine.
// Needs dockerd on /var/run/docker.sock and the busybox:local image (.ci/run provides both).
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

async function docker(
  args: string[],
  opts: { engine?: boolean; input?: string; timeoutMs?: number } = {},
): Promise<{ stdout: string; stderr: string; code: number }> {
  const env = { ...process.env, DOCKER_HOST: opts.engine ? 'unix:///var/run/docker.sock' : `unix://${sock}` };
  try {
    const { stdout, stderr } = await run('docker', args, {
      env,
      timeout: opts.timeoutMs ?? 120_000,
      maxBuffer: 16 << 20,
    });
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: number };
    return {
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? '',
      code: typeof err.code === 'number' ? err.code : 1,
    };
  }
}

async function ok(args: string[], timeoutMs?: number): Promise<string> {
  const r = await docker(args, timeoutMs !== undefined ? { timeoutMs } : {});
  assert.equal(
    r.code,
    0,
    `docker ${args.join(' ')} failed: ${r.stderr}\n--- shoald log ---\n${daemonLog.slice(-3000)}`,
  );
  return r.stdout;
}

async function startDaemon(): Promise<void> {
  daemon = spawn(
    process.execPath,
    [
      'bin/shoald.js',
      '--data-plane',
      'off',
      '--data-root',
      dataRoot,
      '-H',
      `unix://${sock}`,
      '--log-level',
      'debug',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  daemon.stderr!.on('data', (b: Buffer) => (daemonLog += b.toString()));
  for (let i = 0; i < 100; i++) {
    if ((await docker(['version', '--format', '{{.Server.APIVersion}}'])).code === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`shoald did not come up:\n${daemonLog}`);
}

async function stopDaemon(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!daemon || daemon.exitCode !== null) return;
  const exited = new Promise((r) => daemon!.once('exit', r));
  daemon.kill(signal);
  await exited;
}

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}\n--- shoald log ---\n${daemonLog.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function replicas(name: string): Promise<string> {
  const out = await ok(['service', 'ls', '--filter', `name=${name}`, '--format', '{{.Name}} {{.Replicas}}']);
  return (
    out
      .split('\n')
      .find((l) => l.startsWith(`${name} `))
      ?.split(' ')[1] ?? ''
  );
}

/** This node's containers only: leftovers of an earlier, interrupted run must not count. */
let nodeId = '';
function mine(service: string): string[] {
  return [
    '--filter',
    `label=com.docker.swarm.service.name=${service}`,
    '--filter',
    `label=com.docker.swarm.node.id=${nodeId}`,
  ];
}

async function containers(service: string): Promise<string[]> {
  const r = await docker(['ps', '-q', ...mine(service)], { engine: true });
  return r.stdout.split('\n').filter(Boolean);
}

async function allContainers(service: string): Promise<string[]> {
  const r = await docker(['ps', '-aq', ...mine(service)], { engine: true });
  return r.stdout.split('\n').filter(Boolean);
}

before(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'shoal-e2e-'));
  sock = join(dataRoot, 'shoal.sock');
  await startDaemon();
});

after(async () => {
  await docker(['swarm', 'leave', '--force']);
  await stopDaemon();
  await rm(dataRoot, { recursive: true, force: true });
});

test('swarm init, info, node ls/inspect/update', async () => {
  const init = await ok(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
  nodeId = (await ok(['info', '--format', '{{.Swarm.NodeID}}'])).trim();
  assert.match(init, /Swarm initialized: current node \(\w{25}\) is now a manager/);
  assert.match(init, /docker swarm join --token SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25} 127\.0\.0\.1:2377/);
  const again = await docker(['swarm', 'init']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /This node is already part of a swarm/);
  const info = await ok(['info']);
  assert.match(info, /Swarm: active/);
  assert.match(info, /Is Manager: true/);
  assert.match(info, /Election Tick: 10/);
  // shoal's default agent heartbeat is 1 s (Docker's is 5 s): info shows what agents use.
  assert.match(info, /Heartbeat Period: 1 second\b/);
  const token = await ok(['swarm', 'join-token', '-q', 'worker']);
  assert.match(token.trim(), /^SWMTKN-1-/);
  const ls = await ok(['node', 'ls']);
  assert.match(ls, /\*\s+\S+\s+Ready\s+Active\s+Leader/);
  const self = (await ok(['info', '--format', '{{.Swarm.NodeID}}'])).trim();
  await ok(['node', 'update', '--label-add', 'zone=a', self]);
  assert.equal((await ok(['node', 'inspect', 'self', '--format', '{{.Spec.Labels.zone}}'])).trim(), 'a');
  await ok(['node', 'update', '--label-rm', 'zone', self]);
  assert.equal((await ok(['node', 'inspect', 'self', '--format', '{{len .Spec.Labels}}'])).trim(), '0');
  await ok(['swarm', 'update', '--task-history-limit', '3']);
  assert.match(await ok(['info']), /Task History Retention Limit: 3/);
  const bad = await docker(['swarm', 'update', '--task-history-limit', '-5']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /must be non-negative/);
});

test('create with the progress monitor converges to 3/3, then scales to 5 and 1', async () => {
  const out = await ok([
    'service',
    'create',
    '--no-resolve-image',
    '--name',
    'web',
    '--replicas',
    '3',
    '--stop-grace-period',
    '1s',
    '--restart-delay',
    '0s',
    '--update-monitor',
    '1s',
    '--rollback-monitor',
    '1s',
    'busybox:local',
    'sleep',
    '3600',
  ]);
  assert.match(out, /verify: Service \w+ converged/);
  assert.equal(await replicas('web'), '3/3');
  assert.equal((await containers('web')).length, 3);
  const names = (
    await docker(['ps', ...mine('web'), '--format', '{{.Names}}'], {
      engine: true,
    })
  ).stdout;
  assert.match(names, /^web\.[123]\.[0-9a-z]{25}$/m, 'containers are named <service>.<slot>.<task>');
  await ok(['service', 'scale', 'web=5']);
  assert.equal(await replicas('web'), '5/5');
  await ok(['service', 'scale', 'web=1']);
  assert.equal(await replicas('web'), '1/1');
  await waitFor('4 containers stopped', async () => (await containers('web')).length === 1);
  const ps = await ok(['service', 'ps', 'web']);
  assert.match(ps, /web\.1\s+busybox:local\s+\S+\s+Running\s+Running/);
});

test('docker rm -f of a task container leads to a running replacement', async () => {
  const [victim] = await containers('web');
  await docker(['rm', '-f', victim!], { engine: true });
  await waitFor('replacement running', async () => {
    const now = await containers('web');
    return now.length === 1 && now[0] !== victim && (await replicas('web')) === '1/1';
  });
  const ps = await ok(['service', 'ps', 'web']);
  assert.match(ps, /\\_ web\.1.*(Failed|Shutdown)/, 'the failed task stays in history');
});

test('an env update rolls through with parallelism 2, then service rollback restores it', async () => {
  await ok(['service', 'scale', 'web=4']);
  const out = await ok([
    'service',
    'update',
    '--env-add',
    'A=1',
    '--update-parallelism',
    '2',
    '--update-monitor',
    '1s',
    'web',
  ]);
  assert.match(out, /verify: Service web converged/);
  const env = await ok([
    'service',
    'inspect',
    'web',
    '--format',
    '{{json .Spec.TaskTemplate.ContainerSpec.Env}}',
  ]);
  assert.equal(env.trim(), '["A=1"]');
  // Like Swarm, shoal marks the update done once the last tasks pass their monitor window,
  // which can be a moment after the CLI's own stability wait ends.
  await waitFor(
    'completed',
    async () =>
      (await ok(['service', 'inspect', 'web', '--format', '{{.UpdateStatus.State}}'])).trim() === 'completed',
    15_000,
  );
  for (const id of await containers('web')) {
    const e = (await docker(['inspect', id, '--format', '{{json .Config.Env}}'], { engine: true })).stdout;
    assert.match(e, /"A=1"/);
  }
  const rb = await ok(['service', 'rollback', 'web']);
  assert.match(rb, /rollback: manually requested rollback/);
  assert.match(rb, /verify: Service web converged/);
  assert.equal(
    (
      await ok(['service', 'inspect', 'web', '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Env}}'])
    ).trim(),
    'null',
  );
  // Like Swarm, shoal marks the update done once the last tasks pass their monitor window,
  // which can be a moment after the CLI's own stability wait ends.
  await waitFor(
    'rollback_completed',
    async () =>
      (await ok(['service', 'inspect', 'web', '--format', '{{.UpdateStatus.State}}'])).trim() ===
      'rollback_completed',
    15_000,
  );
});

test('a failing update with --update-failure-action rollback rolls back by itself', async () => {
  const r = await docker([
    'service',
    'update',
    '--detach',
    '--args',
    'sh -c "exit 3"',
    '--update-failure-action',
    'rollback',
    '--update-monitor',
    '3s',
    '--rollback-monitor',
    '1s',
    'web',
  ]);
  assert.equal(r.code, 0, r.stderr);
  await waitFor(
    'rollback_completed',
    async () =>
      (await ok(['service', 'inspect', 'web', '--format', '{{.UpdateStatus.State}}'])).trim() ===
      'rollback_completed',
    90_000,
  );
  assert.match(
    await ok(['service', 'ps', 'web']),
    /task: non-zero exit \(3\)/,
    'the failed new task is in the history',
  );
  assert.equal(
    (
      await ok(['service', 'inspect', 'web', '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Args}}'])
    ).trim(),
    '["sleep","3600"]',
  );
  await waitFor('4/4 again', async () => (await replicas('web')) === '4/4');
});

test('logs carry task prefixes', async () => {
  await ok([
    'service',
    'create',
    '--no-resolve-image',
    '--name',
    'talker',
    '--restart-condition',
    'none',
    'busybox:local',
    'sh',
    '-c',
    'echo hello-from-$(hostname); sleep 3600',
  ]);
  await waitFor('log line', async () => (await ok(['service', 'logs', 'talker'])).includes('hello-from-'));
  const logs = await ok(['service', 'logs', 'talker']);
  assert.match(logs, /^talker\.1\.\w+@\S+\s+\| hello-from-\w+$/m);
  const ts = await ok(['service', 'logs', '-t', '--tail', '1', 'talker']);
  assert.match(ts, /^\d{4}-\d\d-\d\dT\S+ talker\.1\.\w+@\S+\s+\| hello-from-/m);
  const missing = await docker(['service', 'logs', 'nosuchsvc']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no such task or service: nosuchsvc/);
});

test('a global service and a replicated job that completes', async () => {
  await ok([
    'service',
    'create',
    '--no-resolve-image',
    '--name',
    'glob',
    '--mode',
    'global',
    '--detach',
    'busybox:local',
    'sleep',
    '3600',
  ]);
  await waitFor('glob 1/1', async () => (await replicas('glob')) === '1/1');
  const scale = await docker(['service', 'scale', 'glob=3']);
  assert.match(scale.stderr, /scale can only be used with replicated or replicated-job mode/);
  const out = await ok([
    'service',
    'create',
    '--no-resolve-image',
    '--name',
    'job1',
    '--mode',
    'replicated-job',
    '--replicas',
    '2',
    '--max-concurrent',
    '1',
    'busybox:local',
    'sh',
    '-c',
    'echo job done',
  ]);
  assert.match(out, /job complete/);
  assert.match(
    await ok(['service', 'ls', '--filter', 'name=job1']),
    /job1\s+replicated job\s+0\/1 \(2\/2 completed\)/,
  );
});

test('health status drives the task: healthy runs, unhealthy fails and is replaced', async () => {
  await ok([
    'service',
    'create',
    '--no-resolve-image',
    '--name',
    'healthy',
    '--detach',
    '--health-cmd',
    'true',
    '--health-interval',
    '500ms',
    '--health-retries',
    '1',
    'busybox:local',
    'sleep',
    '3600',
  ]);
  await ok([
    'service',
    'create',
    '--no-resolve-image',
    '--name',
    'sick',
    '--detach',
    '--restart-delay',
    '0s',
    '--stop-grace-period',
    '1s',
    '--health-cmd',
    'exit 1',
    '--health-interval',
    '500ms',
    '--health-retries',
    '1',
    'busybox:local',
    'sleep',
    '3600',
  ]);
  await waitFor('healthy runs', async () => (await replicas('healthy')) === '1/1');
  await waitFor('sick task failed as unhealthy and replaced', async () => {
    const ps = await ok(['service', 'ps', '--no-trunc', 'sick']);
    return /dockerexec: unhealthy container/.test(ps) && (ps.match(/sick\.1/g) ?? []).length >= 2;
  });
  assert.equal(await replicas('sick'), '0/1', 'an unhealthy task never counts as running');
  await ok(['service', 'rm', 'healthy', 'sick']);
});

test('inspect --pretty, node ps, logs -f and events', async () => {
  const pretty = await ok(['service', 'inspect', '--pretty', 'web']);
  assert.match(pretty, /Name:\s+web/);
  assert.match(pretty, /Replicas:\s+4/);
  assert.match(pretty, /UpdateConfig:/);
  assert.match(await ok(['node', 'ps', 'self']), /web\.\d+\s+busybox:local/);
  // logs -f streams new lines until stopped.
  const env = { ...process.env, DOCKER_HOST: `unix://${sock}` };
  const follower = spawn('docker', ['service', 'logs', '-f', 'talker'], { env });
  let followed = '';
  follower.stdout.on('data', (b: Buffer) => (followed += b.toString()));
  await waitFor('followed a line', async () => followed.includes('hello-from-'), 20_000);
  // A task that starts while following is followed too.
  const before = (followed.match(/hello-from-/g) ?? []).length;
  await ok(['service', 'scale', '--detach', 'talker=2']);
  await waitFor(
    'followed the new task',
    async () => (followed.match(/hello-from-/g) ?? []).length > before && /talker\.2\./.test(followed),
    30_000,
  );
  follower.kill('SIGINT');
  const since = Math.floor(Date.now() / 1000) - 1;
  await ok(['service', 'scale', '--detach', 'web=4']);
  await ok(['service', 'update', '--detach', '--label-add', 'phase=events', 'web']);
  const events = await ok([
    'events',
    '--since',
    String(since),
    '--until',
    String(Math.ceil(Date.now() / 1000) + 1),
    '--filter',
    'type=service',
    '--format',
    '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}',
  ]);
  assert.match(events, /^service update web$/m);
});

test('docker events follows service, node and container events as they happen', async () => {
  const env = { ...process.env, DOCKER_HOST: `unix://${sock}` };
  const follower = spawn(
    'docker',
    [
      'events',
      '--filter',
      'type=service',
      '--filter',
      'type=node',
      '--filter',
      'type=container',
      '--format',
      '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}',
    ],
    { env },
  );
  let seen = '';
  follower.stdout.on('data', (b: Buffer) => (seen += b.toString()));
  try {
    await new Promise((r) => setTimeout(r, 500));
    await ok([
      'service',
      'create',
      '--no-resolve-image',
      '--detach',
      '--name',
      'evf',
      'busybox:local',
      'sleep',
      '3600',
    ]);
    await ok(['node', 'update', '--label-add', 'events=followed', nodeId]);
    await waitFor(
      'followed events of each type',
      async () =>
        /^service create evf$/m.test(seen) &&
        /^node update /m.test(seen) &&
        /^container start evf\.1\.\w+$/m.test(seen),
      30_000,
    );
  } finally {
    follower.kill('SIGINT');
    await docker(['service', 'rm', 'evf']);
  }
  await waitFor('evf containers removed', async () => (await allContainers('evf')).length === 0);
});

test('shoald serves several -H addresses, unix and tcp; join tokens rotate; swarm leave --force', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-e2e-hosts-'));
  const unixHost = `unix://${join(dir, 'second.sock')}`;
  const tcpHost = 'tcp://127.0.0.1:23751';
  const second = spawn(
    process.execPath,
    [
      'bin/shoald.js',
      '--data-plane',
      'off',
      '--data-root',
      join(dir, 'data'),
      '--exec-root',
      join(dir, 'run'),
      '-H',
      unixHost,
      '-H',
      tcpHost,
      '--engine-host',
      'unix:///var/run/docker.sock',
    ],
    { stdio: 'ignore' },
  );
  const at = (host: string, args: string[]) =>
    run('docker', args, { env: { ...process.env, DOCKER_HOST: host } }).then(
      (r) => r.stdout,
      (e: { stderr?: string }) =>
        Promise.reject(new Error(`docker ${args.join(' ')} at ${host}: ${e.stderr}`)),
    );
  try {
    await waitFor('second shoald up on tcp', () =>
      at(tcpHost, ['version']).then(
        () => true,
        () => false,
      ),
    );
    await at(unixHost, ['swarm', 'init', '--listen-addr', '127.0.0.2:2377', '--advertise-addr', '127.0.0.2']);
    assert.equal((await at(tcpHost, ['info', '--format', '{{.Swarm.LocalNodeState}}'])).trim(), 'active');
    const before = (await at(tcpHost, ['swarm', 'join-token', '-q', 'worker'])).trim();
    const managerBefore = (await at(unixHost, ['swarm', 'join-token', '-q', 'manager'])).trim();
    await at(unixHost, ['swarm', 'join-token', '--rotate', '-q', 'worker']);
    const after = (await at(tcpHost, ['swarm', 'join-token', '-q', 'worker'])).trim();
    assert.notEqual(after, before, 'the worker token rotated');
    assert.equal((await at(unixHost, ['swarm', 'join-token', '-q', 'manager'])).trim(), managerBefore);
    assert.match(await at(unixHost, ['swarm', 'leave', '--force']), /Node left the swarm/);
    assert.equal((await at(tcpHost, ['info', '--format', '{{.Swarm.LocalNodeState}}'])).trim(), 'inactive');
    await assert.rejects(at(unixHost, ['service', 'ls']), /not a swarm manager/);
  } finally {
    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));
    await rm(dir, { recursive: true, force: true });
  }
});

test('a shoald restart keeps services and does not restart running containers', async () => {
  const before = new Map<string, string>();
  for (const id of await containers('web'))
    before.set(
      id,
      (await docker(['inspect', id, '--format', '{{.State.StartedAt}}'], { engine: true })).stdout.trim(),
    );
  assert.equal(before.size, 4);
  await stopDaemon();
  await startDaemon();
  assert.equal(await replicas('web'), '4/4');
  await new Promise((r) => setTimeout(r, 1500));
  for (const id of await containers('web')) {
    assert.equal(
      (await docker(['inspect', id, '--format', '{{.State.StartedAt}}'], { engine: true })).stdout.trim(),
      before.get(id),
      'container was not restarted',
    );
  }
  assert.equal((await containers('web')).length, 4);
  assert.equal(await replicas('web'), '4/4');
});

test('after kill -9 of shoald, every acknowledged write is still there', async () => {
  await ok(['service', 'update', '--detach', '--label-add', 'crash=before', 'web']);
  await stopDaemon('SIGKILL');
  await startDaemon();
  assert.equal(
    (await ok(['service', 'inspect', 'web', '--format', '{{index .Spec.Labels "crash"}}'])).trim(),
    'before',
  );
  await waitFor('4/4 after a crash', async () => (await replicas('web')) === '4/4');
  assert.equal((await containers('web')).length, 4);
});

test('error cases answer as a real swarm does', async () => {
  const dup = await docker([
    'service',
    'create',
    '--no-resolve-image',
    '--name',
    'web',
    '--detach',
    'busybox:local',
    'sleep',
    '1',
  ]);
  assert.match(
    dup.stderr,
    /Error response from daemon: rpc error: code = AlreadyExists desc = name conflicts with an existing object: service web already exists/,
  );
  const insp = await docker(['service', 'inspect', 'nosuchsvc']);
  assert.match(insp.stderr, /no such service: nosuchsvc/);
  const rmm = await docker(['service', 'rm', 'nosuchsvc']);
  assert.match(rmm.stderr, /Error response from daemon: service nosuchsvc not found/);
  const badName = await docker([
    'service',
    'create',
    '--no-resolve-image',
    '--name',
    'bad_name!',
    '--detach',
    'busybox:local',
    'sleep',
    '1',
  ]);
  assert.match(badName.stderr, /name must be valid as a DNS name component/);
  const badc = await docker([
    'service',
    'create',
    '--no-resolve-image',
    '--name',
    'badc',
    '--constraint',
    'node.labels.zone=a',
    '--detach',
    'busybox:local',
    'sleep',
    '1',
  ]);
  assert.match(badc.stderr, /constraint expected one operator from ==, !=/);
  const noPrev = await docker(['service', 'rollback', 'glob']);
  assert.match(noPrev.stderr, /does not have a previous spec/);
  const ps = await docker(['service', 'ps', 'nosuchsvc']);
  assert.match(ps.stderr, /no such service: nosuchsvc/);
  const node = await docker(['node', 'inspect', 'nosuchnode']);
  assert.match(node.stderr, /node nosuchnode not found/);
  const selfId = (await ok(['info', '--format', '{{.Swarm.NodeID}}'])).trim();
  const self = await docker(['node', 'rm', selfId]);
  assert.match(self.stderr, /is a cluster manager and is a member of the raft cluster/);
  // A tag no registry has, on the loopback registry (a name without a host would be pulled from
  // docker.io): the node's pull fails and says why.
  const missing = '127.0.0.1:5000/shoal/busybox:nosuchtag';
  await ok(['service', 'create', '--detach', '--no-resolve-image', '--name', 'noimg', missing, 'true']);
  await waitFor('rejected for a missing image', async () =>
    /noimg\.1\s+127\.0\.0\.1:5000\/shoal\/busybox:nosuchtag\s+\S+\s+\w+\s+Rejected[^\n]*pulling 127\.0\.0\.1:5000\/shoal\/busybox:nosuchtag: manifest for \S+ not found/.test(
      await ok(['service', 'ps', '--no-trunc', 'noimg']),
    ),
  );
  await ok(['service', 'rm', 'noimg']);
  const net = await docker(['network', 'inspect', 'nosuchnet']);
  assert.match(net.stderr, /network nosuchnet not found/);
});

test('docker stack deploy, ls, services, ps, redeploy and rm', async () => {
  const compose = join(dataRoot, 'compose.yml');
  await writeFile(
    compose,
    [
      'version: "3.8"',
      'services:',
      '  front:',
      '    image: busybox:local',
      "    command: sh -c 'echo front up; sleep 3600'",
      '    deploy:',
      '      replicas: 2',
      '    networks: [appnet]',
      '  back:',
      '    image: busybox:local',
      '    command: sleep 3600',
      '    networks: [appnet]',
      'networks:',
      '  appnet:',
      '    driver: overlay',
      '',
    ].join('\n'),
  );
  const out = await ok(['stack', 'deploy', '--resolve-image', 'never', '-c', compose, 'apistack']);
  assert.match(out, /Creating network apistack_appnet/);
  assert.match(out, /Creating service apistack_front/);
  await waitFor(
    'stack running',
    async () => (await replicas('apistack_front')) === '2/2' && (await replicas('apistack_back')) === '1/1',
  );
  assert.match(await ok(['stack', 'ls']), /apistack\s+2/);
  assert.match(await ok(['stack', 'services', 'apistack']), /apistack_front\s+replicated\s+2\/2/);
  assert.match(await ok(['stack', 'ps', 'apistack']), /apistack_back\.1\s+busybox:local/);
  const again = await ok(['stack', 'deploy', '--resolve-image', 'never', '-c', compose, 'apistack']);
  assert.match(again, /Updating service apistack_front/);
  await ok(['stack', 'rm', 'apistack']);
  await waitFor('stack gone', async () => (await ok(['stack', 'ls'])).trim().split('\n').length === 1);
  assert.doesNotMatch(await ok(['network', 'ls']), /apistack_appnet/);
});

test('service rm removes every container', async () => {
  await ok(['service', 'rm', 'web', 'glob', 'job1', 'talker']);
  await waitFor('containers removed', async () => {
    for (const s of ['web', 'glob', 'job1', 'talker']) if ((await allContainers(s)).length > 0) return false;
    return true;
  });
  assert.equal((await ok(['service', 'ls', '-q'])).trim(), '');
});

test('no /distribution request reached the engine: every create passed --no-resolve-image', async () => {
  // shoald logs each request it hands the engine; busybox:local would have sent dockerd to docker.io.
  await ok(['ps', '-q']);
  assert.match(daemonLog, /engine proxy: GET \S*\/containers\/json/);
  assert.doesNotMatch(daemonLog, /engine proxy: GET \S*\/distribution\//);
});
