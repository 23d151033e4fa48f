import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gatewayOf, nextAddress, nextSubnet, overlaps } from './ipam.js';

test('subnets are /24 blocks of 10.0.0.0/8 that overlap nothing in use', () => {
  assert.equal(nextSubnet([]), '10.0.0.0/24');
  assert.equal(nextSubnet(['10.0.0.0/24', '10.0.1.0/24']), '10.0.2.0/24');
  assert.equal(nextSubnet(['10.0.0.0/16']), '10.1.0.0/24', 'a user-given /16 is skipped whole');
  assert.equal(nextSubnet(['10.0.0.0/8']), undefined, 'a full pool says so');
  assert.ok(overlaps('10.0.0.0/16', '10.0.5.0/24'));
  assert.ok(!overlaps('10.0.0.0/24', '10.0.1.0/24'));
});

test('addresses start after the gateway and skip what is taken and the broadcast', () => {
  assert.equal(gatewayOf('10.0.3.0/24'), '10.0.3.1');
  assert.equal(nextAddress('10.0.3.0/24', new Set()), '10.0.3.2/24');
  assert.equal(nextAddress('10.0.3.0/24', new Set(['10.0.3.2', '10.0.3.3'])), '10.0.3.4/24');
  const all = new Set(Array.from({ length: 253 }, (_, i) => `10.0.3.${i + 2}`));
  assert.equal(nextAddress('10.0.3.0/24', all), undefined);
});
