import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cidrsOverlap, formatIp, parseIp, tryParseCidr, formatCidr } from '../api/index.js';
import { gatewayOf, nextAddress, nextSubnet } from './ipam.js';

test('subnets are /24 blocks of 10.0.0.0/8 that overlap nothing in use', () => {
  assert.equal(nextSubnet([]), '10.0.0.0/24');
  assert.equal(nextSubnet(['10.0.0.0/24', '10.0.1.0/24']), '10.0.2.0/24');
  assert.equal(nextSubnet(['10.0.0.0/16']), '10.1.0.0/24', 'a user-given /16 is skipped whole');
  assert.equal(nextSubnet(['10.0.0.0/8']), undefined, 'a full pool says so');
  assert.ok(cidrsOverlap('10.0.0.0/16', '10.0.5.0/24'));
  assert.ok(!cidrsOverlap('10.0.0.0/24', '10.0.1.0/24'));
  assert.ok(!cidrsOverlap('10.0.0.0/8', 'fd00::/8'), 'families never overlap');
});

test('subnets come from the swarm pools in order, at the swarm subnet size', () => {
  const pools = ['10.20.0.0/16', '192.168.0.0/24'];
  assert.equal(nextSubnet([], pools, 26), '10.20.0.0/26');
  assert.equal(nextSubnet(['10.20.0.0/26', '10.20.0.128/25'], pools, 26), '10.20.0.64/26');
  assert.equal(nextSubnet(['10.20.0.0/16'], pools, 26), '192.168.0.0/26', 'the next pool once one is full');
  assert.equal(nextSubnet(['10.20.0.0/16', '192.168.0.0/24'], pools, 26), undefined);
  // A wide pool with many blocks in use is stepped through, not tried block by block.
  const used = Array.from({ length: 2000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
  const t0 = Date.now();
  assert.equal(nextSubnet(used, ['10.0.0.0/8'], 29), '10.7.208.0/29');
  assert.equal(nextSubnet(used, ['0.0.0.0/0'], 29), '0.0.0.0/29');
  assert.ok(Date.now() - t0 < 500);
  assert.equal(nextSubnet([], ['fd00:10::/48'], 64), 'fd00:10::/64', 'an IPv6 pool');
});

test('addresses start after the network address, skip the gateway, the taken and the broadcast', () => {
  assert.equal(gatewayOf('10.0.3.0/24'), '10.0.3.1');
  assert.equal(nextAddress('10.0.3.0/24', new Set(['10.0.3.1'])), '10.0.3.2/24');
  assert.equal(nextAddress('10.0.3.0/24', new Set(['10.0.3.1', '10.0.3.2', '10.0.3.3'])), '10.0.3.4/24');
  const all = new Set(Array.from({ length: 254 }, (_, i) => `10.0.3.${i + 1}`));
  assert.equal(nextAddress('10.0.3.0/24', all), undefined);
  assert.equal(nextAddress('10.0.3.0/24', new Set(['10.0.3.1']), '10.0.3.128/25'), '10.0.3.128/24');
  assert.equal(nextAddress('10.0.3.0/30', new Set(['10.0.3.1'])), '10.0.3.2/30');
  assert.equal(nextAddress('10.0.3.0/30', new Set(['10.0.3.1', '10.0.3.2'])), undefined);
});

test('IPv6 subnets give addresses too, in canonical text', () => {
  assert.equal(gatewayOf('fd00:1::/64'), 'fd00:1::1');
  assert.equal(nextAddress('fd00:1::/64', new Set(['fd00:1::1'])), 'fd00:1::2/64');
  assert.equal(nextAddress('fd00:1::/64', new Set(['fd00:1::1', 'fd00:1::2'])), 'fd00:1::3/64');
  // The last address of an IPv6 subnet is usable (there is no broadcast).
  assert.equal(nextAddress('fd00::/127', new Set()), 'fd00::1/127');
});

test('addresses and CIDRs parse as Go parses them and print canonically', () => {
  for (const [text, canonical] of [
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['::ffff:10.0.0.1', '::ffff:a00:1'],
    ['10.0.0.1', '10.0.0.1'],
  ] as const) {
    const ip = parseIp(text);
    assert.ok(ip, text);
    assert.equal(formatIp(ip.family, ip.value), canonical, text);
  }
  for (const bad of [
    '10.0.0',
    '10.0.0.256',
    '1:2:3:4:5:6:7:8:9',
    '1::2::3',
    'fd00:::1',
    'x',
    '',
    '10.0.0.01.1',
  ])
    assert.equal(parseIp(bad), undefined, bad);
  assert.equal(formatCidr(tryParseCidr('10.1.2.3/16')!), '10.1.0.0/16', 'host bits are cleared');
  assert.equal(formatCidr(tryParseCidr('fd00:1:2:3::9/48')!), 'fd00:1:2::/48');
  for (const bad of ['10.0.0.0/33', 'fd00::/129', '10.0.0.0', '10.0.0.0/x', '10.0.0.0/-1'])
    assert.equal(tryParseCidr(bad), undefined, bad);
});
