// Orchestration end to end on the simulated executor: real store, manager loops and agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { running, simCluster, spec, updateContainer } from './support/cluster.js';

const FAST = { RestartPolicy: { Condition: 'any', Delay: 0 } };
const fast = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  spec(name, { TaskTemplate: { ContainerSpec: { Image: 'busybox:local' }, ...FAST }, ...extra });

test('a replicated service converges, scales up and down', async () => {
  const c = await simCluster();
  try {
    const id = await c.manager.control.createService(fast('web', { Mode: { Replicated: { Replicas: 3 } } }));
    await c.waitFor('3 running', () => running(c.tasks(id)).length === 3);
    const s = c.service(id);
    await c.manager.control.updateService(
      id,
      s.Version.Index,
      { ...s.Spec, Mode: { Replicated: { Replicas: 5 } } },
      { rollback: false },
    );
    await c.waitFor('5 running', () => running(c.tasks(id)).length === 5);
    const s2 = c.service(id);
    await c.manager.control.updateService(
      id,
      s2.Version.Index,
      { ...s2.Spec, Mode: { Replicated: { Replicas: 1 } } },
      { rollback: false },
    );
    await c.waitFor(
      '1 running and containers stopped',
      () => running(c.tasks(id)).length === 1 && c.executor.running().length === 1,
    );
  } finally {
    await c.stop();
  }
});

test('a crashed task is replaced in its slot and the old one kept as history', async () => {
  const c = await simCluster();
  try {
    const id = await c.manager.control.createService(fast('web', { Mode: { Replicated: { Replicas: 2 } } }));
    await c.waitFor('2 running', () => running(c.tasks(id)).length === 2);
    const victim = running(c.tasks(id))[0]!;
    c.executor.kill(victim.ID, 137);
    await c.waitFor(
      'replacement running',
      () => running(c.tasks(id)).length === 2 && !running(c.tasks(id)).some((t) => t.ID === victim.ID),
    );
    const old = c.tasks(id).find((t) => t.ID === victim.ID)!;
    assert.equal(old.Status.State, 'failed');
    assert.equal(old.DesiredState, 'shutdown');
    assert.equal(old.Status.Err, 'task: non-zero exit (137)');
    assert.ok(
      running(c.tasks(id)).some((t) => t.Slot === victim.Slot),
      'the replacement is in the same slot',
    );
  } finally {
    await c.stop();
  }
});

test('restart condition none leaves a failed task alone; max attempts stops restarts', async () => {
  const c = await simCluster();
  try {
    const id = await c.manager.control.createService(
      spec('once', { TaskTemplate: { ContainerSpec: { Image: 'x' }, RestartPolicy: { Condition: 'none' } } }),
    );
    await c.waitFor('running', () => running(c.tasks(id)).length === 1);
    c.executor.kill(running(c.tasks(id))[0]!.ID, 1);
    await c.waitFor('failed', () => c.tasks(id).some((t) => t.Status.State === 'failed'));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(c.tasks(id).length, 1, 'no replacement was created');

    const id2 = await c.manager.control.createService(
      spec('twice', {
        TaskTemplate: {
          ContainerSpec: { Image: 'x' },
          RestartPolicy: { Condition: 'on-failure', Delay: 0, MaxAttempts: 2 },
        },
      }),
    );
    for (let i = 0; i < 3; i++) {
      await c.waitFor(`run ${i}`, () => running(c.tasks(id2)).length === 1);
      c.executor.kill(running(c.tasks(id2))[0]!.ID, 1);
      await c.waitFor(
        `fail ${i}`,
        () => c.tasks(id2).filter((t) => t.Status.State === 'failed').length === i + 1,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(c.tasks(id2).length, 3, 'one original plus two restarts');
  } finally {
    await c.stop();
  }
});

test('a rolling update replaces tasks in batches of Parallelism and completes', async () => {
  const c = await simCluster();
  try {
    const id = await c.manager.control.createService(
      fast('web', { Mode: { Replicated: { Replicas: 4 } }, UpdateConfig: { Parallelism: 2, Monitor: 50e6 } }),
    );
    await c.waitFor('4 running', () => running(c.tasks(id)).length === 4);
    let maxInFlight = 0;
    const off = c.store.subscribe(() => {
      const inflight = c
        .tasks(id)
        .filter((t) => t.DesiredState === 'shutdown' && t.Status.State !== 'shutdown').length;
      maxInFlight = Math.max(maxInFlight, inflight);
    });
    await updateContainer(c, id, (cs) => (cs.Env = ['A=1']));
    assert.equal(c.service(id).UpdateStatus?.State, 'updating');
    await c.waitFor('update completed', () => c.service(id).UpdateStatus?.State === 'completed');
    off();
    const live = running(c.tasks(id));
    assert.equal(live.length, 4);
    assert.ok(live.every((t) => t.Spec.ContainerSpec?.Env?.[0] === 'A=1'));
    assert.ok(maxInFlight <= 2, `at most 2 tasks stopped at once, saw ${maxInFlight}`);
    assert.equal(c.service(id).UpdateStatus?.Message, 'update completed');
  } finally {
    await c.stop();
  }
});

test('a failing update with FailureAction rollback rolls back by itself', async () => {
  const c = await simCluster({
    behaviour: (a) => (a.task.Spec.ContainerSpec?.Env?.includes('BROKEN=1') ? { exitCode: 1 } : {}),
  });
  try {
    const id = await c.manager.control.createService(
      fast('web', {
        Mode: { Replicated: { Replicas: 2 } },
        UpdateConfig: { Parallelism: 1, Monitor: 500e6, FailureAction: 'rollback' },
        RollbackConfig: { Parallelism: 0, Monitor: 50e6 },
      }),
    );
    await c.waitFor('2 running', () => running(c.tasks(id)).length === 2);
    await updateContainer(c, id, (cs) => (cs.Env = ['BROKEN=1']));
    await c.waitFor(
      'rollback completed',
      () => c.service(id).UpdateStatus?.State === 'rollback_completed',
      15_000,
    );
    const svc = c.service(id);
    assert.equal(svc.Spec.TaskTemplate?.ContainerSpec?.Env, undefined, 'the spec is the previous one again');
    await c.waitFor(
      '2 running old spec',
      () => running(c.tasks(id)).filter((t) => !t.Spec.ContainerSpec?.Env).length === 2,
    );
  } finally {
    await c.stop();
  }
});

test('a manual rollback restores the previous spec', async () => {
  const c = await simCluster();
  try {
    const id = await c.manager.control.createService(
      fast('web', { UpdateConfig: { Monitor: 10e6 }, RollbackConfig: { Monitor: 10e6 } }),
    );
    await c.waitFor('running', () => running(c.tasks(id)).length === 1);
    await updateContainer(c, id, (cs) => (cs.Args = ['v2']));
    await c.waitFor('updated', () => c.service(id).UpdateStatus?.State === 'completed');
    const s = c.service(id);
    await c.manager.control.updateService(id, s.Version.Index, s.Spec, { rollback: true });
    await c.waitFor('rolled back', () => c.service(id).UpdateStatus?.State === 'rollback_completed');
    assert.equal(c.service(id).Spec.TaskTemplate?.ContainerSpec?.Args, undefined);
    assert.deepEqual(running(c.tasks(id))[0]!.Spec.ContainerSpec?.Args, undefined);
  } finally {
    await c.stop();
  }
});

test('a replicated job runs TotalCompletions tasks, MaxConcurrent at a time', async () => {
  const c = await simCluster({ behaviour: () => ({ exitCode: 0 }) });
  try {
    const id = await c.manager.control.createService(
      spec('job', { Mode: { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 5 } } }),
    );
    await c.waitFor(
      '5 complete',
      () => c.tasks(id).filter((t) => t.Status.State === 'complete').length === 5,
    );
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(c.tasks(id).length, 5, 'no extra task after completion');
    assert.ok(c.tasks(id).every((t) => t.DesiredState === 'complete'));
    assert.ok(c.service(id).JobStatus?.LastExecution);
  } finally {
    await c.stop();
  }
});

test('a global service runs one task per eligible node and leaves a drained node', async () => {
  const c = await simCluster();
  try {
    const id = await c.manager.control.createService(fast('g', { Mode: { Global: {} } }));
    await c.waitFor('1 running', () => running(c.tasks(id)).length === 1);
    assert.equal(running(c.tasks(id))[0]!.NodeID, c.nodeId);
    const node = c.store.view((tx) => tx.get('nodes', c.nodeId)!);
    await c.manager.control.updateNode(c.nodeId, node.Version.Index, { ...node.Spec, Availability: 'drain' });
    await c.waitFor('drained', () => running(c.tasks(id)).length === 0 && c.executor.running().length === 0);
  } finally {
    await c.stop();
  }
});

test('task history is bounded by TaskHistoryRetentionLimit and removing a service removes its tasks', async () => {
  const c = await simCluster();
  try {
    const cl = c.store.view((tx) => tx.cluster()!);
    await c.manager.control.updateSwarm(
      cl.Version.Index,
      { ...cl.Spec, Orchestration: { TaskHistoryRetentionLimit: 2 } },
      { worker: false, manager: false, unlockKey: false },
    );
    const id = await c.manager.control.createService(fast('web'));
    for (let i = 0; i < 5; i++) {
      await c.waitFor('running', () => running(c.tasks(id)).length === 1);
      c.executor.kill(running(c.tasks(id))[0]!.ID, 1);
      await c.waitFor(
        'replaced',
        () => c.tasks(id).filter((t) => t.Status.State === 'failed').length >= Math.min(i + 1, 2),
      );
    }
    await c.waitFor(
      'history trimmed',
      () => c.tasks(id).filter((t) => t.Status.State === 'failed').length <= 2,
    );
    await c.manager.control.removeService(id);
    await c.waitFor('tasks gone', () => c.tasks(id).length === 0 && c.executor.containers.size === 0);
  } finally {
    await c.stop();
  }
});

test('a task that fits no node stays pending and says why', async () => {
  const c = await simCluster();
  try {
    const id = await c.manager.control.createService(
      spec('big', {
        TaskTemplate: {
          ContainerSpec: { Image: 'x' },
          Resources: { Reservations: { MemoryBytes: 64 * 1024 ** 3 } },
        },
      }),
    );
    await c.waitFor('pending with reason', () =>
      c.tasks(id).some((t) => t.Status.State === 'pending' && !!t.Status.Err),
    );
    assert.equal(c.tasks(id)[0]!.Status.Err, 'no suitable node (1 node had insufficient memory)');
  } finally {
    await c.stop();
  }
});

test('start-first starts the new task before stopping the old one', async () => {
  const c = await simCluster();
  try {
    const id = await c.manager.control.createService(
      fast('web', { UpdateConfig: { Order: 'start-first', Monitor: 10e6 } }),
    );
    await c.waitFor('running', () => running(c.tasks(id)).length === 1);
    let overlap = false;
    const off = c.store.subscribe(() => {
      if (c.executor.running().length >= 2) overlap = true;
    });
    await updateContainer(c, id, (cs) => (cs.Args = ['v2']));
    await c.waitFor('completed', () => c.service(id).UpdateStatus?.State === 'completed');
    off();
    assert.ok(overlap, 'old and new ran at the same time');
    assert.equal(running(c.tasks(id)).length, 1);
    assert.deepEqual(running(c.tasks(id))[0]!.Spec.ContainerSpec?.Args, ['v2']);
  } finally {
    await c.stop();
  }
});

test('FailureAction pause stops a failing update and says which task failed', async () => {
  const c = await simCluster({
    behaviour: (a) => (a.task.Spec.ContainerSpec?.Args?.[0] === 'broken' ? { exitCode: 2 } : {}),
  });
  try {
    const id = await c.manager.control.createService(
      fast('web', { Mode: { Replicated: { Replicas: 3 } }, UpdateConfig: { Monitor: 300e6 } }),
    );
    await c.waitFor('3 running', () => running(c.tasks(id)).length === 3);
    await updateContainer(c, id, (cs) => (cs.Args = ['broken']));
    await c.waitFor('paused', () => c.service(id).UpdateStatus?.State === 'paused');
    assert.match(
      c.service(id).UpdateStatus!.Message!,
      /^update paused due to failure or early termination of task \w{25}$/,
    );
    const oldStillRunning = running(c.tasks(id)).filter(
      (t) => t.Spec.ContainerSpec?.Args === undefined,
    ).length;
    assert.equal(oldStillRunning, 2, 'only the first slot was touched (parallelism 1)');
  } finally {
    await c.stop();
  }
});

test('a global job runs once on each eligible node and a job update runs it again', async () => {
  const c = await simCluster({ behaviour: () => ({ exitCode: 0 }) });
  try {
    const id = await c.manager.control.createService(spec('gj', { Mode: { GlobalJob: {} } }));
    await c.waitFor('complete', () => c.tasks(id).filter((t) => t.Status.State === 'complete').length === 1);
    const s = c.service(id);
    await c.manager.control.updateService(
      id,
      s.Version.Index,
      { ...s.Spec, Labels: { again: '1' } },
      { rollback: false },
    );
    assert.equal(c.service(id).JobStatus?.JobIteration.Index, 1);
    await c.waitFor(
      'second iteration complete',
      () => c.tasks(id).filter((t) => t.Status.State === 'complete').length === 2,
    );
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(c.tasks(id).length, 2);
  } finally {
    await c.stop();
  }
});

test('a delayed restart prepares the replacement and starts it after the delay', async () => {
  const c = await simCluster();
  try {
    const id = await c.manager.control.createService(
      spec('slow', {
        TaskTemplate: { ContainerSpec: { Image: 'x' }, RestartPolicy: { Condition: 'any', Delay: 400e6 } },
      }),
    );
    await c.waitFor('running', () => running(c.tasks(id)).length === 1);
    const t0 = Date.now();
    c.executor.kill(running(c.tasks(id))[0]!.ID, 1);
    await c.waitFor('replacement ready', () =>
      c.tasks(id).some((t) => t.DesiredState === 'ready' && t.Status.State === 'ready'),
    );
    await c.waitFor('replacement running', () => running(c.tasks(id)).length === 1);
    assert.ok(Date.now() - t0 >= 350, `restarted after ${Date.now() - t0} ms, before the 400 ms delay`);
  } finally {
    await c.stop();
  }
});

test('a failed job task is retried after the restart delay and the job then completes', async () => {
  let attempts = 0;
  const c = await simCluster({ behaviour: () => ({ exitCode: attempts++ === 0 ? 1 : 0 }) });
  try {
    const id = await c.manager.control.createService(
      spec('retry', {
        Mode: { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } },
        TaskTemplate: {
          ContainerSpec: { Image: 'x' },
          RestartPolicy: { Condition: 'on-failure', Delay: 300e6 },
        },
      }),
    );
    await c.waitFor('first attempt failed', () => c.tasks(id).some((t) => t.Status.State === 'failed'));
    const failedAt = Date.now();
    await c.waitFor('retry completed', () => c.tasks(id).some((t) => t.Status.State === 'complete'));
    assert.ok(
      Date.now() - failedAt >= 250,
      `retried after ${Date.now() - failedAt} ms, before the 300 ms delay`,
    );
    assert.equal(c.tasks(id).length, 2);
  } finally {
    await c.stop();
  }
});
