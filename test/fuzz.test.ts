// The API under generated input: requests built from the Engine API spec's own schemas
// (../shared/reference/docker-engine-api/v1.41.yaml) by fast-check, many of them then made hostile
// (nesting, numbers no Go type holds, nulls, escapes, huge strings, wrong types, wrong
// Content-Type). Whatever comes in: no 5xx, every error is Docker's {"message"}, a refused
// request leaves the state as it was, and the cluster is writable after the run and after a
// restart, with every stored spec one the API would take again.
//
// CI runs a sweep of every body field, then FUZZ_RUNS (default 2000) from FUZZ_SEED (default fixed); offline, e.g.
//   FUZZ_RUNS=20000 FUZZ_SEED=$RANDOM node --test dist/test/fuzz.test.js
// A failing seed and path go into REGRESSIONS below.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parse } from 'yaml';
import { normalizeServiceSpec, validateSwarmSpec } from '../src/api/index.js';
import { TABLES } from '../src/state/index.js';
import { apiHarness, type ApiHarness } from './support/daemon.js';

type Json = unknown;
interface SpecSchema {
  $ref?: string;
  type?: string;
  enum?: Json[];
  properties?: Record<string, SpecSchema>;
  additionalProperties?: SpecSchema | boolean;
  items?: SpecSchema;
  allOf?: SpecSchema[];
  format?: string;
}

const here = dirname(fileURLToPath(import.meta.url));
// dist/test → the repository → shared/ beside it (as CI lays it out).
const SPEC_PATH = join(here, '..', '..', '..', 'shared', 'reference', 'docker-engine-api', 'v1.41.yaml');
const spec = parse(readFileSync(SPEC_PATH, 'utf8')) as {
  definitions: Record<string, SpecSchema>;
  paths: Record<string, Record<string, { parameters?: { in: string; schema?: SpecSchema }[] }>>;
};

function bodySchema(path: string): SpecSchema {
  const p = spec.paths[path]?.post?.parameters?.find((x) => x.in === 'body');
  assert.ok(p?.schema, `the spec has a body for ${path}`);
  return p.schema;
}

const WORDS = ['a', 'web', 'busybox:local', 'node.role==manager', 'tcp', 'vip', 'dnsrr', 'overlay', '1', ''];
const str = fc.oneof(fc.constantFrom(...WORDS), fc.string({ maxLength: 8 }));
const int = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 3 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(-1, 2 ** 31, 2 ** 53, 1e308, 2 ** 63, 2 ** 64, 1.5, 5e9, 8 * 86400e9),
  },
);

/** An arbitrary for a schema of the spec: values of the documented shape, all fields optional. */
function arb(s: SpecSchema, depth = 0): fc.Arbitrary<Json> {
  if (depth > 9) return fc.constant(undefined);
  if (s.$ref) return arb(spec.definitions[s.$ref.replace('#/definitions/', '')]!, depth);
  if (s.allOf) {
    const parts = s.allOf.map((x) => arb(x, depth));
    return fc.tuple(...parts).map((vs) => Object.assign({}, ...vs.filter((v) => v && typeof v === 'object')));
  }
  if (s.enum) return fc.constantFrom(...s.enum);
  switch (s.type ?? 'object') {
    case 'string':
      return str;
    case 'integer':
      return int;
    case 'number':
      return fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(2, -1, 1e308));
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(s.items ? arb(s.items, depth + 1) : str, { maxLength: 3 });
    default: {
      const props = s.properties ?? {};
      const keys = Object.keys(props);
      const rec =
        keys.length > 0
          ? fc.record(Object.fromEntries(keys.map((k) => [k, arb(props[k]!, depth + 1)])), {
              requiredKeys: [],
            })
          : fc.constant({});
      const extra =
        typeof s.additionalProperties === 'object'
          ? fc.dictionary(
              fc.constantFrom('k', 'x.y', 'com.example'),
              arb(s.additionalProperties, depth + 1),
              {
                maxKeys: 2,
              },
            )
          : fc.constant({});
      return fc.tuple(rec, extra).map(([a, b]) => ({ ...b, ...(a as object) }));
    }
  }
}

function deep(n: number, asArray: boolean): Json {
  let v: Json = 1;
  for (let i = 0; i < n; i++) v = asArray ? [v] : { a: v };
  return v;
}
const HOSTILE: Json[] = [
  deep(2000, true),
  deep(2000, false),
  deep(70, true),
  1e308,
  2 ** 64,
  -(2 ** 63) - 4096,
  -1,
  null,
  [null],
  { k: null },
  '\u0000',
  '\u001b[31m',
  'x'.repeat(70_000),
  {},
  [],
  true,
  'string',
];

/** Every path into a JSON value (objects and arrays), the root included. */
function paths(
  v: Json,
  at: (string | number)[] = [],
  out: (string | number)[][] = [],
): (string | number)[][] {
  out.push(at);
  if (v && typeof v === 'object' && at.length < 12)
    for (const [k, x] of Object.entries(v)) paths(x, [...at, Array.isArray(v) ? Number(k) : k], out);
  return out;
}

function replaceAt(v: Json, path: (string | number)[], x: Json): Json {
  if (path.length === 0) return x;
  const copy = (Array.isArray(v) ? [...v] : { ...(v as object) }) as Record<string | number, Json>;
  copy[path[0]!] = replaceAt(copy[path[0]!], path.slice(1), x);
  return copy;
}

/** A generated value, sometimes merged over a valid base (so many are taken), sometimes made hostile. */
function request(schema: SpecSchema, base: () => Json): fc.Arbitrary<Json> {
  // Generated fields over a valid base, and a valid base over generated fields (its name, image
  // and mode then hold, so the rest of what was generated reaches past the first checks).
  // One field at a time over the valid base: most of these are taken, so each field's handling
  // past validation (references, allocation, the store, the loops) is exercised on its own.
  const fields = schemaPaths(schema);
  const focused = fc
    .constantFrom(...fields)
    .chain(([path, sub]) => arb(sub).map((v) => setPath(base(), path, v)));
  const generated = fc.oneof(
    arb(schema),
    arb(schema).map((g) => merge(base(), g)),
    arb(schema).map((g) => merge(g, base())),
    { weight: 4, arbitrary: focused },
  );
  return fc
    .tuple(generated, fc.nat(), fc.constantFrom(...HOSTILE.keys()), fc.nat({ max: 9 }))
    .map(([g, p, h, roll]) => {
      if (roll < 4) return g;
      const ps = paths(g);
      return replaceAt(g, ps[p % ps.length]!, HOSTILE[h]);
    });
}

function resolveRef(s: SpecSchema): SpecSchema {
  if (s.$ref) return resolveRef(spec.definitions[s.$ref.replace('#/definitions/', '')]!);
  if (s.allOf)
    return { type: 'object', properties: Object.assign({}, ...s.allOf.map((x) => resolveRef(x).properties)) };
  return s;
}

/** Every path of a schema through objects and into arrays' first items, with the schema there. */
function schemaPaths(
  s: SpecSchema,
  at: (string | number)[] = [],
  out: [(string | number)[], SpecSchema][] = [],
): [(string | number)[], SpecSchema][] {
  const r = resolveRef(s);
  if (at.length > 0) out.push([at, r]);
  if (at.length >= 6) return out;
  if (r.type === 'array' && r.items) schemaPaths(r.items, [...at, 0], out);
  for (const [k, p] of Object.entries(r.properties ?? {})) schemaPaths(p, [...at, k], out);
  return out;
}

/** A copy of o with v at path; missing objects and arrays on the way are made. */
function setPath(o: Json, path: (string | number)[], v: Json): Json {
  if (path.length === 0) return v;
  const [k, ...rest] = path;
  const cur = o && typeof o === 'object' ? o : typeof k === 'number' ? [] : {};
  const copy = (Array.isArray(cur) ? [...cur] : { ...cur }) as Record<string | number, Json>;
  copy[k!] = setPath(copy[k!], rest, v);
  return copy;
}

function merge(a: Json, b: Json): Json {
  if (!a || typeof a !== 'object' || Array.isArray(a) || !b || typeof b !== 'object' || Array.isArray(b))
    return b;
  const out: Record<string, Json> = { ...(a as Record<string, Json>) };
  for (const [k, v] of Object.entries(b)) out[k] = k in out ? merge(out[k], v) : v;
  return out;
}

let n = 0;
const serviceBase = (): Json => ({
  Name: `f${n++}`,
  TaskTemplate: { ContainerSpec: { Image: 'busybox:local' } },
  Mode: { Replicated: { Replicas: 0 } },
});

type Target = {
  method: 'POST' | 'GET';
  url: (h: Ctx) => string;
  body?: Json;
  raw?: string;
  headers?: Record<string, string>;
};
interface Ctx {
  serviceId: string;
  serviceVersion: number;
  nodeId: string;
  nodeVersion: number;
  swarmVersion: number;
}

const CONTENT_TYPES = fc.oneof(
  { weight: 12, arbitrary: fc.constant('application/json') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('text/plain', 'application/json; charset=utf-8', '', 'application/x-tar'),
  },
);

const post = (url: (c: Ctx) => string, schema: SpecSchema, base: () => Json): fc.Arbitrary<Target> =>
  fc.tuple(request(schema, base), CONTENT_TYPES, fc.nat({ max: 30 })).map(([body, ct, cut]) => {
    const text = JSON.stringify(body) ?? 'null';
    // Now and then a body cut short, or raw text that is not JSON.
    const raw = cut === 0 ? text.slice(0, Math.floor(text.length / 2)) : cut === 1 ? '[[[[[[' : text;
    return { method: 'POST' as const, url, raw, headers: ct === '' ? {} : { 'content-type': ct } };
  });

const query = fc.oneof(
  str,
  fc.constantFrom('{"name":["a"]}', '{"name":{"a":true}}', '{', '-1', 'abc', '1700000000.5'),
);
/** The POST routes that take a body, each with a valid base to build over. */
const POSTS: { url: (c: Ctx) => string; schema: SpecSchema; base: () => Json }[] = [
  { url: () => '/v1.41/services/create', schema: bodySchema('/services/create'), base: serviceBase },
  {
    url: (c) => `/v1.41/services/${c.serviceId}/update?version=${c.serviceVersion}`,
    schema: bodySchema('/services/{id}/update'),
    base: () => ({ ...(serviceBase() as object), Name: 'base' }),
  },
  {
    url: () => '/v1.41/networks/create',
    schema: bodySchema('/networks/create'),
    base: () => ({ Name: `n${n++}` }),
  },
  {
    url: () => '/v1.41/secrets/create',
    schema: bodySchema('/secrets/create'),
    base: () => ({ Name: `s${n++}`, Data: 'YQ==' }),
  },
  {
    url: () => '/v1.41/configs/create',
    schema: bodySchema('/configs/create'),
    base: () => ({ Name: `c${n++}`, Data: 'YQ==' }),
  },
  {
    url: (c) => `/v1.41/nodes/${c.nodeId}/update?version=${c.nodeVersion}`,
    schema: bodySchema('/nodes/{id}/update'),
    base: () => ({ Role: 'manager', Availability: 'drain' }),
  },
  {
    url: (c) => `/v1.41/swarm/update?version=${c.swarmVersion}`,
    schema: bodySchema('/swarm/update'),
    base: () => ({}),
  },
];

const json = (url: (c: Ctx) => string, body: Json): Target => ({
  method: 'POST',
  url,
  raw: JSON.stringify(body),
  headers: { 'content-type': 'application/json' },
});

/**
 * The sweep: every field of every body, a few generated values each over the valid base, so each
 * field is tried whatever the random phase happens to pick.
 */
function sweep(seed: number): Target[] {
  const out: Target[] = [];
  for (const p of POSTS)
    for (const [i, [path, sub]] of schemaPaths(p.schema).entries())
      for (const v of fc.sample(arb(sub), { seed: seed + i, numRuns: 4 }))
        out.push(json(p.url, setPath(p.base(), path, v)));
  return out;
}

const TARGETS: fc.Arbitrary<Target> = fc.oneof(
  ...POSTS.map((p) => ({
    weight: p.url.toString().includes('services') ? 3 : 1,
    arbitrary: post(p.url, p.schema, p.base),
  })),
  fc
    .tuple(fc.constantFrom('services', 'tasks', 'nodes', 'networks', 'secrets', 'configs'), query)
    .map(([what, f]) => ({
      method: 'GET' as const,
      url: () => `/v1.41/${what}?filters=${encodeURIComponent(f)}`,
    })),
  fc.tuple(query, query).map(([since, tail]) => ({
    method: 'GET' as const,
    url: (c: Ctx) =>
      `/v1.41/services/${c.serviceId}/logs?stdout=1&since=${encodeURIComponent(since)}&tail=${encodeURIComponent(tail)}`,
  })),
  fc.tuple(query, query).map(([since, version]) => ({
    method: 'POST' as const,
    url: (c: Ctx) =>
      `/v1.41/services/${c.serviceId}/update?version=${encodeURIComponent(version)}&since=${since}`,
    raw: '{}',
    headers: { 'content-type': 'application/json' },
  })),
);

/**
 * What a client's request can change: which objects exist and their specs. The rest moves on its
 * own (versions, certificate renewals and root rotation finishing, update status, tasks), and a
 * background write must not be blamed on a refused request.
 */
function state(h: ApiHarness): string {
  const { store } = h.daemon.manager;
  return JSON.stringify(
    store.view((tx) =>
      TABLES.filter((t) => t !== 'tasks').map((t) =>
        tx.all(t).map((o) => ({ ID: o.ID, Spec: (o as { Spec?: unknown }).Spec })),
      ),
    ),
  );
}

/**
 * Waits until the loops have finished reacting to a taken request: no root rotation or service
 * update under way, and the store still for a while. Otherwise a refused request's before and
 * after could differ by a background write.
 */
async function quiet(h: ApiHarness): Promise<void> {
  const { store } = h.daemon.manager;
  const busy = (): boolean =>
    store.view(
      (tx) =>
        tx.cluster()?.RootRotationInProgress === true ||
        tx
          .all('services')
          .some((s) => s.UpdateStatus?.State === 'updating' || s.UpdateStatus?.State === 'rollback_started'),
    );
  const deadline = Date.now() + 15_000;
  let last = store.index;
  let stillSince = Date.now();
  // After a root rotation, nodes renew with jitter and the join tokens move: wait longer.
  let still = 40;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    if (store.view((tx) => tx.cluster()?.RootRotationInProgress === true)) still = 2000;
    if (store.index !== last || busy()) {
      last = store.index;
      stillSince = Date.now();
    } else if (Date.now() - stillSince >= still) return;
  }
  const why = store.view((tx) => ({
    rotating: tx.cluster()?.RootRotationInProgress,
    updating: tx
      .all('services')
      .flatMap((s) => (s.UpdateStatus ? [`${s.Spec.Name}:${s.UpdateStatus.State}`] : [])),
  }));
  assert.fail(`the cluster did not settle within 15 s after a taken request: ${JSON.stringify(why)}`);
}

function ctx(h: ApiHarness, serviceId: string | undefined): Ctx {
  const { store } = h.daemon.manager;
  return store.view((tx) => {
    const s = serviceId ? tx.get('services', serviceId) : undefined;
    const node = tx.all('nodes')[0]!;
    return {
      serviceId: serviceId ?? '',
      serviceVersion: s?.Version.Index ?? 0,
      nodeId: node.ID,
      nodeVersion: node.Version.Index,
      swarmVersion: tx.cluster()!.Version.Index,
    };
  });
}

/**
 * Puts the cluster back as it was before a taken request: its objects removed, the base service
 * made anew (an update of it may wait for ever on tasks that cannot be placed, as in Swarm), the
 * node active, the swarm spec the first one. Returns the base service's ID.
 */
async function tidy(h: ApiHarness, spec: unknown): Promise<string> {
  const { store } = h.daemon.manager;
  const [services, networks, secrets, configs] = store.view((tx) => [
    tx.all('services'),
    tx.all('networks').filter((x) => !x.Spec.Ingress),
    tx.all('secrets'),
    tx.all('configs'),
  ]);
  for (const s of services) await h.call('DELETE', `/v1.41/services/${s.ID}`);
  for (const x of networks) await h.call('DELETE', `/v1.41/networks/${x.ID}`);
  for (const x of secrets) await h.call('DELETE', `/v1.41/secrets/${x.ID}`);
  for (const x of configs) await h.call('DELETE', `/v1.41/configs/${x.ID}`);
  const c = ctx(h, undefined);
  await h.call('POST', `/v1.41/nodes/${c.nodeId}/update?version=${c.nodeVersion}`, {
    Role: 'manager',
    Availability: 'active',
  });
  // The first spec, but the current ForceRotate: setting it back would start another rotation.
  const force = store.view((tx) => tx.cluster()?.Spec.CAConfig?.ForceRotate);
  const first = spec as { CAConfig?: Record<string, unknown> };
  await h.call('POST', `/v1.41/swarm/update?version=${c.swarmVersion}`, {
    ...first,
    CAConfig: { ...first.CAConfig, ...(force !== undefined ? { ForceRotate: force } : {}) },
  });
  const base = await h.call('POST', '/v1.41/services/create', { ...(serviceBase() as object), Name: 'base' });
  assert.equal(base.status, 201, base.text);
  return (base.body as { ID: string }).ID;
}

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
/** Seeds (and paths) that once failed, replayed every run. */
const REGRESSIONS: { seed: number; path?: string }[] = [];

test(`fuzz: ${RUNS} generated and hostile requests, from seed ${SEED}`, { timeout: 600_000 }, async () => {
  const h = await apiHarness();
  const dataRoot = h.daemon.dataRoot;
  let restarted: ApiHarness | undefined;
  try {
    const init = await h.call('POST', '/v1.41/swarm/init', {
      ListenAddr: '127.0.0.1:0',
      AdvertiseAddr: '127.0.0.1',
    });
    assert.equal(init.status, 200);
    const firstSpec = ((await h.call('GET', '/v1.41/swarm')).body as { Spec: unknown }).Spec;
    let baseId = await tidy(h, firstSpec);
    await quiet(h);
    const counts = { taken: 0, refused: 0 };
    const check = async (t: Target): Promise<void> => {
      const t0 = Date.now();
      try {
        await checkOne(t);
      } catch (e) {
        // fast-check's report shows the input, not why it failed: say why here.
        console.error(`fuzz failure: ${(e as Error).message.slice(0, 2000)}`);
        throw e;
      } finally {
        if (process.env.FUZZ_DEBUG && Date.now() - t0 > 300)
          console.log(`slow ${Date.now() - t0} ms: ${t.method} ${(t.raw ?? '').slice(0, 200)}`);
      }
    };
    const checkOne = async (t: Target): Promise<void> => {
      const c = ctx(h, baseId);
      const before = state(h);
      const url = t.url(c);
      const r = await h.call(t.method, url, undefined, t.raw, t.headers ?? {});
      const what = `${t.method} ${url} ${(t.raw ?? '').slice(0, 300)}`;
      // A local network's create is the node engine's, which this harness lacks: Docker's 500 for it.
      const noEngine =
        r.status === 500 && r.text.startsWith('{"message":"Cannot connect to the container engine');
      assert.ok(r.status < 500 || noEngine, `${what}: ${r.status} ${r.text.slice(0, 300)}`);
      if (r.status >= 400) {
        counts.refused++;
        const b = r.body as { message?: unknown } | undefined;
        assert.equal(typeof b?.message, 'string', `${what}: error body ${r.text.slice(0, 200)}`);
        assert.deepEqual(Object.keys(b!), ['message']);
        assert.equal(state(h), before, `${what}: refused with ${r.status} but the state changed`);
      } else if (t.method === 'POST') {
        counts.taken++;
        baseId = await tidy(h, firstSpec);
        await quiet(h);
      }
    };
    const swept = sweep(SEED);
    for (const t of swept) await check(t);
    const property = fc.asyncProperty(TARGETS, check);
    for (const r of REGRESSIONS)
      await fc.assert(property, { seed: r.seed, ...(r.path ? { path: r.path } : {}), numRuns: 200 });
    await fc.assert(property, { seed: SEED, numRuns: RUNS });
    assert.ok(swept.length > 1500, `the sweep covers every field (${swept.length} requests)`);
    assert.ok(
      counts.taken > RUNS / 50,
      `some requests were taken (${counts.taken}), so the run reached past validation`,
    );
    assert.ok(counts.refused > RUNS / 4, `many requests were refused (${counts.refused})`);

    const writable = async (a: ApiHarness, name: string): Promise<void> => {
      const r = await a.call('POST', '/v1.41/services/create', { ...(serviceBase() as object), Name: name });
      assert.equal(r.status, 201, r.text);
      const list = await a.call('GET', '/v1.41/services?status=true');
      assert.equal(list.status, 200);
      // Every stored spec is one the API takes again, so no client's decoder can choke on it.
      for (const s of list.body as { Spec: unknown }[])
        assert.doesNotThrow(() => normalizeServiceSpec(s.Spec));
      const swarm = await a.call('GET', '/v1.41/swarm');
      assert.doesNotThrow(() => validateSwarmSpec((swarm.body as { Spec: unknown }).Spec));
    };
    await writable(h, 'after-run');
    await h.close();
    restarted = await apiHarness({ dataRoot });
    for (let i = 0; i < 100 && restarted.daemon.state !== 'active'; i++)
      await new Promise((r) => setTimeout(r, 50));
    await quiet(restarted);
    await writable(restarted, 'after-restart');
  } finally {
    if (restarted) await restarted.close();
    else await h.close().catch(() => undefined);
  }
});
