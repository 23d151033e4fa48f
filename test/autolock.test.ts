// Autolock through the API: `swarm init --autolock`, a locked restart that serves nothing but
// unlock, a wrong key, the right key, and the unlock key's rotation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiHarness } from './support/daemon.js';

test('init --autolock: a restarted manager is locked until it gets its key', async () => {
  const dataRoot = await mkdtemp(join(tmpdir(), 'shoal-autolock-'));
  const first = await apiHarness({ dataRoot });
  const init = await first.call('POST', '/v1.41/swarm/init', {
    ListenAddr: '127.0.0.1:0',
    Spec: { EncryptionConfig: { AutoLockManagers: true } },
  });
  assert.equal(init.status, 200);
  const key = ((await first.call('GET', '/v1.41/swarm/unlockkey')).body as { UnlockKey: string }).UnlockKey;
  assert.match(key, /^SWMKEY-1-[A-Za-z0-9+/]{43}$/);
  assert.equal(
    (
      await first.call('POST', '/v1.41/services/create', {
        Name: 'kept',
        TaskTemplate: { ContainerSpec: { Image: 'busybox:local' } },
      })
    ).status,
    201,
  );
  await first.close();
  // The key is never on disk in the clear.
  for (const f of await readdir(dataRoot, { recursive: true, withFileTypes: true })) {
    if (!f.isFile()) continue;
    const bytes = await readFile(join(f.parentPath, f.name));
    assert.ok(!bytes.includes(Buffer.from(key)), `${f.name} holds the unlock key`);
    assert.ok(!bytes.includes(Buffer.from('"kept"')), `${f.name} holds state in plaintext`);
    assert.ok(!bytes.includes(Buffer.from('PRIVATE KEY')), `${f.name} holds a private key in the clear`);
  }

  const second = await apiHarness({ dataRoot });
  try {
    const info = (await second.call('GET', '/v1.41/info')).body as { Swarm: { LocalNodeState: string } };
    assert.equal(info.Swarm.LocalNodeState, 'locked');
    const refused = await second.call('GET', '/v1.41/services');
    assert.equal(refused.status, 503);
    assert.match(
      (refused.body as { message: string }).message,
      /Swarm is encrypted and needs to be unlocked/,
    );
    const malformed = await second.call('POST', '/v1.41/swarm/unlock', { UnlockKey: 'nonsense' });
    assert.equal(malformed.status, 400);
    const wrong = await second.call('POST', '/v1.41/swarm/unlock', {
      UnlockKey: 'SWMKEY-1-' + 'A'.repeat(42) + 'E',
    });
    assert.equal(wrong.status, 400);
    assert.match((wrong.body as { message: string }).message, /invalid key/);
    assert.equal((await second.call('GET', '/v1.41/services')).status, 503, 'still locked');
    assert.equal((await second.call('POST', '/v1.41/swarm/unlock', { UnlockKey: key })).status, 200);
    const services = (await second.call('GET', '/v1.41/services')).body as { Spec: { Name: string } }[];
    assert.deepEqual(
      services.map((s) => s.Spec.Name),
      ['kept'],
    );
    const again = await second.call('POST', '/v1.41/swarm/unlock', { UnlockKey: key });
    assert.equal(again.status, 409);
    assert.match((again.body as { message: string }).message, /swarm is not locked/);
    // Rotating the unlock key: the old key no longer opens the state.
    const sw = (await second.call('GET', '/v1.41/swarm')).body as {
      Version: { Index: number };
      Spec: unknown;
    };
    assert.equal(
      (
        await second.call(
          'POST',
          `/v1.41/swarm/update?version=${sw.Version.Index}&rotateManagerUnlockKey=true`,
          sw.Spec,
        )
      ).status,
      200,
    );
    const rotated = ((await second.call('GET', '/v1.41/swarm/unlockkey')).body as { UnlockKey: string })
      .UnlockKey;
    assert.notEqual(rotated, key);
  } finally {
    await second.close();
  }
});
