import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServiceView } from '../../api/index.js';
import { answer, buildIndex, reverseName, RECORD_TTL } from './records.js';
import { endpoint, network, seeded } from './testing.js';

const view = network(
  [
    { id: 's-web', name: 'web', mode: 'vip', vip: '10.0.1.2', aliases: ['www'] },
    { id: 's-db', name: 'db', mode: 'dnsrr', aliases: ['Store'] },
    { id: 's-empty', name: 'empty', mode: 'dnsrr', aliases: [] },
  ],
  [
    endpoint({
      id: 't1',
      name: 'web.1.t1',
      serviceId: 's-web',
      aliases: ['www'],
      addresses: ['10.0.1.5/24'],
    }),
    endpoint({ id: 't2', name: 'web.2.t2', serviceId: 's-web', addresses: ['10.0.1.6/24'] }),
    endpoint({ id: 't3', name: 'web.3.t3', serviceId: 's-web', addresses: ['10.0.1.7/24'], ready: false }),
    endpoint({ id: 'd1', name: 'db.1.d1', serviceId: 's-db', addresses: ['10.0.1.10/24', 'fd00::10/64'] }),
    endpoint({ id: 'd2', name: 'db.2.d2', serviceId: 's-db', addresses: ['10.0.1.11/24'] }),
    endpoint({ id: 'd3', name: 'db.3.d3', serviceId: 's-db', addresses: ['10.0.1.12/24'] }),
    endpoint({ id: 'd4', name: 'db.4.d4', serviceId: 's-db', addresses: ['10.0.1.13/24'], ready: false }),
    endpoint({ id: 'c1', name: 'toolbox', aliases: ['tb'], addresses: ['10.0.1.20/24'] }),
  ],
);

const rnd = seeded(1);
const addrs = (name: string, type = 'A', random = rnd): string[] | undefined =>
  answer(view, name, type, random)?.answers.map((a) => String(a.data));

test('a vip service and its aliases answer the VIP, with TTL 0', () => {
  assert.deepEqual(addrs('web'), ['10.0.1.2']);
  assert.deepEqual(
    addrs('www'),
    ['10.0.1.2'],
    'an endpoint alias that is the service alias still means the VIP',
  );
  const r = answer(view, 'web', 'A', rnd)!;
  assert.equal(r.rcode, 'NOERROR');
  assert.equal(r.answers[0]!.ttl, RECORD_TTL);
  assert.equal(RECORD_TTL, 0);
  assert.equal(r.answers[0]!.name, 'web', 'the answer carries the name as asked');
});

test('tasks.<service> answers every ready task, not starting or stopping ones', () => {
  assert.deepEqual(addrs('tasks.web')?.sort(), ['10.0.1.5', '10.0.1.6']);
  assert.deepEqual(addrs('tasks.www')?.sort(), ['10.0.1.5', '10.0.1.6'], 'tasks.<alias> too');
  assert.deepEqual(addrs('tasks.db')?.sort(), ['10.0.1.10', '10.0.1.11', '10.0.1.12']);
});

test('dnsrr answers the ready tasks in an order that the injected random decides', () => {
  assert.deepEqual(addrs('db')?.sort(), ['10.0.1.10', '10.0.1.11', '10.0.1.12']);
  assert.deepEqual(addrs('store')?.sort(), ['10.0.1.10', '10.0.1.11', '10.0.1.12'], 'an alias, any case');
  assert.deepEqual(addrs('db', 'A', seeded(7)), addrs('db', 'A', seeded(7)), 'same seed, same order');
  const firsts = new Set<string>();
  const r = seeded(42);
  for (let i = 0; i < 60; i++) firsts.add(addrs('db', 'A', r)![0]!);
  assert.equal(firsts.size, 3, 'every ready task comes first some of the time (glibc takes the first)');
  assert.deepEqual(
    addrs('db', 'A', () => 0),
    ['10.0.1.11', '10.0.1.12', '10.0.1.10'],
    'Fisher-Yates',
  );
});

test("a ready task's name and a container's aliases answer its address; a not-ready task NXDOMAIN", () => {
  assert.deepEqual(addrs('web.1.t1'), ['10.0.1.5']);
  assert.deepEqual(addrs('toolbox'), ['10.0.1.20']);
  assert.deepEqual(addrs('tb'), ['10.0.1.20']);
  assert.deepEqual(answer(view, 'web.3.t3', 'A', rnd), { rcode: 'NXDOMAIN', answers: [] });
  assert.deepEqual(answer(view, 'empty', 'A', rnd), { rcode: 'NXDOMAIN', answers: [] }, 'no ready task');
  assert.deepEqual(answer(view, 'tasks.empty', 'A', rnd), { rcode: 'NXDOMAIN', answers: [] });
});

test('names are case-insensitive and a trailing dot is ignored; no search domain is added', () => {
  assert.deepEqual(addrs('WEB.'), ['10.0.1.2']);
  assert.deepEqual(addrs('Tasks.Web.')?.sort(), ['10.0.1.5', '10.0.1.6']);
  assert.equal(answer(view, 'web.example.com', 'A', rnd), undefined);
});

test('AAAA of an IPv4-only name is NOERROR with no records; of a dual one, its IPv6', () => {
  assert.deepEqual(answer(view, 'web', 'AAAA', rnd), { rcode: 'NOERROR', answers: [] });
  assert.deepEqual(addrs('db.1.d1', 'AAAA'), ['fd00::10']);
  assert.deepEqual(addrs('tasks.db', 'AAAA'), ['fd00::10']);
  assert.deepEqual(answer(view, 'web', 'MX', rnd), { rcode: 'NOERROR', answers: [] });
});

test('a name the network does not know is undefined: the server forwards it', () => {
  assert.equal(answer(view, 'example.com', 'A', rnd), undefined);
  assert.equal(answer(view, 'tasks.nothing', 'A', rnd), undefined);
  assert.equal(answer(view, '', 'A', rnd), undefined);
});

test('PTR of a ready task and of a VIP; other addresses are forwarded', () => {
  assert.equal(reverseName('10.0.1.5/24'), '5.1.0.10.in-addr.arpa');
  assert.equal(reverseName('fd00::10')?.slice(0, 8), '0.1.0.0.');
  assert.deepEqual(addrs('5.1.0.10.in-addr.arpa', 'PTR'), ['web.1.t1']);
  assert.deepEqual(addrs('2.1.0.10.in-addr.arpa.', 'PTR'), ['web']);
  assert.deepEqual(addrs(reverseName('fd00::10')!, 'PTR'), ['db.1.d1']);
  assert.equal(answer(view, '7.1.0.10.in-addr.arpa', 'PTR', rnd), undefined, 'a not-ready task');
});

test('a view with thousands of tasks is indexed once; a query does not scan it', () => {
  const eps = Array.from({ length: 5000 }, (_, i) =>
    endpoint({
      id: `t${i}`,
      name: `s${i % 500}.${i}.t${i}`,
      serviceId: `s${i % 500}`,
      addresses: [`10.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/8`],
    }),
  );
  const svcs: ServiceView[] = Array.from({ length: 500 }, (_, i) => ({
    id: `s${i}`,
    name: `svc${i}`,
    mode: i % 2 ? 'vip' : 'dnsrr',
    vip: `10.200.${i >> 8}.${i & 255}`,
    aliases: [],
  }));
  const big = network(svcs, eps);
  const t0 = performance.now();
  assert.equal(buildIndex(big).names.size, 5000 + 1000);
  answer(big, 'svc1', 'A', rnd);
  const built = performance.now() - t0;
  const t1 = performance.now();
  for (let i = 0; i < 20_000; i++) answer(big, `svc${(i % 250) * 2 + 1}`, 'A', rnd);
  const per = (performance.now() - t1) / 20_000;
  assert.ok(per < 0.05, `a vip query takes ${per.toFixed(4)} ms; building took ${built.toFixed(1)} ms`);
  assert.deepEqual(
    answer(big, 'tasks.svc0', 'A', rnd)?.answers.length,
    10,
    'each service has its 10 tasks behind tasks.',
  );
});
