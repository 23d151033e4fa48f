import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientTlsMode, defaultCertDir, normalizeTlsFlags } from './tlsflags.js';

const files = { tlscacert: 'ca', tlscert: 'cert', tlskey: 'key' };

test('--tls=BOOL and --tlsverify=BOOL become commander booleans, up to the subcommand', () => {
  assert.deepEqual(normalizeTlsFlags(['--tls=false', '--tlsverify=1', '-H', 'x'], new Set()), [
    '--no-tls',
    '--tlsverify',
    '-H',
    'x',
  ]);
  assert.deepEqual(
    normalizeTlsFlags(
      ['--tlsverify=False', 'service', 'create', 'img', 'echo', '--tls=false'],
      new Set(['service']),
    ),
    ['--no-tlsverify', 'service', 'create', 'img', 'echo', '--tls=false'],
  );
  assert.throws(() => normalizeTlsFlags(['--tls=maybe'], new Set()), /invalid argument "maybe" for "--tls"/);
});

test('the client follows the docker CLI: DOCKER_TLS_VERIFY and DOCKER_TLS set the defaults', () => {
  assert.deepEqual(clientTlsMode({ ...files }, {}), { on: false, verify: false });
  // Any non-empty value counts, as in the docker CLI (so DOCKER_TLS_VERIFY=0 also verifies).
  assert.deepEqual(clientTlsMode({ ...files }, { DOCKER_TLS_VERIFY: '0' }), { on: true, verify: true });
  assert.deepEqual(clientTlsMode({ ...files }, { DOCKER_TLS: '1' }), { on: true, verify: false });
  assert.deepEqual(clientTlsMode({ ...files, tlsverify: false }, { DOCKER_TLS_VERIFY: '1' }), {
    on: true,
    verify: false,
  });
  assert.deepEqual(clientTlsMode({ ...files, tls: true }, {}), { on: true, verify: false });
  assert.deepEqual(clientTlsMode({ ...files, tls: false }, { DOCKER_TLS_VERIFY: '1' }), {
    on: true,
    verify: true,
  });
});

test('certificate files default to DOCKER_CERT_PATH, then DOCKER_CONFIG, then ~/.docker', () => {
  assert.equal(defaultCertDir({ DOCKER_CERT_PATH: '/c', DOCKER_CONFIG: '/d' }), '/c');
  assert.equal(defaultCertDir({ DOCKER_CONFIG: '/d' }), '/d');
  assert.match(defaultCertDir({}), /\/\.docker$/);
});
