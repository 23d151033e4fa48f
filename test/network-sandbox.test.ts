// The node data plane on real namespaces: two fake hosts (netns sn-<run>-h1, -h2) joined by a veth
// underlay, each running its own NodeDataPlane whose "daemon namespace" is the host netns (test
// plumbing: every command is prefixed with nsenter). Task namespaces get veths plugged with plug(),
// addressed and MAC'd as the engine plugin will. Root only; nothing leaves these namespaces.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sh, shOk } from './support/sh.js';
import type { EndpointView, NetworkView } from '../src/api/index.js';
import { execRunner, macOf, NodeDataPlane, Sandboxes } from '../src/network/index.js';

const exec = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const skip = !isRoot ? 'needs root' : !existsSync('/usr/sbin/nft') ? 'needs nft' : false;
// Per run, so that two runs of the suite on one machine do not share namespace names.
const RUN = (process.pid % 46656).toString(36);
const TNS = (id: string): string => `sn-${RUN}-${id}`;

const HOSTS = [
  { ns: TNS('h1'), node: 'n1', addr: '10.98.0.1', prefix: TNS('a-') },
  { ns: TNS('h2'), node: 'n2', addr: '10.98.0.2', prefix: TNS('b-') },
] as const;
const VNI = 4242;
const NET_ID = 'net1';
const VIP = '10.0.9.2';
const DEAD_VIP = '10.0.9.3';

interface TaskNs {
  id: string;
  host: 0 | 1;
  ip: string;
  service?: string;
}
const TASKS: TaskNs[] = [
  { id: 't1', host: 0, ip: '10.0.9.11', service: 'web' },
  { id: 't2', host: 1, ip: '10.0.9.12', service: 'web' },
  { id: 't4', host: 1, ip: '10.0.9.14', service: 'web' },
  { id: 'c1', host: 0, ip: '10.0.9.21' },
];

function endpoint(t: TaskNs, ready = true): EndpointView {
  const h = HOSTS[t.host];
  const ep: EndpointView = {
    id: t.id,
    name: t.id,
    aliases: [],
    addresses: [`${t.ip}/24`],
    nodeId: h.node,
    nodeAddr: h.addr,
    ready,
  };
  if (t.service !== undefined) ep.serviceId = t.service;
  return ep;
}

function view(tasks: TaskNs[]): NetworkView {
  return {
    id: NET_ID,
    name: 'snnet',
    vni: VNI,
    subnets: [{ subnet: '10.0.9.0/24', gateway: '10.0.9.1' }],
    attachable: false,
    internal: false,
    ingress: false,
    options: {},
    endpoints: tasks.map((t) => endpoint(t)),
    services: [
      { id: 'web', name: 'web', mode: 'vip', vip: VIP, aliases: [] },
      { id: 'empty', name: 'empty', mode: 'vip', vip: DEAD_VIP, aliases: [] },
    ],
  };
}

const SERVER = `
const net = require('net');
const id = process.argv[2];
net.createServer((s) => { s.on('error', () => {}); s.end(JSON.stringify({ id, peer: s.remoteAddress })); })
  .listen(80, '0.0.0.0', () => console.log('ready'));
`;
// Connects n times, one at a time, each bounded; prints one JSON array of answers or error codes.
const CLIENT = `
const net = require('net');
const [host, port, n, gap] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5] ?? 0)];
const out = [];
function one(i) {
  if (i >= n) { console.log(JSON.stringify(out)); return; }
  const t0 = Date.now();
  let data = '', done = false;
  const fin = (r) => { if (done) return; done = true; s.destroy(); out.push(r); setTimeout(() => one(i + 1), gap); };
  const s = net.connect({ host, port, timeout: 3000 });
  s.on('data', (d) => (data += d));
  s.on('end', () => fin({ ok: JSON.parse(data), ms: Date.now() - t0 }));
  s.on('timeout', () => fin({ err: 'TIMEOUT', ms: Date.now() - t0 }));
  s.on('error', (e) => fin({ err: e.code, ms: Date.now() - t0 }));
}
one(0);
`;

type Answer = { ok?: { id: string; peer: string }; err?: string; ms: number };

let dir = '';
const planes: NodeDataPlane[] = [];
const servers: ChildProcess[] = [];

async function connectMany(fromNs: string, host: string, n: number, gapMs = 0): Promise<Answer[]> {
  const client = join(dir, 'client.cjs');
  const argv = ['netns', 'exec', fromNs, process.execPath, client, host, '80', String(n), String(gapMs)];
  const { stdout } = await exec('ip', argv, { timeout: 5_000 + n * (3_500 + gapMs) });
  return JSON.parse(stdout) as Answer[];
}

async function cleanup(): Promise<void> {
  for (const s of servers) s.kill('SIGKILL');
  for (const p of planes) {
    await p.stop();
    await p.teardown().catch(() => {});
  }
  for (const t of TASKS) await shOk('ip', 'netns', 'del', TNS(t.id));
  for (const h of HOSTS) await shOk('ip', 'netns', 'del', h.ns);
  // Sandboxes a failed teardown may have left.
  const left = (await sh('ip', 'netns', 'list').catch(() => ''))
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '');
  for (const ns of left)
    if (ns.startsWith(HOSTS[0].prefix) || ns.startsWith(HOSTS[1].prefix))
      await shOk('ip', 'netns', 'del', ns);
  if (dir) await rm(dir, { recursive: true, force: true });
}

before(async () => {
  if (skip) return;
  await cleanup();
  dir = await mkdtemp('/tmp/sn-');
  await writeFile(join(dir, 'server.cjs'), SERVER);
  await writeFile(join(dir, 'client.cjs'), CLIENT);
  for (const h of HOSTS) {
    await sh('ip', 'netns', 'add', h.ns);
    await sh('ip', '-n', h.ns, 'link', 'set', 'lo', 'up');
  }
  await sh(
    'ip',
    '-n',
    HOSTS[0].ns,
    'link',
    'add',
    'eth0',
    'type',
    'veth',
    'peer',
    'name',
    'eth0',
    'netns',
    HOSTS[1].ns,
  );
  for (const h of HOSTS) {
    await sh('ip', '-n', h.ns, 'addr', 'add', `${h.addr}/24`, 'dev', 'eth0');
    await sh('ip', '-n', h.ns, 'link', 'set', 'eth0', 'up');
    const sandboxes = new Sandboxes({
      nodeId: h.node,
      underlayAddr: () => h.addr,
      nsPrefix: h.prefix,
      run: execRunner({ prefix: ['nsenter', `--net=/run/netns/${h.ns}`] }),
    });
    const plane = new NodeDataPlane({ sandboxes, retry: { minMs: 100, maxMs: 1000 }, resyncMs: 0 });
    plane.start();
    planes.push(plane);
  }
  for (const p of planes) p.apply([view(TASKS)]);
  for (const p of planes) await p.settled();
  for (const t of TASKS) {
    const h = HOSTS[t.host];
    const tns = TNS(t.id);
    const port = `sn${t.id}`;
    await sh('ip', 'netns', 'add', tns);
    await sh('ip', '-n', h.ns, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', tns);
    await sh('ip', '-n', tns, 'link', 'set', 'lo', 'up');
    await sh('ip', '-n', tns, 'link', 'set', 'eth0', 'address', macOf(t.ip), 'mtu', '1450', 'up');
    await sh('ip', '-n', tns, 'addr', 'add', `${t.ip}/24`, 'dev', 'eth0');
    await sh('ip', '-n', tns, 'route', 'add', 'default', 'via', '10.0.9.1');
    await planes[t.host]!.sandboxes.plug(NET_ID, port);
    if (t.service !== undefined) {
      const srv = spawn('ip', ['netns', 'exec', tns, process.execPath, join(dir, 'server.cjs'), t.id], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`server ${t.id} did not start`)), 5_000);
        srv.stdout!.once('data', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
});

after(async () => {
  if (!skip) await cleanup();
});

test(
  'tasks on two hosts reach each other over VXLAN; the sandboxes hold the bridge, tunnel and addresses',
  { skip },
  async () => {
    await sh('ip', 'netns', 'exec', TNS('t1'), 'busybox', 'ping', '-c', '2', '-W', '2', '10.0.9.12');
    await sh('ip', 'netns', 'exec', TNS('t2'), 'busybox', 'ping', '-c', '1', '-W', '2', '10.0.9.21');
    const addrs = await sh('ip', '-n', `${HOSTS[0].prefix}${VNI}`, '-br', 'addr', 'show', 'dev', 'br0');
    for (const a of ['10.0.9.1/24', `${VIP}/32`, `${DEAD_VIP}/32`])
      assert.match(addrs, new RegExp(a.replace(/\./g, '\\.')));
    const link = await sh('ip', '-n', `${HOSTS[0].prefix}${VNI}`, '-d', 'link', 'show', `vxlan${VNI}`);
    assert.match(link, /mtu 1450/);
    assert.match(link, /master br0/);
    assert.match(link, /local 10\.98\.0\.1/);
    const hairpin = await sh('ip', '-n', `${HOSTS[0].prefix}${VNI}`, '-d', 'link', 'show', 'snt1');
    assert.match(hairpin, /hairpin on/);
  },
);

test(
  "a VIP spreads connections over backends on both hosts, and each backend sees the client task's own address",
  { skip },
  async () => {
    const answers = await connectMany(TNS('c1'), VIP, 30);
    const counts = new Map<string, number>();
    for (const a of answers) {
      assert.ok(a.ok, `connection failed: ${JSON.stringify(a)}`);
      assert.equal(a.ok.peer, '10.0.9.21');
      counts.set(a.ok.id, (counts.get(a.ok.id) ?? 0) + 1);
    }
    assert.deepEqual([...counts.keys()].sort(), ['t1', 't2', 't4']);
    for (const n of counts.values()) assert.equal(n, 10, `round robin: ${JSON.stringify([...counts])}`);
  },
);

test('hairpin: a task reaches its own VIP, also when it is picked as the backend', { skip }, async () => {
  for (const from of [TNS('t1'), TNS('t2')]) {
    const answers = await connectMany(from, VIP, 6);
    for (const a of answers) assert.ok(a.ok, `${from} to its VIP: ${JSON.stringify(a)}`);
    const ids = answers.map((a) => a.ok!.id);
    assert.ok(ids.includes(from.slice(-2)), `${from} was never its own backend: ${ids.join(',')}`);
  }
});

test(
  'rewriting the VIP table while connections run never leaves the VIP answering nothing',
  { skip },
  async () => {
    let clientDone = false;
    const client = connectMany(TNS('c1'), VIP, 40, 50).finally(() => (clientDone = true));
    // Flip one backend's readiness while the client connects: each apply rewrites the whole
    // table on both hosts.
    let flips = 0;
    for (let i = 0; !clientDone && i < 40; i++, flips++) {
      const v = view(TASKS);
      v.endpoints.find((e) => e.id === 't4')!.ready = i % 2 === 1;
      for (const p of planes) p.apply([v]);
      for (const p of planes) await p.settled();
    }
    for (const p of planes) p.apply([view(TASKS)]);
    for (const p of planes) await p.settled();
    const answers = await client;
    assert.ok(flips >= 3, `only ${flips} rewrites overlapped the connections`);
    assert.equal(answers.length, 40);
    for (const a of answers) assert.ok(a.ok, `connection failed during rewrites: ${JSON.stringify(a)}`);
  },
);

test('a VIP with no ready backend refuses at once rather than hanging', { skip }, async () => {
  const answers = await connectMany(TNS('c1'), DEAD_VIP, 3);
  for (const a of answers) {
    assert.equal(a.err, 'ECONNREFUSED');
    assert.ok(a.ms < 2000, `took ${a.ms} ms`);
  }
});

test(
  'an endpoint that leaves the view loses its FDB and neighbour entries and gets no more VIP traffic',
  { skip },
  async () => {
    const mac = macOf('10.0.9.14');
    const fdb = (): Promise<string> =>
      sh('bridge', '-n', `${HOSTS[0].prefix}${VNI}`, 'fdb', 'show', 'dev', `vxlan${VNI}`);
    assert.match(await fdb(), new RegExp(mac));
    const remaining = TASKS.filter((t) => t.id !== 't4');
    for (const p of planes) p.apply([view(remaining)]);
    for (const p of planes) await p.settled();
    assert.doesNotMatch(await fdb(), new RegExp(mac));
    assert.doesNotMatch(
      await sh('ip', '-n', `${HOSTS[0].prefix}${VNI}`, 'neigh', 'show', 'dev', `vxlan${VNI}`),
      /10\.0\.9\.14 /,
    );
    const answers = await connectMany(TNS('c1'), VIP, 12);
    const ids = answers.map((a) => a.ok?.id ?? a.err);
    assert.ok(!ids.includes('t4'), ids.join(','));
    assert.deepEqual([...new Set(ids)].sort(), ['t1', 't2']);

    // A task that is not ready keeps its forwarding entries but leaves the VIP.
    const v = view(remaining);
    v.endpoints.find((e) => e.id === 't2')!.ready = false;
    for (const p of planes) p.apply([v]);
    for (const p of planes) await p.settled();
    assert.match(await fdb(), new RegExp(macOf('10.0.9.12')));
    const only = await connectMany(TNS('c1'), VIP, 4);
    assert.deepEqual([...new Set(only.map((a) => a.ok?.id ?? a.err))], ['t1']);
  },
);

test(
  'a network that leaves the views loses its sandbox; teardown removes every sandbox with the prefix',
  { skip },
  async () => {
    await planes[1]!.sandboxes.list().then((l) => assert.deepEqual(l, [`${HOSTS[1].prefix}${VNI}`]));
    planes[1]!.apply([]);
    await planes[1]!.settled();
    assert.deepEqual(await planes[1]!.sandboxes.list(), []);
    await planes[0]!.stop();
    assert.deepEqual(
      await planes[0]!.sandboxes.list(),
      [`${HOSTS[0].prefix}${VNI}`],
      'stop() leaves the kernel as it is',
    );
    await planes[0]!.teardown();
    assert.deepEqual(await planes[0]!.sandboxes.list(), []);
  },
);
