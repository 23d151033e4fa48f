import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../platform/index.js';
import { MemoryStore, type Proposer } from '../../state/index.js';
import type { ShoalError, Network, Node, Task } from '../../api/index.js';
import { Orchestrator } from '../orchestrator/index.js';
import { Allocator } from '../allocator/index.js';
import { ControlAPI } from '../controlapi/index.js';
import { Dispatcher } from './index.js';
import { networkViews } from './networks.js';

const proposer = (): Proposer => {
  let i = 0;
  return { propose: () => Promise.resolve(++i) };
};
const meta = { Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '' };

function network(id: string, name: string, o: { attachable?: boolean; subnet?: string } = {}): Network {
  return {
    ID: id,
    ...meta,
    Spec: { Name: name, Attachable: o.attachable ?? true },
    DriverState: { Name: 'overlay', Options: { 'com.docker.network.driver.overlay.vxlanid_list': '4100' } },
    IPAMOptions: {
      Driver: { Name: 'default' },
      Configs: [
        { Subnet: o.subnet ?? '10.0.1.0/24', Gateway: (o.subnet ?? '10.0.1.0/24').replace(/0\/\d+$/, '1') },
      ],
    },
  };
}

function node(id: string, addr: string): Node {
  return {
    ID: id,
    ...meta,
    Spec: { Role: 'worker', Availability: 'active' },
    Description: {
      Hostname: id,
      Platform: { Architecture: 'x86_64', OS: 'linux' },
      Resources: { NanoCPUs: 1e9, MemoryBytes: 1e9 },
      Engine: { EngineVersion: 'sim' },
    },
    Status: { State: 'ready', Addr: addr },
  };
}

async function setup(): Promise<{ store: MemoryStore; d: Dispatcher; clock: ManualClock }> {
  const store = new MemoryStore(proposer());
  await store.update((tx) => {
    tx.create('networks', network('att', 'att'));
    tx.create('networks', network('closed', 'closed', { attachable: false, subnet: '10.0.2.0/24' }));
    tx.create('networks', network('tiny', 'tiny', { subnet: '10.0.3.0/30' }));
    tx.create('nodes', node('n1', '192.168.1.1'));
    tx.create('nodes', node('n2', '192.168.1.2'));
  });
  const clock = new ManualClock();
  return { store, d: new Dispatcher(store, clock), clock };
}

const tasks = (store: MemoryStore): Task[] => store.view((tx) => tx.all('tasks'));

test('attachNetwork records a running attachment task with a fresh address each time', async () => {
  const { store, d } = await setup();
  const a = await d.attachNetwork('n1', 'att');
  const b = await d.attachNetwork('n2', 'att');
  assert.equal(a.address, '10.0.1.2/24');
  assert.equal(b.address, '10.0.1.3/24');
  const t = store.view((tx) => tx.get('tasks', a.attachmentId))!;
  assert.equal(t.ServiceID, '');
  assert.equal(t.NodeID, 'n1');
  assert.equal(t.Status.State, 'running');
  assert.equal(t.DesiredState, 'running');
  assert.deepEqual(t.Spec.NetworkAttachmentSpec, { ContainerID: '' });
  assert.deepEqual(t.NetworksAttachments![0]!.Addresses, ['10.0.1.2/24']);
  // By name too: a node asks so ahead of a container create, before it knows the network's ID.
  const byId = await d.attachNetwork('n1', t.NetworksAttachments![0]!.Network.ID);
  const byName = await d.attachNetwork('n1', t.NetworksAttachments![0]!.Network.Spec.Name);
  assert.equal(byId.address, '10.0.1.4/24');
  assert.equal(byName.address, '10.0.1.5/24');
});

test('attachNetwork refuses clearly and writes nothing', async () => {
  const { store, d } = await setup();
  await assert.rejects(d.attachNetwork('n1', 'closed'), (e: ShoalError) => {
    assert.equal(e.code, 'PermissionDenied');
    assert.match(e.message, /Could not attach to network closed: .*network closed not manually attachable/);
    return true;
  });
  await assert.rejects(d.attachNetwork('n1', 'nosuch'), (e: ShoalError) => e.code === 'NotFound');
  await assert.rejects(d.attachNetwork('n1', 'Bad ID!'), (e: ShoalError) => e.code === 'InvalidArgument');
  await assert.rejects(d.attachNetwork('ghost', 'att'), (e: ShoalError) => e.code === 'NotFound');
  // A /30 has one address past the gateway.
  await d.attachNetwork('n1', 'tiny');
  await assert.rejects(d.attachNetwork('n1', 'tiny'), (e: ShoalError) => e.code === 'ResourceExhausted');
  assert.equal(tasks(store).length, 1);
  await assert.rejects(
    d.updateAttachment('n1', 'att', '10.0.1.2', 'zz', 'x'),
    (e: ShoalError) => e.code === 'InvalidArgument',
  );
  await assert.rejects(
    d.updateAttachment('n1', 'att', 'not-an-ip', 'a'.repeat(64), 'x'),
    (e: ShoalError) => e.code === 'InvalidArgument',
  );
});

test('attachments are never assignments, but are endpoints named by their container', async () => {
  const { store, d } = await setup();
  const a = await d.attachNetwork('n1', 'att');
  assert.deepEqual(d.assignmentSet('n1'), []);
  let views = store.view((tx) => networkViews(tx, 'n2'));
  assert.deepEqual(views, [], 'n2 holds nothing on att');
  views = store.view((tx) => networkViews(tx, 'n1'));
  assert.equal(views.length, 1);
  const ep = views[0]!.endpoints.find((e) => e.id === a.attachmentId)!;
  assert.equal(ep.serviceId, undefined);
  assert.equal(ep.ready, true);
  assert.deepEqual(ep.addresses, ['10.0.1.2/24']);
  // Another node's attachment is there too.
  await d.updateAttachment('n1', 'att', '10.0.1.2/24', 'c'.repeat(64), '/standalone');
  await d.attachNetwork('n2', 'att');
  views = store.view((tx) => networkViews(tx, 'n2'));
  assert.equal(views[0]!.endpoints.length, 2);
  assert.ok(views[0]!.endpoints.some((e) => e.name === 'standalone' && e.nodeAddr === '192.168.1.1'));
  const t = store.view((tx) => tx.get('tasks', a.attachmentId))!;
  assert.deepEqual(t.Spec.NetworkAttachmentSpec, { ContainerID: 'c'.repeat(64) });
  // Another node cannot touch it.
  await assert.rejects(
    d.updateAttachment('n2', 'att', '10.0.1.2', 'd'.repeat(64), 'x'),
    (e: ShoalError) => e.code === 'NotFound',
  );
  await d.detachNetwork('n2', 'att', '10.0.1.2');
  assert.ok(store.view((tx) => tx.get('tasks', a.attachmentId)));
  await d.detachNetwork('n1', 'att', '10.0.1.2/24');
  assert.equal(
    store.view((tx) => tx.get('tasks', a.attachmentId)),
    undefined,
  );
  // Released: the next grant may take it again.
  assert.equal((await d.attachNetwork('n1', 'att')).address, '10.0.1.2/24');
});

test('the orchestrator and the allocator leave attachments alone; node removal takes them', async () => {
  const { store, d, clock } = await setup();
  const orch = new Orchestrator(store, clock);
  const alloc = new Allocator(store, clock);
  orch.start();
  alloc.start();
  try {
    const a = await d.attachNetwork('n1', 'att');
    // A node change makes the orchestrator look at every task, those without a service included.
    await store.update((tx) => {
      const n = tx.get('nodes', 'n2')!;
      tx.update('nodes', { ...n, Spec: { ...n.Spec, Labels: { x: '1' } } });
    });
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    const t = store.view((tx) => tx.get('tasks', a.attachmentId))!;
    assert.equal(t.DesiredState, 'running');
    assert.equal(t.Status.State, 'running');
    assert.deepEqual(t.NetworksAttachments![0]!.Addresses, ['10.0.1.2/24']);
    // The allocator gives the node its own address there, distinct from the attachment's.
    const own = store.view((tx) => tx.get('nodes', 'n1')!.NetworkAddrs?.att);
    assert.ok(own === undefined || own !== '10.0.1.2/24');
    await store.update((tx) => {
      const n = tx.get('nodes', 'n1')!;
      tx.update('nodes', { ...n, Status: { ...n.Status, State: 'down' } });
    });
    assert.deepEqual(
      store.view((tx) => networkViews(tx, 'n1'))[0]?.endpoints ?? [],
      [],
      'a down node leaves the views',
    );
    const api = new ControlAPI(store, clock, () => undefined, {});
    await api.removeNode('n1', false);
    assert.equal(
      store.view((tx) => tx.get('tasks', a.attachmentId)),
      undefined,
    );
  } finally {
    orch.stop();
    alloc.stop();
  }
});
