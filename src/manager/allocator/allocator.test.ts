import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ManualClock } from '../../platform/index.js';
import { MemoryStore, type ReadTx } from '../../state/index.js';
import {
  isTerminal,
  type Network,
  type Node,
  type Service,
  type Task,
  type TaskState,
} from '../../api/index.js';
import { Allocator } from './index.js';

const meta = { Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '' };

function network(id: string, subnet: string, gateway: string): Network {
  return {
    ID: id,
    ...meta,
    Spec: { Name: id },
    DriverState: { Name: 'overlay', Options: { 'com.docker.network.driver.overlay.vxlanid_list': '4097' } },
    IPAMOptions: { Driver: { Name: 'default' }, Configs: [{ Subnet: subnet, Gateway: gateway }] },
  };
}

function node(id: string): Node {
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
    Status: { State: 'ready', Addr: '192.168.0.1' },
  };
}

function service(id: string, nets: string[], mode: 'vip' | 'dnsrr' = 'vip'): Service {
  return {
    ID: id,
    ...meta,
    Spec: {
      Name: id,
      TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: nets.map((Target) => ({ Target })) },
      EndpointSpec: { Mode: mode },
    },
    Endpoint: { Spec: {} },
  } as Service;
}

function task(id: string, serviceId: string): Task {
  return {
    ID: id,
    ...meta,
    Labels: {},
    Spec: { ContainerSpec: { Image: 'busybox' } },
    ServiceID: serviceId,
    Slot: 1,
    Status: { Timestamp: '', State: 'new', Message: '', PortStatus: {} },
    DesiredState: 'running',
  };
}

function newStore(): MemoryStore {
  let i = 0;
  return new MemoryStore({ propose: () => Promise.resolve(++i) });
}

/** Lets the allocator's passes (setImmediate, then a store update) run until it is idle. */
async function settle(): Promise<void> {
  for (let i = 0; i < 12; i++) await new Promise((r) => setImmediate(r));
}

/** Every address any live holder has, per network: a second holder of one is a failure. */
function holders(tx: ReadTx): string[] {
  const seen = new Map<string, string>();
  const problems: string[] = [];
  const hold = (net: string, addr: string, who: string): void => {
    const key = `${net} ${addr.split('/')[0]!}`;
    const had = seen.get(key);
    if (had) problems.push(`${key}: ${had} and ${who}`);
    seen.set(key, who);
  };
  for (const n of tx.all('networks'))
    for (const c of n.IPAMOptions.Configs) if (c.Gateway) hold(n.ID, c.Gateway, `gateway ${n.ID}`);
  for (const s of tx.all('services'))
    for (const v of s.Endpoint.VirtualIPs ?? []) hold(v.NetworkID, v.Addr, `vip ${s.ID}`);
  for (const n of tx.all('nodes'))
    for (const [net, addr] of Object.entries(n.NetworkAddrs ?? {})) hold(net, addr, `node ${n.ID}`);
  for (const t of tx.all('tasks'))
    if (!isTerminal(t.Status.State))
      for (const a of t.NetworksAttachments ?? [])
        for (const addr of a.Addresses) hold(a.Network.ID, addr, `task ${t.ID}`);
  return problems;
}

const setState = (t: Task, State: TaskState, extra: Partial<Task> = {}): Task => ({
  ...t,
  ...extra,
  Status: { ...t.Status, State },
});

test('a node gets an address on a network while it has live tasks there, and frees it after', async () => {
  const store = newStore();
  const a = new Allocator(store, new ManualClock());
  await store.update((tx) => {
    tx.create('networks', network('net1', '10.0.1.0/24', '10.0.1.1'));
    tx.create('nodes', node('n1'));
    tx.create('services', service('web', ['net1']));
    tx.create('tasks', task('t1', 'web'));
  });
  a.start();
  await settle();
  const addrOf = (): string | undefined => store.view((tx) => tx.get('nodes', 'n1')!.NetworkAddrs?.net1);
  assert.equal(addrOf(), undefined, 'no task on the node yet');
  await store.update((tx) =>
    tx.update('tasks', setState(tx.get('tasks', 't1')!, 'assigned', { NodeID: 'n1' })),
  );
  await settle();
  const own = addrOf();
  assert.ok(own?.startsWith('10.0.1.'), `the node has an address: ${own}`);
  const taskAddr = store.view((tx) => tx.get('tasks', 't1')!.NetworksAttachments![0]!.Addresses[0]);
  const vip = store.view((tx) => tx.get('services', 'web')!.Endpoint.VirtualIPs![0]!.Addr);
  assert.equal(new Set([own, taskAddr, vip, '10.0.1.1/24']).size, 4, 'all different');
  await store.update((tx) => tx.update('tasks', setState(tx.get('tasks', 't1')!, 'running')));
  await settle();
  assert.equal(addrOf(), own, 'kept while the task lives');
  await store.update((tx) => tx.update('tasks', { ...tx.get('tasks', 't1')!, DesiredState: 'shutdown' }));
  await settle();
  assert.equal(addrOf(), undefined, 'freed when the last live task there goes');
  assert.equal(
    store.view((tx) => 'NetworkAddrs' in tx.get('nodes', 'n1')!),
    false,
  );
  a.stop();
});

test('after random creates, placements, scale-downs and removals no two live holders share an address', async () => {
  const opArb = fc.oneof(
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('service' as const),
        mode: fc.constantFrom('vip' as const, 'dnsrr' as const),
        nets: fc.subarray(['a', 'b'], { minLength: 1 }),
      }),
    },
    { weight: 5, arbitrary: fc.record({ op: fc.constant('task' as const), pick: fc.nat() }) },
    {
      weight: 5,
      arbitrary: fc.record({ op: fc.constant('place' as const), pick: fc.nat(), node: fc.nat() }),
    },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('run' as const), pick: fc.nat() }) },
    {
      weight: 3,
      arbitrary: fc.record({ op: fc.constant('stop' as const), pick: fc.nat(), fail: fc.boolean() }),
    },
    fc.record({ op: fc.constant('removeTask' as const), pick: fc.nat() }),
    fc.record({ op: fc.constant('removeService' as const), pick: fc.nat() }),
    fc.record({ op: fc.constant('addNode' as const) }),
    fc.record({ op: fc.constant('removeNode' as const), pick: fc.nat() }),
    fc.record({ op: fc.constant('removeNetwork' as const), net: fc.constantFrom('a', 'b') }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 20, maxLength: 80 }), async (ops) => {
      const store = newStore();
      const alloc = new Allocator(store, new ManualClock());
      let ids = 0;
      await store.update((tx) => {
        // Small subnets, so addresses are freed and handed out again.
        tx.create('networks', network('a', '10.0.1.0/28', '10.0.1.1'));
        tx.create('networks', network('b', '10.0.2.0/28', '10.0.2.1'));
        for (const n of ['n1', 'n2', 'n3']) tx.create('nodes', node(n));
      });
      alloc.start();
      try {
        for (const o of ops) {
          await store.update((tx) => {
            const at = <T>(xs: T[], i: number): T | undefined => (xs.length ? xs[i % xs.length] : undefined);
            const tasks = tx.all('tasks');
            switch (o.op) {
              case 'service':
                tx.create(
                  'services',
                  service(
                    `s${++ids}`,
                    o.nets.filter((n) => tx.get('networks', n)),
                    o.mode,
                  ),
                );
                return;
              case 'task': {
                const s = at(tx.all('services'), o.pick);
                if (s) tx.create('tasks', task(`t${++ids}`, s.ID));
                return;
              }
              case 'place': {
                const t = at(
                  tasks.filter((x) => x.Status.State === 'pending'),
                  o.pick,
                );
                const n = at(tx.all('nodes'), o.node);
                if (t && n) tx.update('tasks', setState(t, 'assigned', { NodeID: n.ID }));
                return;
              }
              case 'run': {
                const t = at(
                  tasks.filter((x) => x.Status.State === 'assigned'),
                  o.pick,
                );
                if (t) tx.update('tasks', setState(t, 'running'));
                return;
              }
              case 'stop': {
                const t = at(
                  tasks.filter((x) => !isTerminal(x.Status.State)),
                  o.pick,
                );
                if (t)
                  tx.update('tasks', o.fail ? setState(t, 'failed') : { ...t, DesiredState: 'shutdown' });
                return;
              }
              case 'removeTask': {
                const t = at(tasks, o.pick);
                if (t) tx.remove('tasks', t.ID);
                return;
              }
              case 'removeService': {
                const s = at(tx.all('services'), o.pick);
                if (s) tx.remove('services', s.ID);
                return;
              }
              case 'addNode':
                tx.create('nodes', node(`m${++ids}`));
                return;
              case 'removeNode': {
                const n = at(tx.all('nodes'), o.pick);
                if (n) tx.remove('nodes', n.ID);
                return;
              }
              case 'removeNetwork':
                // As the control API does: only a network no live task is attached to.
                if (
                  tx.get('networks', o.net) &&
                  !tasks.some(
                    (t) =>
                      !isTerminal(t.Status.State) &&
                      t.NetworksAttachments?.some((a) => a.Network.ID === o.net),
                  ) &&
                  !tx.all('services').some((s) => s.Endpoint.VirtualIPs?.some((v) => v.NetworkID === o.net))
                )
                  tx.remove('networks', o.net);
                return;
            }
          });
          await settle();
          const problems = store.view((tx) => holders(tx));
          assert.deepEqual(problems, [], `after ${o.op}`);
        }
        // Every node holds an address exactly on the networks its live tasks are on.
        store.view((tx) => {
          for (const n of tx.all('nodes')) {
            const want = new Set(
              tx
                .tasksByNode(n.ID)
                .filter((t) => t.DesiredState === 'running')
                .flatMap((t) => (t.NetworksAttachments ?? []).map((a) => a.Network.ID))
                .filter((id) => tx.get('networks', id)),
            );
            for (const id of Object.keys(n.NetworkAddrs ?? {}))
              assert.ok(want.has(id), `node ${n.ID} keeps an address on ${id} without a live task there`);
          }
        });
      } finally {
        alloc.stop();
      }
    }),
    { numRuns: 40 },
  );
});

test('every node has an ingress address, tasks or not; a new node and a new ingress network get theirs', async () => {
  const store = newStore();
  const a = new Allocator(store, new ManualClock());
  const ingress = (id: string): Network => ({
    ...network(id, id === 'ing' ? '10.0.0.0/24' : '10.0.9.0/24', id === 'ing' ? '10.0.0.1' : '10.0.9.1'),
    Spec: { Name: id, Ingress: true },
  });
  await store.update((tx) => {
    tx.create('networks', ingress('ing'));
    tx.create('nodes', node('n1'));
  });
  a.start();
  await settle();
  const addrs = (): Record<string, Record<string, string> | undefined> =>
    store.view((tx) => Object.fromEntries(tx.all('nodes').map((n) => [n.ID, n.NetworkAddrs])));
  assert.match(addrs().n1?.ing ?? '', /^10\.0\.0\.\d+\/24$/);
  await store.update((tx) => tx.create('nodes', node('n2')));
  await settle();
  assert.match(addrs().n2?.ing ?? '', /^10\.0\.0\.\d+\/24$/);
  assert.notEqual(addrs().n1!.ing, addrs().n2!.ing);
  assert.deepEqual(store.view(holders), []);
  // Replaced by a user-defined one: the old addresses go with it, the new one gives each node one.
  await store.update((tx) => tx.remove('networks', 'ing'));
  await settle();
  assert.deepEqual(addrs(), { n1: undefined, n2: undefined });
  await store.update((tx) => tx.create('networks', ingress('my-ingress')));
  await settle();
  assert.match(addrs().n1?.['my-ingress'] ?? '', /^10\.0\.9\.\d+\/24$/);
  assert.match(addrs().n2?.['my-ingress'] ?? '', /^10\.0\.9\.\d+\/24$/);
  a.stop();
});
