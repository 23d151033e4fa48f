// The kernel check behind `-o encrypted`: config parsing on fake text, the gzip path, and the real
// machine (whose kernel has no ESP and no GCM, reference/networking.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  detectEncryptionSupport,
  encryptedNetworkRefusal,
  encryptionSupport,
  encryptionUnsupported,
  missingFromConfig,
  probeEncryption,
} from './kernel.js';

const FULL = [
  'CONFIG_XFRM=y',
  'CONFIG_XFRM_USER=m',
  'CONFIG_INET_ESP=m',
  'CONFIG_CRYPTO_GCM=y',
  '# CONFIG_INET_AH is not set',
].join('\n');

test('a kernel config with xfrm, ESP and GCM (built in or as modules) lacks nothing', () => {
  assert.deepEqual(missingFromConfig(FULL), []);
});

test('what a config leaves unset or comments out is named, in a fixed order', () => {
  const text = [
    'CONFIG_XFRM=y',
    'CONFIG_XFRM_USER=y',
    '# CONFIG_INET_ESP is not set',
    'CONFIG_CRYPTO_GCM=n',
  ].join('\n');
  assert.deepEqual(missingFromConfig(text), ['CONFIG_INET_ESP', 'CONFIG_CRYPTO_GCM']);
  assert.deepEqual(missingFromConfig(''), [
    'CONFIG_XFRM',
    'CONFIG_XFRM_USER',
    'CONFIG_INET_ESP',
    'CONFIG_CRYPTO_GCM',
  ]);
});

test('the detector reads a gzipped config file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sa-kernel-'));
  try {
    await writeFile(join(dir, 'ok.gz'), gzipSync(FULL));
    assert.deepEqual(await detectEncryptionSupport({ configPath: join(dir, 'ok.gz') }), { ok: true });
    await writeFile(join(dir, 'no.gz'), gzipSync(FULL.replace('CONFIG_CRYPTO_GCM=y', '')));
    assert.deepEqual(await detectEncryptionSupport({ configPath: join(dir, 'no.gz') }), {
      ok: false,
      missing: ['CONFIG_CRYPTO_GCM'],
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('on this machine the real detector finds no ESP, and the manager and node refusals name it', async () => {
  const r = await encryptionSupport();
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.missing.includes('CONFIG_INET_ESP'), JSON.stringify(r));
  assert.equal(
    await encryptedNetworkRefusal(),
    "encrypted overlay networks need IPsec ESP with AES-GCM in the kernel, and this manager's kernel lacks CONFIG_INET_ESP, CONFIG_CRYPTO_GCM; the network was not created",
  );
  assert.match(
    encryptionUnsupported() ?? '',
    /this node's kernel lacks CONFIG_INET_ESP, CONFIG_CRYPTO_GCM; the task's encrypted network cannot be attached/,
  );
});

test(
  'without a config, an xfrm probe in a throwaway namespace finds no AES-GCM here, and leaves no namespace',
  {
    skip: process.getuid?.() !== 0 ? 'needs root for a network namespace' : false,
  },
  async () => {
    const ns = `sa-xfrm-${process.pid}`;
    const r = await probeEncryption(ns);
    assert.deepEqual(r, { ok: false, missing: ['CONFIG_CRYPTO_GCM'] });
    const { execFileSync } = await import('node:child_process');
    assert.ok(!execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(ns));
  },
);
