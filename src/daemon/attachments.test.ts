import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkView } from '../api/index.js';
import { Attachments, type AttachmentDispatcher } from './attachments.js';

const view = (endpoints: NetworkView['endpoints']): NetworkView => ({
  id: 'net1',
  name: 'att',
  vni: 4100,
  subnets: [{ subnet: '10.0.9.0/24', gateway: '10.0.9.1' }],
  attachable: true,
  internal: false,
  ingress: false,
  options: {},
  endpoints,
  services: [],
});
const ep = (id: string, addr: string, name = id): NetworkView['endpoints'][number] => ({
  id,
  name,
  aliases: [],
  addresses: [`${addr}/24`],
  nodeId: 'n1',
  nodeAddr: '192.168.0.1',
  ready: true,
});

function harness(containers: { Id: string; Names: string[]; ip: string }[]) {
  const calls: string[] = [];
  const d: AttachmentDispatcher = {
    attachNetwork: (_n, net) => {
      calls.push(`attach ${net}`);
      return Promise.resolve({ attachmentId: 'a1', address: '10.0.9.5/24' });
    },
    detachNetwork: (_n, net, addr) => {
      calls.push(`detach ${net} ${addr}`);
      return Promise.resolve();
    },
    updateAttachment: (_n, net, addr, id, name) => {
      calls.push(`update ${net} ${addr} ${id} ${name}`);
      return Promise.resolve();
    },
  };
  let views = new Map<string, NetworkView>();
  let now = 1000;
  const a = new Attachments({
    nodeId: 'n1',
    engine: {
      call: <T>(_m: string, path: string): Promise<T> => {
        assert.match(decodeURIComponent(path), /"network":\["att"\]/);
        return Promise.resolve(
          containers.map((c) => ({
            Id: c.Id,
            Names: c.Names,
            NetworkSettings: { Networks: { att: { IPAddress: c.ip } } },
          })) as T,
        );
      },
    },
    dispatcher: () => d,
    views: () => views,
    log: () => undefined,
    now: () => now,
  });
  return {
    a,
    calls,
    setViews: (v: NetworkView[]) => (views = new Map(v.map((x) => [x.id, x]))),
    advance: (ms: number) => (now += ms),
  };
}

test('a granted address is named after its container once the engine lists it', async () => {
  const h = harness([{ Id: 'c'.repeat(64), Names: ['/standalone'], ip: '10.0.9.5' }]);
  assert.equal(await h.a.request('net1'), '10.0.9.5/24');
  h.setViews([view([ep('a1', '10.0.9.5'), { ...ep('t1', '10.0.9.7'), serviceId: 's1' }])]);
  await h.a.sync();
  assert.deepEqual(h.calls, ['attach net1', `update net1 10.0.9.5 ${'c'.repeat(64)} standalone`]);
  h.a.stop();
});

test('an attachment no container holds is detached, but not while its container starts', async () => {
  const h = harness([]);
  await h.a.request('net1');
  h.setViews([view([ep('a1', '10.0.9.5'), ep('old', '10.0.9.9', 'gone')])]);
  await h.a.sync();
  // The one granted just now waits; the leaked one (a release missed across a restart) goes.
  assert.deepEqual(h.calls, ['attach net1', 'detach net1 10.0.9.9']);
  h.advance(61_000);
  await h.a.sync();
  assert.deepEqual(h.calls.slice(2), ['detach net1 10.0.9.5', 'detach net1 10.0.9.9']);
  await h.a.release('net1', '10.0.9.5/24');
  assert.equal(h.calls.at(-1), 'detach net1 10.0.9.5/24');
  h.a.stop();
});

test('a reservation ahead of a create (by name) is what the engine next gets on that network', async () => {
  const h = harness([]);
  const v = view([ep('a1', '10.0.9.5')]);
  const got = await h.a.reserve('att', (id) => {
    assert.equal(id, 'a1');
    return Promise.resolve(v);
  });
  assert.equal(got.id, 'net1');
  // The engine's IPAM asks by ID: the reserved address, no second attachment.
  assert.equal(await h.a.request('net1'), '10.0.9.5/24');
  assert.deepEqual(h.calls, ['attach att']);
  // The next one is a fresh grant.
  await h.a.request('net1');
  assert.deepEqual(h.calls, ['attach att', 'attach net1']);
  h.a.stop();
});

test('a reservation no create takes is detached after the grace', async () => {
  const h = harness([]);
  const v = view([ep('a1', '10.0.9.5')]);
  await h.a.reserve('att', () => Promise.resolve(v));
  h.setViews([v]);
  await h.a.sync();
  assert.deepEqual(h.calls, ['attach att']);
  h.advance(61_000);
  await h.a.sync();
  assert.deepEqual(h.calls, ['attach att', 'detach net1 10.0.9.5']);
  // Gone with it: the engine's next request is a fresh grant.
  await h.a.request('net1');
  assert.equal(h.calls.at(-1), 'attach net1');
  h.a.stop();
});

test('a reservation whose view reaches a pass before reserve() sees it is not taken for a leak', async () => {
  const h = harness([]);
  const v = view([ep('a1', '10.0.9.5')]);
  await h.a.reserve('att', async () => {
    // The view arrives and a pass runs while reserve() still waits on its own lookup.
    h.setViews([v]);
    await h.a.sync();
    return v;
  });
  assert.deepEqual(h.calls, ['attach att'], 'no detach');
  assert.equal(await h.a.request('net1'), '10.0.9.5/24');
  h.a.stop();
});
