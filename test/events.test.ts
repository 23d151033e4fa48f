// GET /events as dockerd serves it: only new events without `since`, live events until a future
// `until`, swarm secret/config/network events, and the `label` filter on the actor's attributes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serviceSpec, withSwarm, type ApiHarness } from './support/daemon.js';

interface Ev {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: string;
  time: number;
  timeNano: number;
}

const enc = (o: unknown): string => encodeURIComponent(JSON.stringify(o));

const parse = (text: string): Ev[] =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Ev);

/** GET /events, failing the test if the stream is still open after `limitMs`. */
async function events(
  h: ApiHarness,
  query: string,
  limitMs = 8000,
): Promise<{ status: number; events: Ev[] }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`/events?${query} still open after ${limitMs}ms`)), limitMs);
  });
  try {
    const r = await Promise.race([h.call('GET', `/v1.41/events?${query}`), late]);
    return { status: r.status, events: r.status === 200 ? parse(r.text) : [] };
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const names = (evs: Ev[], type: string): string[] =>
  evs.filter((e) => e.Type === type && e.Action === 'create').map((e) => e.Actor.Attributes.name ?? '');

test('/events without since sends only new events, and a future until keeps it open until then', async () => {
  await withSwarm(async (h) => {
    assert.equal((await h.call('POST', '/v1.41/services/create', serviceSpec('before'))).status, 201);
    const started = Date.now();
    const until = ((started + 1500) / 1000).toFixed(3);
    const pending = events(h, `until=${until}&filters=${enc({ type: ['service'] })}`);
    await sleep(300);
    assert.equal((await h.call('POST', '/v1.41/services/create', serviceSpec('during'))).status, 201);
    const r = await pending;
    const elapsed = Date.now() - started;
    assert.equal(r.status, 200);
    assert.deepEqual(names(r.events, 'service'), ['during']);
    assert.ok(elapsed >= 1400, `ended after ${elapsed}ms, before until`);
    assert.ok(r.events.every((e) => e.timeNano <= Number(until) * 1e9));
  });
});

test('/events with since replays from then and goes on live; since/until as RFC3339 and fractional seconds', async () => {
  await withSwarm(async (h) => {
    const since = new Date(Date.now() - 1000).toISOString();
    assert.equal((await h.call('POST', '/v1.41/services/create', serviceSpec('past'))).status, 201);
    const until = `${Math.floor((Date.now() + 1500) / 1000)}.123456789`;
    const pending = events(h, `since=${since}&until=${until}&filters=${enc({ type: ['service'] })}`);
    await sleep(300);
    assert.equal((await h.call('POST', '/v1.41/services/create', serviceSpec('live'))).status, 201);
    const r = await pending;
    assert.equal(r.status, 200);
    assert.deepEqual(names(r.events, 'service'), ['past', 'live']);

    // Both in the past: the replay between them, then the end.
    const fromPast = `${Math.floor(Date.parse(since) / 1000)}.5`;
    const untilPast = new Date(Date.now()).toISOString();
    const replay = await events(
      h,
      `since=${fromPast}&until=${untilPast}&filters=${enc({ type: ['service'] })}`,
    );
    assert.deepEqual(names(replay.events, 'service'), ['past', 'live']);

    const reversed = await h.call('GET', '/v1.41/events?since=2000000000&until=1000000000');
    assert.deepEqual(
      [reversed.status, reversed.body],
      [400, { message: '`since` time (2000000000) cannot be after `until` time (1000000000)' }],
    );
    const bad = await h.call('GET', '/v1.41/events?since=yesterday');
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body, { message: 'failed to parse value as time or duration: "yesterday"' });
  });
});

test('/events reports secret, config and network create, update and remove as swarm events', async () => {
  await withSwarm(async (h) => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const data = Buffer.from('s3cr3t').toString('base64');
    const sec = await h.call('POST', '/v1.41/secrets/create', { Name: 'evsecret', Data: data });
    assert.equal(sec.status, 201);
    const secId = (sec.body as { ID: string }).ID;
    const cfg = await h.call('POST', '/v1.41/configs/create', { Name: 'evconfig', Data: data });
    assert.equal(cfg.status, 201);
    const cfgId = (cfg.body as { ID: string }).ID;
    const net = await h.call('POST', '/v1.41/networks/create', { Name: 'evnet', Driver: 'overlay' });
    assert.equal(net.status, 201, net.text);
    const netId = (net.body as { Id: string }).Id;

    for (const [kind, id] of [
      ['secrets', secId],
      ['configs', cfgId],
    ] as const) {
      const obj = (await h.call('GET', `/v1.41/${kind}/${id}`)).body as {
        Version: { Index: number };
        Spec: Record<string, unknown>;
      };
      const up = await h.call('POST', `/v1.41/${kind}/${id}/update?version=${obj.Version.Index}`, {
        ...obj.Spec,
        Labels: { stage: 'two' },
      });
      assert.equal(up.status, 200, up.text);
    }
    for (const path of [`secrets/${secId}`, `configs/${cfgId}`, `networks/${netId}`]) {
      assert.equal((await h.call('DELETE', `/v1.41/${path}`)).status, 204);
    }
    const until = Math.ceil(Date.now() / 1000) + 1;
    await sleep(Math.max(0, until * 1000 - Date.now()) + 10);
    const r = await events(
      h,
      `since=${since}&until=${until}&filters=${enc({ type: ['secret', 'config', 'network'] })}`,
    );
    const seen = r.events.map((e) =>
      [e.Type, e.Action, e.Actor.ID, e.Actor.Attributes.name, e.scope].join(' '),
    );
    assert.deepEqual(seen, [
      `secret create ${secId} evsecret swarm`,
      `config create ${cfgId} evconfig swarm`,
      `network create ${netId} evnet swarm`,
      `secret update ${secId} evsecret swarm`,
      `config update ${cfgId} evconfig swarm`,
      `secret remove ${secId} evsecret swarm`,
      `config remove ${cfgId} evconfig swarm`,
      `network remove ${netId} evnet swarm`,
    ]);
    for (const e of r.events) assert.deepEqual(Object.keys(e.Actor.Attributes), ['name']);
  });
});

test('/events applies the label filter to the actor attributes, beside type, event and service filters', async () => {
  await withSwarm(async (h) => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const attrs = (name: string, extra: Record<string, string>): Record<string, string> => ({
      name,
      image: 'busybox',
      ...extra,
    });
    h.daemon.events.emit({
      Type: 'container',
      Action: 'start',
      id: 'c1',
      attrs: attrs('one', { tier: 'web', team: 'a' }),
      scope: 'local',
    });
    h.daemon.events.emit({
      Type: 'container',
      Action: 'die',
      id: 'c2',
      attrs: attrs('two', { tier: 'db' }),
      scope: 'local',
    });
    h.daemon.events.emit({
      Type: 'container',
      Action: 'start',
      id: 'c3',
      attrs: attrs('three', {}),
      scope: 'local',
    });
    assert.equal((await h.call('POST', '/v1.41/services/create', serviceSpec('lblsvc'))).status, 201);
    const until = Math.ceil(Date.now() / 1000);
    await sleep(Math.max(0, until * 1000 - Date.now()) + 10);
    const ids = async (filters: Record<string, string[]>): Promise<string[]> => {
      const r = await events(h, `since=${since}&until=${until}&filters=${enc(filters)}`);
      assert.equal(r.status, 200);
      return r.events.filter((e) => e.Type === 'container').map((e) => e.Actor.ID);
    };
    assert.deepEqual(await ids({ label: ['tier'] }), ['c1', 'c2']);
    assert.deepEqual(await ids({ label: ['tier=web'] }), ['c1']);
    assert.deepEqual(await ids({ label: ['tier=web', 'team'] }), ['c1']);
    assert.deepEqual(await ids({ label: ['tier=web', 'team=b'] }), []);
    assert.deepEqual(await ids({ label: ['tier'], event: ['die'] }), ['c2']);
    assert.deepEqual(await ids({ type: ['container'], event: ['start'] }), ['c1', 'c3']);
    // A label no service event carries leaves none of them.
    const svc = await events(
      h,
      `since=${since}&until=${until}&filters=${enc({ label: ['tier'], type: ['service'] })}`,
    );
    assert.deepEqual(svc.events, []);
    const byService = await events(
      h,
      `since=${since}&until=${until}&filters=${enc({ service: ['lblsvc'] })}`,
    );
    assert.ok(byService.events.length > 0);
    assert.ok(byService.events.every((e) => e.Type === 'service' && e.Actor.Attributes.name === 'lblsvc'));
  });
});
