import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetworkView } from '../../api/index.js';
import { EngineApiClient } from '../../engineclient/index.js';
import { EngineNetworks } from './enginenets.js';

interface FakeNet {
  Id: string;
  Name: string;
  Driver: string;
  Options: Record<string, string>;
  Containers: Record<string, unknown>;
}

const dir = await mkdtemp(join(tmpdir(), 'sp-enginenets-'));
after(() => rm(dir, { recursive: true, force: true }));

/** A fake engine: the network routes EngineNetworks uses, over a unix socket. */
async function fakeEngine(
  name: string,
): Promise<{ nets: Map<string, FakeNet>; creates: Record<string, unknown>[]; client: EngineApiClient }> {
  const nets = new Map<string, FakeNet>();
  const creates: Record<string, unknown>[] = [];
  const sock = join(dir, `${name}.sock`);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('Api-Version', '1.41');
      const send = (status: number, body: unknown): void => {
        res.statusCode = status;
        res.end(JSON.stringify(body));
      };
      const url = new URL(req.url ?? '', 'http://x');
      const path = url.pathname.replace(/^\/v1\.41/, '');
      if (path === '/_ping') return res.end('OK');
      if (req.method === 'POST' && path === '/networks/create') {
        const b = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown> & { Name: string };
        creates.push(b);
        if ([...nets.values()].some((n) => n.Name === b.Name)) return send(409, { message: 'exists' });
        const id = `id-${b.Name}-${creates.length}`;
        nets.set(id, {
          Id: id,
          Name: b.Name,
          Driver: String(b.Driver),
          Options: b.Options as Record<string, string>,
          Containers: {},
        });
        return send(201, { Id: id });
      }
      if (req.method === 'GET' && path === '/networks') {
        const driver = (JSON.parse(url.searchParams.get('filters') ?? '{}') as { driver?: string[] }).driver;
        return send(
          200,
          [...nets.values()].filter((n) => !driver || driver.includes(n.Driver)),
        );
      }
      const m = /^\/networks\/([^/]+)$/.exec(path);
      const key = decodeURIComponent(m?.[1] ?? '');
      const n = nets.get(key) ?? [...nets.values()].find((x) => x.Name === key);
      if (!m || !n) return send(404, { message: `network ${key} not found` });
      if (req.method === 'GET') return send(200, n);
      if (req.method === 'DELETE') {
        if (Object.keys(n.Containers).length > 0) return send(403, { message: 'has active endpoints' });
        nets.delete(n.Id);
        return send(204, {});
      }
      send(405, { message: 'no' });
    });
  });
  await new Promise<void>((r) => server.listen(sock, r));
  after(() => new Promise<void>((r) => server.close(() => r())));
  return { nets, creates, client: new EngineApiClient({ host: `unix://${sock}` }) };
}

const view = (id: string, name: string): NetworkView => ({
  id,
  name,
  vni: 4100,
  subnets: [
    { subnet: '10.97.2.0/24', gateway: '10.97.2.1' },
    { subnet: 'fd97::/64', gateway: 'fd97::1' },
  ],
  attachable: false,
  internal: true,
  ingress: false,
  options: {},
  endpoints: [],
  services: [],
});

test('an overlay network becomes one engine network of its name, driven and addressed by the plugin', async () => {
  const e = await fakeEngine('create');
  const nets = new EngineNetworks({ engine: e.client, driver: 'sp-test' });
  // Two tasks of the network starting together create it once.
  const names = await Promise.all([nets.ensure(view('n1', 'app')), nets.ensure(view('n1', 'app'))]);
  assert.deepEqual(names, ['app', 'app']);
  assert.equal(await nets.ensure(view('n1', 'app')), 'app');
  assert.equal(e.creates.length, 1);
  const marks = { 'com.shoal.network.id': 'n1', 'com.shoal.network.vni': '4100' };
  assert.deepEqual(e.creates[0], {
    Name: 'app',
    CheckDuplicate: true,
    Driver: 'sp-test',
    Internal: true,
    EnableIPv6: true,
    IPAM: {
      Driver: 'sp-test',
      Config: [
        { Subnet: '10.97.2.0/24', Gateway: '10.97.2.1' },
        { Subnet: 'fd97::/64', Gateway: 'fd97::1' },
      ],
      Options: { 'com.shoal.network.id': 'n1' },
    },
    Options: marks,
    Labels: marks,
  });
});

test("an engine network of the same name that is not shoal's is refused, naming it", async () => {
  const e = await fakeEngine('conflict');
  e.nets.set('x', { Id: 'x', Name: 'app', Driver: 'bridge', Options: {}, Containers: {} });
  const nets = new EngineNetworks({ engine: e.client, driver: 'sp-test' });
  await assert.rejects(
    nets.ensure(view('n1', 'app')),
    /already has a network named app \(driver bridge\) that is not shoal's/,
  );
});

test('an earlier shoal network of the same name is replaced once no container is on it', async () => {
  const e = await fakeEngine('replace');
  const old: FakeNet = {
    Id: 'old',
    Name: 'app',
    Driver: 'sp-test',
    Options: { 'com.shoal.network.id': 'n0' },
    Containers: { c: {} },
  };
  e.nets.set('old', old);
  const nets = new EngineNetworks({ engine: e.client, driver: 'sp-test' });
  await assert.rejects(
    nets.ensure(view('n1', 'app')),
    /still has containers on an earlier network of that name \(n0\)/,
  );
  old.Containers = {};
  assert.equal(await nets.ensure(view('n1', 'app')), 'app');
  assert.deepEqual(
    [...e.nets.values()].map((n) => n.Options['com.shoal.network.id']),
    ['n1'],
  );
});

test('prune removes the engine networks no longer needed that no container is on', async () => {
  const e = await fakeEngine('prune');
  const nets = new EngineNetworks({ engine: e.client, driver: 'sp-test' });
  await nets.ensure(view('n1', 'keep'));
  await nets.ensure(view('n2', 'busy'));
  await nets.ensure(view('n3', 'gone'));
  e.nets.set('b', { Id: 'b', Name: 'bridge-net', Driver: 'bridge', Options: {}, Containers: {} });
  [...e.nets.values()].find((n) => n.Name === 'busy')!.Containers = { c: {} };
  assert.deepEqual(await nets.prune(new Set(['n1'])), ['gone']);
  assert.deepEqual([...e.nets.values()].map((n) => n.Name).sort(), ['bridge-net', 'busy', 'keep']);
});
