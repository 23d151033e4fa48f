// The container create rewrite: which bodies get the network's resolver, and that nothing else in
// the body changes by a byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withStandaloneDns } from './containercreate.js';

/** The node's attachable networks: "att" (resolver 10.0.9.1) and "att2" (10.0.8.1). */
const dnsOf = (networks: readonly string[]): string[] =>
  networks.flatMap((n) => (n === 'att' ? ['10.0.9.1'] : n === 'att2' ? ['10.0.8.1'] : []));

const rewrite = (body: string): string | undefined => withStandaloneDns(Buffer.from(body), dnsOf)?.toString();

test('docker run --network att: Dns is the network resolver, every other byte as sent', () => {
  const body =
    '{"Hostname":"","Env":["A=\\u00e9 \\"x\\""],"Image":"busybox:local",\n  "HostConfig": {"Dns": [], "NetworkMode": "att", "Memory": 1e3},' +
    '"NetworkingConfig":{"EndpointsConfig":{"att":{"IPAMConfig":null}}}}\n';
  assert.equal(rewrite(body), body.replace('"Dns": []', '"Dns": ["10.0.9.1"]'));
  assert.equal(
    rewrite(body.replace('"Dns": []', '"Dns": null')),
    body.replace('"Dns": []', '"Dns": ["10.0.9.1"]'),
  );
});

test('the network is found by NetworkMode or by EndpointsConfig; each resolver once, in order', () => {
  assert.equal(
    rewrite('{"HostConfig":{"NetworkMode":"att"}}'),
    '{"HostConfig":{"Dns":["10.0.9.1"],"NetworkMode":"att"}}',
  );
  assert.equal(
    rewrite('{"HostConfig":{},"NetworkingConfig":{"EndpointsConfig":{"att2":{},"att":{}}}}'),
    '{"HostConfig":{"Dns":["10.0.8.1","10.0.9.1"]},"NetworkingConfig":{"EndpointsConfig":{"att2":{},"att":{}}}}',
  );
  // No HostConfig at all, or a null one: one is made.
  assert.equal(
    rewrite('{ "NetworkingConfig":{"EndpointsConfig":{"att":{}}} }'),
    '{"HostConfig":{"Dns":["10.0.9.1"]}, "NetworkingConfig":{"EndpointsConfig":{"att":{}}} }',
  );
  assert.equal(
    rewrite('{"HostConfig":null,"NetworkingConfig":{"EndpointsConfig":{"att":{}}}}'),
    '{"HostConfig":{"Dns":["10.0.9.1"]},"NetworkingConfig":{"EndpointsConfig":{"att":{}}}}',
  );
});

test('keys match as dockerd decodes them: any case, the last one wins', () => {
  assert.equal(
    rewrite('{"hostconfig":{"networkmode":"att","dns":null}}'),
    '{"hostconfig":{"networkmode":"att","dns":["10.0.9.1"]}}',
  );
  // The user's own resolvers (the last Dns member) are kept.
  assert.equal(rewrite('{"HostConfig":{"Dns":[],"NetworkMode":"att","DNS":["9.9.9.9"]}}'), undefined);
});

test('left alone: own resolvers, networks that are not shoal attachable ones, bodies it cannot read', () => {
  for (const body of [
    '{"HostConfig":{"Dns":["1.1.1.1"],"NetworkMode":"att"}}',
    '{"HostConfig":{"NetworkMode":"bridge"}}',
    '{"HostConfig":{"NetworkMode":"container:att"}}',
    '{"HostConfig":{"NetworkMode":"other"},"NetworkingConfig":{"EndpointsConfig":{"other":{}}}}',
    '{"Image":"busybox"}',
    '{"HostConfig":"att"}',
    '[]',
    '{"HostConfig":',
    '',
  ])
    assert.equal(rewrite(body), undefined, body);
});
