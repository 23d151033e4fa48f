// Registry credentials (`--with-registry-auth`) through the Engine API on one in-process node:
// kept with the service as Docker keeps PullOptions (the header's value, never shown by inspect,
// list or events), chosen on update as Docker chooses them (the header, else registryAuthFrom
// spec or previous-spec, the previous ones on rollback), and handed only with the node's live
// tasks of that service, over the session protocol's wire encoding too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withSwarm, serviceSpec, type ApiHarness } from './support/daemon.js';
import { fromWireSession, toWireSession } from '../src/transport/index.js';
import type { Assignment, Service } from '../src/api/index.js';

/** Go's padded base64.URLEncoding of an auth config, as the docker CLI sends it. */
const auth = (password: string): string =>
  Buffer.from(JSON.stringify({ username: 'shoal', password, serveraddress: '127.0.0.1:5001' }))
    .toString('base64')
    .replace(/\+/g, '-')
    .replace(/\//g, '_');
const A1 = auth('first-secret-pass');
const A2 = auth('second-secret-pass');

const json = { 'content-type': 'application/json' };

function stored(h: ApiHarness, id: string): Service {
  return h.daemon.manager.store.view((tx) => tx.get('services', id)!);
}

function assignments(h: ApiHarness): Assignment[] {
  const d = h.daemon.manager.manager.leader?.dispatcher;
  assert.ok(d, 'this node leads');
  const nodeId = h.daemon.manager.store.view((tx) => tx.all('nodes')[0]!.ID);
  return d.assignmentSet(nodeId);
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(ok(), what);
}

async function update(
  h: ApiHarness,
  id: string,
  query: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  const v = stored(h, id).Version.Index;
  return h.call('POST', `/v1.41/services/${id}/update?version=${v}${query}`, body, JSON.stringify(body), {
    ...json,
    ...headers,
  });
}

test('X-Registry-Auth is kept with the service, never shown, and chosen on update as Docker does', async () => {
  await withSwarm(async (h) => {
    const spec = serviceSpec('priv');
    const c = await h.call('POST', '/v1.41/services/create', spec, JSON.stringify(spec), {
      ...json,
      'x-registry-auth': A1,
    });
    assert.equal(c.status, 201, c.text);
    const id = (c.body as { ID: string }).ID;
    assert.equal(stored(h, id).RegistryAuth, A1);

    // Not in inspect (with or without defaults), list (with status) or events.
    for (const url of [
      `/v1.41/services/${id}`,
      `/v1.41/services/${id}?insertDefaults=true`,
      '/v1.41/services',
      '/v1.41/services?status=true',
      `/v1.41/tasks?filters=${encodeURIComponent(JSON.stringify({ service: { [id]: true } }))}`,
      `/v1.41/events?since=0&until=${Math.ceil(Date.now() / 1000) + 1}`,
    ]) {
      const r = await h.call('GET', url);
      assert.equal(r.status, 200, `${url}: ${r.text}`);
      assert.doesNotMatch(r.text, /RegistryAuth|first-secret|PullOptions/, url);
      assert.ok(!r.text.includes(A1), url);
    }

    // The node's live task of the service carries it.
    await until('a task is assigned', () => assignments(h).length === 1);
    assert.equal(assignments(h)[0]!.registryAuth, A1);

    // Without the header (`docker service update` sends registryAuthFrom=spec): kept.
    const scaled = { ...spec, Labels: { a: '1' } };
    assert.equal((await update(h, id, '&registryAuthFrom=spec', scaled)).status, 200);
    assert.equal(stored(h, id).RegistryAuth, A1);
    assert.equal(stored(h, id).PreviousRegistryAuth, A1);

    // With the header: replaced, and the node gets the new ones with its task.
    const changed = { ...spec, Labels: { a: '2' } };
    assert.equal((await update(h, id, '', changed, { 'x-registry-auth': A2 })).status, 200);
    assert.equal(stored(h, id).RegistryAuth, A2);
    assert.equal(stored(h, id).PreviousRegistryAuth, A1);
    await until('the new credentials reach the node', () =>
      assignments(h).some((a) => a.registryAuth === A2),
    );
    assert.ok(assignments(h).every((a) => a.registryAuth !== A1));

    // registryAuthFrom=previous-spec takes those of the previous spec.
    assert.equal((await update(h, id, '&registryAuthFrom=previous-spec', spec)).status, 200);
    assert.equal(stored(h, id).RegistryAuth, A1);
    // A rollback takes the previous spec's credentials with the spec.
    assert.equal((await update(h, id, '&rollback=previous', spec)).status, 200);
    assert.equal(stored(h, id).RegistryAuth, A2);

    // Bad input changes nothing.
    const kept = (s: Service): unknown => [s.Spec, s.PreviousSpec, s.RegistryAuth, s.PreviousRegistryAuth];
    const before = kept(stored(h, id));
    const bad = await update(h, id, '', spec, { 'x-registry-auth': 'not base64!' });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /^\{"message":"invalid X-Registry-Auth header: not base64"\}/);
    const badFrom = await update(h, id, '&registryAuthFrom=elsewhere', spec);
    assert.equal(badFrom.status, 400);
    assert.deepEqual(kept(stored(h, id)), before);

    // A task that is to stop no longer carries the credentials.
    assert.equal((await h.call('DELETE', `/v1.41/services/${id}`)).status, 200);
    assert.ok(assignments(h).every((a) => a.registryAuth === undefined));
  });
});

test('a service created without the header has no credentials; previous-spec without a previous spec is refused', async () => {
  await withSwarm(async (h) => {
    const spec = serviceSpec('open');
    const c = await h.call('POST', '/v1.41/services/create', spec);
    const id = (c.body as { ID: string }).ID;
    assert.equal(stored(h, id).RegistryAuth, undefined);
    await until('a task is assigned', () => assignments(h).length === 1);
    assert.equal(assignments(h)[0]!.registryAuth, undefined);
    const r = await update(h, id, '&registryAuthFrom=previous-spec', spec);
    assert.equal(r.status, 400);
    assert.match(r.text, /service does not have a previous spec/);
  });
});

test('registry credentials cross the session wire with their task, and only there', () => {
  const task = { ID: 't1', Spec: {}, Status: { State: 'assigned' } } as unknown as Assignment['task'];
  const msg = {
    sessionId: 's',
    heartbeatMs: 1000,
    managers: [],
    complete: true,
    nodeRole: '' as const,
    logs: [],
    changes: [
      { kind: 'task' as const, task, serviceName: 'a', serviceLabels: {}, registryAuth: A1 },
      { kind: 'task' as const, task: { ...task, ID: 't2' }, serviceName: 'b', serviceLabels: {} },
    ],
  };
  const back = fromWireSession(toWireSession(msg));
  assert.deepEqual(back.changes, msg.changes);
});
