// Service logs across nodes: the leader's log broker asks each node's agent for its tasks' lines
// through the agent's session, in-process on the simulated executor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, SimExecutor } from '../src/agent/index.js';
import { systemClock } from '../src/platform/index.js';
import type { Node, TaskLogLine } from '../src/api/index.js';
import { DESCRIPTION, running, simCluster, spec, type SimCluster } from './support/cluster.js';

const NODE2 = 'simnode00000000000000002b';

/** A second node, with its own agent and executor, in the single-node sim cluster. */
async function secondNode(c: SimCluster): Promise<{ executor: SimExecutor; agent: Agent }> {
  await c.store.update((tx) => {
    const n1 = tx.get('nodes', c.nodeId)!;
    const n2 = structuredClone(n1) as Node;
    n2.ID = NODE2;
    n2.Description = { ...n2.Description, Hostname: 'sim2' };
    delete n2.ManagerStatus;
    n2.Spec = { ...n2.Spec, Role: 'worker' };
    tx.create('nodes', n2);
  });
  const executor = new SimExecutor({ ...DESCRIPTION, Hostname: 'sim2' });
  const agent = new Agent({
    nodeId: NODE2,
    addr: '127.0.0.2',
    dispatcher: c.manager.leader!.dispatcher,
    executor,
    clock: systemClock,
  });
  await agent.start();
  return { executor, agent };
}

test('the log broker gathers the lines of tasks on other nodes, then ends', async () => {
  const c = await simCluster();
  const n2 = await secondNode(c);
  try {
    const id = await c.manager.control.createService(spec('talk', { Mode: { Replicated: { Replicas: 4 } } }));
    await c.waitFor('4 running', () => running(c.tasks(id)).length === 4);
    const tasks = running(c.tasks(id));
    const onNode2 = tasks.filter((t) => t.NodeID === NODE2);
    assert.equal(onNode2.length, 2, 'spread over both nodes');
    for (const t of onNode2) for (let i = 0; i < 3; i++) n2.executor.print(t.ID, `${t.ID} line ${i}`);

    const got: TaskLogLine[] = [];
    await new Promise<void>((resolve) => {
      c.manager.leader!.dispatcher.logs.subscribe(
        {
          tasksByNode: new Map([[NODE2, onNode2.map((t) => t.ID)]]),
          follow: false,
          tail: 2,
        },
        { lines: (ls) => got.push(...ls), end: resolve },
      );
    });
    assert.equal(got.length, 4, 'the last 2 lines of each of the 2 tasks');
    for (const t of onNode2)
      assert.deepEqual(
        got.filter((l) => l.taskId === t.ID).map((l) => l.line),
        [`${t.ID} line 1`, `${t.ID} line 2`],
      );
    assert.equal(c.manager.leader!.dispatcher.logs.size, 0, 'the subscription is gone once ended');
  } finally {
    await n2.agent.stop();
    await c.stop();
  }
});

test('following a service: new lines, and tasks that start later on another node, until cancelled', async () => {
  const c = await simCluster();
  const n2 = await secondNode(c);
  try {
    const id = await c.manager.control.createService(spec('talk', { Mode: { Replicated: { Replicas: 2 } } }));
    await c.waitFor('2 running', () => running(c.tasks(id)).length === 2);
    const first = running(c.tasks(id)).find((t) => t.NodeID === NODE2)!;
    n2.executor.print(first.ID, 'before');

    const got: string[] = [];
    const cancel = c.manager.leader!.dispatcher.logs.subscribe(
      {
        tasksByNode: new Map([[NODE2, [first.ID]]]),
        follow: true,
        serviceId: id,
        excludeNode: c.nodeId,
      },
      { lines: (ls) => got.push(...ls.map((l) => l.line)), end: () => got.push('<end>') },
    );
    await c.waitFor('the line written before', () => got.includes('before'));
    n2.executor.print(first.ID, 'after');
    await c.waitFor('a line written while following', () => got.includes('after'));

    const s = c.service(id);
    await c.manager.control.updateService(
      id,
      s.Version.Index,
      { ...s.Spec, Mode: { Replicated: { Replicas: 4 } } },
      { rollback: false },
    );
    await c.waitFor('4 running', () => running(c.tasks(id)).length === 4);
    const later = running(c.tasks(id)).find((t) => t.NodeID === NODE2 && t.ID !== first.ID)!;
    n2.executor.print(later.ID, 'from a task that started later');
    await c.waitFor('the new task is followed', () => got.includes('from a task that started later'));
    // The manager's own node is read by the subscriber itself, never through the broker.
    const onNode1 = running(c.tasks(id)).find((t) => t.NodeID === c.nodeId)!;
    c.executor.print(onNode1.ID, 'local');

    cancel();
    await c.waitFor('the agent stops reading', () => n2.executor.followers === 0);
    n2.executor.print(first.ID, 'after cancel');
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(!got.includes('after cancel') && !got.includes('local') && !got.includes('<end>'));
  } finally {
    await n2.agent.stop();
    await c.stop();
  }
});
