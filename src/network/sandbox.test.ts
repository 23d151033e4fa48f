import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isShoalError, type EndpointView, type NetworkView } from '../api/index.js';
import { FakeKernel } from './fakekernel.testutil.js';
import { testEndpoint, testNetwork } from './testviews.js';
import { macOf, parsePeerState, parseSandboxState, planPeers, planSandbox, Sandboxes } from './sandbox.js';

const ep = (id: string, ip: string, nodeId: string, more: Partial<EndpointView> = {}): EndpointView =>
  testEndpoint({
    id,
    addresses: [`${ip}/24`],
    nodeId,
    nodeAddr: nodeId === 'n1' ? '10.98.0.1' : nodeId === 'n2' ? '10.98.0.2' : '10.98.0.3',
    serviceId: 'web',
    ...more,
  });

const netView = (endpoints: EndpointView[], vips: string[] = ['10.0.1.2']): NetworkView =>
  testNetwork({
    endpoints,
    services: vips.map((vip, i) => ({
      id: i === 0 ? 'web' : `s${i}`,
      name: `s${i}`,
      mode: 'vip',
      vip,
      aliases: [],
    })),
  });

const view = netView([ep('a', '10.0.1.11', 'n1'), ep('b', '10.0.1.21', 'n2'), ep('c', '10.0.1.31', 'n3')]);

test('macOf derives 02:42 and the IPv4 octets, as Docker overlay does', () => {
  assert.equal(macOf('10.0.1.21'), '02:42:0a:00:01:15');
  assert.equal(macOf('192.168.255.1'), '02:42:c0:a8:ff:01');
  assert.throws(() => macOf('fd00::1'));
});

test('a missing sandbox is planned whole: namespace, sysctls, bridge, VXLAN made in the daemon namespace then moved in, addresses', () => {
  const steps = planSandbox(
    view,
    { exists: false, links: [], addrs: [] },
    { ns: 'shoal-4097', underlay: '10.98.0.1' },
  );
  assert.deepEqual(
    steps.map(
      (s) => s.argv.join(' ') + (s.input !== undefined ? ` <<${s.input.trim().replace(/\n/g, ' | ')}` : ''),
    ),
    [
      'ip netns add shoal-4097',
      'nsenter --net=/run/netns/shoal-4097 sysctl -q -w net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0 net.bridge.bridge-nf-call-iptables=1',
      'ip -n shoal-4097 -batch - <<link set lo up | link add br0 type bridge | link set br0 mtu 1450 up',
      'ip link add vxlan4097 type vxlan id 4097 local 10.98.0.1 dstport 4789 nolearning proxy',
      'ip link set vxlan4097 netns shoal-4097',
      'ip -n shoal-4097 -batch - <<link set vxlan4097 master br0 mtu 1450 up | link set vxlan4097 type bridge_slave learning off',
      'ip -n shoal-4097 -batch - <<addr add 10.0.1.1/24 dev br0 | addr add 10.0.1.2/32 dev br0',
    ],
  );
});

const complete = {
  exists: true,
  links: [
    { name: 'lo', up: true, mtu: 65536 },
    { name: 'br0', up: true, mtu: 1450 },
    {
      name: 'vxlan4097',
      up: true,
      mtu: 1450,
      master: 'br0',
      learning: false,
      vxlan: { id: 4097, local: '10.98.0.1' },
    },
  ],
  addrs: ['10.0.1.1/24', '10.0.1.2/32'],
};

test('a complete sandbox plans nothing; a new VIP adds only its /32, a gone one deletes only its own', () => {
  const opts = { ns: 'shoal-4097', underlay: '10.98.0.1' };
  assert.deepEqual(planSandbox(view, complete, opts), []);
  const more = netView(view.endpoints, ['10.0.1.2', '10.0.1.3']);
  assert.deepEqual(
    planSandbox(more, complete, opts).map((s) => s.input),
    ['addr add 10.0.1.3/32 dev br0\n'],
  );
  const fewer = netView(view.endpoints, []);
  assert.deepEqual(
    planSandbox(fewer, complete, opts).map((s) => s.input),
    ['addr del 10.0.1.2/32 dev br0\n'],
  );
});

test('a VXLAN device with another local address is replaced', () => {
  const steps = planSandbox(view, complete, { ns: 'shoal-4097', underlay: '10.98.0.9' });
  assert.deepEqual(
    steps.map((s) => s.argv.slice(0, 6).join(' ')),
    [
      'ip -n shoal-4097 link del vxlan4097',
      'ip link add vxlan4097 type vxlan',
      'ip link set vxlan4097 netns shoal-4097',
      'ip -n shoal-4097 -batch -',
    ],
  );
  assert.match(steps[1]!.argv.join(' '), / local 10\.98\.0\.9 /);
});

test('remote endpoints, ready or not, get one neighbour and one FDB entry; local ones none', () => {
  const v = netView([...view.endpoints, ep('d', '10.0.1.41', 'n2', { ready: false })]);
  const plan = planPeers(v, 'n1', { neigh: new Map(), fdb: new Map() });
  assert.deepEqual(plan.neigh, [
    'neigh replace 10.0.1.21 lladdr 02:42:0a:00:01:15 dev vxlan4097 nud permanent',
    'neigh replace 10.0.1.31 lladdr 02:42:0a:00:01:1f dev vxlan4097 nud permanent',
    'neigh replace 10.0.1.41 lladdr 02:42:0a:00:01:29 dev vxlan4097 nud permanent',
  ]);
  assert.deepEqual(plan.fdb, [
    'fdb replace 02:42:0a:00:01:15 dev vxlan4097 dst 10.98.0.2 self permanent',
    'fdb replace 02:42:0a:00:01:1f dev vxlan4097 dst 10.98.0.3 self permanent',
    'fdb replace 02:42:0a:00:01:29 dev vxlan4097 dst 10.98.0.2 self permanent',
  ]);
});

test('one endpoint changing touches only its entries: a left endpoint is deleted, a moved one replaced', () => {
  const state = {
    neigh: new Map([
      ['10.0.1.21', '02:42:0a:00:01:15'],
      ['10.0.1.31', '02:42:0a:00:01:1f'],
    ]),
    fdb: new Map([
      ['02:42:0a:00:01:15', ['10.98.0.2']],
      ['02:42:0a:00:01:1f', ['10.98.0.3']],
    ]),
  };
  assert.deepEqual(planPeers(view, 'n1', state), { neigh: [], fdb: [] });
  const left = netView(view.endpoints.filter((e) => e.id !== 'c'));
  assert.deepEqual(planPeers(left, 'n1', state), {
    neigh: ['neigh del 10.0.1.31 dev vxlan4097'],
    fdb: ['fdb del 02:42:0a:00:01:1f dev vxlan4097 dst 10.98.0.3 self'],
  });
  const moved = netView([view.endpoints[0]!, view.endpoints[1]!, ep('c', '10.0.1.31', 'n2')]);
  assert.deepEqual(planPeers(moved, 'n1', state), {
    neigh: [],
    fdb: [
      'fdb del 02:42:0a:00:01:1f dev vxlan4097 dst 10.98.0.3 self',
      'fdb replace 02:42:0a:00:01:1f dev vxlan4097 dst 10.98.0.2 self permanent',
    ],
  });
});

test("the kernel JSON is read as iproute2 prints it: br0 addresses without link-local, the tunnel's own FDB entries only", () => {
  const s = parseSandboxState(
    JSON.stringify([
      {
        ifname: 'br0',
        flags: ['BROADCAST', 'UP'],
        mtu: 1450,
        addr_info: [
          { family: 'inet', local: '10.0.1.1', prefixlen: 24, scope: 'global' },
          { family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' },
        ],
      },
      {
        ifname: 'vxlan9',
        flags: ['UP'],
        mtu: 1450,
        master: 'br0',
        linkinfo: {
          info_kind: 'vxlan',
          info_data: { id: 9, local: '10.98.0.1' },
          info_slave_data: { learning: false },
        },
      },
    ]),
  );
  assert.deepEqual(s.addrs, ['10.0.1.1/24']);
  assert.deepEqual(s.links[1], {
    name: 'vxlan9',
    up: true,
    mtu: 1450,
    master: 'br0',
    learning: false,
    vxlan: { id: 9, local: '10.98.0.1' },
  });
  const p = parsePeerState(
    '[{"dst":"10.0.1.21","lladdr":"02:42:0a:00:01:15","state":["PERMANENT"]}]',
    '[{"mac":"c2:b1:f2:a3:71:79","flags":[],"master":"br0","state":"permanent"},{"mac":"02:42:0a:00:01:15","dst":"10.98.0.2","flags":["self"],"state":"permanent"}]',
  );
  assert.deepEqual([...p.neigh], [['10.0.1.21', '02:42:0a:00:01:15']]);
  assert.deepEqual([...p.fdb], [['02:42:0a:00:01:15', ['10.98.0.2']]]);
});

test('ensure builds a sandbox once, and a second ensure only reads', async () => {
  const k = new FakeKernel();
  const sb = new Sandboxes({ nodeId: 'n1', underlayAddr: () => '10.98.0.1', run: k });
  assert.equal(sb.namespaceOf('net1'), undefined);
  assert.equal(await sb.ensure(view), 'shoal-4097');
  assert.equal(sb.namespaceOf('net1'), 'shoal-4097');
  assert.deepEqual(k.ns.get('shoal-4097')?.addrs, ['10.0.1.1/24', '10.0.1.2/32']);
  assert.equal(k.ns.get('shoal-4097')?.links.get('vxlan4097')?.master, 'br0');
  const before = k.writes().length;
  await sb.ensure(view);
  assert.equal(k.writes().length, before);
});

test('a VXLAN device left in the daemon namespace by a pass that died is deleted and made again', async () => {
  const k = new FakeKernel();
  k.daemonLinks.set('vxlan4097', {
    name: 'vxlan4097',
    up: false,
    mtu: 1500,
    vxlan: { id: 4097, local: '10.98.0.1' },
  });
  const sb = new Sandboxes({ nodeId: 'n1', underlayAddr: () => '10.98.0.1', run: k });
  await sb.ensure(view);
  assert.ok(k.writes().includes('ip link del vxlan4097'));
  assert.equal(k.daemonLinks.size, 0);
  assert.ok(k.ns.get('shoal-4097')?.links.has('vxlan4097'));
});

test('plug moves the veth into the sandbox onto br0 with MTU and hairpin; a retried plug is fine; bad input is refused', async () => {
  const k = new FakeKernel();
  const sb = new Sandboxes({ nodeId: 'n1', underlayAddr: () => '10.98.0.1', run: k });
  await assert.rejects(sb.plug('net1', 'veth1'), (e) => isShoalError(e) && e.code === 'NotFound');
  await sb.ensure(view);
  await assert.rejects(
    sb.plug('net1', 'x; rm -rf /'),
    (e) => isShoalError(e) && e.code === 'InvalidArgument',
  );
  k.calls.length = 0;
  await sb.plug('net1', 'veth1');
  assert.deepEqual(k.writes(), [
    'ip link set veth1 netns shoal-4097',
    'ip -n shoal-4097 -batch -\nlink set veth1 master br0 mtu 1450 up\nlink set veth1 type bridge_slave hairpin on\n',
  ]);
  const l = k.ns.get('shoal-4097')?.links.get('veth1');
  assert.deepEqual([l?.master, l?.mtu, l?.up, l?.hairpin], ['br0', 1450, true, true]);
  await sb.plug('net1', 'veth1');
});

test('only namespaces named <prefix><vni> are listed as ours', async () => {
  const k = new FakeKernel();
  for (const n of ['shoal-4097', 'shoal-x', 'shoal-12-a', 'other-1', 'shoal-7'])
    await k.run(['ip', 'netns', 'add', n]);
  const sb = new Sandboxes({ nodeId: 'n1', underlayAddr: () => '10.98.0.1', run: k });
  assert.deepEqual((await sb.list()).sort(), ['shoal-4097', 'shoal-7']);
});
