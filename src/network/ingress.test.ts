import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EndpointView, NetworkView, ServiceView } from '../api/index.js';
import type { CommandResult, CommandRunner } from './command.js';
import {
  AFFINITY_BUCKETS,
  affinityBuckets,
  peerMark,
  planIngress,
  renderHostIngressScript,
  renderSandboxIngressScript,
  withPeerEndpoints,
} from './ingress.js';
import { IngressMesh } from './ingressmesh.js';

const ep = (id: string, ip: string, serviceId: string, ready = true, nodeId = 'n2'): EndpointView => ({
  id,
  name: id,
  serviceId,
  aliases: [],
  addresses: [`${ip}/24`],
  nodeId,
  nodeAddr: '10.98.0.2',
  ready,
});
const web = (o: Partial<ServiceView> = {}): ServiceView => ({
  id: 'web',
  name: 'web',
  mode: 'vip',
  aliases: [],
  ports: [{ protocol: 'tcp', published: 8080, target: 80 }],
  ...o,
});
const NODES = [
  { nodeId: 'n1', nodeAddr: '10.98.0.1', address: '10.0.0.2/24' },
  { nodeId: 'n2', nodeAddr: '10.98.0.2', address: '10.0.0.3/24' },
  { nodeId: 'n3', nodeAddr: '10.98.0.3', address: '10.0.0.4' },
];
function view(services: ServiceView[], endpoints: EndpointView[], withNodes = true): NetworkView {
  return {
    id: 'ing',
    name: 'ingress',
    vni: 4096,
    subnets: [{ subnet: '10.0.0.0/24', gateway: '10.0.0.1' }],
    attachable: false,
    internal: false,
    ingress: true,
    options: {},
    nodeAddress: '10.0.0.2/24',
    endpoints,
    services,
    ...(withNodes ? { nodes: NODES } : {}),
  };
}

const HOST_TAIL = `\tchain prerouting {
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\tfib daddr type local meta l4proto . th dport vmap @ports
\t}
\tchain output {
\t\ttype nat hook output priority -100; policy accept;
\t\tfib daddr type local meta l4proto . th dport vmap @ports
\t}
\tchain postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\toifname "shoal_ig0" ip saddr 127.0.0.0/8 snat ip to 169.254.77.1
\t}
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\tmeta l4proto tcp meta l4proto . th dport @closed reject with tcp reset
\t\tmeta l4proto . th dport @closed reject with icmp type port-unreachable
\t}
}
`;

test('a published port DNATs round robin to the ready backends on every local address, in one table replacement', () => {
  const v = view(
    [
      web({
        ports: [
          { protocol: 'tcp', published: 8080, target: 80 },
          { protocol: 'udp', published: 53, target: 5353 },
        ],
      }),
    ],
    [ep('b', '10.0.0.12', 'web'), ep('a', '10.0.0.11', 'web'), ep('c', '10.0.0.13', 'web', false)],
  );
  assert.equal(
    renderHostIngressScript(planIngress(v, 'n1')),
    `table ip shoal_ingress {}
delete table ip shoal_ingress
table ip shoal_ingress {
\tmap ports {
\t\ttype inet_proto . inet_service : verdict
\t\telements = { udp . 53 : jump p_udp_53, tcp . 8080 : jump p_tcp_8080 }
\t}
\tset closed {
\t\ttype inet_proto . inet_service
\t}
\tchain p_udp_53 {
\t\tmeta l4proto udp dnat ip to numgen inc mod 2 map { 0 : 10.0.0.11 . 5353, 1 : 10.0.0.12 . 5353 }
\t}
\tchain p_tcp_8080 {
\t\tmeta l4proto tcp dnat ip to numgen inc mod 2 map { 0 : 10.0.0.11 . 80, 1 : 10.0.0.12 . 80 }
\t}
` + HOST_TAIL,
  );
});

test('one backend: a plain DNAT; no ready backend: the port is in the reject set; a removed service leaves no trace', () => {
  const one = renderHostIngressScript(planIngress(view([web()], [ep('a', '10.0.0.11', 'web')]), 'n1'));
  assert.match(one, /\tchain p_tcp_8080 \{\n\t\tmeta l4proto tcp dnat ip to 10\.0\.0\.11:80\n\t\}/);
  const none = renderHostIngressScript(
    planIngress(view([web()], [ep('a', '10.0.0.11', 'web', false)]), 'n1'),
  );
  assert.match(
    none,
    /set closed \{\n\t\ttype inet_proto \. inet_service\n\t\telements = \{ tcp \. 8080 \}\n\t\}/,
  );
  assert.doesNotMatch(none, /chain p_tcp/);
  const gone = renderHostIngressScript(planIngress(view([], []), 'n1'));
  assert.doesNotMatch(gone, /8080/);
  assert.ok(gone.endsWith(HOST_TAIL));
  // No ingress view at all: an empty plan.
  assert.deepEqual(planIngress(undefined, 'n1'), { ports: [], peers: [], keepsClientAddress: false });
});

test('a port claimed twice goes to the first service by ID; bad ports and SCTP never reach the script', () => {
  const plan = planIngress(
    view(
      [
        web({ id: 'b', ports: [{ protocol: 'tcp', published: 80, target: 80 }] }),
        web({
          id: 'a',
          ports: [
            { protocol: 'tcp', published: 80, target: 81 },
            { protocol: 'sctp', published: 90, target: 90 },
          ],
        }),
        web({ id: 'c', ports: [{ protocol: 'udp', published: 70000, target: 80 }] }),
      ],
      [],
    ),
    'n1',
  );
  assert.deepEqual(
    plan.ports.map((p) => [p.serviceId, p.protocol, p.published, p.target]),
    [['a', 'tcp', 80, 81]],
  );
});

test('peers: every other node, by its ingress address, MAC and mark; this node is left out', () => {
  const plan = planIngress(view([web()], []), 'n1');
  assert.equal(plan.self, '10.0.0.2');
  assert.equal(plan.keepsClientAddress, true);
  assert.deepEqual(plan.peers, [
    {
      nodeId: 'n2',
      nodeAddr: '10.98.0.2',
      address: '10.0.0.3',
      mac: '02:42:0a:00:00:03',
      mark: peerMark('10.0.0.3'),
    },
    {
      nodeId: 'n3',
      nodeAddr: '10.98.0.3',
      address: '10.0.0.4',
      mac: '02:42:0a:00:00:04',
      mark: peerMark('10.0.0.4'),
    },
  ]);
  assert.equal(peerMark('10.0.0.3'), 0x10000003);
  const v = withPeerEndpoints(view([web()], []), 'n1');
  assert.deepEqual(
    v.endpoints.map((e) => [e.nodeId, e.nodeAddr, e.addresses]),
    [
      ['n2', '10.98.0.2', ['10.0.0.3/32']],
      ['n3', '10.98.0.3', ['10.0.0.4/32']],
    ],
  );
});

test("the sandbox marks connections by the peer's MAC, restores the mark on replies, and SNATs only snat services", () => {
  const v = view(
    [web(), web({ id: 'api', snat: true, ports: [{ protocol: 'udp', published: 9000, target: 900 }] })],
    [ep('a', '10.0.0.11', 'web'), ep('b', '10.0.0.21', 'api')],
  );
  assert.equal(
    renderSandboxIngressScript(planIngress(v, 'n1'), undefined, ['10.0.0.31']),
    `table ip shoal_ingress {}
delete table ip shoal_ingress
table ip shoal_ingress {
\tmap peer_mac {
\t\ttype ether_addr : mark
\t\telements = { 02:42:0a:00:00:03 : 0x10000003, 02:42:0a:00:00:04 : 0x10000004 }
\t}
\tset snat_backends {
\t\ttype ipv4_addr . inet_proto . inet_service
\t\telements = { 10.0.0.21 . udp . 900 }
\t}
\tset local_snat {
\t\ttype ipv4_addr
\t\telements = { 10.0.0.31 }
\t}
\tchain peer_mark {
\t\ttype filter hook prerouting priority mangle; policy accept;
\t\tct state new ct mark set ether saddr map @peer_mac
\t\tct direction reply meta mark set ct mark
\t}
\tchain postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tiifname "ig0" ip daddr . meta l4proto . th dport @snat_backends snat ip to 10.0.0.2
\t\tct state new ip daddr @local_snat ip saddr != 10.0.0.2 snat ip to 10.0.0.2
\t}
}
`,
  );
});

test('a view without the node list cannot route replies back: every service is SNATed, as Swarm does', () => {
  const plan = planIngress(view([web()], [ep('a', '10.0.0.11', 'web')], false), 'n1');
  assert.equal(plan.keepsClientAddress, false);
  assert.deepEqual(plan.peers, []);
  assert.match(renderSandboxIngressScript(plan), /elements = \{ 10\.0\.0\.11 \. tcp \. 80 \}/);
});

test('affinity: the client hash picks a backend by bucket ranges with a fixed seed', () => {
  const v = view(
    [web({ affinity: 'client-ip' })],
    [ep('a', '10.0.0.11', 'web'), ep('b', '10.0.0.12', 'web')],
  );
  const script = renderHostIngressScript(planIngress(v, 'n1'));
  const rule = /dnat ip to jhash ip saddr mod 1024 seed 0x5e1f map \{ ([^}]*) \}/.exec(script);
  assert.ok(rule, script);
  // The ranges cover 0..1023 exactly once, in order.
  let next = 0;
  for (const part of rule[1]!.split(', ')) {
    const m = /^(\d+)(?:-(\d+))? : (10\.0\.0\.1[12]) \. 80$/.exec(part);
    assert.ok(m, part);
    assert.equal(Number(m[1]), next);
    next = Number(m[2] ?? m[1]) + 1;
  }
  assert.equal(next, AFFINITY_BUCKETS);
});

test('affinity: one more backend moves about 1/N of the buckets, all to the new one; one less moves only its own', () => {
  const four = ['10.0.0.11', '10.0.0.12', '10.0.0.13', '10.0.0.14'];
  const five = [...four, '10.0.0.15'];
  const a = affinityBuckets(four);
  const b = affinityBuckets(five);
  assert.deepEqual(affinityBuckets(four), a, 'deterministic');
  let moved = 0;
  for (let i = 0; i < AFFINITY_BUCKETS; i++) {
    if (a[i] === b[i]) continue;
    moved++;
    assert.equal(b[i], '10.0.0.15', `bucket ${i} moved between old backends`);
  }
  // Ideal: 1024/5 ≈ 205.
  assert.ok(moved > 150 && moved < 260, `moved ${moved}`);
  const three = affinityBuckets(four.filter((x) => x !== '10.0.0.12'));
  for (let i = 0; i < AFFINITY_BUCKETS; i++) if (a[i] !== '10.0.0.12') assert.equal(three[i], a[i]);
  // Spread: no backend gets far more than its share.
  const counts = new Map<string, number>();
  for (const x of b) counts.set(x, (counts.get(x) ?? 0) + 1);
  for (const n of counts.values()) assert.ok(n > 150 && n < 260, JSON.stringify([...counts]));
});

/** Records commands; answers `ip -n X link show ig0` as present once made, rules as none. */
class Recorder implements CommandRunner {
  readonly calls: string[] = [];
  transitMade = false;
  run(argv: readonly string[], opts: { input?: string } = {}): Promise<CommandResult> {
    const line = argv.join(' ') + (opts.input !== undefined ? `\n${opts.input}` : '');
    this.calls.push(line);
    const ok = (stdout = ''): Promise<CommandResult> => Promise.resolve({ code: 0, stdout, stderr: '' });
    if (/^ip -n \S+ link show ig0$/.test(argv.join(' ')))
      return Promise.resolve({ code: this.transitMade ? 0 : 1, stdout: '', stderr: 'Device does not exist' });
    if (argv.join(' ').includes('type veth peer name ig0')) this.transitMade = true;
    if (argv.join(' ').endsWith('-j rule show')) return ok('[]');
    if (argv[0] === 'iptables') return Promise.resolve({ code: 1, stdout: '', stderr: 'No chain' });
    return ok();
  }
}

test('the mesh makes the transit link and both tables once, starts no process on unchanged passes, and rewrites after forget()', async () => {
  const r = new Recorder();
  const mesh = new IngressMesh({ nodeId: 'n1', run: r });
  const v = view([web()], [ep('a', '10.0.0.11', 'web')]);
  await mesh.apply(v, 'sb-4096');
  const first = r.calls.join('\n');
  assert.match(first, /^ip link add shoal_ig0 type veth peer name ig0 netns sb-4096$/m);
  assert.match(first, /^ip route replace 10\.0\.0\.0\/24 via 169\.254\.77\.2 dev shoal_ig0$/m);
  assert.match(first, /link set br0 address 02:42:0a:00:00:02/);
  assert.match(first, /route replace default via 10\.0\.0\.3 dev br0 onlink table 268435459/);
  assert.match(first, /rule add pref 1000 fwmark 0x10000003 lookup 268435459/);
  assert.match(first, /^nsenter --net=\/run\/netns\/sb-4096 nft -f -\ntable ip shoal_ingress/m);
  assert.match(first, /^nft -f -\ntable ip shoal_ingress \{\}/m);
  r.calls.length = 0;
  await mesh.apply(v, 'sb-4096');
  assert.equal(r.calls.length, 0, 'an unchanged pass starts no process (forget() asks for a check)');
  mesh.forget();
  r.calls.length = 0;
  await mesh.apply(v, 'sb-4096');
  assert.equal(r.calls.filter((c) => c.includes('nft -f -')).length, 2);
  r.calls.length = 0;
  await mesh.apply(undefined, undefined);
  assert.deepEqual(
    r.calls.map((c) => c.split('\n')[0]),
    ['nft -f -', 'ip link del shoal_ig0', 'iptables -w 5 -n -L DOCKER-USER'],
  );
  assert.match(r.calls[0]!, /delete table ip shoal_ingress\n$/);
  r.calls.length = 0;
  await mesh.apply(undefined, undefined);
  assert.deepEqual(r.calls, [], 'nothing to remove twice');
});
