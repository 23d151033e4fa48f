// Overlay networks across real hosts: three namespace hosts (test/support/nshosts.ts), each with
// its own dockerd and shoald, one swarm. What a user of a multi-service stack relies on: names
// (VIP, tasks., dnsrr, task names, aliases), the VIP's spread over backends on other hosts with
// the client's own address kept, changes followed within a bound, network-add/rm, the encrypted
// refusal, and a node killed with kill -9 leaving everyone's forwarding entries and VIP rules.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { NsHosts } from '../support/nshosts.js';
import { startOverlaySwarm, serviceVip as vipOf, WHO_SERVER } from '../support/overlayswarm.js';
import { waitFor, type Shoald } from '../support/shoald.js';

// Overridable so parallel worktrees keep their kernel objects apart.
const PREFIX = process.env.SHOAL_OVERLAY_PREFIX ?? 'ov';
let h: NsHosts;
let m: Shoald;
const nodes: Shoald[] = [];

const WEB = WHO_SERVER;

before(async () => {
  h = await NsHosts.create({ count: 3, prefix: PREFIX });
  // Tasks placed by label: the client on host 0, backends on hosts 1 and 2.
  const swarm = await startOverlaySwarm(h, { nodes: 3, network: 'app', subnet: '10.70.1.0/24' });
  nodes.push(...swarm.nodes);
  m = swarm.m;
});

after(async () => {
  // Each node's log, for a failure's post-mortem.
  for (const [i, n] of nodes.entries())
    await writeFile(`/tmp/shoal-overlay-${PREFIX}-node${i}.log`, n.log).catch(() => undefined);
  await h?.stop();
});

/** The container ID of a running task of a service on host i. */
async function taskContainer(i: number, service: string): Promise<string> {
  let id = '';
  await waitFor(
    `a running ${service} container on host ${i}`,
    async () => {
      id = (
        await h.docker(i, ['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${service}`])
      ).stdout
        .trim()
        .split('\n')[0]!;
      return id !== '';
    },
    60_000,
    250,
  );
  return id;
}

/** The addresses a name resolves to from inside a container (through the engine's embedded DNS). */
async function lookup(i: number, cid: string, name: string): Promise<string[]> {
  const r = await h.docker(i, ['exec', cid, 'nslookup', '-type=a', name]);
  if (r.code !== 0) return [];
  const lines = r.stdout.split('\n');
  const at = lines.findIndex((l) => l.startsWith('Name:'));
  if (at < 0) return [];
  return lines
    .slice(at)
    .filter((l) => l.startsWith('Address'))
    .map((l) => l.replace(/^Address( \d+)?:\s*/, '').trim())
    .sort();
}

/** GET /cgi-bin/who from inside a container (busybox-static's wget crashes on this machine, so over nc). */
async function fetchWho(i: number, cid: string, target: string): Promise<string> {
  const req = "printf 'GET /cgi-bin/who HTTP/1.0\\r\\n\\r\\n'";
  const r = await h.docker(i, ['exec', cid, 'sh', '-c', `${req} | nc -w 2 ${target} 80`]);
  const body = r.stdout.split(/\r?\n\r?\n/)[1]?.trim();
  return r.code === 0 && body ? body : `error: ${r.code} ${r.stdout.slice(0, 200)} ${r.stderr.trim()}`;
}

function serviceVip(service: string, network = 'app'): Promise<string> {
  return vipOf(m, service, network);
}

async function taskAddrs(service: string): Promise<string[]> {
  const ids = (await m.ok(['service', 'ps', '-q', '--filter', 'desired-state=running', service]))
    .trim()
    .split('\n');
  const out: string[] = [];
  for (const id of ids.filter(Boolean)) {
    const t = JSON.parse(await m.ok(['inspect', '--type', 'task', '--format', '{{json .}}', id])) as {
      Status: { State: string };
      NetworksAttachments?: { Network: { Spec: { Name: string } }; Addresses: string[] }[];
    };
    if (t.Status.State !== 'running') continue;
    for (const a of t.NetworksAttachments ?? [])
      if (a.Network.Spec.Name === 'app') out.push(a.Addresses[0]!.split('/')[0]!);
  }
  return out.sort();
}

let client = '';

test('services on one overlay reach each other by name across hosts, spread over backends, with the client address kept', async () => {
  await m.ok([
    'service',
    'create',
    '--detach',
    '--name',
    'web',
    '--network',
    'name=app,alias=www',
    '--replicas',
    '4',
    '--constraint',
    'node.labels.host!=0',
    '--hostname',
    '{{.Task.Name}}',
    'busybox:local',
    ...WEB,
  ]);
  await m.ok([
    'service',
    'create',
    '--detach',
    '--name',
    'client',
    '--network',
    'app',
    '--constraint',
    'node.labels.host==0',
    'busybox:local',
    'sleep',
    '1d',
  ]);
  client = await taskContainer(0, 'client');
  await taskContainer(1, 'web');
  await taskContainer(2, 'web');
  await waitFor('four running web tasks', async () => (await taskAddrs('web')).length === 4, 60_000, 250);
  const vip = await serviceVip('web');
  const backends = await taskAddrs('web');

  // name → VIP; tasks.<service> → every running task.
  await waitFor(
    'web resolves to its VIP',
    async () => (await lookup(0, client, 'web')).join() === vip,
    10_000,
    200,
  );
  assert.equal((await lookup(0, client, 'www')).join(), vip, 'a network alias answers as the name');
  await waitFor(
    'tasks.web resolves to every task',
    async () => (await lookup(0, client, 'tasks.web')).join() === backends.join(),
    10_000,
    200,
  );

  // Through the VIP: every backend answers (they sit on hosts 1 and 2), each sees the client's own address.
  const clientAddr = (await taskAddrs('client'))[0]!;
  const seen = new Map<string, number>();
  for (let n = 0; n < 16; n++) {
    const [who, seenAddr] = (await fetchWho(0, client, 'web')).split(' ');
    // httpd listens on IPv6 too and prints an IPv4 peer in its mapped form.
    const addr = seenAddr?.replace(/^\[::ffff:(.*)\]$/, '$1');
    assert.equal(addr, clientAddr, `the backend ${who} saw ${addr}, not the client's ${clientAddr}`);
    seen.set(who!, (seen.get(who!) ?? 0) + 1);
  }
  assert.equal(
    seen.size,
    4,
    `answers came from ${[...seen.keys()].join(', ')}\n${await m.ok(['service', 'ps', '--no-trunc', 'web'])}`,
  );
  for (const [who, count] of seen) assert.equal(count, 4, `${who} answered ${count} of 16 (round robin)`);

  // Inspect on a manager: the nodes that have the network, and this node's own endpoints.
  const inspect = JSON.parse(await m.ok(['network', 'inspect', '--format', '{{json .}}', 'app'])) as {
    Peers?: { Name: string; IP: string }[];
    Containers?: Record<string, unknown>;
  };
  assert.deepEqual((inspect.Peers ?? []).map((p) => p.IP).sort(), [h.addr(0), h.addr(1), h.addr(2)].sort());
  assert.ok(
    Object.keys(inspect.Containers ?? {}).some((id) => id.startsWith(client)),
    'the client task is a local endpoint',
  );

  // Egress: the node's outside world (here another host's underlay address) through the engine's
  // gateway bridge and its masquerade.
  const out = await h.docker(0, ['exec', client, 'ping', '-c', '1', '-W', '2', h.addr(1)]);
  assert.equal(out.code, 0, `egress to ${h.addr(1)}: ${out.stdout} ${out.stderr}`);

  // The task's own name answers too.
  const oneTask = [...seen.keys()][0]!;
  assert.equal((await lookup(0, client, oneTask)).length, 1);
});

test('dnsrr: the name returns the running tasks, in varying order', async () => {
  await m.ok([
    'service',
    'create',
    '--detach',
    '--name',
    'rr',
    '--network',
    'app',
    '--endpoint-mode',
    'dnsrr',
    '--replicas',
    '3',
    '--constraint',
    'node.labels.host!=0',
    'busybox:local',
    ...WEB,
  ]);
  await waitFor('three running rr tasks', async () => (await taskAddrs('rr')).length === 3, 60_000, 250);
  const want = (await taskAddrs('rr')).join();
  await waitFor(
    'rr resolves to its tasks',
    async () => (await lookup(0, client, 'rr')).join() === want,
    10_000,
    200,
  );
  const firsts = new Set<string>();
  for (let n = 0; n < 12 && firsts.size < 2; n++) {
    const who = await fetchWho(0, client, 'rr');
    if (!who.startsWith('error')) firsts.add(who.split(' ')[0]!);
  }
  assert.ok(firsts.size >= 2, 'dnsrr answers are shuffled, so more than one task gets connections');
});

test('scale and a killed task are followed by DNS and the VIP', async () => {
  await m.ok(['service', 'scale', '--detach', 'web=6']);
  await waitFor('six running web tasks', async () => (await taskAddrs('web')).length === 6, 60_000, 250);
  const six = (await taskAddrs('web')).join();
  await waitFor(
    'tasks.web follows the scale',
    async () => (await lookup(0, client, 'tasks.web')).join() === six,
    3_000,
    100,
  );

  // A backend container killed under the swarm leaves tasks.web and the VIP at once.
  const victim = await taskContainer(1, 'web');
  const victimAddr = (
    await h.docker(1, [
      'inspect',
      '--format',
      '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}',
      victim,
    ])
  ).stdout.trim();
  await h.docker(1, ['kill', victim]);
  await waitFor(
    'the killed task leaves tasks.web',
    async () => !(await lookup(0, client, 'tasks.web')).includes(victimAddr),
    3_000,
    100,
  );
  await m.ok(['service', 'scale', '--detach', 'web=4']);
  await waitFor('four running web tasks', async () => (await taskAddrs('web')).length === 4, 60_000, 250);
});

test('a task failing its health check leaves the name and the VIP', async () => {
  // Healthy while /tmp/ok exists: a task counts only once healthy, and leaves when it is not.
  await m.ok([
    'service',
    'create',
    '--detach',
    '--name',
    'hc',
    '--network',
    'app',
    '--replicas',
    '2',
    '--constraint',
    'node.labels.host!=0',
    '--health-cmd',
    'test -e /tmp/ok',
    '--health-interval',
    '500ms',
    '--health-retries',
    '1',
    'busybox:local',
    'sh',
    '-c',
    'touch /tmp/ok && exec sleep 1d',
  ]);
  await waitFor(
    'two healthy hc tasks',
    async () => (await lookup(0, client, 'tasks.hc')).length === 2,
    60_000,
    250,
  );
  const before = await lookup(0, client, 'tasks.hc');
  const sick = await taskContainer(1, 'hc');
  const sickAddr = (
    await h.docker(1, [
      'inspect',
      '--format',
      '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}',
      sick,
    ])
  ).stdout.trim();
  assert.ok(before.includes(sickAddr));
  await h.docker(1, ['exec', sick, 'rm', '/tmp/ok']);
  await waitFor(
    'the unhealthy task leaves tasks.hc',
    async () => !(await lookup(0, client, 'tasks.hc')).includes(sickAddr),
    10_000,
    100,
  );
  await m.ok(['service', 'rm', 'hc']);
});

test('service update --network-add and --network-rm attach and detach a running service', async () => {
  await m.ok(['network', 'create', '-d', 'overlay', 'side']);
  await m.ok(['service', 'update', '--detach', '--network-add', 'side', 'client']);
  await waitFor(
    'the client task on both networks',
    async () => {
      const id = (
        await h.docker(0, ['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=client'])
      ).stdout.trim();
      if (!id) return false;
      const nets = (
        await h.docker(0, [
          'inspect',
          '--format',
          '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}',
          id,
        ])
      ).stdout;
      if (nets.includes('side') && nets.includes('app')) {
        client = id;
        return true;
      }
      return false;
    },
    60_000,
    250,
  );
  await m.ok(['service', 'update', '--detach', '--network-rm', 'side', 'client']);
  await waitFor(
    'the client task off the side network',
    async () => {
      const id = (
        await h.docker(0, ['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=client'])
      ).stdout.trim();
      if (!id) return false;
      const nets = (
        await h.docker(0, [
          'inspect',
          '--format',
          '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}',
          id,
        ])
      ).stdout;
      if (!nets.includes('side') && nets.includes('app')) {
        client = id;
        return true;
      }
      return false;
    },
    60_000,
    250,
  );
  // A network in use is refused; once free it goes.
  await m.ok(['service', 'update', '--detach', '--network-add', 'side', 'rr']);
  const r = await m.docker(['network', 'rm', 'side']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /is in use by/);
});

test('--opt encrypted is refused clearly on this kernel', async () => {
  const r = await m.docker(['network', 'create', '-d', 'overlay', '--opt', 'encrypted', 'secret-net']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /CONFIG_INET_ESP/);
  assert.doesNotMatch(await m.ok(['network', 'ls', '--format', '{{.Name}}']), /secret-net/);
});

test('a standalone container on an --attachable network, run through shoald: an address, service names without --dns, resolved and reached by name from another host, released on rm', async () => {
  await m.ok(['network', 'create', '-d', 'overlay', '--attachable', '--subnet', '10.70.9.0/24', 'att']);
  await m.ok([
    'service',
    'create',
    '--detach',
    '--name',
    'attsvc',
    '--network',
    'att',
    '--replicas',
    '2',
    '--replicas-max-per-node',
    '1',
    '--constraint',
    'node.labels.host!=0',
    '--hostname',
    '{{.Task.Name}}',
    'busybox:local',
    ...WEB,
  ]);
  await taskContainer(1, 'attsvc');
  const peer = await taskContainer(2, 'attsvc');
  // As a user runs it: the docker CLI at the node's shoald, no --dns. shoald gives the container
  // the network's resolver (its gateway, where shoal's DNS answers), as a task's container has.
  const run = await nodes[1]!.docker([
    'run',
    '-d',
    '--name',
    'standalone',
    '--network',
    'att',
    'busybox:local',
    'sleep',
    '1d',
  ]);
  assert.equal(run.code, 0, run.stderr);
  try {
    assert.equal(
      (await h.docker(1, ['inspect', '--format', '{{json .HostConfig.Dns}}', 'standalone'])).stdout.trim(),
      '["10.70.9.1"]',
    );
    const ip = (
      await h.docker(1, [
        'inspect',
        '--format',
        '{{(index .NetworkSettings.Networks "att").IPAddress}}',
        'standalone',
      ])
    ).stdout.trim();
    assert.match(ip, /^10\.70\.9\.\d+$/);
    const vip = await serviceVip('attsvc', 'att');
    await waitFor(
      'standalone resolves attsvc to its VIP',
      async () => JSON.stringify(await lookup(1, 'standalone', 'attsvc')) === JSON.stringify([vip]),
      20_000,
      250,
    );
    let who = '';
    await waitFor(
      'standalone reaches attsvc through the VIP',
      async () => (who = await fetchWho(1, 'standalone', 'attsvc')).startsWith('attsvc.'),
      20_000,
      250,
    ).catch(async (e: Error) => {
      const diag = [
        who,
        (await h.docker(1, ['exec', 'standalone', 'ip', 'addr'])).stdout,
        (await h.docker(1, ['exec', 'standalone', 'ip', 'route'])).stdout,
        (await h.docker(1, ['exec', 'standalone', 'ping', '-c', '1', '-W', '2', vip])).stdout,
        (
          await h.exec(1, [
            'sh',
            '-c',
            'for n in $(ip netns list | cut -d" " -f1 | grep shoal-); do echo $n; ip -n $n addr; bridge -n $n fdb show | grep -v permanent; ip netns exec $n nft list ruleset; done',
          ])
        ).stdout,
      ];
      throw new Error(`${e.message}\n${diag.join('\n')}`);
    });
    assert.equal(
      who.split(' ')[1]?.replace(/^\[::ffff:(.*)\]$/, '$1'),
      ip,
      'the backend sees the standalone container address',
    );
    // A task on another host resolves it by its container name and reaches it. The name is
    // asked fully qualified: the peer's hostname (`attsvc.1.<task>`) has dots, and busybox's
    // nslookup then asks only `standalone.1.<task>` (its default search domain), never the bare
    // name; libc (ping below) asks the bare name first, as docker's `ndots:0` says.
    await waitFor(
      'a task on another host resolves the standalone container by name',
      async () => JSON.stringify(await lookup(2, peer, 'standalone.')) === JSON.stringify([ip]),
      20_000,
      250,
    ).catch(async (e: Error) => {
      const diag = [
        (await h.docker(2, ['exec', peer, 'nslookup', '-type=a', 'standalone.'])).stdout,
        // Straight to the node's resolver, past the engine's embedded DNS.
        (await h.docker(2, ['exec', peer, 'nslookup', '-type=a', 'standalone.', '10.70.9.1'])).stdout,
        nodes[1]!.log
          .split('\n')
          .filter((l) => /attachment/i.test(l))
          .slice(-20)
          .join('\n'),
      ];
      throw new Error(`${e.message}\n${diag.join('\n')}`);
    });
    const ping = await h.docker(2, ['exec', peer, 'ping', '-c', '1', '-W', '2', 'standalone']);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);

    // Host 0 holds no task on att, as a fresh worker: shoald attaches it on demand, as a swarm
    // node's dockerd asks its manager, so the create finds the network.
    const run0 = await nodes[0]!.docker(
      ['run', '-d', '--name', 'standalone0', '--network', 'att', 'busybox:local', 'sleep', '1d'],
      { timeoutMs: 60_000 },
    );
    assert.equal(run0.code, 0, run0.stderr);
    await waitFor(
      'standalone0 (on a node without att before) reaches attsvc by name',
      async () => (await fetchWho(0, 'standalone0', 'attsvc')).startsWith('attsvc.'),
      20_000,
      250,
    );
    // A network that is not attachable: the manager's refusal, in Docker's words.
    const refused = await nodes[0]!.docker([
      'run',
      '-d',
      '--name',
      'refused0',
      '--network',
      'app',
      'busybox:local',
      'true',
    ]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /not manually attachable/);
  } finally {
    await h.docker(1, ['rm', '-f', 'standalone']);
    await h.docker(0, ['rm', '-f', 'standalone0', 'refused0']);
  }
  await m.ok(['service', 'rm', 'attsvc']);
  await waitFor(
    'att removable',
    async () => (await m.docker(['network', 'rm', 'att'])).code === 0,
    60_000,
    500,
  );
});

test('a node killed with kill -9: its endpoints leave the other nodes forwarding entries and VIP', async () => {
  const addrsOn2 = (
    await h.docker(2, ['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=web'])
  ).stdout
    .trim()
    .split('\n')
    .filter(Boolean);
  assert.ok(addrsOn2.length > 0, 'host 2 runs web tasks');
  await nodes[2]!.stop('SIGKILL');
  await waitFor(
    'host 2 leaves host 0 forwarding entries',
    async () => {
      const ns = (await h.exec(0, ['ip', 'netns', 'list'])).stdout
        .split('\n')
        .map((l) => l.split(' ')[0]!)
        .filter((n) => n.startsWith('shoal-'));
      for (const n of ns) {
        const fdb = (await h.exec(0, ['bridge', '-n', n, 'fdb', 'show'])).stdout;
        if (fdb.includes(`dst ${h.addr(2)}`)) return false;
      }
      return ns.length > 0;
    },
    20_000,
    250,
  );
  // Every answer now comes from host 1's tasks.
  for (let n = 0; n < 6; n++) assert.match(await fetchWho(0, client, 'web'), /^web\./);
});
