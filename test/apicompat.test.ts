// What the API stores and echoes, judged against the reference capture of a real swarm
// (../shared/reference/docker-swarm-capture): service specs as sent, network options, IPv6 and IPAM
// drivers, and the address pools and data path port of `swarm init`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { apiHarness, withSwarm, type ApiHarness } from './support/daemon.js';

// The capture beside the repository, as the fuzz suite finds the Engine API spec (from dist/test).
const here = dirname(fileURLToPath(import.meta.url));
const CAPTURE = join(here, '..', '..', '..', 'shared', 'reference', 'docker-swarm-capture', 'objects');
const capture = (name: string): { request_body?: unknown; response: Record<string, unknown> } =>
  JSON.parse(readFileSync(`${CAPTURE}/${name}`, 'utf8')) as never;

type Json = Record<string, unknown>;
const get = async (h: ApiHarness, url: string): Promise<Json> => {
  const r = await h.call('GET', url);
  assert.equal(r.status, 200, `GET ${url}: ${r.text}`);
  return r.body as Json;
};
const create = async (h: ApiHarness, url: string, body: unknown): Promise<string> => {
  const r = await h.call('POST', url, body);
  assert.equal(r.status, 201, `POST ${url}: ${r.text}`);
  return ((r.body as { ID?: string; Id?: string }).ID ?? (r.body as { Id: string }).Id)!;
};

/** Polls until fn returns a value (at most 5 s). */
async function eventually<T>(fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 5000;
  for (let i = 0; i < 200 && Date.now() < deadline; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('timed out');
}

test('a service spec is echoed as sent: no Init, Reservations, Placement, endpoint spec or task Runtime added', async () => {
  await withSwarm(async (h) => {
    const id = await create(h, '/v1.41/services/create', {
      Name: 'bare',
      TaskTemplate: { ContainerSpec: { Image: 'busybox:local', Args: ['sleep', '60'] } },
    });
    const s = await get(h, `/v1.41/services/${id}`);
    assert.deepEqual(s.Spec, {
      Name: 'bare',
      Labels: {},
      TaskTemplate: {
        ContainerSpec: { Image: 'busybox:local', Args: ['sleep', '60'], Isolation: 'default' },
        ForceUpdate: 0,
        Runtime: 'container',
      },
      Mode: { Replicated: { Replicas: 1 } },
    });
    assert.deepEqual(s.Endpoint, { Spec: {} });
    // insertDefaults shows swarmkit's defaults, which the stored spec does not hold.
    const withDefaults = (await get(h, `/v1.41/services/${id}?insertDefaults=true`)) as {
      Spec: { TaskTemplate: Json & { ContainerSpec: Json } };
    };
    assert.deepEqual(withDefaults.Spec.TaskTemplate.ContainerSpec.DNSConfig, {});
    assert.equal(withDefaults.Spec.TaskTemplate.ContainerSpec.StopGracePeriod, 10e9);
    assert.deepEqual(withDefaults.Spec.TaskTemplate.Resources, {});
    assert.deepEqual(withDefaults.Spec.TaskTemplate.Placement, {});
    assert.equal('Init' in withDefaults.Spec.TaskTemplate.ContainerSpec, false);
    // A task's spec has no Runtime, as Docker shows it; the task still runs (the sim executor).
    const task = await eventually(async () => {
      const tasks = (await get(
        h,
        `/v1.41/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [id] }))}`,
      )) as unknown as {
        ID: string;
        Spec: Json;
        Status: { State: string };
      }[];
      return tasks.find((t) => t.Status.State === 'running');
    });
    assert.equal('Runtime' in task.Spec, false);
    assert.equal('Runtime' in ((await get(h, `/v1.41/tasks/${task.ID}`)).Spec as Json), false);
    assert.deepEqual(Object.keys(task.Spec).sort(), ['ContainerSpec', 'ForceUpdate']);

    // The spec sent back as shown (Runtime "container", as a client's read-modify-write does) or
    // with Docker's other spelling of it ("") is the same template: no task is replaced.
    for (const runtime of ['container', '']) {
      const cur = (await get(h, `/v1.41/services/${id}`)) as { Version: { Index: number }; Spec: Json };
      const spec = structuredClone(cur.Spec) as { Labels: Json; TaskTemplate: Json };
      spec.TaskTemplate.Runtime = runtime;
      spec.Labels = { round: runtime || 'empty' };
      const r = await h.call('POST', `/v1.41/services/${id}/update?version=${cur.Version.Index}`, spec);
      assert.equal(r.status, 200, r.text);
    }
    // A changed template would have started an update (UpdateStatus is set by the update call).
    assert.equal('UpdateStatus' in (await get(h, `/v1.41/services/${id}`)), false);
    const after = (await get(
      h,
      `/v1.41/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [id] }))}`,
    )) as unknown as { ID: string }[];
    assert.deepEqual(
      after.map((t) => t.ID),
      [task.ID],
    );
  });
});

test("the docker CLI's create bodies echo as the real swarm echoed them (capture: job1, web)", async () => {
  await withSwarm(async (h) => {
    // A replicated job: the whole spec, with insertDefaults, as the real swarm answered.
    const jobReq = capture('request_service_create_job.json').request_body;
    const job = await create(h, '/v1.41/services/create', jobReq);
    const jobSeen = await get(h, `/v1.41/services/${job}?insertDefaults=true`);
    const jobReal = capture('service_replicated_job.json').response;
    assert.deepEqual(jobSeen.Spec, jobReal.Spec);
    assert.deepEqual(jobSeen.Endpoint, jobReal.Endpoint);

    // web: a published port and an overlay network; the capture shows it after an update
    // (image busybox:local2, 5 replicas) and a rollback, so those two are set back.
    const net = await create(
      h,
      '/v1.41/networks/create',
      capture('request_network_create.json').request_body,
    );
    const webReq = structuredClone(capture('request_service_create.json').request_body) as {
      TaskTemplate: { Networks: { Target: string }[] };
    };
    webReq.TaskTemplate.Networks[0]!.Target = net;
    const web = await create(h, '/v1.41/services/create', webReq);
    const webSeen = await get(h, `/v1.41/services/${web}?insertDefaults=true`);
    const webReal = structuredClone(capture('service.json').response) as {
      Spec: { TaskTemplate: { ContainerSpec: Json; Networks: { Target: string }[] }; Mode: Json };
      Endpoint: Json;
    };
    webReal.Spec.TaskTemplate.ContainerSpec.Image = 'busybox:local';
    webReal.Spec.TaskTemplate.Networks[0]!.Target = net;
    webReal.Spec.Mode = { Replicated: { Replicas: 3 } };
    assert.deepEqual(webSeen.Spec, webReal.Spec);
    assert.deepEqual((webSeen.Endpoint as Json).Spec, webReal.Endpoint.Spec);
    const ports = (webSeen.Endpoint as Json).Ports;
    assert.deepEqual(ports, webReal.Endpoint.Ports);
  });
});

test('network create keeps driver options, takes IPv6 subnets (dual stack) and refuses an unknown IPAM driver', async () => {
  await withSwarm(async (h) => {
    const opts = await create(h, '/v1.41/networks/create', {
      Name: 'withopts',
      Driver: 'overlay',
      Options: { 'com.example.mtu': '1400' },
      IPAM: { Driver: 'default', Options: {}, Config: [] },
    });
    const n = await get(h, `/v1.41/networks/${opts}`);
    assert.deepEqual(n.Options, {
      'com.example.mtu': '1400',
      'com.docker.network.driver.overlay.vxlanid_list': '4097',
    });
    assert.deepEqual(n.IPAM, {
      Driver: 'default',
      Options: null,
      Config: [{ Subnet: '10.0.1.0/24', Gateway: '10.0.1.1' }],
    });

    const v6 = await create(h, '/v1.41/networks/create', {
      Name: 'dual',
      Driver: 'overlay',
      EnableIPv6: true,
      IPAM: { Config: [{ Subnet: 'FD00:0DB8:0001::/64' }] },
    });
    const dual = await get(h, `/v1.41/networks/${v6}`);
    assert.equal(dual.EnableIPv6, true);
    assert.deepEqual((dual.IPAM as Json).Config, [
      { Subnet: '10.0.2.0/24', Gateway: '10.0.2.1' },
      { Subnet: 'fd00:db8:1::/64', Gateway: 'fd00:db8:1::1' },
    ]);
    // A task on it gets an address of each family; the service one virtual IP.
    const svc = await create(h, '/v1.41/services/create', {
      Name: 'onv6',
      TaskTemplate: { ContainerSpec: { Image: 'busybox:local' }, Networks: [{ Target: 'dual' }] },
    });
    const addrs = await eventually(async () => {
      const tasks = (await get(
        h,
        `/v1.41/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [svc] }))}`,
      )) as unknown as {
        NetworksAttachments?: { Network: { ID: string }; Addresses: string[] }[];
      }[];
      return tasks[0]?.NetworksAttachments?.find((a) => a.Network.ID === v6)?.Addresses;
    });
    assert.deepEqual(addrs, ['10.0.2.3/24', 'fd00:db8:1::2/64']);
    const s = await get(h, `/v1.41/services/${svc}`);
    assert.deepEqual((s.Endpoint as Json).VirtualIPs, [{ NetworkID: v6, Addr: '10.0.2.2/24' }]);

    const refused: [unknown, string][] = [
      [
        { Name: 'x', IPAM: { Driver: 'nosuchipam' } },
        'rpc error: code = InvalidArgument desc = error during lookup of plugin nosuchipam',
      ],
      [
        { Name: 'x', IPAM: { Driver: 'null' } },
        'rpc error: code = InvalidArgument desc = error during lookup of plugin null',
      ],
      [
        { Name: 'x', IPAM: { Config: [{ Subnet: '10.1.0.0/33' }] } },
        'rpc error: code = InvalidArgument desc = ipam configuration: invalid subnet 10.1.0.0/33',
      ],
      [
        { Name: 'x', IPAM: { Config: [{ Subnet: 'fd00::/64', Gateway: 'fd01::1' }] } },
        'rpc error: code = InvalidArgument desc = ipam configuration: subnet fd00::/64 does not contain gateway fd01::1',
      ],
      [
        { Name: 'x', IPAM: { Config: [{ Subnet: '10.1.0.0/16', IPRange: '10.2.0.0/24' }] } },
        'rpc error: code = InvalidArgument desc = ipam configuration: subnet 10.1.0.0/16 does not contain range 10.2.0.0/24',
      ],
    ];
    const before = ((await h.call('GET', '/v1.41/networks')).body as unknown[]).length;
    for (const [body, message] of refused) {
      const r = await h.call('POST', '/v1.41/networks/create', { Driver: 'overlay', ...(body as Json) });
      assert.deepEqual([r.status, r.body], [400, { message }], JSON.stringify(body));
    }
    assert.equal(
      ((await h.call('GET', '/v1.41/networks')).body as unknown[]).length,
      before,
      'refusals create nothing',
    );
  });
});

test('swarm init takes DefaultAddrPool, SubnetSize and DataPathPort, validated as dockerd does, and shows them', async () => {
  const h = await apiHarness();
  try {
    const init = (body: Json) => h.call('POST', '/v1.41/swarm/init', { ListenAddr: '127.0.0.1:0', ...body });
    const refusals: [Json, string][] = [
      [{ DataPathPort: 80 }, 'Datapath port number is not in valid range (1024-49151) : 80'],
      [{ DataPathPort: 49152 }, 'Datapath port number is not in valid range (1024-49151) : 49152'],
      [{ DefaultAddrPool: ['10.20.0.0/16'], SubnetSize: 30 }, 'subnet size is out of range: 30'],
      [
        { DefaultAddrPool: ['nonsense'], SubnetSize: 24 },
        'invalid base pool nonsense: invalid CIDR address: nonsense',
      ],
      [
        { DefaultAddrPool: ['10.20.0.0/16'], SubnetSize: 12 },
        'invalid CIDR: "10.20.0.0/16". Subnet size is too small for pool: 12',
      ],
    ];
    for (const [body, message] of refusals) {
      const r = await init(body);
      assert.deepEqual([r.status, r.body], [400, { message }], JSON.stringify(body));
    }
    const info = (await get(h, '/v1.41/info')) as { Swarm: { LocalNodeState: string } };
    assert.equal(info.Swarm.LocalNodeState, 'inactive', 'a refused init leaves the node out of a swarm');

    const ok = await init({
      DefaultAddrPool: [' 10.20.0.0/16 ', '192.168.100.0/24'],
      SubnetSize: 26,
      DataPathPort: 7789,
    });
    assert.equal(ok.status, 200, ok.text);
    const swarm = await get(h, '/v1.41/swarm');
    assert.deepEqual(
      [swarm.DefaultAddrPool, swarm.SubnetSize, swarm.DataPathPort],
      [['10.20.0.0/16', '192.168.100.0/24'], 26, 7789],
    );
    const cluster = ((await get(h, '/v1.41/info')) as { Swarm: { Cluster: Json } }).Swarm.Cluster;
    assert.deepEqual(
      [cluster.DefaultAddrPool, cluster.SubnetSize, cluster.DataPathPort],
      [['10.20.0.0/16', '192.168.100.0/24'], 26, 7789],
    );
    // Overlay subnets, the ingress network's first, come from the pool at its size.
    const net = await create(h, '/v1.41/networks/create', { Name: 'pooled', Driver: 'overlay' });
    const subnets = (
      (await get(h, '/v1.41/networks')) as unknown as { Id: string; IPAM: { Config: { Subnet: string }[] } }[]
    ).map((n) => [n.Id === net ? 'pooled' : 'ingress', n.IPAM.Config[0]!.Subnet]);
    assert.deepEqual(Object.fromEntries(subnets), { ingress: '10.20.0.0/26', pooled: '10.20.0.64/26' });
  } finally {
    await h.close();
  }
});

test('a swarm initialised without options shows what Docker shows: no pool, /24, port 4789', async () => {
  await withSwarm(async (h) => {
    const swarm = await get(h, '/v1.41/swarm');
    const real = capture('swarm.json').response;
    assert.deepEqual(
      [swarm.DefaultAddrPool, swarm.SubnetSize, swarm.DataPathPort],
      [real.DefaultAddrPool, real.SubnetSize, real.DataPathPort],
    );
    assert.equal(JSON.stringify(swarm).includes('"DefaultAddrPool":null'), true);
  });
});
