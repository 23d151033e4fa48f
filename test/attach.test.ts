// Standalone containers' network attachments over the real carrier: the node's session client
// (gRPC over the cluster port, mutual TLS) asks the leader's dispatcher for an address, names its
// container and gives it back; the node is the one its certificate names. Refusals arrive with
// their codes and Docker's words; `network rm` waits while an attachment holds an address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withSwarm } from './support/daemon.js';

test('attachNetwork, updateAttachment and detachNetwork round trip over the cluster port', async () => {
  await withSwarm(async (h) => {
    const mk = async (name: string, attachable: boolean): Promise<string> => {
      const r = await h.call('POST', '/v1.41/networks/create', {
        Name: name,
        Driver: 'overlay',
        Attachable: attachable,
        IPAM: { Config: [{ Subnet: name === 'att' ? '10.77.0.0/24' : '10.78.0.0/24' }] },
      });
      assert.equal(r.status, 201, r.text);
      return (r.body as { Id: string }).Id;
    };
    const att = await mk('att', true);
    const closed = await mk('closed', false);
    const d = h.daemon.dispatcherClient!;
    const nodeId = h.daemon.nodeId!;
    // The session is opened by the agent in the background.
    const deadline = Date.now() + 10_000;
    let grant: { attachmentId: string; address: string } | undefined;
    while (!grant && Date.now() < deadline) {
      try {
        grant = await d.attachNetwork!('someone-else', att);
      } catch (e) {
        if (!/session/i.test((e as Error).message)) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.ok(grant);
    assert.equal(grant.address, '10.77.0.2/24');
    const tasks = h.daemon.manager.store.view((tx) => tx.all('tasks'));
    assert.equal(tasks.length, 1);
    // The node is the certificate's, whatever the caller said.
    assert.equal(tasks[0]!.NodeID, nodeId);
    assert.equal(tasks[0]!.ServiceID, '');

    await assert.rejects(d.attachNetwork!(nodeId, closed), (e: Error & { code?: string }) => {
      assert.match(e.message, /Could not attach to network closed: .*network closed not manually attachable/);
      return true;
    });
    await assert.rejects(d.updateAttachment!(nodeId, att, '10.77.0.2', 'nothex', 'c'), /container ID/);

    await d.updateAttachment!(nodeId, att, '10.77.0.2', 'ab'.repeat(32), '/standalone');
    const named = h.daemon.manager.store.view((tx) => tx.get('tasks', grant.attachmentId))!;
    assert.equal(named.Name, 'standalone');

    const rm = await h.call('DELETE', `/v1.41/networks/${att}`);
    assert.equal(rm.status, 400, rm.text);
    assert.match(rm.text, /in use by task/);

    await d.detachNetwork!(nodeId, att, '10.77.0.2/24');
    assert.equal(h.daemon.manager.store.view((tx) => tx.all('tasks')).length, 0);
    assert.equal((await h.call('DELETE', `/v1.41/networks/${att}`)).status, 204);
  });
});
