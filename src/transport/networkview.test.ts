// What a node accepts of a manager's network view: the data plane renders ports and addresses into
// nft scripts, so a view from a broken or newer manager with other shapes is dropped, not applied.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkNetworkView } from './session.js';

const ingress = {
  id: 'ing',
  name: 'ingress',
  vni: 4096,
  subnets: [{ subnet: '10.0.0.0/24', gateway: '10.0.0.1' }],
  attachable: false,
  internal: false,
  ingress: true,
  options: {},
  nodeAddress: '10.0.0.2/24',
  endpoints: [],
  services: [
    {
      id: 's1',
      name: 'web',
      mode: 'vip',
      vip: '10.0.0.3',
      aliases: [],
      ports: [{ protocol: 'tcp', published: 8080, target: 80 }],
      affinity: 'client-ip',
      snat: false,
    },
  ],
  nodes: [{ nodeId: 'n1', nodeAddr: '192.168.77.2', address: '10.0.0.2/24' }],
};

test('an ingress view with ports, affinity, SNAT and nodes is taken as sent', () => {
  assert.deepEqual(checkNetworkView(structuredClone(ingress)), ingress);
  const { nodes: _nodes, ...noNodes } = structuredClone(ingress);
  assert.ok(checkNetworkView(noNodes));
});

test('a published port, affinity, SNAT flag or node entry of another shape drops the view', () => {
  const bad = (edit: (v: typeof ingress) => void): unknown => {
    const v = structuredClone(ingress);
    edit(v);
    return checkNetworkView(v);
  };
  assert.equal(
    bad((v) => (v.services[0]!.ports[0]!.protocol = 'tcp; flush ruleset')),
    undefined,
  );
  assert.equal(
    bad((v) => (v.services[0]!.ports[0]!.published = 0)),
    undefined,
  );
  assert.equal(
    bad((v) => (v.services[0]!.ports[0]!.target = 65536)),
    undefined,
  );
  assert.equal(
    bad((v) => (v.services[0]!.ports[0]!.published = 80.5)),
    undefined,
  );
  assert.equal(
    bad((v) => ((v.services[0] as { affinity: string }).affinity = 'source')),
    undefined,
  );
  assert.equal(
    bad((v) => ((v.services[0] as { snat: unknown }).snat = 'yes')),
    undefined,
  );
  assert.equal(
    bad((v) => ((v.nodes[0] as { address: unknown }).address = 7)),
    undefined,
  );
  assert.equal(
    bad((v) => ((v as { nodes: unknown }).nodes = {})),
    undefined,
  );
});
