// Overlay network requests through the HTTP API as the docker CLI sends them: every refusal is
// Docker's {"message"} with Docker's status and changes nothing; inspect shows Peers and, with
// verbose, Services, as a swarm manager's dockerd does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiHarness, serviceSpec, withSwarm, type ApiHarness } from './support/daemon.js';

type Json = Record<string, unknown>;

const snapshot = (h: ApiHarness): string => {
  const { store } = h.daemon.manager;
  return JSON.stringify(store.view((tx) => [tx.all('services'), tx.all('networks'), tx.cluster()]));
};

async function refused(
  h: ApiHarness,
  method: string,
  url: string,
  body: unknown,
  status: number,
  message: string | RegExp,
): Promise<void> {
  const before = snapshot(h);
  const r = await h.call(method, url, body);
  assert.equal(r.status, status, `${method} ${url} ${JSON.stringify(body)}: ${r.text.slice(0, 300)}`);
  assert.deepEqual(Object.keys(r.body as object), ['message']);
  const got = (r.body as { message: string }).message;
  if (typeof message === 'string') assert.equal(got, message);
  else assert.match(got, message);
  assert.equal(snapshot(h), before, `${method} ${url} changed the state`);
}

const create = async (h: ApiHarness, url: string, body: unknown): Promise<string> => {
  const r = await h.call('POST', url, body);
  assert.equal(r.status, 201, `POST ${url}: ${r.text}`);
  return ((r.body as { ID?: string; Id?: string }).ID ?? (r.body as { Id: string }).Id)!;
};
const get = async (h: ApiHarness, url: string): Promise<Json> => {
  const r = await h.call('GET', url);
  assert.equal(r.status, 200, `GET ${url}: ${r.text}`);
  return r.body as Json;
};
const network = (name: string, extra: Json = {}): Json => ({ Name: name, Driver: 'overlay', ...extra });

/** Polls until fn returns a value (at most 10 s). */
async function eventually<T>(fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (let i = 0; i < 400 && Date.now() < deadline; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('timed out');
}

test('VXLAN IDs: create, remove, create takes the freed ID and no two networks share one', async () => {
  await withSwarm(async (h) => {
    const vni = async (id: string): Promise<string> =>
      ((await get(h, `/v1.41/networks/${id}`)).Options as Json)[
        'com.docker.network.driver.overlay.vxlanid_list'
      ] as string;
    const a = await create(h, '/v1.41/networks/create', network('a'));
    const b = await create(h, '/v1.41/networks/create', network('b'));
    assert.deepEqual([await vni('ingress'), await vni(a), await vni(b)], ['4096', '4097', '4098']);
    assert.equal((await h.call('DELETE', '/v1.41/networks/a')).status, 204);
    const c = await create(h, '/v1.41/networks/create', network('c'));
    const d = await create(h, '/v1.41/networks/create', network('d'));
    assert.deepEqual([await vni(c), await vni(d)], ['4097', '4099']);
    const all = ((await get(h, '/v1.41/networks')) as unknown as { Options: Json }[]).map(
      (n) => n.Options['com.docker.network.driver.overlay.vxlanid_list'],
    );
    assert.equal(new Set(all).size, all.length, all.join(','));
  });
});

test('bad subnets are refused with swarmkit-style messages (400) and create nothing', async () => {
  await withSwarm(async (h) => {
    await create(
      h,
      '/v1.41/networks/create',
      network('wide', { IPAM: { Config: [{ Subnet: '10.50.0.0/16' }] } }),
    );
    const url = '/v1.41/networks/create';
    const ipam = (Config: Json[]): Json => ({ IPAM: { Driver: 'default', Config } });
    const cases: [Json, string | RegExp][] = [
      [
        ipam([{ Subnet: '10.50.9.0/24' }]),
        /^rpc error: code = InvalidArgument desc = Pool overlaps with other one on this address space: 10\.50\.9\.0\/24 overlaps 10\.50\.0\.0\/16 of network wide \(\w+\)$/,
      ],
      // The ingress network's subnet (the pools' first) is taken too.
      [
        ipam([{ Subnet: '10.0.0.128/25' }]),
        /Pool overlaps with other one on this address space: .* of network ingress/,
      ],
      [
        ipam([{ Subnet: 'nonsense' }]),
        'rpc error: code = InvalidArgument desc = ipam configuration: invalid subnet nonsense',
      ],
      [
        ipam([{ Subnet: '10.70.0.0/24', Gateway: '10.71.0.1' }]),
        'rpc error: code = InvalidArgument desc = ipam configuration: subnet 10.70.0.0/24 does not contain gateway 10.71.0.1',
      ],
      [
        ipam([{ Subnet: '10.70.0.0/24', Gateway: 'x' }]),
        'rpc error: code = InvalidArgument desc = ipam configuration: invalid gateway x',
      ],
      [
        ipam([{ Subnet: '10.70.0.0/24', IPRange: '10.70.1.0/28' }]),
        'rpc error: code = InvalidArgument desc = ipam configuration: subnet 10.70.0.0/24 does not contain range 10.70.1.0/28',
      ],
      [
        ipam([{ Subnet: '10.70.0.0/24', IPRange: 'bad' }]),
        'rpc error: code = InvalidArgument desc = ipam configuration: invalid range bad',
      ],
      [
        ipam([{ Subnet: '10.70.0.0/31' }]),
        /ipam configuration: subnet 10\.70\.0\.0\/31 is too small for an overlay network.*at most \/30/,
      ],
      [ipam([{ Subnet: '10.70.0.9/32' }]), /ipam configuration: subnet 10\.70\.0\.9\/32 is too small/],
      [
        ipam([{ Subnet: 'fd00::/127' }]),
        /ipam configuration: subnet fd00::\/127 is too small.*at most \/126/,
      ],
    ];
    for (const [extra, message] of cases) await refused(h, 'POST', url, network('bad', extra), 400, message);
    // The smallest that holds a gateway and a task is taken.
    await create(h, url, network('tiny', ipam([{ Subnet: '10.70.0.0/30' }])));
  });
});

test("the swarm's address pool running out is refused (400) until a network is removed", async () => {
  const h = await apiHarness();
  try {
    const init = await h.call('POST', '/v1.41/swarm/init', {
      ListenAddr: '127.0.0.1:0',
      AdvertiseAddr: '127.0.0.1',
      DefaultAddrPool: ['10.30.0.0/24'],
      SubnetSize: 26,
    });
    assert.equal(init.status, 200, init.text);
    // Four /26s: ingress and three more.
    for (const name of ['n1', 'n2', 'n3']) await create(h, '/v1.41/networks/create', network(name));
    await refused(
      h,
      'POST',
      '/v1.41/networks/create',
      network('n4'),
      400,
      "rpc error: code = FailedPrecondition desc = the swarm's address pool 10.30.0.0/24 has no free /26 subnet left; remove a network or give this one a --subnet",
    );
    assert.equal((await h.call('DELETE', '/v1.41/networks/n2')).status, 204);
    const n4 = await create(h, '/v1.41/networks/create', network('n4'));
    assert.deepEqual(((await get(h, `/v1.41/networks/${n4}`)).IPAM as { Config: Json[] }).Config, [
      { Subnet: '10.30.0.128/26', Gateway: '10.30.0.129' },
    ]);
  } finally {
    await h.close();
  }
});

test('a service on a network that does not exist, on an engine network or on ingress is refused as dockerd refuses it', async () => {
  await withSwarm(async (h) => {
    const url = '/v1.41/services/create';
    const on = (name: string, Target: string): Json =>
      serviceSpec(name, {
        TaskTemplate: { ContainerSpec: { Image: 'busybox:local' }, Networks: [{ Target }] },
      });
    // The docker CLI resolves names to IDs first; a client that sends an unknown one directly
    // gets dockerd's own 404 (its getNetwork, no rpc prefix).
    await refused(h, 'POST', url, on('s', 'nosuchnet'), 404, 'network nosuchnet not found');
    await refused(
      h,
      'POST',
      url,
      on('s', 'bridge'),
      403,
      'The network bridge cannot be used with services. Only networks scoped to the swarm can be used, such as those created with the overlay driver.',
    );
    await refused(
      h,
      'POST',
      url,
      on('s', 'ingress'),
      400,
      'rpc error: code = InvalidArgument desc = Service cannot be explicitly attached to the ingress network "ingress"',
    );
    // The same on update.
    const id = await create(h, url, serviceSpec('s'));
    const s = await get(h, `/v1.41/services/${id}`);
    const version = (s.Version as { Index: number }).Index;
    await refused(
      h,
      'POST',
      `/v1.41/services/${id}/update?version=${version}`,
      on('s', 'gone'),
      404,
      'network gone not found',
    );
    await refused(
      h,
      'POST',
      `/v1.41/services/${id}/update?version=${version}`,
      on('s', 'ingress'),
      400,
      /Service cannot be explicitly attached to the ingress network "ingress"/,
    );
  });
});

test('network rm of a network in use by a service, or by a published port on ingress, is refused (400)', async () => {
  await withSwarm(async (h) => {
    const net = await create(h, '/v1.41/networks/create', network('used'));
    const svc = await create(
      h,
      '/v1.41/services/create',
      serviceSpec('web', {
        TaskTemplate: { ContainerSpec: { Image: 'busybox:local' }, Networks: [{ Target: 'used' }] },
        EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080 }] },
      }),
    );
    const message = (n: string): string =>
      `rpc error: code = FailedPrecondition desc = network ${n} is in use by service ${svc}`;
    await refused(h, 'DELETE', '/v1.41/networks/used', undefined, 400, message(net));
    const ingress = (await get(h, '/v1.41/networks/ingress')).Id as string;
    // swarmkit's removeIngressNetwork words it its own way.
    await refused(
      h,
      'DELETE',
      '/v1.41/networks/ingress',
      undefined,
      400,
      `rpc error: code = FailedPrecondition desc = ingress network cannot be removed because service ${svc} depends on it`,
    );
    assert.ok(ingress);
    // Once the service and its tasks are gone, it goes.
    assert.equal((await h.call('DELETE', `/v1.41/services/${svc}`)).status, 200);
    await eventually(async () => {
      const r = await h.call('DELETE', '/v1.41/networks/used');
      if (r.status === 204) return true;
      assert.match(r.text, new RegExp(`network ${net} is in use by task \\w+`));
      return undefined;
    });
  });
});

test("-o encrypted: refused with the kernel check's reason (400), taken when the kernel can carry it", async () => {
  const reason =
    "encrypted overlay networks need IPsec ESP with AES-GCM in the kernel, and this manager's kernel lacks CONFIG_INET_ESP, CONFIG_CRYPTO_GCM; the network was not created";
  await withSwarm(
    async (h) => {
      await refused(
        h,
        'POST',
        '/v1.41/networks/create',
        network('sec', { Options: { encrypted: '' } }),
        400,
        reason,
      );
    },
    { encryption: () => Promise.resolve(reason) },
  );
  await withSwarm(
    async (h) => {
      const id = await create(h, '/v1.41/networks/create', network('sec', { Options: { encrypted: '' } }));
      assert.equal(((await get(h, `/v1.41/networks/${id}`)).Options as Json).encrypted, '');
    },
    { encryption: () => Promise.resolve(undefined) },
  );
});

test('on this machine (no ESP, no GCM) the daemon refuses -o encrypted with the real kernel check', async () => {
  await withSwarm(async (h) => {
    await refused(
      h,
      'POST',
      '/v1.41/networks/create',
      network('sec', { Options: { encrypted: 'true' } }),
      400,
      /^encrypted overlay networks need IPsec ESP with AES-GCM in the kernel, and this manager's kernel lacks .*CONFIG_INET_ESP.*; the network was not created$/,
    );
  });
});

test('network inspect shows Peers once a node has tasks on the network, and Services with verbose', async () => {
  await withSwarm(async (h) => {
    const net = await create(h, '/v1.41/networks/create', network('appnet', { Attachable: true }));
    const bare = await get(h, '/v1.41/networks/appnet');
    assert.equal('Peers' in bare, false, 'no node has the network yet (as apinet in the capture)');
    assert.equal('Services' in bare, false);
    const svc = await create(
      h,
      '/v1.41/services/create',
      serviceSpec('front', {
        TaskTemplate: { ContainerSpec: { Image: 'busybox:local' }, Networks: [{ Target: 'appnet' }] },
      }),
    );
    const node = ((await get(h, '/v1.41/nodes')) as unknown as Json[])[0] as {
      Description: { Hostname: string };
      Status: { Addr: string };
    };
    const peers = await eventually(async () => (await get(h, '/v1.41/networks/appnet')).Peers);
    assert.deepEqual(peers, [{ Name: node.Description.Hostname, IP: node.Status.Addr }]);
    const verbose = await get(h, '/v1.41/networks/appnet?verbose=true');
    const s = await get(h, `/v1.41/services/${svc}`);
    const vip = ((s.Endpoint as Json).VirtualIPs as { NetworkID: string; Addr: string }[]).find(
      (v) => v.NetworkID === net,
    )!;
    const tasks = (await get(
      h,
      `/v1.41/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [svc] }))}`,
    )) as unknown as {
      ID: string;
      Slot: number;
      NetworksAttachments: { Network: { ID: string }; Addresses: string[] }[];
    }[];
    const t = tasks[0]!;
    const addr = t.NetworksAttachments.find((a) => a.Network.ID === net)!.Addresses[0]!;
    assert.deepEqual(verbose.Services, {
      front: {
        VIP: vip.Addr.split('/')[0],
        Ports: [],
        LocalLBIndex: 0,
        Tasks: [
          {
            Name: `front.${t.Slot}.${t.ID}`,
            EndpointID: '',
            EndpointIP: addr.split('/')[0],
            Info: { 'Host IP': node.Status.Addr },
          },
        ],
      },
    });
    // The ingress network is on every ready node.
    assert.deepEqual((await get(h, '/v1.41/networks/ingress')).Peers, [
      { Name: node.Description.Hostname, IP: node.Status.Addr },
    ]);
  });
});

test('a task that finds its network full waits in NEW saying why, and gets the address its predecessor frees', async () => {
  await withSwarm(async (h) => {
    // A /30 holds the gateway and one task; dnsrr services take no virtual IP.
    const net = await create(
      h,
      '/v1.41/networks/create',
      network('tiny', { IPAM: { Config: [{ Subnet: '10.80.0.0/30' }] } }),
    );
    const on = (name: string): Json =>
      serviceSpec(name, {
        TaskTemplate: { ContainerSpec: { Image: 'busybox:local' }, Networks: [{ Target: 'tiny' }] },
        EndpointSpec: { Mode: 'dnsrr' },
      });
    type T = {
      ID: string;
      Status: { State: string; Err?: string };
      NetworksAttachments?: { Network: { ID: string }; Addresses: string[] }[];
    };
    const tasksOf = async (svc: string): Promise<T[]> =>
      (await get(
        h,
        `/v1.41/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [svc] }))}`,
      )) as unknown as T[];
    const first = await create(h, '/v1.41/services/create', on('first'));
    const addr = await eventually(async () => {
      const t = (await tasksOf(first)).find((x) => x.Status.State === 'running');
      return t?.NetworksAttachments?.find((a) => a.Network.ID === net)?.Addresses[0];
    });
    assert.equal(addr, '10.80.0.2/30');
    const second = await create(h, '/v1.41/services/create', on('second'));
    const waiting = await eventually(async () => (await tasksOf(second)).find((x) => x.Status.Err));
    assert.equal(waiting.Status.State, 'new');
    assert.equal(
      waiting.Status.Err,
      `no available addresses on this pool: network tiny (${net}) has no free address for the task`,
    );
    assert.equal((await h.call('DELETE', `/v1.41/services/${first}`)).status, 200);
    const got = await eventually(async () => {
      const t = (await tasksOf(second)).find((x) => x.Status.State === 'running');
      return t?.NetworksAttachments?.find((a) => a.Network.ID === net)?.Addresses[0];
    });
    assert.equal(got, '10.80.0.2/30');
  });
});
