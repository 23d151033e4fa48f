import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { DecodedPacket, StringAnswer } from 'dns-packet';
import { DnsResolver, upstreamsFromResolvConf, parseUpstream, type QueryInfo } from './server.js';
import { dnsQuery, endpoint, FakeUpstream, network, rawUdp, seeded } from './testing.js';

// Everything here is on 127.0.0.x: the upstream is a fake on loopback, never the host's resolver.
const HOST = '127.0.0.1';

const view = network(
  [
    { id: 's-web', name: 'web', mode: 'vip', vip: '10.0.1.2', aliases: [] },
    { id: 's-rr', name: 'rr', mode: 'dnsrr', aliases: [] },
  ],
  [
    endpoint({ id: 't1', name: 'web.1.t1', serviceId: 's-web', addresses: ['10.0.1.5/24'] }),
    ...Array.from({ length: 100 }, (_, i) =>
      endpoint({ id: `r${i}`, name: `rr.${i}.r${i}`, serviceId: 's-rr', addresses: [`10.0.2.${i + 1}/16`] }),
    ),
  ],
);

const upstream = new FakeUpstream(HOST);
const queries: QueryInfo[] = [];
let resolver: DnsResolver;
let port = 0;
const resolvers: DnsResolver[] = [];

async function resolverWith(opts: ConstructorParameters<typeof DnsResolver>[0]): Promise<number> {
  const r = new DnsResolver(opts);
  resolvers.push(r);
  r.start();
  await r.update([view], () => undefined);
  return r.listenLocal('net1', HOST, 0);
}

before(async () => {
  await upstream.start();
  resolver = new DnsResolver({
    upstreams: [`${HOST}:${upstream.port}`],
    random: seeded(3),
    onQuery: (q) => queries.push(q),
  });
  resolver.start();
  await resolver.update([view], () => undefined);
  port = await resolver.listenLocal('net1', HOST, 0);
});

after(async () => {
  await resolver.stop();
  for (const r of resolvers) await r.stop();
  upstream.stop();
});

const data = (p: DecodedPacket): string[] => (p.answers ?? []).map((a) => String((a as StringAnswer).data));

test('a service name answers its VIP over UDP, and the querying address is seen', async () => {
  const p = await dnsQuery({ host: HOST, port, name: 'web' });
  assert.equal(p.rcode, 'NOERROR');
  assert.equal(p.flag_qr, true);
  assert.deepEqual(data(p), ['10.0.1.2']);
  assert.deepEqual(data(await dnsQuery({ host: HOST, port, name: 'tasks.web' })), ['10.0.1.5']);
  assert.deepEqual(
    queries.find((q) => q.name === 'web'),
    { networkId: 'net1', from: HOST, transport: 'udp', name: 'web', type: 'A', outcome: 'local' },
  );
  assert.equal(upstream.seen.length, 0, 'a name of the network is never forwarded');
});

test('over TCP, and a dnsrr answer too big for UDP is cut with TC then whole over TCP', async () => {
  assert.deepEqual(data(await dnsQuery({ host: HOST, port, name: 'web', tcp: true })), ['10.0.1.2']);
  const udp = await dnsQuery({ host: HOST, port, name: 'rr' });
  assert.equal(udp.flag_tc, true);
  assert.ok(data(udp).length > 0 && data(udp).length < 100, `${data(udp).length} records in 512 bytes`);
  const tcp = await dnsQuery({ host: HOST, port, name: 'rr', tcp: true });
  assert.equal(tcp.flag_tc, false);
  assert.equal(new Set(data(tcp)).size, 100);
});

test('unknown names go to the upstream: its answer, its NXDOMAIN, and TCP when it truncates', async () => {
  assert.deepEqual(data(await dnsQuery({ host: HOST, port, name: 'example.test' })), ['192.0.2.7']);
  const nx = await dnsQuery({ host: HOST, port, name: 'nx.test' });
  assert.equal(nx.rcode, 'NXDOMAIN');
  assert.deepEqual(data(await dnsQuery({ host: HOST, port, name: 'big.test' })), ['192.0.2.8', '192.0.2.9']);
  assert.ok(upstream.seen.includes('tcp:big.test'));
  assert.deepEqual(data(await dnsQuery({ host: HOST, port, name: 'example.test', tcp: true })), [
    '192.0.2.7',
  ]);
});

test('an upstream that does not answer gives SERVFAIL within the bound; none at all, at once', async () => {
  const p1 = await resolverWith({ upstreams: [`${HOST}:${upstream.port}`], forwardTimeoutMs: 300 });
  const t0 = Date.now();
  const slow = await dnsQuery({ host: HOST, port: p1, name: 'slow.test' });
  const took = Date.now() - t0;
  assert.equal(slow.rcode, 'SERVFAIL');
  assert.ok(took >= 250 && took < 1500, `SERVFAIL after ${took} ms`);
  const p2 = await resolverWith({ upstreams: [] });
  assert.equal(
    (await dnsQuery({ host: HOST, port: p2, name: 'example.test', timeoutMs: 500 })).rcode,
    'SERVFAIL',
  );
});

test('past the bound on queries in flight, SERVFAIL at once', async () => {
  const p = await resolverWith({
    upstreams: [`${HOST}:${upstream.port}`],
    maxInFlight: 2,
    forwardTimeoutMs: 1500,
  });
  const t0 = Date.now();
  const slow = [1, 2].map(() => dnsQuery({ host: HOST, port: p, name: 'slow.test' }));
  await new Promise((r) => setTimeout(r, 50));
  const third = await dnsQuery({ host: HOST, port: p, name: 'example.test' });
  assert.equal(third.rcode, 'SERVFAIL');
  assert.ok(Date.now() - t0 < 1000);
  assert.deepEqual(
    (await Promise.all(slow)).map((x) => x.rcode),
    ['SERVFAIL', 'SERVFAIL'],
  );
});

test('malformed packets are dropped and the resolver keeps answering', async () => {
  const junk = [
    Buffer.alloc(0),
    Buffer.from([1, 2, 3]),
    Buffer.alloc(12, 0xff),
    Buffer.from('this is not dns at all, not even close'),
    // a response, not a query
    dnsPacket.encode({ type: 'response', id: 1, questions: [{ type: 'A', name: 'web', class: 'IN' }] }),
    // a question whose label runs past the end
    Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([40, 97, 98])]),
  ];
  const s = dgram.createSocket('udp4');
  for (const j of junk) await new Promise((r) => s.send(j, port, HOST, r));
  s.close();
  // A TCP frame shorter than a header closes the connection.
  const c = net.connect(port, HOST);
  c.on('error', () => {});
  c.write(Buffer.from([0, 3, 1, 2, 3]));
  await new Promise((r) => c.on('close', r));
  assert.deepEqual(data(await dnsQuery({ host: HOST, port, name: 'web' })), ['10.0.1.2']);
  assert.ok(resolver.stats().dropped >= 4);
});

test('an unusual opcode gets NOTIMP; a query with EDNS gets a bigger UDP answer', async () => {
  const notify = Buffer.from(
    dnsPacket.encode({
      type: 'query',
      id: 9,
      flags: 4 << 11,
      questions: [{ type: 'A', name: 'web', class: 'IN' }],
    }),
  );
  assert.equal((await rawUdp(HOST, port, notify, 2000)).rcode, 'NOTIMP');
  const edns = dnsPacket.encode({
    type: 'query',
    id: 10,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'A', name: 'rr', class: 'IN' }],
    additionals: [
      {
        type: 'OPT',
        name: '.',
        udpPayloadSize: 4096,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: 0,
        flag_do: false,
        options: [],
      },
    ],
  });
  const p = await rawUdp(HOST, port, edns, 2000);
  assert.equal(p.flag_tc, false);
  assert.equal(data(p).length, 100);
});

test('a view update changes the answers at once', async () => {
  const moved = {
    ...view,
    services: view.services.map((s) => (s.id === 's-web' ? { ...s, vip: '10.0.1.99' } : s)),
  };
  await resolver.update([moved], () => undefined);
  assert.deepEqual(data(await dnsQuery({ host: HOST, port, name: 'web' })), ['10.0.1.99']);
  await resolver.update([], () => undefined);
  // The network left the views: its names are no longer ours, so they are forwarded (NXDOMAIN).
  assert.equal((await dnsQuery({ host: HOST, port, name: 'web' })).rcode, 'NXDOMAIN');
  await resolver.update([view], () => undefined);
  assert.deepEqual(data(await dnsQuery({ host: HOST, port, name: 'web' })), ['10.0.1.2']);
});

test('upstreams come from resolv.conf without loopback ones, and parse with ports', () => {
  const conf =
    'search example.com\nnameserver 127.0.0.53\nnameserver 10.1.2.3\n# x\nnameserver fe80::1%eth0\nnameserver ::1\n';
  assert.deepEqual(upstreamsFromResolvConf(conf), ['10.1.2.3', 'fe80::1']);
  assert.deepEqual(parseUpstream('10.1.2.3'), { host: '10.1.2.3', port: 53 });
  assert.deepEqual(parseUpstream('127.0.0.9:5353'), { host: '127.0.0.9', port: 5353 });
  assert.deepEqual(parseUpstream('[::1]:5353'), { host: '::1', port: 5353 });
  assert.throws(() => parseUpstream('nope:53'));
});
