// The Engine-compatible API: status codes and {"message"} bodies as in the reference ERRORS.md,
// and bad input that changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiHarness, serviceSpec, withSwarm } from './support/daemon.js';
import { DESCRIPTION } from './support/cluster.js';
import { Daemon, daemonApi } from '../src/daemon/index.js';
import { SimExecutor } from '../src/agent/index.js';

const svc = serviceSpec;

test('ping and version carry the negotiation headers', async () => {
  const h = await apiHarness();
  try {
    const ping = await h.call('HEAD', '/_ping');
    assert.equal(ping.status, 200);
    assert.equal(ping.headers['api-version'], '1.41');
    assert.equal(ping.headers['ostype'], 'linux');
    assert.equal(ping.headers['docker-experimental'], 'false');
    const v = await h.call('GET', '/v1.50/version');
    assert.equal(v.status, 200);
    assert.equal((v.body as { ApiVersion: string }).ApiVersion, '1.41');
    const tooNew = await h.call('GET', '/v1.99/version');
    assert.equal(tooNew.status, 400);
    assert.match((tooNew.body as { message: string }).message, /client version 1.99 is too new/);
    const unknown = await h.call('GET', '/v1.41/nothing/here');
    assert.deepEqual([unknown.status, unknown.body], [404, { message: 'page not found' }]);
  } finally {
    await h.close();
  }
});

test('before init, swarm endpoints answer 503 as a non-manager', async () => {
  const h = await apiHarness();
  try {
    const r = await h.call('GET', '/v1.41/services');
    assert.equal(r.status, 503);
    assert.match((r.body as { message: string }).message, /This node is not a swarm manager/);
    const info = await h.call('GET', '/v1.41/info');
    assert.equal((info.body as { Swarm: { LocalNodeState: string } }).Swarm.LocalNodeState, 'inactive');
  } finally {
    await h.close();
  }
});

test('error cases of the reference record, with Docker status and message', async () => {
  await withSwarm(async (h) => {
    const ok = await h.call('POST', '/v1.41/services/create', svc('web'));
    assert.equal(ok.status, 201);
    const expect = async (
      m: string,
      url: string,
      body: unknown,
      status: number,
      message: string | RegExp,
    ): Promise<void> => {
      const r = await h.call(m, url, body);
      assert.equal(r.status, status, `${m} ${url}: ${r.text}`);
      const msg = (r.body as { message: string }).message;
      if (typeof message === 'string') assert.equal(msg, message);
      else assert.match(msg, message);
      assert.ok(r.text.endsWith('\n'));
    };
    await expect(
      'POST',
      '/v1.41/services/create',
      svc('web'),
      409,
      'rpc error: code = AlreadyExists desc = name conflicts with an existing object: service web already exists',
    );
    await expect('GET', '/v1.41/services/nosuchsvc', undefined, 404, 'service nosuchsvc not found');
    await expect('DELETE', '/v1.41/services/nosuchsvc', undefined, 404, 'service nosuchsvc not found');
    await expect('GET', '/v1.41/tasks/nosuchsvc', undefined, 404, 'task nosuchsvc not found');
    await expect('GET', '/v1.41/nodes/nosuchnode', undefined, 404, 'node nosuchnode not found');
    await expect('GET', '/v1.41/networks/nosuchnet', undefined, 404, 'network nosuchnet not found');
    await expect('GET', '/v1.41/secrets/nosuchsecret', undefined, 404, 'secret nosuchsecret not found');
    await expect('GET', '/v1.41/configs/nosuchconfig', undefined, 404, 'config nosuchconfig not found');
    await expect(
      'POST',
      '/v1.41/services/create',
      svc('bad_name!'),
      400,
      'rpc error: code = InvalidArgument desc = name must be valid as a DNS name component',
    );
    // Docker answers this with a 500; it is a client mistake, so shoal says 400.
    await expect(
      'POST',
      '/v1.41/services/create',
      svc('badc', {
        TaskTemplate: { ContainerSpec: { Image: 'x' }, Placement: { Constraints: ['node.labels.zone=a'] } },
      }),
      400,
      'rpc error: code = InvalidArgument desc = constraint expected one operator from ==, !=',
    );
    await expect(
      'POST',
      '/v1.41/swarm/init',
      {},
      503,
      'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.',
    );
    const node = (await h.call('GET', '/v1.41/nodes')).body as { ID: string }[];
    await expect(
      'DELETE',
      `/v1.41/nodes/${node[0]!.ID}`,
      undefined,
      400,
      `rpc error: code = FailedPrecondition desc = node ${node[0]!.ID} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal`,
    );
    const web = (await h.call('GET', '/v1.41/services/web')).body as {
      ID: string;
      Version: { Index: number };
      Spec: unknown;
    };
    await expect(
      'POST',
      `/v1.41/services/${web.ID}/update?rollback=previous&version=${web.Version.Index}`,
      web.Spec,
      400,
      `rpc error: code = FailedPrecondition desc = service ${web.ID} does not have a previous spec`,
    );
    await expect(
      'POST',
      `/v1.41/services/${web.ID}/update?version=1`,
      web.Spec,
      409,
      'update out of sequence',
    );
    // Published port in use.
    const p = await h.call(
      'POST',
      '/v1.41/services/create',
      svc('pub', { EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] } }),
    );
    assert.equal(p.status, 201);
    await expect(
      'POST',
      '/v1.41/services/create',
      svc('portclash', { EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] } }),
      400,
      new RegExp(
        `port '8080' is already in use by service 'pub' \\(${(p.body as { ID: string }).ID}\\) as an ingress port`,
      ),
    );
    // Network in use.
    const n = await h.call('POST', '/v1.41/networks/create', {
      Name: 'apinet',
      Driver: 'overlay',
      Attachable: true,
    });
    assert.equal(n.status, 201);
    const netId = (n.body as { Id: string }).Id;
    await h.call(
      'POST',
      '/v1.41/services/create',
      svc('onnet', { TaskTemplate: { ContainerSpec: { Image: 'x' }, Networks: [{ Target: 'apinet' }] } }),
    );
    const user = (await h.call('GET', '/v1.41/services/onnet')).body as { ID: string };
    await expect(
      'DELETE',
      '/v1.41/networks/apinet',
      undefined,
      400,
      `rpc error: code = FailedPrecondition desc = network ${netId} is in use by service ${user.ID}`,
    );
    await expect(
      'POST',
      '/v1.41/networks/create',
      { Name: 'apinet', Driver: 'overlay' },
      409,
      /network apinet already exists/,
    );
    // A negative history limit: accepted by Docker, refused here.
    const sw = (await h.call('GET', '/v1.41/swarm')).body as {
      Version: { Index: number };
      Spec: Record<string, unknown>;
    };
    await expect(
      'POST',
      `/v1.41/swarm/update?version=${sw.Version.Index}&rotateWorkerToken=false&rotateManagerToken=false&rotateManagerUnlockKey=false`,
      { ...sw.Spec, Orchestration: { TaskHistoryRetentionLimit: -5 } },
      400,
      /task history retention limit must be non-negative, got -5/,
    );
  });
});

test('malformed bodies get a 400 that says what is wrong and change nothing', async () => {
  await withSwarm(async (h) => {
    const before = await h.call('GET', '/v1.41/services');
    const cases: [string | undefined, unknown, RegExp][] = [
      ['{"Name": "x", ', undefined, /invalid JSON in request body/],
      [
        undefined,
        svc('wrongtype', { Mode: { Replicated: { Replicas: 'three' } } }),
        /cannot unmarshal string into field Mode.Replicated.Replicas/,
      ],
      [undefined, svc('weird', { Mode: { Weird: {} } }), /unknown service mode "Weird"/],
      [
        undefined,
        svc('neg', { Mode: { Replicated: { Replicas: -2 } } }),
        /json: cannot unmarshal number -2 into field Mode.Replicated.Replicas of type uint64/,
      ],
      [undefined, { Name: 42 }, /cannot unmarshal number 42 into field Name of type string/],
      ['[]', undefined, /must be a JSON object/],
    ];
    for (const [raw, body, re] of cases) {
      const r = await h.call('POST', '/v1.41/services/create', body, raw);
      assert.equal(r.status, 400, r.text);
      assert.match((r.body as { message: string }).message, re);
    }
    const after = await h.call('GET', '/v1.41/services');
    assert.deepEqual(after.body, before.body, 'no service was created');
    // A bad update leaves the service as it was.
    await h.call('POST', '/v1.41/services/create', svc('keep'));
    const keep = (await h.call('GET', '/v1.41/services/keep')).body as {
      ID: string;
      Version: { Index: number };
    };
    const bad = await h.call(
      'POST',
      `/v1.41/services/${keep.ID}/update?version=${keep.Version.Index}`,
      svc('keep', { Mode: { Replicated: { Replicas: -1 } } }),
    );
    assert.equal(bad.status, 400);
    const again = (await h.call('GET', '/v1.41/services/keep')).body as { Version: { Index: number } };
    assert.equal(again.Version.Index, keep.Version.Index);
    const badVersion = await h.call('POST', `/v1.41/services/${keep.ID}/update?version=abc`, svc('keep'));
    assert.equal(badVersion.status, 400);
    const badFilter = await h.call('GET', '/v1.41/services?filters=notjson');
    assert.equal(badFilter.status, 400);
  });
});

test('service list with status counts running tasks; task filters select by service, desired state and _up-to-date', async () => {
  await withSwarm(async (h) => {
    const r = await h.call(
      'POST',
      '/v1.41/services/create',
      svc('web', { Mode: { Replicated: { Replicas: 3 } }, Labels: { tier: 'front' } }),
    );
    const id = (r.body as { ID: string }).ID;
    const deadline = Date.now() + 5000;
    let status: { RunningTasks: number; DesiredTasks: number } | undefined;
    while (Date.now() < deadline) {
      const list = (await h.call('GET', '/v1.41/services?status=true')).body as {
        ServiceStatus: { RunningTasks: number; DesiredTasks: number };
      }[];
      status = list[0]!.ServiceStatus;
      if (status.RunningTasks === 3) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    assert.deepEqual(status, { RunningTasks: 3, DesiredTasks: 3, CompletedTasks: 0 });
    const plain = (await h.call('GET', '/v1.41/services')).body as Record<string, unknown>[];
    assert.equal(plain[0]!.ServiceStatus, undefined, 'ServiceStatus only with status=true');
    const f = encodeURIComponent(
      JSON.stringify({
        service: { web: true },
        'desired-state': { running: true },
        '_up-to-date': { true: true },
      }),
    );
    const tasks = (await h.call('GET', `/v1.41/tasks?filters=${f}`)).body as {
      ServiceID: string;
      Slot: number;
    }[];
    assert.equal(tasks.length, 3);
    assert.ok(tasks.every((t) => t.ServiceID === id));
    const byLabel = (
      await h.call(
        'GET',
        `/v1.41/tasks?filters=${encodeURIComponent(JSON.stringify({ label: { 'tier=front': true } }))}`,
      )
    ).body as unknown[];
    assert.equal(byLabel.length, 3, 'task label filters match the service labels');
    const byName = (
      await h.call(
        'GET',
        `/v1.41/services?filters=${encodeURIComponent(JSON.stringify({ name: { web: true } }))}`,
      )
    ).body as unknown[];
    assert.equal(byName.length, 1);
    const insert = (await h.call('GET', `/v1.41/services/${id.slice(0, 6)}?insertDefaults=true`)).body as {
      Spec: { UpdateConfig: { Monitor: number } };
    };
    assert.equal(
      insert.Spec.UpdateConfig.Monitor,
      5e9,
      'insertDefaults adds UpdateConfig defaults; an ID prefix resolves',
    );
  });
});

test('networks get /24 subnets from 10.0.0.0/8 and are shown in Docker network shape', async () => {
  await withSwarm(async (h) => {
    const a = await h.call('POST', '/v1.41/networks/create', {
      Name: 'a',
      Driver: 'overlay',
      Labels: { purpose: 'test' },
    });
    const b = await h.call('POST', '/v1.41/networks/create', { Name: 'b' });
    assert.equal(a.status, 201);
    assert.equal(b.status, 201);
    const list = (await h.call('GET', '/v1.41/networks')).body as {
      Name: string;
      IPAM: { Config: { Subnet: string; Gateway: string }[] };
      Scope: string;
      Ingress: boolean;
    }[];
    const subnets = Object.fromEntries(list.map((n) => [n.Name, n.IPAM.Config[0]!.Subnet]));
    assert.deepEqual(subnets, { ingress: '10.0.0.0/24', a: '10.0.1.0/24', b: '10.0.2.0/24' });
    assert.ok(list.every((n) => n.Scope === 'swarm'));
    // A local network is the node engine's (this harness has none), under a name the swarm lacks.
    const local = await h.call('POST', '/v1.41/networks/create', { Name: 'c', Driver: 'bridge' });
    assert.equal(local.status, 500);
    assert.match((local.body as { message: string }).message, /^Cannot connect to the container engine at /);
    const taken = await h.call('POST', '/v1.41/networks/create', { Name: 'a', Driver: 'bridge' });
    assert.deepEqual([taken.status, taken.body], [409, { message: 'network with name a already exists' }]);
    const rm = await h.call('DELETE', '/v1.41/networks/b');
    assert.equal(rm.status, 204);
  });
});

test('state survives a daemon restart', async () => {
  const first = await apiHarness();
  const dataRoot = first.daemon.dataRoot;
  await first.call('POST', '/v1.41/swarm/init', {});
  await first.call(
    'POST',
    '/v1.41/services/create',
    svc('persist', { Mode: { Replicated: { Replicas: 2 } } }),
  );
  const before = (await first.call('GET', '/v1.41/services/persist')).body as { ID: string };
  await first.close();
  const second = await apiHarness({ dataRoot });
  try {
    const after = (await second.call('GET', '/v1.41/services/persist')).body as { ID: string };
    assert.equal(after.ID, before.ID);
    const info = (await second.call('GET', '/v1.41/info')).body as { Swarm: { LocalNodeState: string } };
    assert.equal(info.Swarm.LocalNodeState, 'active');
  } finally {
    await second.close();
  }
});

test('/events replays service and node events between since and until, filtered by type', async () => {
  await withSwarm(async (h) => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await h.call('POST', '/v1.41/services/create', svc('evsvc'));
    await h.call('DELETE', '/v1.41/services/evsvc');
    const until = Math.ceil(Date.now() / 1000) + 1;
    const f = encodeURIComponent(JSON.stringify({ type: { service: true } }));
    const r = await h.call('GET', `/v1.41/events?since=${since}&until=${until}&filters=${f}`);
    assert.equal(r.status, 200);
    const events = r.text
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            Type: string;
            Action: string;
            Actor: { Attributes: { name: string } };
            scope: string;
            timeNano: number;
          },
      );
    const mine = events.filter((e) => e.Actor.Attributes.name === 'evsvc');
    assert.deepEqual(
      mine.map((e) => e.Action).filter((a) => a !== 'update'),
      ['create', 'remove'],
    );
    assert.ok(events.every((e) => e.Type === 'service' && e.scope === 'swarm'));
    assert.ok(mine.every((e) => e.timeNano >= since * 1e9));
    // As dockerd: a filter key it does not know is ignored; a malformed filter is a 400 without
    // an rpc prefix.
    const unknown = await h.call(
      'GET',
      `/v1.41/events?since=${since}&until=${until}&filters=${encodeURIComponent(JSON.stringify({ bogus: { x: true } }))}`,
    );
    assert.equal(unknown.status, 200);
    assert.ok(unknown.text.includes('"evsvc"'), 'the unknown key filters nothing out');
    const bad = await h.call('GET', `/v1.41/events?until=${until}&filters=notjson`);
    assert.deepEqual([bad.status, bad.body], [400, { message: 'invalid filter' }]);
  });
});

test('after a restart the API serves while the engine is unreachable, and tasks run once it is back', async () => {
  const first = await apiHarness();
  const dataRoot = first.daemon.dataRoot;
  await first.call('POST', '/v1.41/swarm/init', {});
  await first.call('POST', '/v1.41/services/create', svc('survivor'));
  await first.close();

  let engineUp = false;
  const sim = new SimExecutor(DESCRIPTION);
  const flaky = Object.assign(Object.create(sim) as SimExecutor, {
    start: () =>
      engineUp ? Promise.resolve() : Promise.reject(new Error('cannot reach the container engine')),
  });
  const daemon = new Daemon({
    dataRoot,
    engineHost: 'unix:///nonexistent.sock',
    executorFactory: () => flaky,
  });
  await daemon.start();
  const app = daemonApi(daemon);
  try {
    const list = await app.inject({ method: 'GET', url: '/v1.41/services' });
    assert.equal(list.statusCode, 200, 'the manager answers although its engine is down');
    assert.equal((JSON.parse(list.body) as unknown[]).length, 1);
    engineUp = true;
    const deadline = Date.now() + 10_000;
    while (sim.running().length === 0) {
      if (Date.now() > deadline) throw new Error('the task never ran after the engine came back');
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await daemon.shutdown();
    await app.close();
  }
});
