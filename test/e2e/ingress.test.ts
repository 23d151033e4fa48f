// Published ports through the ingress routing mesh across real hosts: three namespace hosts
// (test/support/nshosts.ts), each with its own dockerd and shoald, one swarm, and an outside client
// in its own namespace on the underlay. Driven with the real docker CLI. What a user relies on:
// every node answers (also one without a task), answers come from tasks on other hosts, the task
// sees the client's own address, UDP, the port closes on `service rm`, an unhealthy task gets no
// request, affinity holds, publish-add/rm, host-mode ports, and a node killed with kill -9 leaves
// the mesh. Needs the manager's side of the mesh (the ingress view on every
// node with ports, affinity, snat and the node list). Hold /tmp/shoal-e2e.lock while it runs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { NsHosts } from '../support/nshosts.js';
import { startOverlaySwarm, whoServer } from '../support/overlayswarm.js';
import { waitFor, type Shoald } from '../support/shoald.js';

// Overridable so parallel worktrees keep their kernel objects apart.
const PREFIX = process.env.SHOAL_INGRESS_PREFIX ?? 'ig';
let h: NsHosts;
let m: Shoald;
const nodes: Shoald[] = [];
const udpServers: ChildProcess[] = [];

const WEB = whoServer;

/**
 * From the outside client: n sequential HTTP GETs of /cgi-bin/who (bounded), or UDP datagrams;
 * one JSON array of bodies ("<hostname> <peer>") or error codes.
 */
const CLIENT = `
const net = require('net'), dgram = require('dgram');
const [proto, host, port, n] = [process.argv[1], process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const out = [];
function one(i) {
  if (i >= n) { console.log(JSON.stringify(out)); return; }
  let done = false;
  if (proto === 'udp') {
    const u = dgram.createSocket('udp4');
    const fin = (r) => { if (done) return; done = true; clearTimeout(t); u.close(); out.push(r); one(i + 1); };
    const t = setTimeout(() => fin({ err: 'TIMEOUT' }), 2000);
    u.on('message', (m) => fin({ ok: String(m).trim() }));
    u.on('error', (e) => fin({ err: e.code }));
    u.send('hi\\n', port, host);
    return;
  }
  let data = '';
  const fin = (r) => { if (done) return; done = true; s.destroy(); out.push(r); one(i + 1); };
  const s = net.connect({ host, port, timeout: 3000 });
  s.on('connect', () => s.write('GET /cgi-bin/who HTTP/1.0\\r\\n\\r\\n'));
  s.on('data', (d) => (data += d));
  s.on('end', () => { const body = data.split(/\\r?\\n\\r?\\n/)[1]; fin(body ? { ok: body.trim() } : { err: 'EMPTY' }); });
  s.on('timeout', () => fin({ err: 'TIMEOUT' }));
  s.on('error', (e) => fin({ err: e.code }));
}
one(0);
`;

type Answer = { ok?: string; err?: string };

async function fromOutside(host: string, port: number, n: number, proto = 'tcp'): Promise<Answer[]> {
  const r = await h.execOutside([process.execPath, '-e', CLIENT, proto, host, String(port), String(n)], {
    timeoutMs: 10_000 + n * 3_500,
  });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Answer[];
}

/** "<hostname> [::ffff:a.b.c.d]" → [hostname, a.b.c.d]. */
function who(a: Answer): [string, string] {
  assert.ok(a.ok, `request failed: ${JSON.stringify(a)}`);
  const [name = '', peer = ''] = a.ok.split(' ');
  return [name, peer.replace(/^\[::ffff:(.*)\]$/, '$1')];
}

before(async () => {
  h = await NsHosts.create({ count: 3, prefix: PREFIX });
  // Tasks are placed by label: none on host 0, so it answers only through the mesh.
  const swarm = await startOverlaySwarm(h, { nodes: 3, network: 'front', subnet: '10.71.1.0/24' });
  nodes.push(...swarm.nodes);
  m = swarm.m;
});

after(async () => {
  for (const c of udpServers) c.kill('SIGKILL');
  for (const [i, n] of nodes.entries())
    await writeFile(`/tmp/shoal-ingress-node${i}.log`, n.log).catch(() => undefined);
  await h?.stop();
});

async function runningTasks(service: string): Promise<number> {
  const out = await m.ok([
    'service',
    'ps',
    '--filter',
    'desired-state=running',
    '--format',
    '{{.CurrentState}}',
    service,
  ]);
  return out.split('\n').filter((l) => l.startsWith('Running')).length;
}

/** Waits until every node answers the port with n distinct tasks (the views have reached all). */
async function waitServing(port: number, n: number): Promise<void> {
  await waitFor(
    `port ${port} served by ${n} tasks through every node`,
    async () => {
      for (let i = 0; i < 3; i++) {
        const answers = await fromOutside(h.addr(i), port, n * 2);
        if (answers.some((a) => !a.ok)) return false;
        if (new Set(answers.map((a) => who(a)[0])).size !== n) return false;
      }
      return true;
    },
    60_000,
    500,
  );
}

test("every node answers a published port, with tasks on other hosts, and the task sees the client's own address", async () => {
  await m.ok([
    'service',
    'create',
    '--detach',
    '--name',
    'web',
    '--publish',
    'published=8080,target=80',
    '--replicas',
    '2',
    '--constraint',
    'node.labels.host!=0',
    '--hostname',
    '{{.Task.Name}}',
    'busybox:local',
    ...WEB(),
  ]);
  await waitFor('two running web tasks', async () => (await runningTasks('web')) === 2, 60_000, 250);
  await waitServing(8080, 2);
  for (let i = 0; i < 3; i++) {
    const answers = await fromOutside(h.addr(i), 8080, 10);
    const names = new Map<string, number>();
    for (const a of answers) {
      const [name, peer] = who(a);
      assert.equal(peer, h.outside.addr, `via host ${i}: ${JSON.stringify(a)}`);
      names.set(name, (names.get(name) ?? 0) + 1);
    }
    assert.deepEqual([...names.values()], [5, 5], `round robin via host ${i}: ${JSON.stringify([...names])}`);
  }
});

/** A UDP responder: answers each datagram with its name and the sender's address. */
const UDP_SERVER = `
const u = require('dgram').createSocket('udp4');
u.on('message', (m, r) => u.send(process.argv[1] + ' ' + r.address, r.port, r.address));
u.bind(53, '0.0.0.0');
`;

test("UDP: a datagram to a published UDP port on any node is answered by a task, which sees the client's address", async () => {
  // busybox here has no UDP server: the machine's node answers in the task's network namespace
  // (the PID namespace is the machine's), and the task only holds that namespace.
  await m.ok([
    'service',
    'create',
    '--detach',
    '--name',
    'udp',
    '--publish',
    'published=8053,target=53,protocol=udp',
    '--mode',
    'global',
    '--constraint',
    'node.labels.host!=0',
    'busybox:local',
    'sleep',
    '1d',
  ]);
  await waitFor('two running udp tasks', async () => (await runningTasks('udp')) === 2, 60_000, 250);
  for (const i of [1, 2]) {
    const cid = (
      await h.docker(i, ['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=udp'])
    ).stdout.trim();
    const pid = (await h.docker(i, ['inspect', '--format', '{{.State.Pid}}', cid])).stdout.trim();
    udpServers.push(
      spawn('nsenter', ['-t', pid, '-n', process.execPath, '-e', UDP_SERVER, `udp${i}`], { stdio: 'ignore' }),
    );
  }
  for (let i = 0; i < 3; i++) {
    await waitFor(
      `UDP answers from both tasks through host ${i}`,
      async () => {
        const answers = await fromOutside(h.addr(i), 8053, 4, 'udp');
        if (answers.some((a) => !a.ok)) return false;
        for (const a of answers) assert.equal(a.ok!.split(' ')[1], h.outside.addr, JSON.stringify(a));
        return new Set(answers.map((a) => a.ok!.split(' ')[0])).size === 2;
      },
      30_000,
      500,
    );
  }
});

test('a task failing its health check gets none of 100 requests', async () => {
  await m.ok([
    'service',
    'create',
    '--detach',
    '--name',
    'hc',
    '--publish',
    'published=8082,target=80',
    '--replicas',
    '2',
    '--constraint',
    'node.labels.host!=0',
    '--hostname',
    '{{.Task.Name}}',
    '--health-cmd',
    'test ! -f /w/sick',
    '--health-interval',
    '1s',
    '--health-retries',
    '1',
    '--restart-delay',
    '30s',
    'busybox:local',
    ...WEB(),
  ]);
  await waitFor('two running hc tasks', async () => (await runningTasks('hc')) === 2, 60_000, 250);
  await waitServing(8082, 2);
  const sick = (await h.docker(1, ['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=hc'])).stdout
    .trim()
    .split('\n')[0]!;
  const sickName = (await h.docker(1, ['inspect', '--format', '{{.Config.Hostname}}', sick])).stdout.trim();
  await h.docker(1, ['exec', sick, 'touch', '/w/sick']);
  await waitFor(
    'the sick task out of the mesh',
    async () => {
      // Every answer from a healthy task: the dead one's window (its death until the views move
      // on) shows as timeouts, and is over too.
      const answers = await fromOutside(h.addr(0), 8082, 4);
      return answers.every((a) => a.ok !== undefined && !a.ok.startsWith(sickName));
    },
    30_000,
    250,
  );
  const answers = await fromOutside(h.addr(0), 8082, 100);
  for (const a of answers) assert.notEqual(who(a)[0], sickName);
});

test('affinity: one client reaches one task, through every node', async () => {
  await m.ok([
    'service',
    'create',
    '--detach',
    '--name',
    'sticky',
    '--publish',
    'published=8083,target=80',
    '--label',
    'shoal.lb.affinity=client-ip',
    '--replicas',
    '3',
    '--constraint',
    'node.labels.host!=0',
    '--hostname',
    '{{.Task.Name}}',
    'busybox:local',
    ...WEB(),
  ]);
  await waitFor('three running sticky tasks', async () => (await runningTasks('sticky')) === 3, 60_000, 250);
  await waitFor(
    'every node sends the client to one task',
    async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 3; i++)
        for (const a of await fromOutside(h.addr(i), 8083, 5)) seen.add(a.ok ? who(a)[0] : 'error');
      return seen.size === 1 && !seen.has('error');
    },
    30_000,
    500,
  );
  const seen = new Set<string>();
  for (let i = 0; i < 3; i++) for (const a of await fromOutside(h.addr(i), 8083, 10)) seen.add(who(a)[0]);
  assert.equal(seen.size, 1, [...seen].join(','));
});

test('publish-add opens a port on every node, publish-rm closes it again', async () => {
  await m.ok([
    'service',
    'create',
    '--detach',
    '--name',
    'late',
    '--constraint',
    'node.labels.host==1',
    '--hostname',
    '{{.Task.Name}}',
    'busybox:local',
    ...WEB(),
  ]);
  await waitFor('a running late task', async () => (await runningTasks('late')) === 1, 60_000, 250);
  await m.ok(['service', 'update', '--detach', '--publish-add', 'published=8090,target=80', 'late']);
  await waitServing(8090, 1);
  for (let i = 0; i < 3; i++) {
    const [a] = await fromOutside(h.addr(i), 8090, 1);
    assert.equal(who(a!)[1], h.outside.addr, `via host ${i}`);
  }
  await m.ok(['service', 'update', '--detach', '--publish-rm', 'published=8090,target=80', 'late']);
  await waitFor(
    'port 8090 refused everywhere after publish-rm',
    async () => {
      for (let i = 0; i < 3; i++)
        if ((await fromOutside(h.addr(i), 8090, 1))[0]?.err !== 'ECONNREFUSED') return false;
      return true;
    },
    30_000,
    250,
  );
  await m.ok(['service', 'rm', 'late']);
});

test('a host-mode port answers only where its task runs, straight to it with the client address; a second task on that node waits', async () => {
  await m.ok([
    'service',
    'create',
    '--detach',
    '--name',
    'hostmode',
    '--publish',
    'mode=host,published=8095,target=80',
    '--constraint',
    'node.labels.host==2',
    '--hostname',
    '{{.Task.Name}}',
    'busybox:local',
    ...WEB(),
  ]);
  await waitFor('a running hostmode task', async () => (await runningTasks('hostmode')) === 1, 60_000, 250);
  let answer: Answer | undefined;
  await waitFor(
    'host 2 answers 8095',
    async () => (answer = (await fromOutside(h.addr(2), 8095, 1))[0])?.ok !== undefined,
    30_000,
    250,
  );
  const [name, peer] = who(answer!);
  assert.match(name, /^hostmode\./);
  assert.equal(peer, h.outside.addr);
  for (const i of [0, 1])
    assert.equal((await fromOutside(h.addr(i), 8095, 1))[0]?.err, 'ECONNREFUSED', `host ${i}`);
  // Host 2 is the only node allowed, and its port is taken: the scheduler says so, as Swarm's filter.
  await m.ok(['service', 'scale', '--detach', 'hostmode=2']);
  let ps = '';
  await waitFor(
    'the second task pending on the host port',
    async () =>
      (ps = await m.ok([
        'service',
        'ps',
        '--no-trunc',
        '--format',
        '{{.CurrentState}} {{.Error}}',
        'hostmode',
      ])).includes('host-mode port already in use on 1 node'),
    30_000,
    250,
  ).catch((e: Error) => {
    throw new Error(`${e.message}: ${ps}`);
  });
  await m.ok(['service', 'rm', 'hostmode']);
});

test('the port closes on every node after docker service rm', async () => {
  await m.ok(['service', 'rm', 'web']);
  await waitFor(
    'port 8080 refused everywhere',
    async () => {
      for (let i = 0; i < 3; i++)
        if ((await fromOutside(h.addr(i), 8080, 1))[0]?.err !== 'ECONNREFUSED') return false;
      return true;
    },
    10_000,
    250,
  );
});

test("a node killed with kill -9 leaves the mesh: every node's answers come from the tasks left", async () => {
  await m.ok([
    'service',
    'create',
    '--detach',
    '--name',
    'survivor',
    '--publish',
    'published=8099,target=80',
    '--replicas',
    '2',
    '--replicas-max-per-node',
    '1',
    '--constraint',
    'node.labels.host!=0',
    '--hostname',
    '{{.Task.Name}}',
    'busybox:local',
    ...WEB(),
  ]);
  await waitFor(
    'two running survivor tasks',
    async () => (await runningTasks('survivor')) === 2,
    60_000,
    250,
  );
  await waitServing(8099, 2);
  const onHost2 = (
    await h.docker(2, [
      'ps',
      '--format',
      '{{.Names}}',
      '--filter',
      'label=com.docker.swarm.service.name=survivor',
    ])
  ).stdout.trim();
  assert.match(onHost2, /^survivor\./);
  // Host 2's shoald dies; its dockerd and task keep running, unreachable to the swarm's control.
  await nodes[2]!.stop('SIGKILL');
  await waitFor(
    "host 2's task out of the mesh of hosts 0 and 1",
    async () => {
      for (const i of [0, 1]) {
        const answers = await fromOutside(h.addr(i), 8099, 6);
        if (answers.some((a) => !a.ok || who(a)[0] === onHost2)) return false;
      }
      return true;
    },
    30_000,
    250,
  );
});
