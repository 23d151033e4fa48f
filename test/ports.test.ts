// Published ports through the API: Docker's errors for bad input with nothing changed, the update
// path keeping and freeing ports (`--publish-add/--publish-rm`), and replacing the ingress network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serviceSpec as svc, withSwarm, type ApiHarness } from './support/daemon.js';

interface Svc {
  ID: string;
  Version: { Index: number };
  Spec: { EndpointSpec?: { Ports?: unknown[] } };
  Endpoint: {
    Ports?: { Protocol: string; TargetPort: number; PublishedPort: number; PublishMode: string }[];
  };
}

const ports = (...p: [number, number?, string?, string?][]): Record<string, unknown> => ({
  EndpointSpec: {
    Ports: p.map(([target, published, mode, protocol]) => ({
      TargetPort: target,
      ...(published !== undefined ? { PublishedPort: published } : {}),
      ...(mode ? { PublishMode: mode } : {}),
      ...(protocol ? { Protocol: protocol } : {}),
    })),
  },
});

async function services(h: ApiHarness): Promise<string> {
  const r = await h.call('GET', '/v1.41/services');
  return JSON.stringify(r.body);
}

async function refused(
  h: ApiHarness,
  body: unknown,
  status: number,
  message: string | RegExp,
): Promise<void> {
  const before = await services(h);
  const r = await h.call('POST', '/v1.41/services/create', body);
  assert.equal(r.status, status, r.text);
  const msg = (r.body as { message: string }).message;
  if (typeof message === 'string') assert.equal(msg, message);
  else assert.match(msg, message);
  assert.equal(await services(h), before, 'nothing changed');
}

const published = (s: Svc): string[] =>
  (s.Endpoint.Ports ?? [])
    .map((p) => `${p.PublishMode} ${p.Protocol} ${p.PublishedPort}->${p.TargetPort}`)
    .sort();

test("bad published ports are refused with Docker's errors, and change nothing", async () => {
  await withSwarm(async (h) => {
    const web = await h.call('POST', '/v1.41/services/create', svc('web', ports([80, 8080])));
    assert.equal(web.status, 201);
    const id = (web.body as { ID: string }).ID;
    const hosted = await h.call('POST', '/v1.41/services/create', svc('hosted', ports([80, 7070, 'host'])));
    assert.equal(hosted.status, 201);
    const hid = (hosted.body as { ID: string }).ID;
    const invalid = (m: string): string => `rpc error: code = InvalidArgument desc = ${m}`;

    await refused(
      h,
      svc('a', ports([80, 8080])),
      400,
      invalid(`port '8080' is already in use by service 'web' (${id}) as an ingress port`),
    );
    await refused(
      h,
      svc('b', ports([80, 8080, 'host'])),
      400,
      invalid(`port '8080' is already in use by service 'web' (${id}) as an ingress port`),
    );
    await refused(
      h,
      svc('c', ports([80, 7070])),
      400,
      invalid(`port '7070' is already in use by service 'hosted' (${hid}) as a host-published port`),
    );
    await refused(
      h,
      svc('d', ports([80, 9000], [81, 9000])),
      400,
      invalid('EndpointSpec: duplicate published ports provided'),
    );
    await refused(
      h,
      svc('e', ports([80, 65536])),
      400,
      invalid('published port must be between 0 and 65535, got 65536'),
    );
    await refused(
      h,
      svc('f', ports([0, 9001])),
      400,
      invalid('target port must be between 1 and 65535, got 0'),
    );
    await refused(
      h,
      svc('g', ports([65536, 9001])),
      400,
      invalid('target port must be between 1 and 65535, got 65536'),
    );
    await refused(
      h,
      svc('h', { EndpointSpec: { Mode: 'dnsrr', Ports: [{ TargetPort: 80, PublishedPort: 9002 }] } }),
      400,
      invalid("EndpointSpec: port published with ingress mode can't be used with dnsrr mode"),
    );

    // Another protocol is another port; a host-mode port may be shared (the scheduler keeps them apart).
    assert.equal(
      (await h.call('POST', '/v1.41/services/create', svc('udp', ports([53, 8080, 'ingress', 'udp']))))
        .status,
      201,
    );
    assert.equal(
      (await h.call('POST', '/v1.41/services/create', svc('hosted2', ports([80, 7070, 'host'])))).status,
      201,
    );
    // dnsrr with a host-mode port is fine.
    const dnsrrHost = await h.call(
      'POST',
      '/v1.41/services/create',
      svc('dh', {
        EndpointSpec: {
          Mode: 'dnsrr',
          Ports: [{ TargetPort: 80, PublishedPort: 7071, PublishMode: 'host' }],
        },
      }),
    );
    assert.equal(dnsrrHost.status, 201, dnsrrHost.text);
  });
});

/** `service update`: the allocator may bump the version between the read and the write, as the CLI's retry. */
async function update(
  h: ApiHarness,
  name: string,
  spec: unknown,
): Promise<{ status: number; body: unknown; text: string }> {
  for (let i = 0; ; i++) {
    const s = (await h.call('GET', `/v1.41/services/${name}`)).body as Svc;
    const r = await h.call('POST', `/v1.41/services/${s.ID}/update?version=${s.Version.Index}`, spec);
    if (r.status !== 409 || i >= 20) return r;
    await new Promise((res) => setTimeout(res, 20));
  }
}

test('publish-add keeps the ports a service has, publish-rm and service rm free them', async () => {
  await withSwarm(async (h) => {
    const get = async (name: string): Promise<Svc> =>
      (await h.call('GET', `/v1.41/services/${name}`)).body as Svc;
    assert.equal(
      (await h.call('POST', '/v1.41/services/create', svc('web', ports([80, 8080], [81])))).status,
      201,
    );
    assert.deepEqual(published(await get('web')), ['ingress tcp 30000->81', 'ingress tcp 8080->80']);

    // publish-add: the CLI sends the spec's ports plus the new ones (the dynamic one still without a number).
    let r = await update(h, 'web', svc('web', ports([80, 8080], [81], [90, 9090], [91], [22, 2222, 'host'])));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(published(await get('web')), [
      'host tcp 2222->22',
      'ingress tcp 30000->81',
      'ingress tcp 30001->91',
      'ingress tcp 8080->80',
      'ingress tcp 9090->90',
    ]);

    // publish-rm 8080: another service may take it now.
    r = await update(h, 'web', svc('web', ports([81], [90, 9090], [91])));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(published(await get('web')), [
      'ingress tcp 30000->81',
      'ingress tcp 30001->91',
      'ingress tcp 9090->90',
    ]);
    assert.equal(
      (await h.call('POST', '/v1.41/services/create', svc('other', ports([80, 8080])))).status,
      201,
    );

    // A port in use refuses the update and leaves the service as it was.
    const before = JSON.stringify((await get('web')).Endpoint);
    r = await update(h, 'web', svc('web', ports([81], [90, 9090], [91], [80, 8080])));
    assert.equal(r.status, 400);
    assert.match((r.body as { message: string }).message, /port '8080' is already in use by service 'other'/);
    assert.equal(JSON.stringify((await get('web')).Endpoint), before);

    // Removing the service frees its ports.
    assert.equal((await h.call('DELETE', '/v1.41/services/web')).status, 200);
    assert.equal(
      (await h.call('POST', '/v1.41/services/create', svc('again', ports([90, 9090])))).status,
      201,
    );
  });
});

test('a user-defined ingress network replaces the default one, and tasks attach to it', async () => {
  await withSwarm(async (h) => {
    const r = await h.call('POST', '/v1.41/services/create', svc('web', ports([80, 8080])));
    assert.equal(r.status, 201);
    const id = (r.body as { ID: string }).ID;
    const ingress = (await h.call('GET', '/v1.41/networks/ingress')).body as { Id: string; Ingress: boolean };
    assert.equal(ingress.Ingress, true);
    let rm = await h.call('DELETE', '/v1.41/networks/ingress');
    assert.equal(rm.status, 400);
    assert.equal(
      (rm.body as { message: string }).message,
      `rpc error: code = FailedPrecondition desc = ingress network cannot be removed because service ${id} depends on it`,
    );
    assert.equal((await h.call('DELETE', '/v1.41/services/web')).status, 200);
    rm = await h.call('DELETE', '/v1.41/networks/ingress');
    assert.equal(rm.status, 204, rm.text);

    // No ingress network: a service publishing through the mesh is refused, one with host ports is not.
    const none = await h.call('POST', '/v1.41/services/create', svc('web2', ports([80, 8080])));
    assert.equal(none.status, 400);
    assert.equal(
      (none.body as { message: string }).message,
      'rpc error: code = FailedPrecondition desc = service needs ingress network, but no ingress network is present',
    );
    assert.equal(
      (await h.call('POST', '/v1.41/services/create', svc('hostonly', ports([80, 7000, 'host'])))).status,
      201,
    );

    const created = await h.call('POST', '/v1.41/networks/create', {
      Name: 'my-ingress',
      Driver: 'overlay',
      Ingress: true,
      IPAM: { Config: [{ Subnet: '10.11.0.0/24' }] },
    });
    assert.equal(created.status, 201, created.text);
    const myId = (created.body as { Id: string }).Id;
    const second = await h.call('POST', '/v1.41/networks/create', {
      Name: 'ing2',
      Driver: 'overlay',
      Ingress: true,
    });
    assert.equal(second.status, 409, second.text);
    assert.equal(
      (second.body as { message: string }).message,
      `rpc error: code = AlreadyExists desc = ingress network (${myId}) is already present`,
    );

    const web = await h.call('POST', '/v1.41/services/create', svc('web', ports([80, 8080])));
    assert.equal(web.status, 201, web.text);
    const webId = (web.body as { ID: string }).ID;
    const store = h.daemon.manager!.store;
    const deadline = Date.now() + 5000;
    let nets: string[] = [];
    while (Date.now() < deadline) {
      nets = store.view((tx) =>
        tx.tasksByService(webId).flatMap((t) => (t.NetworksAttachments ?? []).map((a) => a.Network.ID)),
      );
      if (nets.length > 0) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    assert.deepEqual(nets, [myId], "the service's task attaches to the new ingress network");
    const vips = store.view((tx) => tx.get('services', webId)!.Endpoint.VirtualIPs ?? []);
    assert.deepEqual(
      vips.map((v) => v.NetworkID),
      [myId],
    );
    assert.match(vips[0]!.Addr, /^10\.11\.0\./);
    // Every node has its own address on it.
    const addrs = store.view((tx) => tx.all('nodes').map((n) => n.NetworkAddrs?.[myId]));
    assert.ok(
      addrs.every((a) => a?.startsWith('10.11.0.')),
      JSON.stringify(addrs),
    );
  });
});

test("publish-add and publish-rm replace the service's tasks, which join ingress and bind host ports", async () => {
  await withSwarm(async (h) => {
    const store = h.daemon.manager!.store;
    const r = await h.call('POST', '/v1.41/services/create', svc('web'));
    assert.equal(r.status, 201);
    const id = (r.body as { ID: string }).ID;
    const live = (): { id: string; state: string; ingress: boolean; host: string }[] =>
      store.view((tx) =>
        tx
          .tasksByService(id)
          .filter((t) => t.DesiredState === 'running')
          .map((t) => ({
            id: t.ID,
            state: t.Status.State,
            ingress: (t.NetworksAttachments ?? []).some((a) => a.Network.Spec.Ingress === true),
            host: (t.HostPorts ?? []).map((p) => `${p.PublishedPort}->${p.TargetPort}`).join(','),
          })),
      );
    const until = async (what: string, cond: () => boolean): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (!cond()) {
        if (Date.now() > deadline) assert.fail(`${what}: ${JSON.stringify(live())}`);
        await new Promise((res) => setTimeout(res, 20));
      }
    };
    await until('one running task', () => live().length === 1 && live()[0]!.state === 'running');
    const first = live()[0]!.id;
    assert.deepEqual(live()[0], { id: first, state: 'running', ingress: false, host: '' });

    assert.equal((await update(h, 'web', svc('web', ports([80, 8080])))).status, 200);
    await until('a task on ingress', () => live().some((t) => t.ingress && t.state === 'running'));
    assert.ok(!live().some((t) => t.id === first), 'the old task was replaced');

    assert.equal((await update(h, 'web', svc('web', ports([80, 8080], [22, 2222, 'host'])))).status, 200);
    await until('a task binding 2222', () =>
      live().some((t) => t.host === '2222->22' && t.state === 'running'),
    );
    const task = live().find((t) => t.host === '2222->22')!;
    const shown = await h.call('GET', `/v1.41/tasks/${task.id}`);
    assert.equal(shown.status, 200);
    assert.doesNotMatch(shown.text, /HostPorts/, 'the API shows no bookkeeping');

    // publish-rm of both: the next task holds neither.
    assert.equal((await update(h, 'web', svc('web'))).status, 200);
    await until('a task with no published ports', () =>
      live().some((t) => !t.ingress && t.host === '' && t.state === 'running'),
    );
    // An update that changes no port leaves the task alone.
    const settled = live().map((t) => t.id);
    assert.equal((await update(h, 'web', svc('web', { Labels: { a: 'b' } }))).status, 200);
    await new Promise((res) => setTimeout(res, 300));
    assert.deepEqual(
      live().map((t) => t.id),
      settled,
    );
  });
});
