// The ingress routing mesh on real namespaces: three fake hosts (netns n3i-<run>-h1..h3) and an
// outside client on an underlay bridge (its own netns), each host running a NodeDataPlane with an
// IngressMesh whose "node namespace" is the host netns (every command prefixed with nsenter). Tasks
// sit on h2 and h3 only; each has the ingress interface plus a default route elsewhere (as
// docker_gwbridge gives real tasks), and gets its reply route from ShoalTaskNetworking.started().
// Root only; nothing leaves these namespaces.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sh, shOk } from './support/sh.js';
import type { EndpointView, NetworkView, ServiceView, Task } from '../src/api/index.js';
import {
  execRunner,
  IngressMesh,
  macOf,
  NodeDataPlane,
  Sandboxes,
  ShoalTaskNetworking,
} from '../src/network/index.js';

const exec = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const skip = !isRoot ? 'needs root' : !existsSync('/usr/sbin/nft') ? 'needs nft' : false;
const RUN = (process.pid % 46656).toString(36);
const TNS = (id: string): string => `n3i-${RUN}-${id}`;

const HOSTS = [
  { ns: TNS('h1'), node: 'n1', addr: '10.97.0.1', ingress: '10.0.0.2', prefix: TNS('a-') },
  { ns: TNS('h2'), node: 'n2', addr: '10.97.0.2', ingress: '10.0.0.3', prefix: TNS('b-') },
  { ns: TNS('h3'), node: 'n3', addr: '10.97.0.3', ingress: '10.0.0.4', prefix: TNS('c-') },
] as const;
const UNDERLAY = TNS('ul');
const CLIENT_NS = TNS('cl');
const CLIENT_IP = '10.97.0.100';
const VNI = 4096;
const NET_ID = 'ingress1';

interface TaskNs {
  id: string;
  host: 1 | 2;
  ip: string;
}
const TASKS: TaskNs[] = [
  { id: 't2', host: 1, ip: '10.0.0.12' },
  { id: 't3', host: 2, ip: '10.0.0.13' },
];

function endpoint(t: TaskNs, ready = true): EndpointView {
  const h = HOSTS[t.host];
  return {
    id: t.id,
    name: t.id,
    serviceId: 'web',
    aliases: [],
    addresses: [`${t.ip}/24`],
    nodeId: h.node,
    nodeAddr: h.addr,
    ready,
  };
}

interface ViewOpts {
  ready?: Record<string, boolean>;
  affinity?: boolean;
  snat?: boolean;
  removed?: boolean;
}
function view(host: number, o: ViewOpts = {}): NetworkView {
  const web: ServiceView = {
    id: 'web',
    name: 'web',
    mode: 'vip',
    aliases: [],
    ports: [
      { protocol: 'tcp', published: 8080, target: 80 },
      { protocol: 'udp', published: 8053, target: 53 },
    ],
    ...(o.affinity ? { affinity: 'client-ip' as const } : {}),
    ...(o.snat ? { snat: true } : {}),
  };
  const empty: ServiceView = {
    id: 'empty',
    name: 'empty',
    mode: 'vip',
    aliases: [],
    ports: [{ protocol: 'tcp', published: 8081, target: 80 }],
  };
  return {
    id: NET_ID,
    name: 'ingress',
    vni: VNI,
    subnets: [{ subnet: '10.0.0.0/24', gateway: '10.0.0.1' }],
    attachable: false,
    internal: false,
    ingress: true,
    options: {},
    nodeAddress: `${HOSTS[host]!.ingress}/24`,
    endpoints: o.removed ? [] : TASKS.map((t) => endpoint(t, o.ready?.[t.id] ?? true)),
    services: o.removed ? [empty] : [web, empty],
    nodes: HOSTS.map((h) => ({ nodeId: h.node, nodeAddr: h.addr, address: `${h.ingress}/24` })),
  };
}

const SERVER = `
const net = require('net'), dgram = require('dgram');
const id = process.argv[2];
net.createServer((s) => { s.on('error', () => {}); s.end(JSON.stringify({ id, peer: s.remoteAddress })); })
  .listen(80, '0.0.0.0', () => {
    const u = dgram.createSocket('udp4');
    u.on('message', (m, r) => u.send(JSON.stringify({ id, peer: r.address }), r.port, r.address));
    u.bind(53, '0.0.0.0', () => console.log('ready'));
  });
`;
// Connects n times, one at a time, each bounded; prints one JSON array of answers or error codes.
const CLIENT = `
const net = require('net'), dgram = require('dgram');
const [proto, host, port, n] = [process.argv[2], process.argv[3], Number(process.argv[4]), Number(process.argv[5])];
const out = [];
function one(i) {
  if (i >= n) { console.log(JSON.stringify(out)); return; }
  let done = false;
  if (proto === 'udp') {
    const u = dgram.createSocket('udp4');
    const fin = (r) => { if (done) return; done = true; clearTimeout(t); u.close(); out.push(r); one(i + 1); };
    const t = setTimeout(() => fin({ err: 'TIMEOUT' }), 2000);
    u.on('message', (m) => fin({ ok: JSON.parse(String(m)) }));
    u.on('error', (e) => fin({ err: e.code }));
    u.send('hi', port, host);
    return;
  }
  let data = '';
  const t0 = Date.now();
  const fin = (r) => { if (done) return; done = true; s.destroy(); r.ms = Date.now() - t0; out.push(r); one(i + 1); };
  const s = net.connect({ host, port, timeout: 3000 });
  s.on('data', (d) => (data += d));
  s.on('end', () => fin({ ok: JSON.parse(data) }));
  s.on('timeout', () => fin({ err: 'TIMEOUT' }));
  s.on('error', (e) => fin({ err: e.code }));
}
one(0);
`;

type Answer = { ok?: { id: string; peer: string }; err?: string; ms?: number };

let dir = '';
const planes: NodeDataPlane[] = [];
const children: ChildProcess[] = [];

async function connectMany(
  fromNs: string,
  host: string,
  n: number,
  proto = 'tcp',
  port = 8080,
): Promise<Answer[]> {
  const argv = [
    'netns',
    'exec',
    fromNs,
    process.execPath,
    join(dir, 'client.cjs'),
    proto,
    host,
    String(port),
    String(n),
  ];
  const { stdout } = await exec('ip', argv, { timeout: 5_000 + n * 3_500 });
  return JSON.parse(stdout) as Answer[];
}

async function applyAll(o: ViewOpts = {}): Promise<void> {
  planes.forEach((p, i) => p.apply([view(i, o)]));
  for (const p of planes) await p.settled();
}

async function cleanup(): Promise<void> {
  for (const c of children) c.kill('SIGKILL');
  for (const p of planes) {
    await p.stop();
    await p.teardown().catch(() => {});
  }
  for (const t of TASKS) await shOk('ip', 'netns', 'del', TNS(t.id));
  for (const h of HOSTS) await shOk('ip', 'netns', 'del', h.ns);
  await shOk('ip', 'netns', 'del', CLIENT_NS);
  await shOk('ip', 'netns', 'del', UNDERLAY);
  const left = (await sh('ip', 'netns', 'list').catch(() => ''))
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '');
  for (const ns of left) if (HOSTS.some((h) => ns.startsWith(h.prefix))) await shOk('ip', 'netns', 'del', ns);
  if (dir) await rm(dir, { recursive: true, force: true });
}

function waitReady(c: ChildProcess, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start`)), 5_000);
    c.stdout!.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

before(async () => {
  if (skip) return;
  await cleanup();
  dir = await mkdtemp('/tmp/n3i-');
  await writeFile(join(dir, 'server.cjs'), SERVER);
  await writeFile(join(dir, 'client.cjs'), CLIENT);
  await sh('ip', 'netns', 'add', UNDERLAY);
  await sh('ip', '-n', UNDERLAY, 'link', 'add', 'br0', 'type', 'bridge');
  await sh('ip', '-n', UNDERLAY, 'link', 'set', 'br0', 'up');
  const attach = async (ns: string, port: string, addr: string): Promise<void> => {
    await sh('ip', 'netns', 'add', ns);
    await sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    await sh('ip', '-n', UNDERLAY, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    await sh('ip', '-n', UNDERLAY, 'link', 'set', port, 'master', 'br0', 'up');
    await sh('ip', '-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
    await sh('ip', '-n', ns, 'link', 'set', 'eth0', 'up');
  };
  await attach(CLIENT_NS, 'cl', CLIENT_IP);
  for (const [i, h] of HOSTS.entries()) {
    await attach(h.ns, `h${i + 1}`, h.addr);
    const run = execRunner({ prefix: ['nsenter', `--net=/run/netns/${h.ns}`] });
    const sandboxes = new Sandboxes({ nodeId: h.node, underlayAddr: () => h.addr, nsPrefix: h.prefix, run });
    const mesh = new IngressMesh({ nodeId: h.node, run });
    const plane = new NodeDataPlane({
      sandboxes,
      ingress: mesh,
      retry: { minMs: 100, maxMs: 1000 },
      resyncMs: 0,
    });
    plane.start();
    planes.push(plane);
  }
  await applyAll();
  for (const t of TASKS) {
    const h = HOSTS[t.host];
    const tns = TNS(t.id);
    await sh('ip', 'netns', 'add', tns);
    await sh(
      'ip',
      '-n',
      h.ns,
      'link',
      'add',
      `n3${t.id}`,
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      tns,
    );
    await sh('ip', '-n', tns, 'link', 'set', 'lo', 'up');
    await sh('ip', '-n', tns, 'link', 'set', 'eth0', 'address', macOf(t.ip), 'mtu', '1450', 'up');
    await sh('ip', '-n', tns, 'addr', 'add', `${t.ip}/24`, 'dev', 'eth0');
    // As docker_gwbridge: the task's default route is not the ingress network.
    await sh(
      'ip',
      '-n',
      h.ns,
      'link',
      'add',
      `n3g${t.id}`,
      'type',
      'veth',
      'peer',
      'name',
      'eth1',
      'netns',
      tns,
    );
    await sh('ip', '-n', h.ns, 'addr', 'add', '172.31.0.1/24', 'dev', `n3g${t.id}`);
    await sh('ip', '-n', h.ns, 'link', 'set', `n3g${t.id}`, 'up');
    await sh('ip', '-n', tns, 'addr', 'add', '172.31.0.2/24', 'dev', 'eth1');
    await sh('ip', '-n', tns, 'link', 'set', 'eth1', 'up');
    await sh('ip', '-n', tns, 'route', 'add', 'default', 'via', '172.31.0.1');
    await planes[t.host]!.sandboxes.plug(NET_ID, `n3${t.id}`);
    const srv = spawn('ip', ['netns', 'exec', tns, process.execPath, join(dir, 'server.cjs'), t.id], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(srv);
    await waitReady(srv, `server ${t.id}`);
    // The reply route, as the executor asks for it once the container runs.
    const tn = new ShoalTaskNetworking({
      view: () => view(t.host),
      networks: { ensure: () => Promise.resolve('') },
      sandboxes: { ensure: () => Promise.resolve('') },
      log: (m) => assert.fail(m),
    });
    const task = {
      ID: t.id,
      NetworksAttachments: [
        { Network: { ID: NET_ID, Spec: { Name: 'ingress' } }, Addresses: [`${t.ip}/24`] },
      ],
    } as unknown as Task;
    await tn.started(task, { id: t.id, pid: srv.pid! });
  }
});

after(async () => {
  if (!skip) await cleanup();
});

function tally(answers: Answer[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const a of answers) {
    assert.ok(a.ok, `request failed: ${JSON.stringify(a)}`);
    counts.set(a.ok.id, (counts.get(a.ok.id) ?? 0) + 1);
  }
  return counts;
}

test(
  "every node answers the published port, tasks on other hosts answer, and each sees the client's own address",
  { skip },
  async () => {
    for (const h of HOSTS) {
      const answers = await connectMany(CLIENT_NS, h.addr, 10);
      const counts = tally(answers);
      for (const a of answers) assert.equal(a.ok!.peer, CLIENT_IP, `via ${h.node}: ${JSON.stringify(a)}`);
      // A lost SYN or reply would show as a retransmission, a second or more.
      for (const a of answers) assert.ok((a.ms ?? 0) < 900, `slow via ${h.node}: ${JSON.stringify(answers)}`);
      assert.deepEqual([...counts.keys()].sort(), ['t2', 't3'], `via ${h.node}`);
      assert.deepEqual([...counts.values()], [5, 5], `round robin via ${h.node}`);
    }
  },
);

test('UDP: a datagram to any node is answered by a task, from the published port', { skip }, async () => {
  for (const h of HOSTS) {
    const answers = await connectMany(CLIENT_NS, h.addr, 4, 'udp', 8053);
    const counts = tally(answers);
    for (const a of answers) assert.equal(a.ok!.peer, CLIENT_IP);
    assert.ok(counts.size >= 1);
  }
});

test('the node itself reaches the published port on its own address and on loopback', { skip }, async () => {
  for (const target of [HOSTS[0].addr, '127.0.0.1']) {
    const answers = await connectMany(HOSTS[0].ns, target, 4);
    tally(answers);
  }
});

test('a published port without a ready backend resets, not hangs', { skip }, async () => {
  const answers = await connectMany(CLIENT_NS, HOSTS[0].addr, 2, 'tcp', 8081);
  for (const a of answers) assert.equal(a.err, 'ECONNREFUSED');
});

test('a task that is not ready gets none of 20 requests; SNAT shows the node address', { skip }, async () => {
  try {
    await applyAll({ ready: { t2: false } });
    const counts = tally(await connectMany(CLIENT_NS, HOSTS[0].addr, 20));
    assert.deepEqual([...counts], [['t3', 20]]);
    await applyAll({ snat: true });
    const answers = await connectMany(CLIENT_NS, HOSTS[0].addr, 4);
    tally(answers);
    for (const a of answers) assert.equal(a.ok!.peer, HOSTS[0].ingress, JSON.stringify(a));
  } finally {
    await applyAll();
  }
});

test('affinity: one client always reaches the same task, through every node', { skip }, async () => {
  try {
    await applyAll({ affinity: true });
    const seen = new Set<string>();
    for (const h of HOSTS)
      for (const id of tally(await connectMany(CLIENT_NS, h.addr, 6)).keys()) seen.add(id);
    assert.equal(seen.size, 1, [...seen].join(','));
  } finally {
    await applyAll();
  }
});

test('removing the service closes its port on every node', { skip }, async () => {
  try {
    await applyAll({ removed: true });
    for (const h of HOSTS) {
      const answers = await connectMany(CLIENT_NS, h.addr, 1);
      assert.equal(answers[0]!.err, 'ECONNREFUSED');
    }
  } finally {
    await applyAll();
  }
});

test(
  'a task without its reply route still answers: its node SNATs to it, so it sees that node',
  { skip },
  async () => {
    const t3 = TNS('t3');
    try {
      await sh('ip', '-n', t3, 'rule', 'del', 'pref', '100');
      planes[2]!.replyRouteFailed('10.0.0.13');
      await planes[2]!.settled();
      await applyAll({ ready: { t2: false } });
      const answers = await connectMany(CLIENT_NS, HOSTS[0].addr, 4);
      tally(answers);
      for (const a of answers) assert.deepEqual(a.ok, { id: 't3', peer: HOSTS[2].ingress });
    } finally {
      await shOk('ip', '-n', t3, 'rule', 'add', 'pref', '100', 'from', '10.0.0.13', 'lookup', '200');
      await applyAll();
    }
  },
);
