import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalLog } from './locallog.js';
import { MemoryStore } from './store/memory.js';
import type { Network } from '../api/index.js';

function net(i: number): Network {
  return {
    ID: String(i).padStart(25, '0'),
    Version: { Index: 0 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Name: `net${i}` },
    DriverState: { Name: 'overlay' },
    IPAMOptions: { Driver: { Name: 'default' }, Configs: [] },
  };
}

test('state survives a restart through WAL replay, and through snapshot plus WAL', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-log-'));
  const log = new LocalLog(dir, { snapshotEvery: 5 });
  const store = new MemoryStore(log);
  await log.open(store);
  for (let i = 0; i < 12; i++) await store.update((tx) => tx.create('networks', net(i)));
  await log.snapshot();
  await store.update((tx) => tx.remove('networks', net(3).ID));
  await log.close();

  const log2 = new LocalLog(dir);
  const store2 = new MemoryStore(log2);
  await log2.open(store2);
  assert.equal(store2.index, store.index);
  assert.deepEqual(
    store2.view((tx) => tx.all('networks').map((n) => n.Spec.Name)).sort(),
    store.view((tx) => tx.all('networks').map((n) => n.Spec.Name)).sort(),
  );
  assert.equal(
    store2.view((tx) => tx.byName('networks', 'net3')),
    undefined,
  );
  // New writes continue the index sequence.
  await store2.update((tx) => tx.create('networks', net(99)));
  assert.equal(store2.view((tx) => tx.get('networks', net(99).ID))?.Version.Index, store.index + 1);
  await log2.close();
});
