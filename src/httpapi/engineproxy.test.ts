// shoal's API socket in front of a fake engine: which routes go where, bodies streamed both ways,
// a hijacked connection with half-close, lists and /info merged, local networks kept from the
// leader, and Docker's 500 for an engine that is not there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { connect } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ShoalError, unavailable } from '../api/index.js';
import { EventLog } from '../manager/index.js';
import { systemClock } from '../platform/index.js';
import type { ApiBackend, ForwardedRequest } from './backend.js';
import { ownedByShoal } from './dispatch.js';
import { buildApp, listen } from './server.js';

let dir = '';
let fake: Server | undefined;
let shoal: Server[] = [];
const seen: string[] = [];
const forwarded: ForwardedRequest[] = [];
const prepared: string[] = [];

/** A follower outside the cluster's state (no store), whose engine is the fake one. */
function backend(engineHost: string): ApiBackend {
  return {
    // The node's one attachable overlay network, "att", with its resolver on 10.0.9.1.
    standaloneDns: (networks) => (networks.includes('att') ? ['10.0.9.1'] : []),
    // "closed" is an overlay network that is not attachable: the manager refuses the attachment.
    prepareStandalone: (networks) => {
      prepared.push(networks.join(','));
      return networks.includes('closed')
        ? Promise.reject(
            new ShoalError(
              'PermissionDenied',
              'Could not attach to network closed: rpc error: code = PermissionDenied desc = network closed not manually attachable',
            ),
          )
        : Promise.resolve();
    },
    state: 'active',
    isManager: true,
    nodeId: 'n1',
    nodeAddr: '127.0.0.1',
    managers: [],
    hostname: 'stand-in',
    dataRoot: '/nonexistent',
    startedAt: 0,
    raftLeader: undefined,
    engineHost,
    manager: () => {
      throw unavailable('This node is not a swarm manager.');
    },
    cluster: () => undefined,
    leader: {
      forwardsWrites: true,
      forwardToLeader: (req) => {
        forwarded.push(req);
        return Promise.resolve({ status: 201, contentType: 'application/json', body: Buffer.from('{}') });
      },
      noLeader: () => unavailable('no leader'),
    },
    events: new EventLog(systemClock),
    init: () => Promise.reject(new Error('not in this test')),
    join: () => Promise.reject(new Error('not in this test')),
    leave: () => Promise.resolve(),
    unlock: () => Promise.resolve(),
    unlockKey: () => '',
    syncKeys: () => Promise.resolve(),
    localLogs: () => undefined,
    remoteLogs: (_req, sink) => {
      sink.end();
      return () => undefined;
    },
  };
}

/** The fake engine: a few JSON routes, a body counter, and a hijack that echoes upper-cased. */
function fakeEngine(): Server {
  const srv = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.byteLength;
      if (size < 1 << 20) chunks.push(c);
    });
    req.on('end', () => {
      const json = (status: number, body: unknown): void => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const path = (req.url ?? '').replace(/^\/v[\d.]+/, '').split('?')[0];
      if (path === '/containers/json') return json(200, [{ Id: 'c1' }]);
      if (path === '/images/load') return json(200, { received: size });
      if (path === '/containers/create')
        return json(201, { Body: Buffer.concat(chunks).toString(), Length: req.headers['content-length'] });
      if (path === '/networks') return json(200, [{ Name: 'bridge', Id: 'b1', Scope: 'local' }]);
      if (path === '/networks/create') return json(201, { Id: 'local1', Warning: '' });
      if (path === '/networks/loc') return json(200, { Name: 'loc', Scope: 'local' });
      if (path === '/info') return json(200, { Containers: 3, Name: 'engine-host', ServerVersion: '99.0' });
      if (path === '/version')
        return json(200, { Version: '99.0', ApiVersion: '1.99', Components: [{ Name: 'Engine' }] });
      json(404, { message: 'page not found' });
    });
  });
  srv.on('upgrade', (req, sock, head: Buffer) => {
    seen.push(`${req.method} ${req.url} upgrade`);
    if (req.url?.includes('/exec/')) {
      // dockerd reads exec start's JSON body before it answers 101.
      const want = Number(req.headers['content-length'] ?? 0);
      let got = head.toString();
      const answer = (): void => {
        sock.write(`HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nBODY:${got}`);
        sock.end();
      };
      if (got.length >= want) return answer();
      sock.on('data', (c: Buffer) => {
        got += c.toString();
        if (got.length >= want) answer();
      });
      return;
    }
    if (req.url?.includes('/containers/missing/')) {
      // dockerd answers before taking the connection over, and keeps the connection alive.
      const body = '{"message":"No such container: missing"}';
      sock.write(
        `HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
      sock.on('data', (c: Buffer) => seen.push(`after 404: ${c.toString().split('\r\n')[0]}`));
      return;
    }
    sock.allowHalfOpen = true;
    sock.write(
      'HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n',
    );
    // Bytes that came with the request head are the stream's first.
    sock.write(head.toString().toUpperCase());
    sock.on('data', (c: Buffer) => sock.write(c.toString().toUpperCase()));
    // Only once the client half-closes does the "process" finish and say so.
    sock.on('end', () => sock.end('EOF-SEEN'));
  });
  return srv;
}

function call(
  sock: string,
  method: string,
  path: string,
  body?: Buffer | string,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: sock, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Writes `bytes` on a new connection to shoal's socket and reads until shoal closes it (≤ 5 s). */
function rawExchange(bytes: string, later?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(join(dir, 'shoal.sock'));
    let got = '';
    const timer = setTimeout(() => (sock.destroy(), reject(new Error(`still open; got ${got}`))), 5000);
    sock.on('data', (c: Buffer) => (got += c.toString()));
    sock.on('close', () => (clearTimeout(timer), resolve(got)));
    sock.on('error', () => undefined);
    sock.write(bytes);
    if (later !== undefined) setTimeout(() => sock.write(later), 100);
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-proxy-'));
  fake = fakeEngine();
  await new Promise<void>((r) => fake!.listen(join(dir, 'engine.sock'), r));
  shoal = (await listen(buildApp(backend(`unix://${join(dir, 'engine.sock')}`)), [
    `unix://${join(dir, 'shoal.sock')}`,
  ])) as Server[];
  shoal.push(
    ...((await listen(buildApp(backend(`unix://${join(dir, 'none.sock')}`)), [
      `unix://${join(dir, 'lone.sock')}`,
    ])) as Server[]),
  );
});

after(async () => {
  for (const s of [...shoal, fake!]) {
    s.closeAllConnections();
    s.close();
  }
  await rm(dir, { recursive: true, force: true });
});

test('shoal owns the swarm routes; everything else is the engine’s', () => {
  for (const url of [
    '/_ping',
    '/v1.41/version',
    '/info',
    '/v1.41/events?since=1',
    '/swarm/init',
    '/nodes/x',
    '/v1.41/services/a/logs',
    '/tasks',
    '/secrets/create',
    '/configs',
    '/v1.41/networks',
    '/networks/create',
    '/networks/x',
  ])
    assert.equal(ownedByShoal(url), true, url);
  for (const url of [
    '/v1.41/containers/json',
    '/images/load',
    '/exec/x/start',
    '/v1.41/distribution/a:1/json',
    '/auth',
    '/volumes',
    '/build',
    '/networks/x/connect',
    '/v1.41/networks/x/disconnect',
    '/networks/prune',
    '/',
    '/v1.41/versionx',
  ])
    assert.equal(ownedByShoal(url), false, url);
  // Read as the engine's router reads them, these are swarm routes: they must not reach the engine.
  for (const url of [
    '/v1.41/%73warm/init',
    '/v1.41.0/swarm/init',
    '/v1/services',
    'http://x/v1.41/swarm/init',
    '//services',
    '/v1.41/../services',
    '/v1.41/containers/../swarm/init',
    '/v1.41/./swarm/init',
    '/v1.41/containers%2F..%2Fswarm/init',
    '/%zz',
  ])
    assert.equal(ownedByShoal(url), true, url);
});

test('only attach and exec start take over a connection; any other Upgrade request is refused', async () => {
  for (const url of ['/v1.41/containers/json', '/v1.41/images/create?fromImage=x']) {
    const reply = await rawExchange(
      `GET ${url} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n` +
        'POST /v1.41/swarm/init HTTP/1.1\r\nHost: docker\r\nContent-Length: 2\r\n\r\n{}',
    );
    assert.match(reply, /^HTTP\/1.1 400 /, url);
  }
  assert.ok(!seen.some((s) => s.includes('swarm/init')), seen.join(', '));
});

test('the body of a hijacking request reaches the engine before its answer (exec start)', async () => {
  const body = '{"Detach":false,"Tty":false}';
  const reply = await rawExchange(
    `POST /v1.41/exec/e1/start HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
  assert.match(reply, /^HTTP\/1.1 101 UPGRADED\r\n/);
  assert.ok(reply.endsWith(`BODY:${body}`), reply);
  // The docker CLI may write the body after the head, in a packet of its own.
  const split = await rawExchange(
    `POST /v1.41/exec/e2/start HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    body,
  );
  assert.ok(split.endsWith(`BODY:${body}`), split);
});

test('a hijack the engine refuses is answered, then closed: nothing after it reaches the engine', async () => {
  const reply = await rawExchange(
    'POST /v1.41/containers/missing/attach?stream=1 HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n' +
      'POST /v1.41/swarm/init HTTP/1.1\r\nHost: docker\r\nContent-Length: 2\r\n\r\n{}',
  );
  assert.match(reply, /^HTTP\/1.1 404 Not Found\r\n/);
  assert.match(reply, /No such container: missing/);
  assert.ok(!seen.some((s) => s.startsWith('after 404')), seen.join(', '));
});

test('engine routes stream through with their path, version and body', async () => {
  const sock = join(dir, 'shoal.sock');
  const ps = await call(sock, 'GET', '/v1.41/containers/json?all=1');
  assert.deepEqual([ps.status, JSON.parse(ps.text)], [200, [{ Id: 'c1' }]]);
  assert.ok(seen.includes('GET /v1.41/containers/json?all=1'));
  // 5 MB: past fastify's 2 MB body limit, never read whole by shoal.
  const tar = Buffer.alloc(5 << 20, 7);
  const load = await call(sock, 'POST', '/v1.41/images/load', tar, { 'Content-Type': 'application/x-tar' });
  assert.deepEqual([load.status, JSON.parse(load.text)], [200, { received: 5 << 20 }]);
});

test('a hijacked connection is piped both ways and half-closes', async () => {
  const sock = connect(join(dir, 'shoal.sock'));
  sock.allowHalfOpen = true;
  let got = '';
  sock.on('data', (c: Buffer) => (got += c.toString()));
  const ended = new Promise((r) => sock.on('end', r));
  sock.write(
    'POST /v1.41/containers/c1/attach?stream=1&stdin=1 HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n',
  );
  sock.write('hello');
  await new Promise((r) => setTimeout(r, 100));
  sock.end();
  await ended;
  assert.match(got, /^HTTP\/1.1 101 UPGRADED\r\n/);
  assert.match(got, /HELLO/);
  assert.match(got, /EOF-SEEN$/);
});

test('/info and /version carry the engine’s figures with shoal’s Swarm and API versions', async () => {
  const sock = join(dir, 'shoal.sock');
  const info = JSON.parse((await call(sock, 'GET', '/v1.41/info')).text) as Record<string, unknown>;
  assert.equal(info.Containers, 3);
  assert.equal(info.ServerVersion, '99.0');
  assert.equal(info.Name, 'stand-in');
  assert.equal((info.Swarm as { NodeID: string }).NodeID, 'n1');
  const v = JSON.parse((await call(sock, 'GET', '/v1.41/version')).text) as {
    Version: string;
    ApiVersion: string;
    Components: { Name: string }[];
  };
  assert.equal(v.Version, '99.0');
  assert.equal(v.ApiVersion, '1.41');
  assert.deepEqual(
    v.Components.map((c) => c.Name),
    ['Engine', 'shoal'],
  );
});

test('a local network is created by this node’s engine, never forwarded to the leader', async () => {
  const sock = join(dir, 'shoal.sock');
  const body = JSON.stringify({ Name: 'loc', Driver: 'bridge' });
  const r = await call(sock, 'POST', '/v1.41/networks/create', body, { 'Content-Type': 'application/json' });
  assert.deepEqual([r.status, JSON.parse(r.text)], [201, { Id: 'local1', Warning: '' }]);
  assert.equal(forwarded.length, 0);
  assert.ok(seen.includes('POST /v1.41/networks/create'), seen.join(', '));
  // Not the swarm's: inspected by the engine, with the client's version and query.
  const loc = await call(sock, 'GET', '/v1.41/networks/loc?verbose=true');
  assert.deepEqual([loc.status, JSON.parse(loc.text)], [200, { Name: 'loc', Scope: 'local' }]);
  assert.ok(seen.includes('GET /v1.41/networks/loc?verbose=true'), seen.join(', '));
  // An overlay network is the swarm's: this follower hands it to the leader.
  const o = JSON.stringify({ Name: 'ov', Driver: 'overlay' });
  assert.equal(
    (await call(sock, 'POST', '/v1.41/networks/create', o, { 'Content-Type': 'application/json' })).status,
    201,
  );
  assert.deepEqual(
    forwarded.map((f) => f.url),
    ['/v1.41/networks/create'],
  );
  const ls = JSON.parse((await call(sock, 'GET', '/v1.41/networks')).text) as { Name: string }[];
  assert.deepEqual(
    ls.map((n) => n.Name),
    ['bridge'],
  );
});

test('an engine that is not there: Docker’s 500 for its routes and hijacks; shoal answers its own', async () => {
  const sock = join(dir, 'lone.sock');
  const ps = await call(sock, 'GET', '/v1.41/containers/json');
  assert.equal(ps.status, 500);
  assert.match(
    JSON.parse(ps.text).message as string,
    /^Cannot connect to the container engine at unix:\/\/.*none\.sock: /,
  );
  const raw = connect(sock);
  let got = '';
  raw.on('data', (c: Buffer) => (got += c.toString()));
  await new Promise((r) => {
    raw.on('close', r);
    raw.write(
      'POST /v1.41/containers/c1/attach HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n',
    );
  });
  assert.match(got, /^HTTP\/1.1 500 /);
  assert.match(got, /Cannot connect to the container engine/);
  const info = JSON.parse((await call(sock, 'GET', '/v1.41/info')).text) as { Driver: string };
  assert.equal(info.Driver, 'shoal');
  assert.equal((await call(sock, 'GET', '/v1.41/networks')).text.trim(), '[]');
});

test('a container created through shoal on an attachable overlay gets its resolver; others go untouched', async () => {
  const sock = join(dir, 'shoal.sock');
  const create = async (body: string): Promise<string> => {
    const r = await call(sock, 'POST', '/v1.41/containers/create?name=c', body, {
      'Content-Type': 'application/json',
    });
    assert.equal(r.status, 201, r.text);
    const got = JSON.parse(r.text) as { Body: string; Length: string };
    assert.equal(Number(got.Length), Buffer.byteLength(got.Body));
    return got.Body;
  };
  // As the docker CLI sends `docker run --network att`.
  const cli =
    '{"Image":"busybox","HostConfig":{"Dns":[],"DnsOptions":[],"NetworkMode":"att"},' +
    '"NetworkingConfig":{"EndpointsConfig":{"att":{}}}}\n';
  assert.equal(
    await create(cli),
    '{"Image":"busybox","HostConfig":{"Dns":["10.0.9.1"],"DnsOptions":[],"NetworkMode":"att"},' +
      '"NetworkingConfig":{"EndpointsConfig":{"att":{}}}}\n',
  );
  for (const same of [
    cli.replace('"Dns":[]', '"Dns":["1.1.1.1"]'),
    cli.replace(/att/g, 'bridge'),
    '{"Image":"busybox"}',
    'not json',
  ])
    assert.equal(await create(same), same);
  // Sent in chunks, without a length: read whole all the same.
  const chunked = await new Promise<string>((resolve, reject) => {
    const req = request(
      {
        socketPath: sock,
        method: 'POST',
        path: '/containers/create',
        headers: { 'Content-Type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve((JSON.parse(text) as { Body: string }).Body));
      },
    );
    req.on('error', reject);
    req.write('{"Image":"busybox",');
    setTimeout(() => req.end('"HostConfig":{"NetworkMode":"att"}}'), 20);
  });
  assert.equal(chunked, '{"Image":"busybox","HostConfig":{"Dns":["10.0.9.1"],"NetworkMode":"att"}}');
  assert.ok(seen.includes('POST /v1.41/containers/create?name=c'));
});

test("a container create on a network the node lacks is prepared first; a refusal is the client's answer", async () => {
  const sock = join(dir, 'shoal.sock');
  prepared.length = 0;
  const before = seen.length;
  const body =
    '{"Image":"busybox","HostConfig":{"NetworkMode":"closed"},"NetworkingConfig":{"EndpointsConfig":{"closed":{}}}}';
  const r = await call(sock, 'POST', '/v1.41/containers/create?name=x', body, {
    'Content-Type': 'application/json',
  });
  assert.equal(r.status, 403);
  assert.match((JSON.parse(r.text) as { message: string }).message, /network closed not manually attachable/);
  assert.equal(seen.length, before, 'the engine never saw the create');
  const ok = await call(sock, 'POST', '/v1.41/containers/create', '{"HostConfig":{"NetworkMode":"att"}}', {
    'Content-Type': 'application/json',
  });
  assert.equal(ok.status, 201);
  assert.deepEqual(prepared, ['closed', 'att']);
});

test('a chunked container create past the bound is refused, not half sent', async () => {
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(
      { socketPath: join(dir, 'shoal.sock'), method: 'POST', path: '/containers/create' },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', () => undefined);
    const chunk = Buffer.alloc(1 << 20, 0x20);
    let n = 0;
    const more = (): void => {
      if (n++ > 6) return void req.end();
      if (req.write(chunk)) setImmediate(more);
      else req.once('drain', more);
    };
    req.write('{"Env":[');
    more();
    setTimeout(() => reject(new Error('no answer in 5 s')), 5000).unref();
  });
  assert.equal(status, 413);
});
