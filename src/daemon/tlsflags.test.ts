import { test } from 'node:test';
import assert from 'node:assert/strict';
import { daemonTls } from './tlsflags.js';

const files = { tlscacert: 'ca', tlscert: 'cert', tlskey: 'key' };

test("the daemon follows dockerd: any --tlsverify turns TLS on, --tls alone doesn't verify clients", () => {
  assert.deepEqual(daemonTls({ ...files }), {
    mode: 'off',
    explicit: false,
    caFile: 'ca',
    certFile: 'cert',
    keyFile: 'key',
  });
  assert.equal(daemonTls({ ...files, tls: false }).mode, 'off');
  assert.equal(daemonTls({ ...files, tls: false }).explicit, true);
  assert.equal(daemonTls({ ...files, tls: true }).mode, 'tls');
  assert.equal(daemonTls({ ...files, tlsverify: true }).mode, 'verify');
  assert.equal(daemonTls({ ...files, tlsverify: false }).mode, 'tls');
  assert.equal(daemonTls({ ...files, tls: false, tlsverify: true }).mode, 'verify');
});
