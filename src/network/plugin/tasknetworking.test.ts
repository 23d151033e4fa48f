import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Network, NetworkView, Task } from '../../api/index.js';
import { ShoalTaskNetworking, standaloneResolvers } from './tasknetworking.js';

function view(
  id: string,
  name: string,
  subnet: string,
  gateway: string,
  options: Record<string, string> = {},
): NetworkView {
  return {
    id,
    name,
    vni: 4097,
    subnets: [{ subnet, gateway }],
    attachable: false,
    internal: false,
    ingress: false,
    options,
    endpoints: [],
    services: [],
  };
}

function task(attachments: { id: string; name: string; addresses: string[] }[]): Task {
  return {
    ID: 't1',
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    Labels: {},
    ServiceID: 's1',
    Status: { Timestamp: '', State: 'assigned', Message: '', PortStatus: {} },
    DesiredState: 'running',
    Spec: { ContainerSpec: { Image: 'busybox:local' } },
    NetworksAttachments: attachments.map((a) => ({
      Network: { ID: a.id, Spec: { Name: a.name } } as unknown as Network,
      Addresses: a.addresses,
    })),
  } as Task;
}

function setup(
  views: Map<string, NetworkView>,
  o: { encryptionUnsupported?: () => string | undefined } = {},
) {
  const order: string[] = [];
  const tn = new ShoalTaskNetworking({
    view: (id) => views.get(id),
    networks: {
      ensure: (v) => {
        order.push(`engine ${v.name}`);
        return Promise.resolve(v.name);
      },
    },
    sandboxes: {
      ensure: (v) => {
        order.push(`sandbox ${v.name}`);
        return Promise.resolve(`sp-${v.id}`);
      },
    },
    viewWaitMs: 200,
    ...o,
  });
  return { tn, order };
}

test('a task with attachments joins its first network with the manager addresses and the gateway resolver', async () => {
  const views = new Map([
    ['n1', view('n1', 'front', '10.0.1.0/24', '10.0.1.1')],
    ['n2', view('n2', 'back', '10.0.2.0/24', '10.0.2.1')],
  ]);
  const { tn, order } = setup(views);
  const net = await tn.prepare(
    task([
      { id: 'n1', name: 'front', addresses: ['10.0.1.5/24'] },
      { id: 'n2', name: 'back', addresses: ['10.0.2.7/24', 'fd00::7/64'] },
    ]),
  );
  assert.deepEqual(net, {
    networkMode: 'front',
    endpoints: {
      front: { IPAMConfig: { IPv4Address: '10.0.1.5' } },
      back: { IPAMConfig: { IPv4Address: '10.0.2.7', IPv6Address: 'fd00::7' } },
    },
    dns: ['10.0.1.1'],
  });
  // The sandbox is there before the engine network, so a Join always finds it.
  assert.deepEqual(order, ['sandbox front', 'engine front', 'sandbox back', 'engine back']);
});

test('a task without attachments needs no networking', async () => {
  const { tn } = setup(new Map());
  assert.equal(await tn.prepare(task([])), undefined);
});

test('a network whose view has not arrived is waited for, briefly, then fails naming it', async () => {
  const views = new Map<string, NetworkView>();
  const { tn } = setup(views);
  setTimeout(() => views.set('n1', view('n1', 'late', '10.0.3.0/24', '10.0.3.1')), 50);
  const net = await tn.prepare(task([{ id: 'n1', name: 'late', addresses: ['10.0.3.4/24'] }]));
  assert.equal(net?.networkMode, 'late');
  const started = Date.now();
  await assert.rejects(
    tn.prepare(task([{ id: 'n9', name: 'never', addresses: ['10.0.9.4/24'] }])),
    /network never is not known on this node yet/,
  );
  assert.ok(Date.now() - started < 2_000);
});

test('an encrypted network is refused on a node that cannot carry it, before anything is created', async () => {
  const views = new Map([['n1', view('n1', 'secure', '10.0.4.0/24', '10.0.4.1', { encrypted: '' })]]);
  const { tn, order } = setup(views);
  await assert.rejects(
    tn.prepare(task([{ id: 'n1', name: 'secure', addresses: ['10.0.4.4/24'] }])),
    /this node cannot carry encrypted overlay network secure: the kernel lacks ESP\/GCM \(CONFIG_INET_ESP, CONFIG_CRYPTO_GCM\)/,
  );
  assert.deepEqual(order, []);
  const capable = setup(views, { encryptionUnsupported: () => undefined });
  assert.equal(
    (await capable.tn.prepare(task([{ id: 'n1', name: 'secure', addresses: ['10.0.4.4/24'] }])))?.networkMode,
    'secure',
  );
});

test('a standalone container gets the resolvers of the attachable networks it names, by name or ID', () => {
  const att = { ...view('n1', 'att', '10.0.9.0/24', '10.0.9.1'), attachable: true };
  const att6 = {
    ...view('n2', 'att6', 'fd00::/64', 'fd00::1'),
    attachable: true,
    subnets: [
      { subnet: 'fd00::/64', gateway: 'fd00::1' },
      { subnet: '10.0.8.0/24', gateway: '10.0.8.1' },
    ],
  };
  const closed = view('n3', 'closed', '10.0.7.0/24', '10.0.7.1');
  const views = [att, att6, closed];
  assert.deepEqual(standaloneResolvers(views, ['att']), ['10.0.9.1']);
  // The IPv4 gateway: where the resolver listens in the sandbox.
  assert.deepEqual(standaloneResolvers(views, ['n2', 'att', 'n1']), ['10.0.8.1', '10.0.9.1']);
  assert.deepEqual(standaloneResolvers(views, ['closed', 'bridge', 'unknown']), []);
});

function ingressView(): NetworkView {
  return { ...view('ing', 'ingress', '10.0.0.0/24', '10.0.0.1'), ingress: true };
}

test('an ingress task gets a source rule in its own namespace: replies from its ingress address go to the ingress gateway', async () => {
  const calls: string[] = [];
  const tn = new ShoalTaskNetworking({
    view: (id) => (id === 'ing' ? ingressView() : view('n1', 'front', '10.0.1.0/24', '10.0.1.1')),
    networks: { ensure: () => Promise.resolve('') },
    sandboxes: { ensure: () => Promise.resolve('') },
    run: {
      run: (argv) => {
        calls.push(argv.join(' '));
        return Promise.resolve({ code: 0, stdout: '', stderr: '' });
      },
    },
  });
  await tn.started(
    task([
      { id: 'n1', name: 'front', addresses: ['10.0.1.5/24'] },
      { id: 'ing', name: 'ingress', addresses: ['10.0.0.7/24'] },
    ]),
    { id: 'c1', pid: 4242 },
  );
  assert.deepEqual(calls, [
    'nsenter -t 4242 -n ip route replace default via 10.0.0.1 table 200',
    'nsenter -t 4242 -n ip rule del pref 100',
    'nsenter -t 4242 -n ip rule add pref 100 from 10.0.0.7 lookup 200',
  ]);
});

test('a reply route that cannot be installed does not fail the task: the mesh is told to SNAT to it', async () => {
  const failed: string[] = [];
  const logs: string[] = [];
  const tn = new ShoalTaskNetworking({
    view: () => ingressView(),
    networks: { ensure: () => Promise.resolve('') },
    sandboxes: { ensure: () => Promise.resolve('') },
    run: { run: () => Promise.resolve({ code: 1, stdout: '', stderr: 'nsenter: No such process' }) },
    replyRouteFailed: (a) => failed.push(a),
    log: (m) => logs.push(m),
  });
  await tn.started(task([{ id: 'ing', name: 'ingress', addresses: ['10.0.0.7/24'] }]), {
    id: 'c1',
    pid: 4242,
  });
  assert.deepEqual(failed, ['10.0.0.7']);
  assert.match(logs[0]!, /No such process.*masquerades/);
  // No pid (the container already exited): nothing to do.
  await tn.started(task([{ id: 'ing', name: 'ingress', addresses: ['10.0.0.7/24'] }]), { id: 'c1', pid: 0 });
  assert.equal(failed.length, 1);
});
