import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../platform/index.js';
import { MemoryStore, type Proposer } from '../../state/index.js';
import type {
  Network,
  NetworkView,
  Node,
  Service,
  SessionMessage,
  Task,
  TaskState,
} from '../../api/index.js';
import { Dispatcher } from './index.js';
import { networkViews, NetworkViews } from './networks.js';
import { ServedSession, SessionTable, SentNetworks } from './session.js';

const proposer = (): Proposer => {
  let i = 0;
  return { propose: () => Promise.resolve(++i) };
};

const DESCRIPTION = {
  Hostname: 'w',
  Platform: { Architecture: 'x86_64', OS: 'linux' },
  Resources: { NanoCPUs: 1e9, MemoryBytes: 1e9 },
  Engine: { EngineVersion: 'sim' },
};

const meta = { Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '' };

function network(
  id: string,
  name: string,
  vni: number,
  subnet = '10.0.1.0/24',
  gateway = '10.0.1.1',
): Network {
  return {
    ID: id,
    ...meta,
    Spec: { Name: name, Attachable: true },
    DriverState: {
      Name: 'overlay',
      Options: { 'com.docker.network.driver.overlay.vxlanid_list': String(vni), encrypted: '' },
    },
    IPAMOptions: { Driver: { Name: 'default' }, Configs: [{ Subnet: subnet, Gateway: gateway }] },
  };
}

function node(id: string, addr: string, state: Node['Status']['State'] = 'ready'): Node {
  return {
    ID: id,
    ...meta,
    Spec: { Role: 'worker', Availability: 'active' },
    Description: DESCRIPTION,
    Status: { State: state, Addr: addr },
  };
}

function service(
  id: string,
  name: string,
  opts: { mode?: 'vip' | 'dnsrr'; vip?: string; aliases?: string[] } = {},
): Service {
  return {
    ID: id,
    ...meta,
    Spec: {
      Name: name,
      TaskTemplate: {
        ContainerSpec: { Image: 'busybox' },
        Networks: [{ Target: 'front', ...(opts.aliases ? { Aliases: opts.aliases } : {}) }],
      },
      ...(opts.mode ? { EndpointSpec: { Mode: opts.mode } } : {}),
    },
    Endpoint: {
      Spec: {},
      ...(opts.vip ? { VirtualIPs: [{ NetworkID: 'net1', Addr: opts.vip }] } : {}),
    },
  } as Service;
}

function task(
  id: string,
  serviceId: string,
  nodeId: string,
  addr: string,
  state: TaskState = 'running',
  desired: TaskState = 'running',
  extra: Partial<Task> = {},
): Task {
  return {
    ID: id,
    ...meta,
    Labels: {},
    Spec: { ContainerSpec: { Image: 'busybox' } },
    ServiceID: serviceId,
    Slot: 1,
    NodeID: nodeId,
    Status: { Timestamp: '', State: state, Message: '', PortStatus: {} },
    DesiredState: desired,
    NetworksAttachments: [{ Network: network('net1', 'front', 4097), Addresses: [addr] }],
    ...extra,
  };
}

async function cluster(): Promise<MemoryStore> {
  const store = new MemoryStore(proposer());
  await store.update((tx) => {
    tx.create('networks', network('net1', 'front', 4097));
    tx.create('nodes', node('n1', '192.168.0.1:2377'));
    tx.create('nodes', node('n2', '192.168.0.2'));
    tx.create('services', service('web', 'web', { vip: '10.0.1.2/24', aliases: ['api', 'api'] }));
    tx.create('services', service('db', 'db', { mode: 'dnsrr' }));
    tx.create('tasks', task('t1', 'web', 'n1', '10.0.1.3/24'));
    tx.create(
      'tasks',
      task('t2', 'db', 'n2', '10.0.1.4/24', 'running', 'running', {
        Slot: undefined,
      } as unknown as Partial<Task>),
    );
  });
  return store;
}

const viewsOf = (store: MemoryStore, nodeId: string): NetworkView[] =>
  store.view((tx) => networkViews(tx, nodeId));

const setTask = (store: MemoryStore, id: string, change: Partial<Task>): Promise<void> =>
  store.update((tx) => {
    const t = tx.get('tasks', id)!;
    tx.update('tasks', { ...t, ...change });
  });

test("a node's view holds its network with every endpoint, the services' modes, VIPs and aliases", async () => {
  const store = await cluster();
  const [v, ...rest] = viewsOf(store, 'n2');
  assert.equal(rest.length, 0);
  assert.ok(v);
  assert.equal(v.id, 'net1');
  assert.equal(v.name, 'front');
  assert.equal(v.vni, 4097);
  assert.deepEqual(v.subnets, [{ subnet: '10.0.1.0/24', gateway: '10.0.1.1' }]);
  assert.equal(v.attachable, true);
  assert.equal(v.options.encrypted, '');
  assert.deepEqual(
    v.endpoints.map((e) => [e.id, e.name, e.nodeAddr, e.addresses, e.aliases, e.ready]),
    [
      ['t1', 'web.1.t1', '192.168.0.1', ['10.0.1.3/24'], ['api'], true],
      ['t2', 'db.n2.t2', '192.168.0.2', ['10.0.1.4/24'], [], true],
    ],
  );
  assert.deepEqual(v.services, [
    { id: 'db', name: 'db', mode: 'dnsrr', aliases: [] },
    { id: 'web', name: 'web', mode: 'vip', vip: '10.0.1.2', aliases: ['api'] },
  ]);
  assert.deepEqual(viewsOf(store, 'nobody'), [], 'a node without tasks needs no network');
});

test('an endpoint is ready only while its task runs and is wanted running; it leaves when the task stops', async () => {
  const store = await cluster();
  const t1 = (): NetworkView['endpoints'][number] | undefined =>
    viewsOf(store, 'n2')[0]!.endpoints.find((e) => e.id === 't1');
  for (const [state, ready] of [
    ['assigned', false],
    ['preparing', false],
    ['starting', false],
    ['running', true],
  ] as const) {
    await setTask(store, 't1', { Status: { Timestamp: '', State: state, Message: '', PortStatus: {} } });
    assert.equal(t1()?.ready, ready, state);
  }
  await setTask(store, 't1', { DesiredState: 'shutdown' });
  assert.equal(t1(), undefined, 'a task no longer wanted leaves the view');
  await setTask(store, 't1', {
    DesiredState: 'running',
    Status: { Timestamp: '', State: 'failed', Message: '', PortStatus: {} },
  });
  assert.equal(t1(), undefined, 'a finished task is no endpoint');
  await setTask(store, 't1', { Status: { Timestamp: '', State: 'pending', Message: '', PortStatus: {} } });
  assert.equal(t1(), undefined, 'an unplaced task is no endpoint');
});

test("a down node's endpoints leave every view at once", async () => {
  const store = await cluster();
  await store.update((tx) =>
    tx.update('nodes', { ...tx.get('nodes', 'n1')!, Status: { State: 'down', Addr: '' } }),
  );
  assert.deepEqual(
    viewsOf(store, 'n2')[0]!.endpoints.map((e) => e.id),
    ['t2'],
  );
});

test('views are the same whatever order the store was filled in, and a node sees its own address', async () => {
  const a = await cluster();
  const b = new MemoryStore(proposer());
  await b.update((tx) => {
    tx.create(
      'tasks',
      task('t2', 'db', 'n2', '10.0.1.4/24', 'running', 'running', {
        Slot: undefined,
      } as unknown as Partial<Task>),
    );
    tx.create('tasks', task('t1', 'web', 'n1', '10.0.1.3/24'));
    tx.create('services', service('db', 'db', { mode: 'dnsrr' }));
    tx.create('services', service('web', 'web', { vip: '10.0.1.2/24', aliases: ['api'] }));
    tx.create('nodes', node('n2', '192.168.0.2'));
    tx.create('nodes', node('n1', '192.168.0.1:2377'));
    tx.create('networks', network('net1', 'front', 4097));
  });
  assert.equal(JSON.stringify(viewsOf(a, 'n1')), JSON.stringify(viewsOf(b, 'n1')));
  await a.update((tx) =>
    tx.update('nodes', { ...tx.get('nodes', 'n1')!, NetworkAddrs: { net1: '10.0.1.9/24' } }),
  );
  assert.equal(viewsOf(a, 'n1')[0]!.nodeAddress, '10.0.1.9/24');
  assert.equal(viewsOf(a, 'n2')[0]!.nodeAddress, undefined);
});

test("one round computes a network's cluster-wide part once for all its nodes", async () => {
  const store = await cluster();
  store.view((tx) => {
    const round = new NetworkViews(tx);
    const [a] = round.forNode('n1');
    const [b] = round.forNode('n2');
    assert.equal(a!.endpoints, b!.endpoints, 'the same endpoint list, not a copy');
  });
});

test('a sent network view goes again only when it changed, and a network no longer needed is removed', () => {
  const sent = new SentNetworks();
  const v = (id: string, vni: number): NetworkView => ({
    id,
    name: id,
    vni,
    subnets: [],
    attachable: false,
    internal: false,
    ingress: false,
    options: {},
    endpoints: [],
    services: [],
  });
  assert.deepEqual(
    sent.diff([v('a', 1), v('b', 2)]).map((c) => c.kind),
    ['network', 'network'],
  );
  assert.deepEqual(sent.diff([v('a', 1), v('b', 2)]), [], 'unchanged views send nothing');
  assert.deepEqual(sent.diff([v('a', 3)]), [
    { kind: 'network', view: v('a', 3) },
    { kind: 'removeNetwork', id: 'b' },
  ]);
});

const clock = new ManualClock();
/** Lets the dispatcher's report flush (a timer) and its push round (setImmediate) run. */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) {
    clock.advance(0);
    await new Promise((r) => setImmediate(r));
  }
};

test("a task's status change on node A sends node B a changed view, and nothing when its endpoint did not change", async () => {
  const store = await cluster();
  await setTask(store, 't1', { Status: { Timestamp: '', State: 'starting', Message: '', PortStatus: {} } });
  const d = new Dispatcher(store, clock, () => undefined, { heartbeatMs: 1000 });
  d.start();
  const sent: SessionMessage[] = [];
  const table = new SessionTable();
  const session = new ServedSession({
    table,
    dispatcher: d,
    nodeId: 'n2',
    description: DESCRIPTION,
    addr: '192.168.0.2',
    sink: { send: (m) => sent.push(m), close: () => undefined, fail: (e) => assert.fail(String(e)) },
  });
  await settle();
  assert.equal(sent[0]!.complete, true);
  assert.deepEqual(
    sent[0]!.changes.map((c) => c.kind),
    ['network', 'task'],
    'the first message carries the network ahead of the task on it',
  );
  const first = sent[0]!.changes[0]!;
  assert.ok(first.kind === 'network');
  assert.equal(first.view.endpoints.find((e) => e.id === 't1')?.ready, false);
  const before = sent.length;

  // n1's agent reports t1 running: n2 hears the endpoint became ready.
  await d.updateTaskStatus('n1', [
    {
      taskId: 't1',
      status: { Timestamp: '2026-01-01T00:00:00Z', State: 'running', Message: 'up', PortStatus: {} },
    },
  ]);
  await settle();
  const news = sent.slice(before).flatMap((m) => m.changes);
  assert.equal(news.length, 1);
  const change = news[0]!;
  assert.ok(change.kind === 'network');
  assert.equal(change.view.endpoints.find((e) => e.id === 't1')?.ready, true);

  // A new message in the same state changes no endpoint: nothing goes down n2's session.
  const after = sent.length;
  await d.updateTaskStatus('n1', [
    {
      taskId: 't1',
      status: { Timestamp: '2026-01-01T00:00:01Z', State: 'running', Message: 'still up', PortStatus: {} },
    },
  ]);
  await settle();
  assert.equal(
    store.view((tx) => tx.get('tasks', 't1')!.Status.Message),
    'still up',
  );
  assert.equal(sent.length, after, 'no message for an unchanged view');

  // n1 goes down: its endpoint leaves n2's view.
  await store.update((tx) =>
    tx.update('nodes', { ...tx.get('nodes', 'n1')!, Status: { State: 'down', Addr: '' } }),
  );
  await settle();
  const last = sent.at(-1)!.changes;
  assert.ok(last[0]?.kind === 'network');
  assert.deepEqual(
    last[0].view.endpoints.map((e) => e.id),
    ['t2'],
  );

  // n2's last task there goes: the network leaves n2.
  await setTask(store, 't2', { DesiredState: 'shutdown' });
  await settle();
  assert.ok(sent.some((m) => m.changes.some((c) => c.kind === 'removeNetwork' && c.id === 'net1')));
  session.end();
  await d.stop();
});

test('an in-process session hears its views through onNetworks before its first set', async () => {
  const store = await cluster();
  const d = new Dispatcher(store, new ManualClock(), () => undefined, { heartbeatMs: 1000 });
  d.start();
  const calls: string[] = [];
  const s = await d.openSession('n1', DESCRIPTION, '192.168.0.1', {
    onAssignments: () => calls.push('set'),
    onNetworks: (v) => calls.push(`views ${v.map((x) => x.id).join(',')}`),
    onClose: () => undefined,
  });
  assert.deepEqual(calls, ['views net1', 'set']);
  s.close();
  await d.stop();
});

// ---- the routing mesh: the ingress network on every node ----

function ingressNet(id = 'ing'): Network {
  return {
    ...network(id, 'ingress', 4096, '10.0.0.0/24', '10.0.0.1'),
    Spec: { Name: 'ingress', Ingress: true },
  };
}

function publisher(id: string, labels: Record<string, string> = {}): Service {
  return {
    ID: id,
    ...meta,
    Spec: {
      Name: id,
      Labels: labels,
      TaskTemplate: { ContainerSpec: { Image: 'busybox' } },
      EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080 }] },
    },
    Endpoint: {
      Spec: {},
      Ports: [
        { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' },
        { Protocol: 'udp', TargetPort: 53, PublishedPort: 30000, PublishMode: 'ingress' },
        { Protocol: 'tcp', TargetPort: 22, PublishedPort: 2222, PublishMode: 'host' },
      ],
      VirtualIPs: [{ NetworkID: 'ing', Addr: '10.0.0.2/24' }],
    },
  };
}

async function meshCluster(): Promise<MemoryStore> {
  const store = await cluster();
  await store.update((tx) => {
    tx.create('networks', ingressNet());
    tx.create('nodes', node('n3', '192.168.0.3'));
    tx.create('nodes', { ...node('n4', '192.168.0.4'), Spec: { Role: 'manager', Availability: 'drain' } });
    tx.create('nodes', node('n5', '192.168.0.5', 'down'));
    tx.create(
      'services',
      publisher('pub', { 'shoal.lb.affinity': 'client-ip', 'shoal.ingress.snat': 'true' }),
    );
    tx.create('tasks', {
      ...task('tp', 'pub', 'n1', '10.0.0.5/24'),
      NetworksAttachments: [{ Network: ingressNet(), Addresses: ['10.0.0.5/24'] }],
    });
  });
  return store;
}

test('every node not down holds the ingress view, tasks or not, drained managers included', async () => {
  const store = await meshCluster();
  for (const n of ['n1', 'n2', 'n3', 'n4'])
    assert.ok(
      viewsOf(store, n).some((v) => v.id === 'ing' && v.ingress),
      `${n} holds the ingress view`,
    );
  assert.deepEqual(viewsOf(store, 'n5'), [], 'a down node holds nothing');
  assert.deepEqual(
    viewsOf(store, 'n3').map((v) => v.id),
    ['ing'],
  );
  const ing = viewsOf(store, 'n3')[0]!;
  assert.deepEqual(
    ing.endpoints.map((e) => [e.id, e.nodeAddr, e.ready]),
    [['tp', '192.168.0.1', true]],
  );
  assert.deepEqual(ing.services, [
    {
      id: 'pub',
      name: 'pub',
      mode: 'vip',
      vip: '10.0.0.2',
      aliases: [],
      ports: [
        { protocol: 'tcp', published: 8080, target: 80 },
        { protocol: 'udp', published: 30000, target: 53 },
      ],
      affinity: 'client-ip',
      snat: true,
    },
  ]);
});

test('a service without ingress ports carries no mesh fields, and other networks keep their views', async () => {
  const store = await meshCluster();
  await store.update((tx) => {
    const s = tx.get('services', 'pub')!;
    tx.update('services', {
      ...s,
      Spec: { ...s.Spec, Labels: {} },
      Endpoint: { ...s.Endpoint, Ports: s.Endpoint.Ports!.filter((p) => p.PublishMode === 'host') },
    });
  });
  const svc = viewsOf(store, 'n3')[0]!.services[0]!;
  assert.deepEqual(Object.keys(svc).sort(), ['aliases', 'id', 'mode', 'name', 'vip']);
  const plain = await cluster();
  assert.equal(
    JSON.stringify(viewsOf(store, 'n2').filter((v) => v.id === 'net1')),
    JSON.stringify(viewsOf(plain, 'n2')),
  );
});

test("a published port's change reaches every node's session, a task-less one included", async () => {
  const store = await meshCluster();
  const d = new Dispatcher(store, clock, () => undefined, { heartbeatMs: 1000 });
  d.start();
  const heard = new Map<string, NetworkView[][]>();
  const sessions = await Promise.all(
    ['n2', 'n3'].map((n) =>
      d.openSession(n, DESCRIPTION, n === 'n2' ? '192.168.0.2' : '192.168.0.3', {
        onAssignments: () => undefined,
        onNetworks: (v) => heard.set(n, [...(heard.get(n) ?? []), v]),
        onClose: () => undefined,
      }),
    ),
  );
  await settle();
  const ports = (n: string): number[] =>
    heard
      .get(n)!
      .at(-1)!
      .find((v) => v.id === 'ing')!
      .services.flatMap((s) => (s.ports ?? []).map((p) => p.published));
  assert.deepEqual(ports('n3'), [8080, 30000]);
  await store.update((tx) => {
    const s = tx.get('services', 'pub')!;
    tx.update('services', {
      ...s,
      Endpoint: {
        ...s.Endpoint,
        Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 9090, PublishMode: 'ingress' }],
      },
    });
  });
  await settle();
  assert.deepEqual(ports('n2'), [9090]);
  assert.deepEqual(ports('n3'), [9090]);

  // A user-defined ingress network replacing the default one reaches every node too.
  await store.update((tx) => {
    tx.remove('tasks', 'tp');
    tx.remove('services', 'pub');
    tx.remove('networks', 'ing');
    tx.create('networks', { ...ingressNet('ing2'), Spec: { Name: 'my-ingress', Ingress: true } });
  });
  await settle();
  for (const n of ['n2', 'n3'])
    assert.ok(
      heard
        .get(n)!
        .at(-1)!
        .some((v) => v.id === 'ing2' && v.name === 'my-ingress'),
      n,
    );
  assert.ok(
    !heard
      .get('n3')!
      .at(-1)!
      .some((v) => v.id === 'ing'),
  );
  for (const s of sessions) s.close();
  await d.stop();
});

test("the ingress view lists every node that answers published ports; a node going down leaves every node's list", async () => {
  const store = await meshCluster();
  await store.update((tx) => {
    for (const [id, addr] of [
      ['n2', '10.0.0.12/24'],
      ['n3', '10.0.0.13/24'],
      ['n5', '10.0.0.15/24'],
    ] as const) {
      const n = tx.get('nodes', id)!;
      tx.update('nodes', { ...n, NetworkAddrs: { ing: addr } });
    }
  });
  const nodesOf = (v: NetworkView | undefined): string[] =>
    (v?.nodes ?? []).map((n) => `${n.nodeId}@${n.nodeAddr}=${n.address}`);
  // n1 and n4 have no ingress address yet; n5 is down.
  assert.deepEqual(nodesOf(viewsOf(store, 'n2').find((v) => v.id === 'ing')), [
    'n2@192.168.0.2=10.0.0.12/24',
    'n3@192.168.0.3=10.0.0.13/24',
  ]);
  assert.equal(viewsOf(store, 'n2').find((v) => v.id === 'net1')?.nodes, undefined, 'only the ingress view');

  const d = new Dispatcher(store, clock, () => undefined, { heartbeatMs: 1000 });
  d.start();
  const heard: NetworkView[][] = [];
  const session = await d.openSession('n2', DESCRIPTION, '192.168.0.2', {
    onAssignments: () => undefined,
    onNetworks: (v) => heard.push(v),
    onClose: () => undefined,
  });
  await settle();
  await store.update((tx) => {
    const n = tx.get('nodes', 'n3')!;
    tx.update('nodes', { ...n, Status: { ...n.Status, State: 'down' } });
  });
  await settle();
  assert.deepEqual(nodesOf(heard.at(-1)!.find((v) => v.id === 'ing')), ['n2@192.168.0.2=10.0.0.12/24']);
  session.close();
  await d.stop();
});
