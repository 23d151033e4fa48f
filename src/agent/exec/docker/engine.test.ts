import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpStatusError } from '../../../api/index.js';
import { DockerEngine } from './engine.js';

test('engine errors carry the status code the executor branches on; bodies and names are sent as the API wants', async () => {
  const sock = join(await mkdtemp(join(tmpdir(), 'shoal-engine-')), 'e.sock');
  const seen: string[] = [];
  const srv = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${body}`);
      if (req.url?.startsWith('/v1.41/containers/create')) {
        res.writeHead(201, { 'Content-Type': 'application/json' }).end('{"Id":"abc"}');
      } else if (req.url === '/v1.41/containers/gone/json') {
        res
          .writeHead(404, { 'Content-Type': 'application/json' })
          .end('{"message":"No such container: gone"}');
      } else res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => srv.listen(sock, r));
  try {
    const e = new DockerEngine(`unix://${sock}`);
    assert.equal(await e.createContainer('web.1.x', { Image: 'busybox:local' }), 'abc');
    await e.startContainer('abc');
    await assert.rejects(
      e.inspectContainer('gone'),
      (err: unknown) =>
        err instanceof HttpStatusError &&
        err.status === 404 &&
        err.code === 'NotFound' &&
        /^\(HTTP code 404\) No such container: gone$/.test(err.message),
    );
    // This engine's /_ping names no version: the client pings once, then uses the default.
    assert.deepEqual(seen.slice(0, 3), [
      'GET /_ping ',
      'POST /v1.41/containers/create?name=web.1.x {"Image":"busybox:local"}',
      'POST /v1.41/containers/abc/start ',
    ]);
  } finally {
    srv.close();
  }
});
