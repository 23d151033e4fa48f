import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import type { StringAnswer } from 'dns-packet';
import { encodeAnswer, parseQuery, RCODE, udpLimit } from './wire.js';

const query = (name: string, type: 'A' | 'AAAA' | 'PTR' | 'MX', edns = false): Buffer =>
  dnsPacket.encode({
    type: 'query',
    id: 4242,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    additionals: edns
      ? [
          {
            type: 'OPT',
            name: '.',
            udpPayloadSize: 1232,
            extendedRcode: 0,
            ednsVersion: 0,
            flags: 0,
            flag_do: false,
            options: [],
          },
        ]
      : [],
  });

test('a query is read by hand as dns-packet wrote it, its EDNS size included', () => {
  const q = parseQuery(query('Tasks.Web.', 'AAAA', true))!;
  assert.deepEqual(
    { ...q, end: 0 },
    { id: 4242, flags: dnsPacket.RECURSION_DESIRED, name: 'Tasks.Web', type: 'AAAA', end: 0, udpSize: 1232 },
  );
  assert.equal(udpLimit(q), 1232);
  assert.equal(parseQuery(query('x', 'MX'))!.type, '15');
  assert.equal(udpLimit(parseQuery(query('x', 'A'))!), 512);
  const response = dnsPacket.encode({
    type: 'response',
    id: 1,
    questions: [{ type: 'A', name: 'x', class: 'IN' }],
  });
  assert.equal(parseQuery(response), undefined, 'a response is no query');
});

test('A, AAAA and PTR answers decode with dns-packet, name as asked, OPT echoed', () => {
  const decode = (msg: Buffer, type: 'A' | 'AAAA' | 'PTR', values: string[]) => {
    const p = dnsPacket.decode(encodeAnswer(msg, parseQuery(msg)!, RCODE.NOERROR, type, values, 0, 4096));
    return {
      p,
      data: (p.answers ?? []).map((a) => (a as StringAnswer).data),
      names: (p.answers ?? []).map((a) => a.name),
    };
  };
  const a = decode(query('Web', 'A'), 'A', ['10.0.1.2', '10.0.1.3']);
  assert.deepEqual(a.data, ['10.0.1.2', '10.0.1.3']);
  assert.deepEqual(a.names, ['Web', 'Web']);
  assert.equal(a.p.id, 4242);
  assert.equal(a.p.flag_aa && a.p.flag_rd && a.p.flag_ra && a.p.flag_qr, true);
  assert.deepEqual(decode(query('db', 'AAAA'), 'AAAA', ['fd00::10', '::1', 'fd00:1:2:3:4:5:6:7']).data, [
    'fd00::10',
    '::1',
    'fd00:1:2:3:4:5:6:7',
  ]);
  assert.deepEqual(decode(query('5.1.0.10.in-addr.arpa', 'PTR'), 'PTR', ['web.1.t1']).data, ['web.1.t1']);
  const e = decode(query('web', 'A', true), 'A', ['10.0.1.2']);
  assert.equal(e.p.additionals?.[0]?.type, 'OPT');
});

test('answers past the limit are cut with TC set, whole records only', () => {
  const msg = query('rr', 'A');
  const values = Array.from({ length: 100 }, (_, i) => `10.0.2.${i + 1}`);
  const out = encodeAnswer(msg, parseQuery(msg)!, RCODE.NOERROR, 'A', values, 0, 512);
  assert.ok(out.length <= 512);
  const p = dnsPacket.decode(out);
  assert.equal(p.flag_tc, true);
  assert.equal(p.answers?.length, 30);
  const nx = dnsPacket.decode(encodeAnswer(msg, parseQuery(msg)!, RCODE.NXDOMAIN, 'A', [], 0, 512)) as {
    rcode?: string;
  };
  assert.equal(nx.rcode, 'NXDOMAIN');
});
