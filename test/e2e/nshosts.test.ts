// The namespace-host harness itself (test/support/nshosts.ts): separate hosts with their own
// dockerd on one underlay, no way out of the machine, private `ip netns`, shoald inside a host,
// and a teardown (also after a kill -9 of the test) that leaves nothing behind.
// Root and the machine's dockerd (for busybox:local) are needed; run under flock /tmp/shoal-e2e.lock.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { NsHosts, leftovers, run } from '../support/nshosts.js';
import { waitFor, type Shoald } from '../support/shoald.js';

const PREFIX = 'sh';
const CRASH_PREFIX = 'shc';
const TIMEOUT = { timeoutMs: 15_000 };
let h: NsHosts | undefined;
const hosts = (): NsHosts => h!;

/** The machine's own resolver, as its /etc/resolv.conf names it (first IPv4 nameserver). */
function realResolver(): string | undefined {
  const m = /^nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/m.exec(readFileSync('/etc/resolv.conf', 'utf8'));
  return m?.[1];
}

before(async () => {
  h = await NsHosts.create({ count: 3, prefix: PREFIX, log: (m) => process.stderr.write(`${m}\n`) });
});

after(async () => {
  await h?.stop();
  await NsHosts.cleanupLeftovers(CRASH_PREFIX);
});

test('three hosts, each with its own dockerd: names, IDs and containers differ', async () => {
  const h = hosts();
  const infos = await Promise.all(
    [0, 1, 2].map((i) => h.docker(i, ['info', '--format', '{{.Name}} {{.ID}}'])),
  );
  const names = infos.map((r) => r.stdout.trim().split(' ')[0]);
  const ids = infos.map((r) => r.stdout.trim().split(' ')[1]);
  assert.deepEqual(names, ['sh-h0', 'sh-h1', 'sh-h2']);
  assert.equal(new Set(ids).size, 3, `engine IDs: ${ids.join(', ')}`);

  const probe = await h.docker(0, ['run', '-d', '--name', 'sh-probe', 'busybox:local', 'sleep', '300']);
  assert.equal(probe.code, 0, probe.stderr);
  const seen = async (i: number): Promise<string> =>
    (await h.docker(i, ['ps', '-q', '--filter', 'name=sh-probe'])).stdout.trim();
  assert.notEqual(await seen(0), '');
  assert.equal(await seen(1), '');
  // Inside a host, the CLI's default socket is that host's own engine.
  const inside = await h.exec(1, ['docker', 'info', '--format', '{{.Name}}'], TIMEOUT);
  assert.equal(inside.stdout.trim(), 'sh-h1', inside.stderr);
  // Its containerd is its own (the system's socket is not visible inside): the probe's shim
  // talks to the containerd under the host's private /run.
  const shim = await run('pgrep', ['-af', `containerd-shim.*-namespace ${PREFIX}h0 `]);
  assert.match(shim.stdout, /-address \/run\/docker\/containerd\/containerd\.sock/);
  const own = await h.exec(0, ['test', '-S', '/run/docker/containerd/containerd.sock']);
  assert.equal(own.code, 0);
  assert.ok(existsSync(h.hostPath(0, '/run/docker/containerd/containerd.sock')));
  const system = await h.exec(0, ['test', '-e', '/run/containerd/containerd.sock']);
  assert.notEqual(system.code, 0, 'the system containerd socket is visible inside a host');
});

test("a host's /sys shows its own interfaces, with the cgroup tree runc needs", async () => {
  const h = hosts();
  const net = await h.exec(0, ['ls', '/sys/class/net']);
  assert.deepEqual(net.stdout.split('\n').filter(Boolean).sort().slice(0, 3), ['docker0', 'eth0', 'lo']);
  assert.equal((await h.exec(0, ['test', '-d', '/sys/fs/cgroup/pids'])).code, 0);
});

test('a container on host 0 and the outside client reach the other hosts over the underlay', async () => {
  const h = hosts();
  for (const i of [1, 2]) {
    const r = await h.docker(
      0,
      ['run', '--rm', 'busybox:local', 'ping', '-c', '1', '-W', '2', h.addr(i)],
      TIMEOUT,
    );
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
  }
  const out = await h.execOutside(['busybox', 'ping', '-c', '1', '-W', '2', h.addr(2)], TIMEOUT);
  assert.equal(out.code, 0, `${out.stdout}${out.stderr}`);
  assert.equal(h.outside.addr, '10.99.0.200');
});

test("neither a host nor a container can reach the machine's real resolver", async (t) => {
  const h = hosts();
  const resolver = realResolver();
  if (!resolver || resolver.startsWith('127.')) {
    t.skip(`no non-loopback IPv4 resolver in /etc/resolv.conf (${resolver ?? 'none'})`);
    return;
  }
  // No route at all: the kernel refuses before a packet exists.
  const route = await h.exec(0, ['ip', 'route', 'get', resolver]);
  assert.notEqual(route.code, 0, route.stdout);
  assert.match(route.stderr, /unreachable/i);
  // A TCP connect (never a DNS query) with a 1 s bound, from a host, a container and the client.
  const fromHost = await h.exec(1, ['busybox', 'nc', '-w', '1', resolver, '53'], TIMEOUT);
  assert.notEqual(fromHost.code, 0, 'a host connected to the real resolver');
  const fromContainer = await h.docker(
    1,
    ['run', '--rm', 'busybox:local', 'nc', '-w', '1', resolver, '53'],
    TIMEOUT,
  );
  assert.notEqual(fromContainer.code, 0, 'a container connected to the real resolver');
  const fromOutside = await h.execOutside(['busybox', 'nc', '-w', '1', resolver, '53'], TIMEOUT);
  assert.notEqual(fromOutside.code, 0, 'the outside client connected to the real resolver');
});

test('ip netns add inside a host is private to that host', async () => {
  const h = hosts();
  assert.equal((await h.exec(0, ['ip', 'netns', 'add', 'shprobe'])).code, 0);
  const list = async (i: number): Promise<string> => (await h.exec(i, ['ip', 'netns', 'list'])).stdout;
  assert.match(await list(0), /shprobe/);
  assert.doesNotMatch(await list(1), /shprobe/);
  assert.doesNotMatch((await run('ip', ['netns', 'list'])).stdout, /shprobe/);
  // Usable: a veth into it, configured from the host.
  const r = await h.exec(0, [
    'sh',
    '-c',
    'ip link add shp0 type veth peer name eth1 netns shprobe && ip -n shprobe link set eth1 up && ip -n shprobe -br link',
  ]);
  assert.match(r.stdout, /eth1/, r.stderr);
  // Left in place on purpose: teardown must take it with the host.
  assert.equal((await h.exec(2, ['ip', 'netns', 'add', 'shleft'])).code, 0);
});

test('shoald runs inside hosts on their own engines, and two hosts form a swarm over the underlay', async () => {
  const h = hosts();
  const [m, w]: Shoald[] = await Promise.all([h.startShoald(0), h.startShoald(1)]);
  await m!.ok(['swarm', 'init', '--advertise-addr', h.addr(0)]);
  const token = (await m!.ok(['swarm', 'join-token', '-q', 'worker'])).trim();
  await w!.ok(['swarm', 'join', '--token', token, '--advertise-addr', h.addr(1), `${h.addr(0)}:2377`]);
  const nodes = async (): Promise<string> =>
    (await m!.ok(['node', 'ls', '--format', '{{.Hostname}} {{.Status}}'])).split('\n').sort().join(' ');
  await waitFor(
    'both nodes ready',
    async () => (await nodes()).includes('sh-h0 Ready sh-h1 Ready'),
    30_000,
    250,
  );
  await m!.ok([
    'service',
    'create',
    '--detach',
    '--mode',
    'global',
    '--name',
    'shg',
    'busybox:local',
    'sleep',
    '600',
  ]);
  // One task per node, each in that host's own dockerd.
  for (const i of [0, 1])
    await waitFor(
      `the global task on sh-h${i}`,
      async () =>
        (
          await h.docker(i, ['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=shg'])
        ).stdout.trim() !== '',
      60_000,
      250,
    );
  assert.equal((await h.docker(2, ['ps', '-q'])).stdout.trim(), '');
  // Through shoald's socket, the engine routes reach the node's own dockerd.
  assert.match(await m!.ok(['ps', '--format', '{{.Names}}']), /sh-probe/);
});

test('a create after a kill -9 of the harness works, and teardown leaves nothing behind', async () => {
  // A child creates hosts with a running container, then dies by SIGKILL with everything up.
  const code = `
    import { NsHosts } from ${JSON.stringify(new URL('../support/nshosts.js', import.meta.url).href)};
    const h = await NsHosts.create({ count: 2, prefix: '${CRASH_PREFIX}' });
    const r = await h.docker(1, ['run', '-d', 'busybox:local', 'sleep', '300']);
    if (r.code !== 0) throw new Error(r.stderr);
    process.stdout.write('up\\n');
    setInterval(() => undefined, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  await waitFor('the crashing harness up', () => Promise.resolve(out.includes('up')), 60_000, 50);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  assert.ok((await leftovers(CRASH_PREFIX)).length > 0, 'the killed harness left nothing to clean up?');

  const again = await NsHosts.create({
    count: 2,
    prefix: CRASH_PREFIX,
    log: (m) => process.stderr.write(`after the crash: ${m}\n`),
  });
  try {
    assert.equal((await again.docker(1, ['ps', '-aq'])).stdout.trim(), '', 'the old container survived');
    const r = await again.docker(
      0,
      ['run', '--rm', 'busybox:local', 'ping', '-c', '1', '-W', '2', again.addr(1)],
      TIMEOUT,
    );
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await again.stop();
  }
  assert.deepEqual(await leftovers(CRASH_PREFIX), []);

  // The main harness, with its containers, swarm, shoalds and a netns left inside a host.
  const ms = await hosts().stop();
  assert.deepEqual(await leftovers(PREFIX), []);
  // The machine's own containerd never saw a host's namespace (each host ran its own).
  for (const sock of ['/run/docker/containerd/containerd.sock', '/run/containerd/containerd.sock']) {
    if (!existsSync(sock)) continue;
    const ns = await run('ctr', ['--address', sock, 'namespaces', 'list', '-q'], TIMEOUT);
    assert.equal(ns.code, 0, ns.stderr);
    assert.doesNotMatch(ns.stdout, new RegExp(`^(${PREFIX}|${CRASH_PREFIX})h\\d`, 'm'));
  }
  assert.ok(ms < 30_000, `teardown took ${ms} ms`);
});
