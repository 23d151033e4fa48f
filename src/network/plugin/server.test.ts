import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineApiClient } from '../../engineclient/index.js';
import { PluginServer, type LinkOps } from './server.js';
import type { SandboxHost } from '../sandboxhost.js';

const dir = await mkdtemp(join(tmpdir(), 'sp-plugin-'));
after(() => rm(dir, { recursive: true, force: true }));

function call(
  socketPath: string,
  path: string,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const req = request(
      { socketPath, path, method: 'POST', headers: { 'Content-Length': Buffer.byteLength(text) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

function fakes(): { links: LinkOps & { log: string[] }; sandboxes: SandboxHost & { plugged: string[] } } {
  const log: string[] = [];
  const plugged: string[] = [];
  return {
    links: {
      log,
      createVeth: (o) => {
        log.push(`veth ${o.container} ${o.host} ${o.mac ?? '-'} ${o.mtu}`);
        return Promise.resolve();
      },
      remove: (name) => {
        log.push(`rm ${name}`);
        return Promise.resolve();
      },
    },
    sandboxes: {
      plugged,
      ensure: () => Promise.resolve('sp-sbx'),
      plug: (networkId, ifname) => {
        plugged.push(`${networkId} ${ifname}`);
        return Promise.resolve();
      },
      namespaceOf: () => 'sp-sbx',
    },
  };
}

async function started(
  name: string,
  extra: Partial<ConstructorParameters<typeof PluginServer>[0]> = {},
): Promise<{
  server: PluginServer;
  links: LinkOps & { log: string[] };
  sandboxes: SandboxHost & { plugged: string[] };
}> {
  const f = fakes();
  const server = new PluginServer({
    pluginDir: dir,
    name,
    links: f.links,
    sandboxes: f.sandboxes,
    ifPrefix: 'sp',
    ...extra,
  });
  await server.start();
  after(() => server.stop());
  return { server, ...f };
}

const generic = (id: string) => ({ 'com.docker.network.generic': { 'com.shoal.network.id': id } });

test('the plugin activates as a network and IPAM driver of local scope, global connectivity', async () => {
  const { server } = await started('act');
  assert.deepEqual((await call(server.socketPath, '/Plugin.Activate', {})).body, {
    Implements: ['NetworkDriver', 'IpamDriver'],
  });
  assert.deepEqual((await call(server.socketPath, '/NetworkDriver.GetCapabilities', {})).body, {
    Scope: 'local',
    ConnectivityScope: 'global',
  });
  const spaces = (await call(server.socketPath, '/IpamDriver.GetDefaultAddressSpaces', {})).body;
  assert.ok(spaces.LocalDefaultAddressSpace && spaces.GlobalDefaultAddressSpace);
});

test('an endpoint gets the MAC derived from its address and joins through a veth plugged into the sandbox', async () => {
  const { server, links, sandboxes } = await started('join');
  const s = server.socketPath;
  const refused = await call(s, '/NetworkDriver.CreateNetwork', { NetworkID: 'e1', Options: {} });
  assert.match(String(refused.body.Err), /com\.shoal\.network\.id/);
  assert.deepEqual(
    (await call(s, '/NetworkDriver.CreateNetwork', { NetworkID: 'e1', Options: generic('net1') })).body,
    {},
  );
  assert.equal(server.networkOf('e1'), 'net1');

  const ep = 'abcdef0123456789abcdef';
  const created = await call(s, '/NetworkDriver.CreateEndpoint', {
    NetworkID: 'e1',
    EndpointID: ep,
    Interface: { Address: '10.97.1.5/24' },
  });
  assert.deepEqual(created.body, { Interface: { MacAddress: '02:42:0a:61:01:05' } });

  const joined = await call(s, '/NetworkDriver.Join', { NetworkID: 'e1', EndpointID: ep, SandboxKey: '/x' });
  assert.equal(joined.status, 200);
  assert.deepEqual(joined.body.InterfaceName, { SrcName: 'spcabcdef0123', DstPrefix: 'eth' });
  // No gateway: libnetwork gives the container docker_gwbridge for egress.
  assert.equal(joined.body.Gateway, undefined);
  assert.ok(
    links.log.includes('veth spcabcdef0123 sphabcdef0123 02:42:0a:61:01:05 1450'),
    links.log.join('\n'),
  );
  assert.deepEqual(sandboxes.plugged, ['net1 sphabcdef0123']);

  links.log.length = 0;
  assert.deepEqual((await call(s, '/NetworkDriver.Leave', { NetworkID: 'e1', EndpointID: ep })).body, {});
  assert.deepEqual(links.log, ['rm spcabcdef0123', 'rm sphabcdef0123']);
  assert.deepEqual(
    (await call(s, '/NetworkDriver.DeleteEndpoint', { NetworkID: 'e1', EndpointID: ep })).body,
    {},
  );
});

test('an endpoint whose MAC dockerd chose is not given another', async () => {
  const { server } = await started('mac');
  const r = await call(server.socketPath, '/NetworkDriver.CreateEndpoint', {
    NetworkID: 'e1',
    EndpointID: 'ep2',
    Interface: { Address: '10.97.1.6/24', MacAddress: '02:42:aa:bb:cc:dd' },
  });
  assert.deepEqual(r.body, { Interface: {} });
});

test('a join on a network the plugin does not know fails with an Err and leaves no veth', async () => {
  const { server, links } = await started('unknown');
  const r = await call(server.socketPath, '/NetworkDriver.Join', { NetworkID: 'nope', EndpointID: 'ep3' });
  assert.equal(r.status, 500);
  assert.match(String(r.body.Err), /not a shoal network/);
  assert.ok(!links.log.some((l) => l.startsWith('veth')));
});

test('a veth whose plug fails is removed and the join fails', async () => {
  const f = fakes();
  f.sandboxes.plug = () => Promise.reject(new Error('no sandbox for net1'));
  const server = new PluginServer({
    pluginDir: dir,
    name: 'plugfail',
    links: f.links,
    sandboxes: f.sandboxes,
    ifPrefix: 'sp',
  });
  await server.start();
  after(() => server.stop());
  await call(server.socketPath, '/NetworkDriver.CreateNetwork', {
    NetworkID: 'e1',
    Options: generic('net1'),
  });
  const r = await call(server.socketPath, '/NetworkDriver.Join', { NetworkID: 'e1', EndpointID: 'ep4' });
  assert.match(String(r.body.Err), /no sandbox for net1/);
  assert.equal(f.links.log.at(-1), 'rm spcep4');
});

test('IPAM serves the requested address, the gateway, and refuses what it cannot give', async () => {
  const released: string[] = [];
  const { server } = await started('ipam', {
    releaseAddress: (n, a) => {
      released.push(`${n} ${a}`);
      return Promise.resolve();
    },
  });
  const s = server.socketPath;
  const noPool = await call(s, '/IpamDriver.RequestPool', { AddressSpace: 'x', Pool: '' });
  assert.match(String(noPool.body.Err), /needs the network's subnet/);
  const pool = await call(s, '/IpamDriver.RequestPool', {
    AddressSpace: 'x',
    Pool: '10.97.1.0/24',
    Options: { 'com.shoal.network.id': 'net1' },
  });
  assert.deepEqual(pool.body, { PoolID: 'net1/10.97.1.0/24', Pool: '10.97.1.0/24', Data: {} });
  const PoolID = 'net1/10.97.1.0/24';
  assert.equal(
    (await call(s, '/IpamDriver.RequestAddress', { PoolID, Address: '10.97.1.9' })).body.Address,
    '10.97.1.9/24',
  );
  assert.match(
    String((await call(s, '/IpamDriver.RequestAddress', { PoolID, Address: '10.97.2.9' })).body.Err),
    /not in subnet 10\.97\.1\.0\/24/,
  );
  const gw = await call(s, '/IpamDriver.RequestAddress', {
    PoolID,
    Options: { RequestAddressType: 'com.docker.network.gateway' },
  });
  assert.equal(gw.body.Address, '10.97.1.1/24');
  const none = await call(s, '/IpamDriver.RequestAddress', { PoolID });
  assert.match(String(none.body.Err), /no address was requested/);
  await call(s, '/IpamDriver.ReleaseAddress', { PoolID, Address: '10.97.1.9' });
  assert.deepEqual(released, ['net1 10.97.1.9']);
  assert.deepEqual((await call(s, '/IpamDriver.ReleasePool', { PoolID })).body, {});
});

test('an address nobody requested comes from the injected hook', async () => {
  const asked: string[] = [];
  const { server } = await started('hook', {
    requestAddress: (n) => {
      asked.push(n);
      return Promise.resolve('10.97.1.77');
    },
  });
  const r = await call(server.socketPath, '/IpamDriver.RequestAddress', { PoolID: 'net9/10.97.1.0/24' });
  assert.equal(r.body.Address, '10.97.1.77/24');
  assert.deepEqual(asked, ['net9']);
});

test('bodies are bounded, and unknown methods answer 404 with an Err', async () => {
  const { server } = await started('bounds');
  const big = await call(
    server.socketPath,
    '/NetworkDriver.CreateNetwork',
    JSON.stringify({ x: 'a'.repeat(2 << 20) }),
  );
  assert.equal(big.status, 400);
  assert.match(String(big.body.Err), /exceeds/);
  const bad = await call(server.socketPath, '/NetworkDriver.CreateNetwork', '{not json');
  assert.match(String(bad.body.Err), /not JSON/);
  const unknown = await call(server.socketPath, '/NetworkDriver.Nope', {});
  assert.equal(unknown.status, 404);
  assert.ok(unknown.body.Err);
});

test('on start the engine network map is rebuilt from the engine, and a network missed there is looked up at join', async () => {
  const engineSock = join(dir, 'engine.sock');
  const paths: string[] = [];
  const engine: Server = createServer((req, res) => {
    paths.push(req.url ?? '');
    res.setHeader('Api-Version', '1.41');
    res.setHeader('Content-Type', 'application/json');
    if (req.url === '/_ping') return res.end('OK');
    if (req.url?.startsWith('/v1.41/networks?'))
      return res.end(JSON.stringify([{ Id: 'e1', Options: { 'com.shoal.network.id': 'net1' } }]));
    if (req.url === '/v1.41/networks/e2')
      return res.end(JSON.stringify({ Id: 'e2', Options: { 'com.shoal.network.id': 'net2' } }));
    res.statusCode = 404;
    res.end(JSON.stringify({ message: 'not found' }));
  });
  await new Promise<void>((r) => engine.listen(engineSock, r));
  after(() => new Promise<void>((r) => engine.close(() => r())));
  const { server, sandboxes } = await started('rebuild', {
    engine: new EngineApiClient({ host: `unix://${engineSock}` }),
  });
  assert.equal(server.networkOf('e1'), 'net1');
  assert.ok(
    paths.some((p) => p.includes('driver') && p.includes('rebuild')),
    paths.join('\n'),
  );
  const r = await call(server.socketPath, '/NetworkDriver.Join', { NetworkID: 'e2', EndpointID: 'ep5' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(sandboxes.plugged, ['net2 sphep5']);
});
