import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EndpointView, NetworkView } from '../api/index.js';
import { ManualClock } from '../platform/index.js';
import { FakeKernel } from './fakekernel.testutil.js';
import { IngressMesh } from './ingressmesh.js';
import { NodeDataPlane } from './nodeplane.js';
import { Sandboxes } from './sandbox.js';
import { testEndpoint, testNetwork } from './testviews.js';

const ep = (id: string, ip: string, nodeId: string, serviceId?: string): EndpointView =>
  testEndpoint({
    id,
    addresses: [`${ip}/24`],
    nodeId,
    nodeAddr: nodeId === 'n1' ? '10.98.0.1' : '10.98.0.2',
    ...(serviceId !== undefined ? { serviceId } : {}),
  });
const net = (id: string, vni: number, endpoints: EndpointView[]): NetworkView =>
  testNetwork({
    id,
    name: id,
    vni,
    subnets: [{ subnet: `10.0.${vni % 256}.0/24`, gateway: `10.0.${vni % 256}.1` }],
    endpoints,
    services: [{ id: 'web', name: 'web', mode: 'vip', vip: `10.0.${vni % 256}.2`, aliases: [] }],
  });

function setup(): { k: FakeKernel; clock: ManualClock; plane: NodeDataPlane; applied: NetworkView[][] } {
  const k = new FakeKernel();
  const clock = new ManualClock();
  const applied: NetworkView[][] = [];
  const plane = new NodeDataPlane({
    sandboxes: new Sandboxes({
      nodeId: 'n1',
      underlayAddr: () => '10.98.0.1',
      run: k,
      namespaceId: k.namespaceId,
    }),
    clock,
    resyncMs: 0,
    onApplied: (v) => applied.push([...v]),
  });
  plane.start();
  return { k, clock, plane, applied };
}

const v1 = net('net1', 4097, [
  ep('a', '10.0.1.11', 'n1', 'web'),
  ep('b', '10.0.1.21', 'n2', 'web'),
  ep('c', '10.0.1.31', 'n2'),
]);

test('a view becomes a sandbox with its entries and VIP table; the same views again run nothing', async () => {
  const { k, plane, applied } = setup();
  plane.apply([v1]);
  await plane.settled();
  const ns = k.ns.get('shoal-4097')!;
  assert.deepEqual(
    [...ns.fdb],
    [
      ['02:42:0a:00:01:15', '10.98.0.2'],
      ['02:42:0a:00:01:1f', '10.98.0.2'],
    ],
  );
  assert.match(ns.nft ?? '', /dnat to numgen inc mod 2 map \{ 0 : 10\.0\.1\.11, 1 : 10\.0\.1\.21 \}/);
  assert.equal(applied.length, 1);
  const calls = k.calls.length;
  plane.apply([structuredClone(v1)]);
  await plane.settled();
  assert.equal(k.calls.length, calls);
  await plane.stop();
});

test('one endpoint leaving changes only its neighbour and FDB entries, and the VIP table only if it was a backend', async () => {
  const { k, plane } = setup();
  plane.apply([v1]);
  await plane.settled();
  k.calls.length = 0;
  plane.apply([{ ...v1, endpoints: v1.endpoints.filter((e) => e.id !== 'c') }]);
  await plane.settled();
  assert.deepEqual(k.writes(), [
    'ip -n shoal-4097 -batch -\nneigh del 10.0.1.31 dev vxlan4097\n',
    'bridge -n shoal-4097 -batch -\nfdb del 02:42:0a:00:01:1f dev vxlan4097 dst 10.98.0.2 self\n',
  ]);
  k.calls.length = 0;
  plane.apply([{ ...v1, endpoints: v1.endpoints.filter((e) => e.id === 'a') }]);
  await plane.settled();
  const writes = k.writes();
  assert.equal(writes.length, 3);
  assert.match(writes[2]!, /^nsenter --net=\/run\/netns\/shoal-4097 nft -f -\n/);
  assert.match(k.ns.get('shoal-4097')!.nft!, /dnat to 10\.0\.1\.11\n/);
  await plane.stop();
});

test('a network that leaves the views loses its sandbox; other prefixes and names are left alone', async () => {
  const { k, plane } = setup();
  await k.run(['ip', 'netns', 'add', 'other-4097']);
  await k.run(['ip', 'netns', 'add', 'shoal-x']);
  plane.apply([v1, net('net2', 4098, [])]);
  await plane.settled();
  plane.apply([net('net2', 4098, [])]);
  await plane.settled();
  assert.deepEqual([...k.ns.keys()].sort(), ['other-4097', 'shoal-4098', 'shoal-x']);
  assert.equal(plane.sandboxes.namespaceOf('net1'), undefined);
  assert.equal(plane.sandboxes.namespaceOf('net2'), 'shoal-4098');
  await plane.stop();
  assert.ok(k.ns.has('shoal-4098'), 'stop leaves sandboxes');
  await plane.teardown();
  assert.deepEqual([...k.ns.keys()].sort(), ['other-4097', 'shoal-x']);
});

test('a failed pass is retried after a backoff and then converges; views coalesce to the latest', async () => {
  const { k, clock, plane, applied } = setup();
  k.failOnce = (a) => a[0] === 'bridge' && a.includes('-batch');
  plane.apply([v1]);
  await assert.rejects(plane.settled(), /injected failure/);
  assert.equal(applied.length, 0);
  const retried = plane.settled();
  clock.advance(499);
  await new Promise((r) => setImmediate(r));
  assert.equal(applied.length, 0);
  clock.advance(1);
  await retried;
  assert.equal(applied.length, 1);
  assert.equal(k.ns.get('shoal-4097')!.fdb.size, 2);

  plane.apply([net('net2', 4098, [])]);
  plane.apply([net('net3', 4099, [])]);
  await plane.settled();
  assert.deepEqual(
    applied.at(-1)!.map((v) => v.id),
    ['net3'],
  );
  assert.deepEqual([...k.ns.keys()], ['shoal-4099']);
  await plane.stop();
});

test('two networks with one VNI: the first is built, the pass reports the second', async () => {
  const { k, plane } = setup();
  plane.apply([v1, { ...net('dup', 4097, []) }]);
  await assert.rejects(plane.settled(), /VNI 4097 is already another network's/);
  assert.ok(k.ns.has('shoal-4097'));
  await plane.stop();
});

test('a resync pass heals what changed behind its back, even with the same views', async () => {
  const k = new FakeKernel();
  const clock = new ManualClock();
  const plane = new NodeDataPlane({
    sandboxes: new Sandboxes({ nodeId: 'n1', underlayAddr: () => '10.98.0.1', run: k }),
    clock,
    resyncMs: 60_000,
  });
  plane.start();
  plane.apply([v1]);
  await plane.settled();
  const ns = k.ns.get('shoal-4097')!;
  ns.fdb.clear();
  delete ns.nft;
  ns.addrs = ns.addrs.filter((a) => a !== '10.0.1.2/32');
  clock.advance(60_000);
  await plane.settled();
  assert.equal(ns.fdb.size, 2);
  assert.ok(ns.addrs.includes('10.0.1.2/32'));
  assert.match(ns.nft ?? '', /jump svc_web/);
  await plane.stop();
});

test('an encrypted network gets no sandbox and no retries; the others converge', async () => {
  const { k, plane, applied } = setup();
  const enc = { ...net('enc', 4098, []), options: { encrypted: '' } };
  plane.apply([v1, enc]);
  await plane.settled();
  assert.deepEqual([...k.ns.keys()], ['shoal-4097']);
  assert.equal(applied.length, 1);
  await assert.rejects(plane.sandboxes.ensure(enc), /encrypted/);
  await plane.stop();
});

test("a sandbox deleted behind the plane's back is made again whole, VIP table included, on the next pass", async () => {
  const { k, plane } = setup();
  plane.apply([v1]);
  await plane.settled();
  k.ns.delete('shoal-4097');
  k.daemonLinks.clear();
  plane.apply([{ ...v1, name: 'renamed' }]);
  await plane.settled();
  const ns = k.ns.get('shoal-4097')!;
  assert.equal(ns.fdb.size, 2);
  assert.match(ns.nft ?? '', /jump svc_web/);
  await plane.stop();
});

test("the ingress view drives the mesh: peers' sandboxes get tunnel entries; a failed ingress pass keeps the published ports; no ingress view removes them", async () => {
  const k = new FakeKernel();
  const meshCalls: string[] = [];
  const mesh = new IngressMesh({
    nodeId: 'n1',
    run: {
      run: (argv, o) => {
        meshCalls.push(argv.join(' ') + (o?.input !== undefined ? `\n${o.input}` : ''));
        const j = argv.join(' ');
        if (j.endsWith('-j rule show')) return Promise.resolve({ code: 0, stdout: '[]', stderr: '' });
        if (argv[0] === 'iptables') return Promise.resolve({ code: 1, stdout: '', stderr: 'no chain' });
        return Promise.resolve({ code: 0, stdout: '', stderr: '' });
      },
    },
  });
  const plane = new NodeDataPlane({
    sandboxes: new Sandboxes({ nodeId: 'n1', underlayAddr: () => '10.98.0.1', run: k }),
    ingress: mesh,
    clock: new ManualClock(),
    resyncMs: 0,
  });
  plane.start();
  const ingress: NetworkView = {
    ...net('ing', 4096, [ep('a', '10.0.0.21', 'n2', 'web')]),
    subnets: [{ subnet: '10.0.0.0/24', gateway: '10.0.0.1' }],
    ingress: true,
    nodeAddress: '10.0.0.2/24',
    services: [
      {
        id: 'web',
        name: 'web',
        mode: 'vip',
        aliases: [],
        ports: [{ protocol: 'tcp', published: 80, target: 8080 }],
      },
    ],
    nodes: [
      { nodeId: 'n1', nodeAddr: '10.98.0.1', address: '10.0.0.2/24' },
      { nodeId: 'n3', nodeAddr: '10.98.0.3', address: '10.0.0.4/24' },
    ],
  };
  plane.apply([ingress]);
  await plane.settled();
  const sb = k.ns.get('shoal-4096')!;
  // The other node's sandbox, with no task there, is reachable; this node's own address sits on br0.
  assert.equal(sb.fdb.get('02:42:0a:00:00:04'), '10.98.0.3');
  assert.equal(sb.neigh.get('10.0.0.4'), '02:42:0a:00:00:04');
  assert.ok(sb.addrs.includes('10.0.0.2/24'));
  assert.deepEqual(
    mesh.plan?.ports.map((p) => [p.published, p.backends]),
    [[80, ['10.0.0.21']]],
  );
  assert.ok(meshCalls.some((c) => c.startsWith('nft -f -\n') && c.includes('dnat ip to 10.0.0.21:8080')));

  meshCalls.length = 0;
  k.failOnce = (argv) => argv.join(' ').includes('-batch');
  plane.apply([{ ...ingress, endpoints: [...ingress.endpoints, ep('b', '10.0.0.22', 'n2', 'web')] }]);
  await plane.settled().catch(() => undefined);
  assert.ok(
    !meshCalls.some(
      (c) => c.includes('delete table ip shoal_ingress\n') && !c.includes('table ip shoal_ingress {\n'),
    ),
  );

  plane.apply([]);
  await plane.settled().catch(() => undefined);
  await plane.settled();
  assert.equal(mesh.plan, undefined);
  assert.ok(meshCalls.includes('ip link del shoal_ig0'));
  await plane.stop();
});

test('a backend becoming ready costs one command: the VIP table, with nothing observed again', async () => {
  const { k, plane } = setup();
  const starting = { ...v1, endpoints: v1.endpoints.map((e) => (e.id === 'b' ? { ...e, ready: false } : e)) };
  plane.apply([starting]);
  await plane.settled();
  assert.doesNotMatch(k.ns.get('shoal-4097')!.nft!, /10\.0\.1\.21/);
  k.calls.length = 0;
  plane.apply([v1]);
  await plane.settled();
  assert.deepEqual(
    k.calls.map((c) => c.argv.join(' ')),
    ['nsenter --net=/run/netns/shoal-4097 nft -f -'],
  );
  assert.match(k.ns.get('shoal-4097')!.nft!, /10\.0\.1\.21/);
  await plane.stop();
});

test('a resync gives way to newer views: they apply as a normal pass, and the resync runs again after', async () => {
  const k = new FakeKernel();
  const clock = new ManualClock();
  let trigger: (() => void) | undefined;
  const plane = new NodeDataPlane({
    sandboxes: new Sandboxes({
      nodeId: 'n1',
      underlayAddr: () => '10.98.0.1',
      namespaceId: k.namespaceId,
      run: {
        run: (argv, o) => {
          const t = trigger;
          trigger = undefined;
          t?.();
          return k.run(argv, o);
        },
      },
    }),
    clock,
    resyncMs: 60_000,
  });
  plane.start();
  const v2 = net('net2', 4098, [ep('x', '10.0.2.11', 'n1', 'api'), ep('y', '10.0.2.21', 'n3', 'api')]);
  plane.apply([v1, v2]);
  await plane.settled();
  const ns2 = k.ns.get('shoal-4098')!;
  ns2.fdb.clear(); // an outside change only a resync heals
  // Views change while the resync runs its first command: backend b leaves the VIP.
  const v1b = { ...v1, endpoints: v1.endpoints.map((e) => (e.id === 'b' ? { ...e, ready: false } : e)) };
  trigger = () => plane.apply([v1b, v2]);
  clock.advance(60_000);
  await plane.settled();
  assert.doesNotMatch(k.ns.get('shoal-4097')!.nft!, /10\.0\.1\.21/, 'the newer views are in');
  assert.equal(ns2.fdb.size, 0, 'the resync gave way before reaching net2');
  clock.advance(2_000);
  await plane.settled();
  assert.equal(ns2.fdb.size, 1, 'the resync ran again and healed net2');
  await plane.stop();
});
