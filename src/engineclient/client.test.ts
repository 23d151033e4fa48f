import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type OutgoingHttpHeaders } from 'node:http';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLIENT_MAX_API_VERSION, HttpStatusError } from '../api/index.js';
import { DEFAULT_API_VERSION, EngineApiClient } from './index.js';

/** An engine on a unix socket whose /_ping answers `pingHeaders`; it records the request lines. */
async function engine(
  pingHeaders: OutgoingHttpHeaders,
): Promise<{ host: string; seen: string[]; close(): void }> {
  const sock = join(await mkdtemp(join(tmpdir(), 'shoal-engineclient-')), 'e.sock');
  const seen: string[] = [];
  const srv = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.url === '/_ping') res.writeHead(200, pingHeaders).end('OK');
    else if (req.url?.endsWith('/missing')) res.writeHead(404).end('{"message":"no such thing"}');
    else res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((r) => srv.listen(sock, r));
  return { host: `unix://${sock}`, seen, close: () => srv.close() };
}

for (const [engineVersion, expected, why] of [
  ['1.99', CLIENT_MAX_API_VERSION, 'a newer engine is spoken to at our newest version'],
  ['1.45', '1.45', 'an engine older than our newest is spoken to at its own version'],
  ['1.40', '1.40', 'an old engine too'],
  [undefined, DEFAULT_API_VERSION, 'an engine that names no version gets the documented default'],
] as const) {
  test(`version negotiation: /_ping Api-Version ${engineVersion ?? '(none)'} → /v${expected}: ${why}`, async () => {
    const e = await engine(engineVersion ? { 'Api-Version': engineVersion } : {});
    try {
      const c = new EngineApiClient({ host: e.host });
      assert.deepEqual(await c.call('GET', '/info'), { ok: true });
      await c.call('GET', '/version');
      assert.equal(await c.apiVersion(), expected);
      assert.deepEqual(e.seen, ['GET /_ping', `GET /v${expected}/info`, `GET /v${expected}/version`]);
    } finally {
      e.close();
    }
  });
}

test('an error answer is a ShoalError with a code from its status; the status is kept', async () => {
  const e = await engine({ 'Api-Version': '1.44' });
  try {
    const c = new EngineApiClient({ host: e.host });
    await assert.rejects(
      c.call('GET', '/missing'),
      (err: unknown) =>
        err instanceof HttpStatusError &&
        err.code === 'NotFound' &&
        err.status === 404 &&
        err.message === 'no such thing',
    );
  } finally {
    e.close();
  }
});

test('an unreachable engine is not negotiated with for good: the next request pings again', async () => {
  const sock = join(await mkdtemp(join(tmpdir(), 'shoal-engineclient-')), 'none.sock');
  const c = new EngineApiClient({
    host: `unix://${sock}`,
    unreachable: (err) => new Error(`down: ${err.message}`),
  });
  await assert.rejects(c.call('GET', '/info'), /^Error: down: connect ENOENT/);
  const seen: string[] = [];
  const srv = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'Api-Version': '1.44' }).end(req.url === '/_ping' ? 'OK' : '{}');
  });
  await new Promise<void>((r) => srv.listen(sock, r));
  try {
    await c.call('GET', '/info');
    assert.deepEqual(seen, ['GET /_ping', 'GET /v1.44/info']);
  } finally {
    srv.close();
  }
});

test('a slow answer is waited for when no timeout was asked (Node 20 global agent cuts at 5 s)', async () => {
  const sock = join(await mkdtemp(join(tmpdir(), 'shoal-engineclient-')), 'slow.sock');
  const srv = createServer((req, res) => {
    if (req.url === '/_ping') res.writeHead(200, { 'Api-Version': '1.41' }).end('OK');
    else
      setTimeout(() => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"late":true}'), 5600);
  });
  await new Promise<void>((r) => srv.listen(sock, r));
  try {
    const c = new EngineApiClient({ host: `unix://${sock}` });
    assert.deepEqual(await c.call('POST', '/containers/x/start'), { late: true });
  } finally {
    srv.close();
  }
});
