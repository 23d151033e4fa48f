// A node's own overlay addresses (Node.NetworkAddrs, the allocator's bookkeeping) never leave
// the store through the API, as a service's registry credentials do not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withSwarm } from './support/daemon.js';

test("a node's own overlay addresses are never shown by the API", async () => {
  await withSwarm(async (h) => {
    const store = h.daemon.manager.store;
    const id = store.view((tx) => tx.all('nodes')[0]!.ID);
    await store.update((tx) => {
      const n = tx.get('nodes', id)!;
      tx.update('nodes', { ...n, NetworkAddrs: { net1: '10.0.9.77/24' } });
    });
    for (const url of [
      `/v1.41/nodes/${id}`,
      '/v1.41/nodes',
      `/v1.41/nodes?filters=${encodeURIComponent(JSON.stringify({ id: { [id]: true } }))}`,
      `/v1.41/events?since=0&until=${Math.ceil(Date.now() / 1000) + 1}`,
    ]) {
      const r = await h.call('GET', url);
      assert.equal(r.status, 200, `${url}: ${r.text}`);
      if (url.includes('/nodes')) assert.ok(r.text.includes(id), `${url} shows the node`);
      assert.doesNotMatch(r.text, /NetworkAddrs|10\.0\.9\.77/, url);
    }
  });
});
