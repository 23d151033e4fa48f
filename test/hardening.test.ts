// The defects a probe found by sending what a hostile or careless client sends, each through the
// HTTP API as it was sent: every one is now a 400 with Docker's {"message"} that changes nothing,
// and the cluster keeps taking writes (before, several of these took it down for good).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { apiHarness, serviceSpec, withSwarm, type ApiHarness } from './support/daemon.js';

const svc = serviceSpec;

const snapshot = (h: ApiHarness): string => {
  if (h.daemon.state !== 'active') return h.daemon.state;
  const { store } = h.daemon.manager;
  return JSON.stringify(store.view((tx) => [tx.all('services'), tx.all('networks'), tx.cluster()]));
};

async function refused(
  h: ApiHarness,
  method: string,
  url: string,
  body: unknown,
  message: RegExp,
  opts: { raw?: string; headers?: Record<string, string>; status?: number } = {},
): Promise<void> {
  const before = snapshot(h);
  const r = await h.call(method, url, body, opts.raw, opts.headers);
  assert.equal(r.status, opts.status ?? 400, `${method} ${url}: ${r.text.slice(0, 300)}`);
  assert.deepEqual(Object.keys(r.body as object), ['message']);
  assert.match((r.body as { message: string }).message, message);
  assert.equal(snapshot(h), before, `${method} ${url} changed the state`);
}

async function writable(h: ApiHarness, name: string): Promise<void> {
  const r = await h.call('POST', '/v1.41/services/create', svc(name));
  assert.equal(r.status, 201, r.text);
  const ls = await h.call('GET', '/v1.41/services?status=true');
  assert.equal(ls.status, 200);
}

test('a 1,900-deep value in a field that took any JSON is refused at the edge, and the cluster keeps writing', async () => {
  await withSwarm(async (h) => {
    let v: unknown = 1;
    for (let i = 0; i < 1900; i++) v = [v];
    for (const field of ['PluginSpec', 'NetworkAttachmentSpec'])
      await refused(
        h,
        'POST',
        '/v1.41/services/create',
        svc('poison', { TaskTemplate: { ContainerSpec: { Image: 'x' }, [field]: v } }),
        /nested deeper than 64 levels/,
      );
    await refused(
      h,
      'POST',
      '/v1.41/services/create',
      svc('poison', { TaskTemplate: { ContainerSpec: { Image: 'x', Privileges: [[1]] } } }),
      /cannot unmarshal array into field TaskTemplate.ContainerSpec.Privileges of type object/,
    );
    await writable(h, 'after');
  });
});

test('Replicas 1e308, a huge heartbeat and out-of-range numbers are refused; service ls keeps working', async () => {
  await withSwarm(async (h) => {
    await refused(
      h,
      'POST',
      '/v1.41/services/create',
      svc('big', { Mode: { Replicated: { Replicas: 1e308 } } }),
      /^json: cannot unmarshal number 1e\+308 into field Mode.Replicated.Replicas of type uint64$/,
    );
    await refused(
      h,
      'POST',
      '/v1.41/services/create',
      svc('big', { Mode: { Replicated: { Replicas: 1_000_000 } } }),
      /replicas must be at most 200000/,
    );
    for (const [field, value] of [
      ['StopGracePeriod', 18446744073709552000],
      ['StopGracePeriod', 1e308],
      ['Healthcheck', { Interval: 1e308 }],
    ] as const)
      await refused(
        h,
        'POST',
        '/v1.41/services/create',
        svc('n', { TaskTemplate: { ContainerSpec: { Image: 'x', [field]: value } } }),
        /of type time.Duration/,
      );
    const swarm = (await h.call('GET', '/v1.41/swarm')).body as {
      Version: { Index: number };
      Spec: Record<string, unknown>;
    };
    const update = `/v1.41/swarm/update?version=${swarm.Version.Index}`;
    await refused(
      h,
      'POST',
      update,
      { ...swarm.Spec, Dispatcher: { HeartbeatPeriod: 1e18 } },
      /heartbeat period must be between 50ms and 1h/,
    );
    await refused(
      h,
      'POST',
      update,
      { ...swarm.Spec, CAConfig: { NodeCertExpiry: 1e308 } },
      /NodeCertExpiry of type time.Duration/,
    );
    await refused(
      h,
      'POST',
      update,
      { ...swarm.Spec, CAConfig: { ExternalCAs: [{ URL: 'x' }] } },
      /--external-ca are not supported/,
    );
    const info = await h.call('GET', '/v1.41/info');
    assert.equal(info.status, 200);
    await writable(h, 'after');
  });
});

test('nulls in arrays and wrong types are 400s naming the field, not 500s with JavaScript messages', async () => {
  await withSwarm(async (h) => {
    const cs = (extra: Record<string, unknown>): Record<string, unknown> =>
      svc('n', { TaskTemplate: { ContainerSpec: { Image: 'x', ...extra } } });
    await refused(
      h,
      'POST',
      '/v1.41/services/create',
      cs({ Secrets: [null] }),
      /Secrets\[0\] must not be null/,
    );
    await refused(
      h,
      'POST',
      '/v1.41/services/create',
      svc('n', { TaskTemplate: { ContainerSpec: { Image: 'x' }, Placement: { Constraints: [null] } } }),
      /Constraints\[0\] must not be null/,
    );
    await refused(
      h,
      'POST',
      '/v1.41/services/create',
      svc('n', { TaskTemplate: { ContainerSpec: { Image: 'x' }, Networks: [null] } }),
      /Networks\[0\] must not be null/,
    );
    await refused(
      h,
      'POST',
      '/v1.41/services/create',
      svc('n', { TaskTemplate: { ContainerSpec: { Image: 'x' }, Networks: [{ Aliases: ['a'] }] } }),
      /a network attachment must name its network \(Target is empty\)/,
    );
    await refused(h, 'POST', '/v1.41/services/create', cs({ Privileges: 'x' }), /Privileges of type object/);
    await refused(
      h,
      'POST',
      '/v1.41/networks/create',
      { Name: 'n', IPAM: { Config: [null] } },
      /IPAM.Config\[0\] must not be null/,
    );
    await writable(h, 'after');
  });
});

test('Content-Type, body size, names and log parameters are checked as Docker checks them', async () => {
  await withSwarm(async (h) => {
    const body = svc('ct');
    await refused(
      h,
      'POST',
      '/v1.41/services/create',
      body,
      /^Content-Type specified \(text\/plain\) must be 'application\/json'$/,
      {
        headers: { 'content-type': 'text/plain' },
      },
    );
    await refused(
      h,
      'POST',
      '/v1.41/services/create',
      body,
      /^Content-Type specified \(\) must be 'application\/json'$/,
      {
        headers: {},
      },
    );
    const ok = await h.call('POST', '/v1.41/services/create', body, undefined, {
      'content-type': 'application/json; charset=utf-8',
    });
    assert.equal(ok.status, 201);
    await refused(h, 'POST', '/v1.41/secrets/create', undefined, /too large/, {
      raw: JSON.stringify({ Name: 's', Data: 'QUFB'.repeat(700_000) }),
      status: 413,
    });
    for (const name of ['x'.repeat(70_000), 'a\u0000b', '\u001b[31mred'])
      await refused(
        h,
        'POST',
        '/v1.41/networks/create',
        { Name: name },
        /name must be valid as a DNS name component/,
      );
    const id = (ok.body as { ID: string }).ID;
    await refused(
      h,
      'GET',
      `/v1.41/services/${id}/logs?stdout=1&since=abc`,
      undefined,
      /could not parse since timestamp "abc"/,
    );
    await refused(
      h,
      'GET',
      `/v1.41/services/${id}/logs?stdout=1&tail=abc`,
      undefined,
      /invalid tail value "abc"/,
    );
    await writable(h, 'after');
  });
});

test('swarm init: a ListenAddr of the wrong type or in use is a 400 and leaves the node able to init', async () => {
  const h = await apiHarness();
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const port = (busy.address() as { port: number }).port;
  try {
    await refused(
      h,
      'POST',
      '/v1.41/swarm/init',
      { ListenAddr: 123 },
      /cannot unmarshal number 123 into field ListenAddr of type string/,
    );
    await refused(
      h,
      'POST',
      '/v1.41/swarm/init',
      { ListenAddr: `127.0.0.1:${port}`, AdvertiseAddr: '127.0.0.1' },
      /cannot listen on 127.0.0.1:\d+: .*address already in use/,
    );
    await refused(
      h,
      'POST',
      '/v1.41/swarm/join',
      { RemoteAddrs: ['h'.repeat(1 << 20)], JoinToken: 'SWMTKN-1-x' },
      /invalid RemoteAddr/,
    );
    assert.equal(h.daemon.state, 'inactive');
    const init = await h.call('POST', '/v1.41/swarm/init', {
      ListenAddr: '127.0.0.1:0',
      AdvertiseAddr: '127.0.0.1',
    });
    assert.equal(init.status, 200, init.text);
    await writable(h, 'after');
  } finally {
    busy.close();
    await h.close();
  }
});

test('a worker that sends a bad description or status report gets an error and changes nothing', async () => {
  await withSwarm(async (h) => {
    const d = h.daemon.manager.manager.leader!.dispatcher;
    const { store } = h.daemon.manager;
    const node = store.view((tx) => tx.all('nodes')[0]!);
    const before = JSON.stringify(store.view((tx) => [tx.all('nodes'), tx.all('tasks')]));
    await assert.rejects(
      d.openSession(node.ID, { ...node.Description, Hostname: 'h'.repeat(1 << 20) }, '127.0.0.1', {
        onAssignments: () => undefined,
        onClose: () => undefined,
      }),
      /hostname must be 1 to 253/,
    );
    await assert.rejects(
      d.openSession(node.ID, node.Description, '\u001b[31m:1', {
        onAssignments: () => undefined,
        onClose: () => undefined,
      }),
      /invalid node address/,
    );
    const ok = { Timestamp: '2026-12-02T00:00:00Z', State: 'running' as const, Message: 'x', PortStatus: {} };
    await assert.rejects(
      d.updateTaskStatus(node.ID, [
        { taskId: 'abc', status: ok },
        { taskId: 'abc', status: { ...ok, State: 'exploded' as 'running' } },
      ]),
      /unknown task state "exploded"/,
    );
    await assert.rejects(
      d.updateTaskStatus(node.ID, [{ taskId: 'abc', status: null as never }]),
      /must be a JSON object/,
    );
    assert.equal(JSON.stringify(store.view((tx) => [tx.all('nodes'), tx.all('tasks')])), before);
  });
});

test("a join the manager refuses (a wrong token) is a 400 with the manager's reason; an unreachable one a 503", async () => {
  await withSwarm(async (m) => {
    const w = await apiHarness();
    try {
      const swarm = (await m.call('GET', '/v1.41/swarm')).body as { JoinTokens: { Worker: string } };
      const good = swarm.JoinTokens.Worker;
      const wrong = `${good.slice(0, good.lastIndexOf('-') + 1)}${'0'.repeat(25)}`;
      const join = (token: string, addr: string): Promise<{ status: number; body: unknown }> =>
        w.call('POST', '/v1.41/swarm/join', {
          RemoteAddrs: [addr],
          JoinToken: token,
          ListenAddr: '127.0.0.1:0',
        });
      const refused = await join(wrong, m.daemon.listenAddr);
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      assert.match((refused.body as { message: string }).message, /join token/i);
      const closed = await join(good, '127.0.0.1:1');
      assert.equal(closed.status, 503, JSON.stringify(closed.body));
      assert.match(
        (closed.body as { message: string }).message,
        /could not join the swarm through the manager/,
      );
      assert.equal(w.daemon.state, 'inactive');
    } finally {
      await w.close();
    }
  });
});
