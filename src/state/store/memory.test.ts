import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_CHANGES_PER_ENTRY, MemoryStore, type Change, type Proposer, type StoreEvent } from './memory.js';
import { ShoalError, type Service } from '../../api/index.js';

class CountingProposer implements Proposer {
  index = 0;
  proposals: Change[][] = [];
  fail = false;
  propose(changes: readonly Change[]): Promise<number> {
    if (this.fail) return Promise.reject(new Error('disk full'));
    this.proposals.push([...changes]);
    return Promise.resolve(++this.index);
  }
}

function svc(id: string, name: string): Service {
  return {
    ID: id,
    Version: { Index: 0 },
    CreatedAt: '2026-01-01T00:00:00Z',
    UpdatedAt: '2026-01-01T00:00:00Z',
    Spec: { Name: name, TaskTemplate: { ContainerSpec: { Image: 'x' } } },
    Endpoint: { Spec: {} },
  };
}

test('a committed write gets the entry index as its Version.Index', async () => {
  const p = new CountingProposer();
  const store = new MemoryStore(p);
  await store.update((tx) => tx.create('services', svc('a'.repeat(25), 'web')));
  const s = store.view((tx) => tx.get('services', 'a'.repeat(25)))!;
  assert.equal(s.Version.Index, 1);
  assert.ok(Object.isFrozen(s) && Object.isFrozen(s.Spec), 'readers get frozen objects');
});

test('a stale version is rejected as "update out of sequence" and nothing is proposed', async () => {
  const p = new CountingProposer();
  const store = new MemoryStore(p);
  await store.update((tx) => tx.create('services', svc('a'.repeat(25), 'web')));
  await store.update((tx) => {
    const s = tx.get('services', 'a'.repeat(25))!;
    tx.update('services', { ...s, Spec: { ...s.Spec, Labels: { v: '2' } } });
  });
  const before = p.proposals.length;
  await assert.rejects(
    store.update((tx) => tx.update('services', { ...svc('a'.repeat(25), 'web'), Version: { Index: 1 } })),
    (e: unknown) => e instanceof ShoalError && e.message === 'update out of sequence',
  );
  assert.equal(p.proposals.length, before);
});

test('names are unique per table and a failed transaction changes nothing', async () => {
  const store = new MemoryStore(new CountingProposer());
  await store.update((tx) => tx.create('services', svc('a'.repeat(25), 'web')));
  await assert.rejects(
    store.update((tx) => {
      tx.create('services', svc('b'.repeat(25), 'other'));
      tx.create('services', svc('c'.repeat(25), 'web'));
    }),
    /service web already exists/,
  );
  assert.equal(
    store.view((tx) => tx.all('services')).length,
    1,
    'the first create of the failed transaction is not kept',
  );
});

test('a proposer failure leaves the store unchanged', async () => {
  const p = new CountingProposer();
  const store = new MemoryStore(p);
  p.fail = true;
  await assert.rejects(
    store.update((tx) => tx.create('services', svc('a'.repeat(25), 'web'))),
    /disk full/,
  );
  assert.equal(store.view((tx) => tx.all('services')).length, 0);
  p.fail = false;
  await store.update((tx) => tx.create('services', svc('a'.repeat(25), 'web')));
  assert.equal(store.view((tx) => tx.all('services')).length, 1);
});

test('watchers get one event per change, then one commit event', async () => {
  const store = new MemoryStore(new CountingProposer());
  const seen: StoreEvent[] = [];
  store.subscribe((e) => seen.push(e));
  await store.update((tx) => {
    tx.create('services', svc('a'.repeat(25), 'web'));
    tx.create('services', svc('b'.repeat(25), 'db'));
  });
  assert.deepEqual(
    seen.map((e) => (e.kind === 'commit' ? `commit ${e.index}` : `${e.change.action} ${e.change.table}`)),
    ['create services', 'create services', 'commit 1'],
  );
});

test('lookup resolves a full ID, a name, or a unique ID prefix', async () => {
  const store = new MemoryStore(new CountingProposer());
  await store.update((tx) => {
    tx.create('services', svc('abc' + '0'.repeat(22), 'web'));
    tx.create('services', svc('abd' + '0'.repeat(22), 'db'));
  });
  store.view((tx) => {
    assert.equal(tx.lookup('services', 'web')?.Spec.Name, 'web');
    assert.equal(tx.lookup('services', 'abc')?.Spec.Name, 'web');
    assert.equal(tx.lookup('services', 'ab'), undefined, 'an ambiguous prefix resolves to nothing');
    assert.equal(tx.lookup('services', 'zzz'), undefined);
  });
});

test('the task indexes by service and node follow updates', async () => {
  const store = new MemoryStore(new CountingProposer());
  const task = {
    ID: 't'.repeat(25),
    Version: { Index: 0 },
    CreatedAt: '',
    UpdatedAt: '',
    Labels: {},
    Spec: {},
    ServiceID: 's1',
    Status: { Timestamp: '', State: 'pending' as const, Message: '', PortStatus: {} },
    DesiredState: 'running' as const,
  };
  await store.update((tx) => tx.create('tasks', task));
  await store.update((tx) => tx.update('tasks', { ...tx.get('tasks', task.ID)!, NodeID: 'n1' }));
  store.view((tx) => {
    assert.equal(tx.tasksByService('s1').length, 1);
    assert.equal(tx.tasksByNode('n1').length, 1);
  });
  await store.update((tx) => tx.remove('tasks', task.ID));
  store.view((tx) => {
    assert.equal(tx.tasksByService('s1').length, 0);
    assert.equal(tx.tasksByNode('n1').length, 0);
  });
});

test('label and desired-state indexes answer by key and by key=value, inside and outside transactions', async () => {
  const store = new MemoryStore(new CountingProposer());
  const labelled = {
    ...svc('a'.repeat(25), 'web'),
    Spec: { ...svc('a'.repeat(25), 'web').Spec, Labels: { tier: 'front' } },
  };
  await store.update((tx) => {
    tx.create('services', labelled);
    tx.create('services', svc('b'.repeat(25), 'db'));
    assert.deepEqual(
      tx.by('services', 'label', 'tier=front').map((s) => s.Spec.Name),
      ['web'],
      'a transaction sees its own writes',
    );
  });
  store.view((tx) => {
    assert.deepEqual(
      tx.by('services', 'label', 'tier').map((s) => s.Spec.Name),
      ['web'],
    );
    assert.deepEqual(tx.by('services', 'label', 'tier=back'), []);
  });
  await store.update((tx) => {
    const s = tx.get('services', 'a'.repeat(25))!;
    tx.update('services', { ...s, Spec: { ...s.Spec, Labels: {} } });
    assert.deepEqual(
      tx.by('services', 'label', 'tier'),
      [],
      'a write that drops the label leaves the index at once',
    );
  });
  assert.deepEqual(
    store.view((tx) => tx.by('services', 'label', 'tier')),
    [],
  );
  assert.throws(() => store.view((tx) => tx.by('services', 'nosuchindex', 'x')), /has no index nosuchindex/);
});

test('a restored snapshot reaches watchers as the changes it makes, then a commit at its index', async () => {
  const leader = new MemoryStore(new CountingProposer());
  const follower = new MemoryStore(new CountingProposer());
  const [a, b, c] = ['a', 'b', 'c'].map((x) => x.repeat(25)) as [string, string, string];
  await follower.update((tx) => {
    tx.create('services', svc(a, 'kept'));
    tx.create('services', svc(b, 'gone'));
  });
  await leader.update((tx) => {
    tx.create('services', svc(a, 'kept'));
    tx.create('services', svc(b, 'gone'));
  });
  await leader.update((tx) => {
    tx.remove('services', b);
    tx.create('services', svc(c, 'new'));
  });
  const seen: string[] = [];
  follower.subscribe((e) =>
    seen.push(e.kind === 'commit' ? `commit ${e.index}` : `${e.change.action} ${e.change.object.ID[0]}`),
  );
  follower.restore(leader.snapshot());
  assert.deepEqual(seen.sort(), ['commit 2', 'create c', 'remove b']);
  assert.deepEqual(follower.view((tx) => tx.all('services').map((s) => s.Spec.Name)).sort(), ['kept', 'new']);
});

test('batch splits a large write into entries of bounded size; one transaction past the bound writes nothing', async () => {
  const p = new CountingProposer();
  const store = new MemoryStore(p);
  const ids = Array.from({ length: 1200 }, (_, i) => i.toString(36).padStart(25, '0'));
  await store.batch(ids, (tx, id) => tx.create('services', svc(id, `s-${id}`)), 500);
  assert.deepEqual(
    p.proposals.map((c) => c.length),
    [500, 500, 200],
  );
  assert.equal(store.view((tx) => tx.all('services')).length, 1200);
  assert.equal(store.view((tx) => tx.get('services', ids[1199]!))!.Version.Index, 3);

  const many = Array.from({ length: MAX_CHANGES_PER_ENTRY + 1 }, (_, i) => `x${i}`.padStart(25, 'x'));
  await assert.rejects(
    store.update((tx) => {
      for (const id of many) tx.create('services', svc(id, `m-${id}`));
    }),
    /use batch\(\)/,
  );
  assert.equal(p.proposals.length, 3, 'nothing was proposed');
  assert.equal(store.view((tx) => tx.all('services')).length, 1200);
});
