// The ControlAPI's network rules on a bare store: VXLAN IDs, overlapping subnets, removal while
// tasks hold addresses, and the encrypted-network refusal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../platform/index.js';
import { MemoryStore } from '../../state/index.js';
import type { Cluster, Network, Task } from '../../api/index.js';
import { ControlAPI, DEFAULT_SWARM_SPEC } from './index.js';

async function setup(encryption?: () => Promise<string | undefined>): Promise<{
  store: MemoryStore;
  api: ControlAPI;
}> {
  let i = 0;
  const store = new MemoryStore({ propose: () => Promise.resolve(++i) });
  const cluster = {
    ID: 'c1',
    Version: { Index: 0 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: DEFAULT_SWARM_SPEC,
    TLSInfo: {},
    RootRotationInProgress: false,
    DefaultAddrPool: null,
    SubnetSize: 24,
    DataPathPort: 4789,
    JoinTokens: { Worker: '', Manager: '' },
  } as unknown as Cluster;
  await store.update((tx) => tx.create('clusters', cluster));
  const api = new ControlAPI(store, new ManualClock(), () => undefined, encryption ? { encryption } : {});
  return { store, api };
}

const vniOf = (n: Network): string =>
  n.DriverState.Options!['com.docker.network.driver.overlay.vxlanid_list']!;
const vnis = (store: MemoryStore): Record<string, string> =>
  Object.fromEntries(store.view((tx) => tx.all('networks').map((n) => [n.Spec.Name, vniOf(n)])));
const snapshot = (store: MemoryStore): string =>
  JSON.stringify(store.view((tx) => [tx.all('networks'), tx.all('services'), tx.all('tasks')]));

test('VXLAN IDs are the lowest free from 4097, reused only once their network is gone, never shared', async () => {
  const { store, api } = await setup();
  const ingress = await api.createNetwork({ Name: 'ingress', Ingress: true });
  const a = await api.createNetwork({ Name: 'a' });
  const b = await api.createNetwork({ Name: 'b' });
  await api.createNetwork({ Name: 'c' });
  assert.deepEqual(vnis(store), { ingress: '4096', a: '4097', b: '4098', c: '4099' });
  await api.removeNetwork(b);
  await api.createNetwork({ Name: 'd' });
  await api.createNetwork({ Name: 'e' });
  assert.deepEqual(vnis(store), { ingress: '4096', a: '4097', c: '4099', d: '4098', e: '4100' });
  // Before, 4096 + count gave 'f' the ID 'e' holds after two removals.
  await api.removeNetwork(a);
  await api.removeNetwork(ingress);
  await api.createNetwork({ Name: 'f' });
  const all = Object.values(vnis(store));
  assert.equal(new Set(all).size, all.length, `duplicate VXLAN ID: ${all.join(',')}`);
  assert.equal(vnis(store).f, '4097', 'a plain network never takes the ingress ID');
});

test('a subnet overlapping another network, or another of its own request, is refused and nothing changes', async () => {
  const { store, api } = await setup();
  await api.createNetwork({ Name: 'wide', IPAM: { Config: [{ Subnet: '10.50.0.0/16' }] } });
  const before = snapshot(store);
  for (const [body, re] of [
    [
      { Name: 'inside', IPAM: { Config: [{ Subnet: '10.50.7.0/24' }] } },
      /10\.50\.7\.0\/24 overlaps 10\.50\.0\.0\/16 of network wide/,
    ],
    [
      { Name: 'around', IPAM: { Config: [{ Subnet: '10.0.0.0/8' }] } },
      /10\.0\.0\.0\/8 overlaps 10\.50\.0\.0\/16/,
    ],
    [
      { Name: 'twice', IPAM: { Config: [{ Subnet: '10.60.0.0/24' }, { Subnet: '10.60.0.128/25' }] } },
      /10\.60\.0\.128\/25 overlaps 10\.60\.0\.0\/24 of the same request/,
    ],
  ] as const) {
    await assert.rejects(api.createNetwork(body), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'InvalidArgument');
      assert.match(e.message, /^Pool overlaps with other one on this address space: /);
      assert.match(e.message, re);
      return true;
    });
  }
  assert.equal(snapshot(store), before);
  // Different families never overlap; the next pool subnet steps past the taken one.
  await api.createNetwork({ Name: 'v6', IPAM: { Config: [{ Subnet: 'fd00::/64' }] } });
});

function task(id: string, netId: string, state: string, desired: string, nodeId?: string): Task {
  return {
    ID: id,
    Version: { Index: 0 },
    CreatedAt: '',
    UpdatedAt: '',
    ServiceID: '',
    ...(nodeId ? { NodeID: nodeId } : {}),
    Spec: { ContainerSpec: { Image: 'x' } },
    Status: { Timestamp: '', State: state, Message: '' },
    DesiredState: desired,
    NetworksAttachments: [{ Network: { ID: netId } as Network, Addresses: ['10.0.1.3/24'] }],
  } as unknown as Task;
}

test('network rm is refused while a task wanted running holds an address on it; stopping tasks do not hold it up', async () => {
  const { store, api } = await setup();
  const net = await api.createNetwork({ Name: 'busy' });
  // A task still wanted running on its node: a standalone container's attachment (no service).
  // A task of a service already removed holds nothing, even before it is marked for removal.
  await store.update((tx) => {
    tx.create('tasks', task('t1', net, 'running', 'running', 'n1'));
    tx.create('tasks', { ...task('t0', net, 'running', 'running', 'n1'), ServiceID: 'gone' });
  });
  const before = snapshot(store);
  await assert.rejects(api.removeNetwork('busy'), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'FailedPrecondition');
    assert.equal(e.message, `network ${net} is in use by task t1`);
    return true;
  });
  assert.equal(snapshot(store), before);
  // A task that never reached a node and is no longer wanted holds nothing.
  await store.update((tx) => {
    // Its service removed: still stopping on its node, but no longer wanted.
    tx.update('tasks', { ...tx.get('tasks', 't1')!, DesiredState: 'shutdown' });
    tx.create('tasks', task('t2', net, 'pending', 'remove'));
  });
  await api.removeNetwork('busy');
  assert.equal(
    store.view((tx) => tx.get('networks', net)),
    undefined,
  );
});

test('an encrypted network is refused with the injected reason before anything is written; -o encrypted is read by presence', async () => {
  const calls: number[] = [];
  const { store, api } = await setup(() => {
    calls.push(1);
    return Promise.resolve('no ESP here');
  });
  const before = snapshot(store);
  await assert.rejects(
    api.createNetwork({ Name: 'secret', Options: { encrypted: '' } }),
    (e: Error & { code?: string }) => e.code === 'BadParameter' && e.message === 'no ESP here',
  );
  assert.equal(snapshot(store), before);
  await api.createNetwork({ Name: 'plain', Options: { mtu: '1400' } });
  assert.equal(calls.length, 1, 'only an encrypted network asks the kernel');
  const ok = await setup(() => Promise.resolve(undefined));
  await ok.api.createNetwork({ Name: 'secret', Options: { encrypted: 'true' } });
});
