// Secrets and configs through the Engine API: shapes, status codes and messages as in the reference
// capture (ENDPOINTS.md, ERRORS.md, objects/), service references to them, and the shoal CLI verbs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { apiHarness, type ApiHarness } from './support/daemon.js';
import { DESCRIPTION } from './support/cluster.js';
import { Daemon, daemonApi } from '../src/daemon/index.js';
import { listen } from '../src/httpapi/index.js';
import { SimExecutor } from '../src/agent/index.js';

interface Obj {
  ID: string;
  Version: { Index: number };
  CreatedAt: string;
  UpdatedAt: string;
  Spec: { Name: string; Labels: Record<string, string>; Data?: string };
}
interface SvcRef {
  File: { Name: string; UID: string; GID: string; Mode: number };
  SecretID?: string;
  SecretName?: string;
  ConfigID?: string;
  ConfigName?: string;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const filters = (f: Record<string, Record<string, boolean>>): string =>
  `?filters=${encodeURIComponent(JSON.stringify(f))}`;
const svc = (name: string, cs: Record<string, unknown> = {}): Record<string, unknown> => ({
  Name: name,
  TaskTemplate: { ContainerSpec: { Image: 'busybox:local', Args: ['sleep', '3600'], ...cs } },
});

async function withSwarm(fn: (h: ApiHarness) => Promise<void>): Promise<void> {
  const h = await apiHarness();
  try {
    assert.equal((await h.call('POST', '/v1.41/swarm/init', {})).status, 200);
    await fn(h);
  } finally {
    await h.close();
  }
}

async function expectError(
  h: ApiHarness,
  method: string,
  url: string,
  body: unknown,
  status: number,
  message: string | RegExp,
): Promise<void> {
  const r = await h.call(method, url, body);
  assert.equal(r.status, status, `${method} ${url}: ${r.text}`);
  assert.equal(r.headers['content-type'], 'application/json');
  const msg = (r.body as { message: string }).message;
  if (typeof message === 'string') assert.equal(msg, message);
  else assert.match(msg, message);
}

async function create(h: ApiHarness, kind: string, body: unknown): Promise<string> {
  const r = await h.call('POST', `/v1.41/${kind}/create`, body);
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(Object.keys(r.body as object), ['ID']);
  return (r.body as { ID: string }).ID;
}

test('before init the endpoints answer 503 as a non-manager', async () => {
  const h = await apiHarness();
  try {
    for (const [m, url] of [
      ['GET', '/v1.41/secrets'],
      ['POST', '/v1.41/secrets/create'],
      ['GET', '/v1.41/configs/x'],
      ['DELETE', '/v1.41/configs/x'],
    ] as const) {
      const r = await h.call(m, url, m === 'POST' ? { Name: 'x', Data: b64('x') } : undefined);
      assert.equal(r.status, 503, `${m} ${url}`);
    }
  } finally {
    await h.close();
  }
});

test('create, inspect and list: secrets never show their data, configs do', async () => {
  await withSwarm(async (h) => {
    const pw = await create(h, 'secrets', { Name: 'app_pw', Labels: {}, Data: 'czNjcjN0' });
    const pw2 = await create(h, 'secrets', { Name: 'app_pw2', Labels: { env: 'test' }, Data: b64('pw2') });
    const cfg = await create(h, 'configs', {
      Name: 'app_cfg',
      Labels: { env: 'test' },
      Data: 'bGlzdGVuPTgwCm1vZGU9dGVzdAo=',
    });
    for (const ref of ['app_pw', pw, pw.slice(0, 5)]) {
      const r = await h.call('GET', `/v1.41/secrets/${ref}`);
      assert.equal(r.status, 200, ref);
      const s = r.body as Obj;
      assert.equal(s.ID, pw);
      assert.deepEqual(s.Spec, { Name: 'app_pw', Labels: {} });
      assert.deepEqual(Object.keys(s), ['ID', 'Version', 'CreatedAt', 'UpdatedAt', 'Spec']);
      assert.ok(s.Version.Index > 0);
      assert.equal(s.CreatedAt, s.UpdatedAt);
      assert.ok(!r.text.includes('Data') && !r.text.includes('czNjcjN0'), r.text);
    }
    const list = await h.call('GET', '/v1.41/secrets');
    assert.deepEqual(
      (list.body as Obj[]).map((s) => [s.ID, s.Spec]),
      [
        [pw, { Name: 'app_pw', Labels: {} }],
        [pw2, { Name: 'app_pw2', Labels: { env: 'test' } }],
      ],
    );
    assert.ok(!list.text.includes('Data'), list.text);
    const c = (await h.call('GET', '/v1.41/configs/app_cfg')).body as Obj;
    assert.equal(c.ID, cfg);
    assert.deepEqual(c.Spec, {
      Name: 'app_cfg',
      Labels: { env: 'test' },
      Data: 'bGlzdGVuPTgwCm1vZGU9dGVzdAo=',
    });
    const configs = (await h.call('GET', '/v1.41/configs')).body as Obj[];
    assert.equal(configs[0]!.Spec.Data, 'bGlzdGVuPTgwCm1vZGU9dGVzdAo=');
  });
});

test('list filters: names exact, name and id prefixes (any of them), labels (all of them)', async () => {
  await withSwarm(async (h) => {
    const a = await create(h, 'secrets', { Name: 'app_pw', Data: b64('1'), Labels: { env: 'test' } });
    const b = await create(h, 'secrets', { Name: 'app_pw2', Data: b64('2'), Labels: { env: 'prod', t: '' } });
    const c = await create(h, 'secrets', { Name: 'db_pw', Data: b64('3') });
    const names = async (q: string): Promise<string[]> => {
      const r = await h.call('GET', `/v1.41/secrets${q}`);
      assert.equal(r.status, 200, r.text);
      return (r.body as Obj[]).map((s) => s.Spec.Name);
    };
    assert.deepEqual(await names(filters({ name: { app_pw: true } })), ['app_pw', 'app_pw2']);
    assert.deepEqual(await names(filters({ names: { app_pw: true } })), ['app_pw']);
    assert.deepEqual(await names(filters({ id: { [c.slice(0, 6)]: true } })), ['db_pw']);
    assert.deepEqual(await names(filters({ names: { db_pw: true }, id: { [a]: true } })), [
      'app_pw',
      'db_pw',
    ]);
    assert.deepEqual(await names(filters({ label: { env: true } })), ['app_pw', 'app_pw2']);
    assert.deepEqual(await names(filters({ label: { 'env=prod': true } })), ['app_pw2']);
    assert.deepEqual(await names(filters({ label: { env: true, t: true } })), ['app_pw2']);
    assert.deepEqual(await names(filters({ name: { app: true }, label: { 'env=test': true } })), ['app_pw']);
    assert.deepEqual(await names(filters({ name: { nosuch: true } })), []);
    assert.deepEqual(await names(filters({ name: {} })), ['app_pw', 'app_pw2', 'db_pw']);
    assert.ok(b);
    await expectError(
      h,
      'GET',
      `/v1.41/secrets${filters({ bogus: { x: true } })}`,
      undefined,
      400,
      "invalid filter 'bogus'",
    );
    await expectError(h, 'GET', '/v1.41/configs?filters=notjson', undefined, 400, /invalid filter/);
  });
});

test('bad creates get Docker status and message and write nothing', async () => {
  await withSwarm(async (h) => {
    await create(h, 'secrets', { Name: 'app_pw', Labels: {}, Data: 'czNjcjN0' });
    const before = (await h.call('GET', '/v1.41/secrets')).text;
    const beforeConfigs = (await h.call('GET', '/v1.41/configs')).text;
    const rpc = (m: string): string => `rpc error: code = InvalidArgument desc = ${m}`;
    const nameRule =
      'invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]';
    const cases: [string, unknown, number, string | RegExp][] = [
      [
        'secrets',
        { Name: 'app_pw', Data: b64('other') },
        409,
        'rpc error: code = AlreadyExists desc = secret app_pw already exists',
      ],
      ['secrets', { Name: 'x', Data: 's3cr3t' }, 400, 'illegal base64 data at input byte 4'],
      ['configs', { Name: 'x', Data: 'cw=' }, 400, 'illegal base64 data at input byte 3'],
      [
        'secrets',
        { Name: 'x', Data: '' },
        400,
        rpc('secret data must be larger than 0 and less than 512000 bytes'),
      ],
      ['secrets', { Name: 'x' }, 400, rpc('secret data must be larger than 0 and less than 512000 bytes')],
      [
        'secrets',
        { Name: 'x', Data: Buffer.alloc(512_000).toString('base64') },
        400,
        rpc('secret data must be larger than 0 and less than 512000 bytes'),
      ],
      [
        'configs',
        { Name: 'x', Data: '' },
        400,
        rpc('config data must be larger than 0 and less than 1024000 bytes'),
      ],
      ['secrets', { Data: b64('x') }, 400, rpc('name must be provided')],
      ['secrets', { Name: 'bad name!', Data: b64('x') }, 400, rpc(nameRule)],
      ['configs', { Name: '_x', Data: b64('x') }, 400, rpc(nameRule)],
      [
        'secrets',
        { Name: 'x', Data: 42 },
        400,
        /^json: cannot unmarshal number 42 into field Data of type string$/,
      ],
      [
        'secrets',
        { Name: 'x', Data: b64('x'), Labels: ['a'] },
        400,
        /cannot unmarshal array into field Labels/,
      ],
      ['secrets', [], 400, /must be a JSON object/],
    ];
    for (const [kind, body, status, message] of cases)
      await expectError(h, 'POST', `/v1.41/${kind}/create`, body, status, message);
    assert.equal((await h.call('GET', '/v1.41/secrets')).text, before);
    assert.equal((await h.call('GET', '/v1.41/configs')).text, beforeConfigs);
  });
});

test('not found and ambiguous references', async () => {
  await withSwarm(async (h) => {
    for (const kind of ['secret', 'config']) {
      await expectError(
        h,
        'GET',
        `/v1.41/${kind}s/nosuch${kind}`,
        undefined,
        404,
        `${kind} nosuch${kind} not found`,
      );
      await expectError(
        h,
        'DELETE',
        `/v1.41/${kind}s/nosuch${kind}`,
        undefined,
        404,
        `${kind} nosuch${kind} not found`,
      );
      await expectError(
        h,
        'POST',
        `/v1.41/${kind}s/nosuch${kind}/update?version=1`,
        { Name: 'x' },
        404,
        `${kind} nosuch${kind} not found`,
      );
    }
    // IDs start with one of 16 characters, so 17 secrets share a first character somewhere.
    const ids: string[] = [];
    for (let i = 0; i < 17; i++) ids.push(await create(h, 'secrets', { Name: `amb${i}`, Data: b64(`${i}`) }));
    const first = ids.map((id) => id[0]!);
    const shared = first.find((ch, i) => first.indexOf(ch) !== i)!;
    const n = first.filter((ch) => ch === shared).length;
    await expectError(
      h,
      'GET',
      `/v1.41/secrets/${shared}`,
      undefined,
      400,
      `secret ${shared} is ambiguous (${n} matches found)`,
    );
  });
});

test('update changes labels only; data, name and stale versions are refused', async () => {
  await withSwarm(async (h) => {
    for (const kind of ['secret', 'config'] as const) {
      const id = await create(h, `${kind}s`, { Name: `${kind}1`, Labels: { a: '1' }, Data: b64('payload') });
      const get = async (): Promise<Obj> => (await h.call('GET', `/v1.41/${kind}s/${id}`)).body as Obj;
      const cur = await get();
      const url = (v: number | string): string => `/v1.41/${kind}s/${id}/update?version=${v}`;
      const rpc = `rpc error: code = InvalidArgument desc = only updates to Labels are allowed`;
      await expectError(
        h,
        'POST',
        url(cur.Version.Index),
        { Name: `${kind}1`, Data: b64('changed') },
        400,
        rpc,
      );
      await expectError(
        h,
        'POST',
        url(cur.Version.Index),
        { Name: 'renamed', Data: b64('payload') },
        400,
        rpc,
      );
      await expectError(
        h,
        'POST',
        url(cur.Version.Index),
        { Name: `${kind}1`, Data: 'no!' },
        400,
        /illegal base64 data/,
      );
      await expectError(
        h,
        'POST',
        url(cur.Version.Index + 100),
        { Name: `${kind}1` },
        409,
        'update out of sequence',
      );
      await expectError(h, 'POST', url('abc'), { Name: `${kind}1` }, 400, `invalid ${kind} version`);
      await expectError(
        h,
        'POST',
        `/v1.41/${kind}s/${id}/update`,
        { Name: `${kind}1` },
        400,
        `invalid ${kind} version`,
      );
      assert.deepEqual(await get(), cur, 'refused updates change nothing');
      // The stack deploy shape: Name, Labels and the unchanged Data, addressed by name.
      const ok = await h.call('POST', `/v1.41/${kind}s/${kind}1/update?version=${cur.Version.Index}`, {
        Name: `${kind}1`,
        Labels: { b: '2' },
        Data: b64('payload'),
      });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.text, '');
      const next = await get();
      assert.deepEqual(next.Spec.Labels, { b: '2' });
      assert.ok(next.Version.Index > cur.Version.Index);
      assert.equal(next.CreatedAt, cur.CreatedAt);
      assert.ok(next.UpdatedAt >= cur.UpdatedAt);
      if (kind === 'config') assert.equal(next.Spec.Data, b64('payload'));
      // Without Data, labels change as well.
      const again = await h.call('POST', url(next.Version.Index), { Name: `${kind}1` });
      assert.equal(again.status, 200, again.text);
      assert.deepEqual((await get()).Spec.Labels, {});
    }
  });
});

test('services reference secrets and configs; removal while in use is refused naming the service', async () => {
  await withSwarm(async (h) => {
    const pw = await create(h, 'secrets', { Name: 'app_pw', Data: b64('s3cr3t') });
    const pw2 = await create(h, 'secrets', { Name: 'app_pw2', Data: b64('pw2') });
    const cfg = await create(h, 'configs', { Name: 'app_cfg', Data: b64('listen=80') });
    // The docker CLI's request body (objects/request_service_create_secret_config.json).
    const r = await h.call(
      'POST',
      '/v1.41/services/create',
      svc('withsec', {
        Secrets: [
          { File: { Name: 'pw2', UID: '0', GID: '0', Mode: 256 }, SecretID: pw2, SecretName: 'app_pw2' },
          { File: { Name: 'app_pw', UID: '0', GID: '0', Mode: 292 }, SecretID: pw, SecretName: 'app_pw' },
        ],
        Configs: [
          {
            File: { Name: '/etc/app.conf', UID: '0', GID: '0', Mode: 292 },
            ConfigID: cfg,
            ConfigName: 'app_cfg',
          },
        ],
      }),
    );
    assert.equal(r.status, 201, r.text);
    const rpc = (m: string): string => `rpc error: code = InvalidArgument desc = ${m}`;
    await expectError(
      h,
      'DELETE',
      '/v1.41/secrets/app_pw',
      undefined,
      400,
      rpc("secret 'app_pw' is in use by the following service: withsec"),
    );
    await expectError(
      h,
      'DELETE',
      `/v1.41/configs/${cfg}`,
      undefined,
      400,
      rpc("config 'app_cfg' is in use by the following service: withsec"),
    );
    // A client may name the object only: the ID and the CLI's defaults are filled in.
    const other = await h.call(
      'POST',
      '/v1.41/services/create',
      svc('other', { Secrets: [{ SecretName: 'app_pw' }] }),
    );
    assert.equal(other.status, 201, other.text);
    const stored = (await h.call('GET', '/v1.41/services/other')).body as {
      Spec: { TaskTemplate: { ContainerSpec: { Secrets: SvcRef[] } } };
    };
    assert.deepEqual(stored.Spec.TaskTemplate.ContainerSpec.Secrets, [
      { File: { Name: 'app_pw', UID: '0', GID: '0', Mode: 0o444 }, SecretID: pw, SecretName: 'app_pw' },
    ]);
    await expectError(
      h,
      'DELETE',
      '/v1.41/secrets/app_pw',
      undefined,
      400,
      rpc("secret 'app_pw' is in use by the following services: withsec, other"),
    );
    assert.equal((await h.call('GET', '/v1.41/secrets/app_pw')).status, 200, 'still there');
    assert.equal((await h.call('DELETE', '/v1.41/services/other')).status, 200);
    assert.equal((await h.call('DELETE', '/v1.41/services/withsec')).status, 200);
    const rm = await h.call('DELETE', '/v1.41/secrets/app_pw');
    assert.equal(rm.status, 204);
    assert.equal(rm.text, '');
    assert.equal((await h.call('DELETE', `/v1.41/configs/${cfg.slice(0, 8)}`)).status, 204);
    await expectError(h, 'GET', '/v1.41/secrets/app_pw', undefined, 404, 'secret app_pw not found');
    await expectError(h, 'GET', '/v1.41/configs/app_cfg', undefined, 404, 'config app_cfg not found');
  });
});

test('service create and update refuse unknown objects and conflicting targets, writing nothing', async () => {
  await withSwarm(async (h) => {
    const pw = await create(h, 'secrets', { Name: 'app_pw', Data: b64('s3cr3t') });
    const pw2 = await create(h, 'secrets', { Name: 'app_pw2', Data: b64('pw2') });
    const cfg = await create(h, 'configs', { Name: 'app_cfg', Data: b64('x') });
    const rpc = (m: string): string => `rpc error: code = InvalidArgument desc = ${m}`;
    const refused: [Record<string, unknown>, string | RegExp][] = [
      [
        { Secrets: [{ SecretID: 'nosuchid', SecretName: 'nosuchsecret' }] },
        rpc('secret not found: nosuchsecret'),
      ],
      [{ Secrets: [{ SecretName: 'nosuchsecret' }] }, rpc('secret not found: nosuchsecret')],
      [{ Secrets: [{ SecretID: 'nosuchid' }] }, rpc('secret not found: nosuchid')],
      // The ID and the name must agree.
      [{ Secrets: [{ SecretID: pw, SecretName: 'app_pw2' }] }, rpc('secret not found: app_pw2')],
      [{ Secrets: [{ SecretName: 'a' }, { SecretName: 'b' }] }, rpc('secrets not found: a, b')],
      [{ Configs: [{ ConfigID: 'x', ConfigName: 'nosuchconfig' }] }, rpc('config not found: nosuchconfig')],
      [{ Secrets: [{ File: { Name: 'x' } }] }, rpc('malformed secret reference')],
      [
        {
          Secrets: [
            { SecretID: pw, SecretName: 'app_pw', File: { Name: 'same' } },
            { SecretName: 'app_pw2', File: { Name: 'same' } },
          ],
        },
        rpc("secret references 'app_pw' and 'app_pw2' have a conflicting target: 'same'"),
      ],
      [
        { Configs: [{ ConfigName: 'app_cfg' }, { ConfigName: 'app_cfg' }] },
        rpc("config references 'app_cfg' and 'app_cfg' have a conflicting target: 'app_cfg'"),
      ],
      [
        { Secrets: [{ SecretName: 'app_pw', File: { Mode: 0o10000 } }] },
        rpc("invalid file mode 4096 for secret 'app_pw'"),
      ],
      [
        { Secrets: [{ SecretName: 'app_pw', File: { Mode: -1 } }] },
        'json: cannot unmarshal number -1 into field TaskTemplate.ContainerSpec.Secrets[0].File.Mode of type uint32',
      ],
      [
        { Secrets: [{ SecretName: 'app_pw', File: { Mode: '0444' } }] },
        /cannot unmarshal string into field TaskTemplate.ContainerSpec.Secrets\[0\].File.Mode/,
      ],
    ];
    for (const [cs, message] of refused)
      await expectError(h, 'POST', '/v1.41/services/create', svc('web', cs), 400, message);
    assert.deepEqual((await h.call('GET', '/v1.41/services')).body, [], 'no service was created');
    // The same secret twice under different files is fine, as is one secret and one config on one file.
    const ok = await h.call(
      'POST',
      '/v1.41/services/create',
      svc('web', {
        Secrets: [{ SecretName: 'app_pw' }, { SecretID: pw, File: { Name: 'again' } }],
        Configs: [{ ConfigID: cfg, ConfigName: 'app_cfg', File: { Name: 'app_pw' } }],
      }),
    );
    assert.equal(ok.status, 201, ok.text);
    const web = (await h.call('GET', '/v1.41/services/web')).body as {
      ID: string;
      Version: { Index: number };
      Spec: { TaskTemplate: { ContainerSpec: Record<string, unknown> } };
    };
    const bad = structuredClone(web.Spec);
    bad.TaskTemplate.ContainerSpec.Secrets = [{ SecretID: 'gone', SecretName: 'gone' }];
    await expectError(
      h,
      'POST',
      `/v1.41/services/${web.ID}/update?version=${web.Version.Index}`,
      bad,
      400,
      rpc('secret not found: gone'),
    );
    const after = (await h.call('GET', '/v1.41/services/web')).body as { Version: { Index: number } };
    assert.equal(after.Version.Index, web.Version.Index, 'a refused update changes nothing');
    // Update to the other secret releases the first one.
    const next = structuredClone(web.Spec);
    next.TaskTemplate.ContainerSpec.Secrets = [{ SecretID: pw2, SecretName: 'app_pw2' }];
    const up = await h.call('POST', `/v1.41/services/${web.ID}/update?version=${web.Version.Index}`, next);
    assert.equal(up.status, 200, up.text);
    assert.equal((await h.call('DELETE', '/v1.41/secrets/app_pw')).status, 204);
    // Rolling back would bring back the removed secret (referenced twice there): refused.
    const cur = (await h.call('GET', '/v1.41/services/web')).body as {
      Version: { Index: number };
      Spec: unknown;
    };
    await expectError(
      h,
      'POST',
      `/v1.41/services/${web.ID}/update?version=${cur.Version.Index}&rollback=previous`,
      cur.Spec,
      400,
      rpc('secrets not found: app_pw, app_pw'),
    );
  });
});

test('shoal secret and config commands', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-secret-cli-'));
  const daemon = new Daemon({
    dataRoot: dir,
    engineHost: 'unix:///nonexistent.sock',
    hostname: 'sim1',
    executorFactory: () => new SimExecutor(DESCRIPTION),
  });
  await daemon.start();
  const app = daemonApi(daemon);
  const sock = join(dir, 's.sock');
  const servers = await listen(app, [`unix://${sock}`]);
  const bin = fileURLToPath(new URL('../../bin/shoal.js', import.meta.url));
  const shoal = async (...args: string[]): Promise<{ out: string; err: string; code: number }> => {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [
        bin,
        '-H',
        `unix://${sock}`,
        ...args,
      ]);
      return { out: stdout, err: stderr, code: 0 };
    } catch (e) {
      const x = e as { stdout: string; stderr: string; code: number };
      return { out: x.stdout, err: x.stderr, code: x.code };
    }
  };
  try {
    await daemon.init({});
    await writeFile(join(dir, 'pw.txt'), 's3cr3t');
    await writeFile(join(dir, 'app.conf'), 'listen=80\n');
    const [created, cfgCreated] = await Promise.all([
      shoal('secret', 'create', '--label', 'env=test', 'app_pw', join(dir, 'pw.txt')),
      shoal('config', 'create', 'app_cfg', join(dir, 'app.conf')),
    ]);
    assert.equal(created.code, 0, created.err);
    assert.equal(cfgCreated.code, 0, cfgCreated.err);
    const id = created.out.trim();
    assert.match(id, /^[0-9a-z]{25}$/);
    const [ls, inspect, pretty, dup] = await Promise.all([
      shoal('secret', 'ls', '--filter', 'label=env'),
      shoal('secret', 'inspect', 'app_pw'),
      shoal('config', 'inspect', '--pretty', 'app_cfg'),
      shoal('secret', 'create', 'app_pw', join(dir, 'pw.txt')),
    ]);
    assert.match(ls.out, /^ID\s+NAME\s+DRIVER\s+CREATED\s+UPDATED\n/);
    assert.match(ls.out, new RegExp(`${id}\\s+app_pw\\s+\\d+ seconds ago`));
    const [s] = JSON.parse(inspect.out) as Obj[];
    assert.deepEqual(s!.Spec, { Name: 'app_pw', Labels: { env: 'test' } });
    assert.match(pretty.out, /Name:\s+app_cfg\n/);
    assert.match(pretty.out, /Data:\nlisten=80\n/);
    assert.equal(dup.code, 1);
    assert.equal(
      dup.err,
      'Error response from daemon: rpc error: code = AlreadyExists desc = secret app_pw already exists\n',
    );
    const [rm, rmCfg] = await Promise.all([
      shoal('secret', 'rm', 'app_pw'),
      shoal('config', 'rm', 'app_cfg'),
    ]);
    assert.equal(rm.out, 'app_pw\n', rm.err);
    assert.equal(rmCfg.code, 0, rmCfg.err);
    const empty = await shoal('config', 'ls', '-q');
    assert.equal(empty.out.trim(), '');
  } finally {
    for (const srv of servers) await new Promise((r) => srv.close(r));
    await daemon.shutdown();
    await app.close();
  }
});
