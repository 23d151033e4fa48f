// Orchestration end to end on the simulated executor: real store, manager loops and agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { running, simCluster, spec, updateContainer, type SimCluster } from './support/cluster.js';
import { serviceStatus } from '../src/httpapi/index.js';
import type { Task } from '../src/api/index.js';

const statusOf = (c: SimCluster, id: string): unknown =>
  c.store.view((tx) =>
    serviceStatus(tx, tx.get('services', id)!, new Map(tx.all('nodes').map((n) => [n.ID, n]))),
  );

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
    // As in Docker, the removed slots leave `service ps`: their tasks are deleted once stopped.
    const slot = running(c.tasks(id))[0]!.Slot;
    await c.waitFor('removed slots reaped', () => c.tasks(id).every((t) => t.Slot === slot));
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
    const s = c.service(id);
    const tt = structuredClone(s.Spec.TaskTemplate!);
    tt.ContainerSpec!.Env = ['BROKEN=1'];
    // The new spec comes with new registry credentials (`--with-registry-auth`).
    await c.manager.control.updateService(
      id,
      s.Version.Index,
      { ...s.Spec, TaskTemplate: tt },
      { rollback: false, registryAuth: 'bmV3' },
    );
    await c.waitFor(
      'rollback completed',
      () => c.service(id).UpdateStatus?.State === 'rollback_completed',
      15_000,
    );
    const svc = c.service(id);
    assert.equal(svc.Spec.TaskTemplate?.ContainerSpec?.Env, undefined, 'the spec is the previous one again');
    assert.equal(svc.RegistryAuth, undefined, 'the credentials went back with their spec');
    assert.equal(svc.PreviousRegistryAuth, 'bmV3');
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
  // Job tasks run until the test ends them, so how many run at once can be seen.
  const c = await simCluster();
  try {
    const id = await c.manager.control.createService(
      spec('job', { Mode: { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 5 } } }),
    );
    const unfinished = () => c.tasks(id).filter((t) => t.Status.State !== 'complete');
    for (let done = 0; done < 5;) {
      const expect = Math.min(2, 5 - done);
      await c.waitFor(`${expect} running`, () => c.executor.running().length === expect);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(unfinished().length, expect, `never more than MaxConcurrent tasks (${done} done)`);
      for (const ct of c.executor.running()) c.executor.kill(ct.taskId, 0);
      done += expect;
      await c.waitFor(
        `${done} complete`,
        () => c.tasks(id).filter((t) => t.Status.State === 'complete').length === done,
      );
    }
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
      const victim = running(c.tasks(id))[0]!.ID;
      c.executor.kill(victim, 1);
      await c.waitFor('replaced', () => running(c.tasks(id)).some((t) => t.ID !== victim));
    }
    // As in Swarm, the limit counts the running task: it and the one failure before it.
    await c.waitFor(
      'history trimmed',
      () =>
        c.tasks(id).length === 2 &&
        running(c.tasks(id)).length === 1 &&
        c.tasks(id).filter((t) => t.Status.State === 'failed').length === 1,
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
    assert.equal(c.tasks(id)[0]!.Status.Err, 'no suitable node (insufficient resources on 1 node)');
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
      fast('web', {
        Mode: { Replicated: { Replicas: 3 } },
        UpdateConfig: { Parallelism: 1, Monitor: 300e6 },
      }),
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
    // `service ls` then shows 0/0 (1/1 completed), as Docker does.
    assert.deepEqual(statusOf(c, id), { RunningTasks: 0, DesiredTasks: 0, CompletedTasks: 1 });
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
    assert.deepEqual(statusOf(c, id), { RunningTasks: 0, DesiredTasks: 0, CompletedTasks: 1 });
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

test('FailureAction continue: an update goes on through failing tasks and completes', async () => {
  const c = await simCluster({
    behaviour: (a) => (a.task.Spec.ContainerSpec?.Args?.[0] === 'broken' ? { exitCode: 2 } : {}),
  });
  try {
    const id = await c.manager.control.createService(
      fast('web', {
        Mode: { Replicated: { Replicas: 3 } },
        UpdateConfig: { Parallelism: 1, Monitor: 200e6, FailureAction: 'continue' },
      }),
    );
    await c.waitFor('3 running', () => running(c.tasks(id)).length === 3);
    await updateContainer(c, id, (cs) => (cs.Args = ['broken']));
    await c.waitFor('completed', () => c.service(id).UpdateStatus?.State === 'completed', 15_000);
    const slots = new Set(
      c
        .tasks(id)
        .filter((t) => t.Spec.ContainerSpec?.Args?.[0] === 'broken')
        .map((t) => t.Slot),
    );
    assert.equal(slots.size, 3, 'every slot got the new spec');
  } finally {
    await c.stop();
  }
});

test('MaxFailureRatio counts failures against all the slots of the update, as Swarm does', async () => {
  // Slots 1 and 2 fail with the new spec; no restarts, so each fails once.
  const c = await simCluster({
    behaviour: (a) =>
      a.task.Spec.ContainerSpec?.Args?.[0] === 'v2' && (a.task.Slot === 1 || a.task.Slot === 2)
        ? { exitCode: 2 }
        : {},
  });
  try {
    const make = (name: string, ratio: number) =>
      c.manager.control.createService(
        spec(name, {
          Mode: { Replicated: { Replicas: 4 } },
          TaskTemplate: { ContainerSpec: { Image: 'x' }, RestartPolicy: { Condition: 'none' } },
          UpdateConfig: { Parallelism: 1, Monitor: 200e6, FailureAction: 'pause', MaxFailureRatio: ratio },
        }),
      );
    const tolerant = await make('tolerant', 0.5);
    const strict = await make('strict', 0.3);
    await c.waitFor('8 running', () => running([...c.tasks(tolerant), ...c.tasks(strict)]).length === 8);
    await updateContainer(c, tolerant, (cs) => (cs.Args = ['v2']));
    await updateContainer(c, strict, (cs) => (cs.Args = ['v2']));
    // 2 failures of 4 slots: 0.5 is not above 0.5, so the update completes without the failed slots.
    await c.waitFor(
      'tolerant completed',
      () => c.service(tolerant).UpdateStatus?.State === 'completed',
      15_000,
    );
    assert.equal(running(c.tasks(tolerant)).length, 2);
    // 0.5 is above 0.3: paused at the second failure, not at the first (1 of 4 is 0.25).
    await c.waitFor('strict paused', () => c.service(strict).UpdateStatus?.State === 'paused', 15_000);
    const failedV2 = c.tasks(strict).filter((t) => t.Status.State === 'failed').length;
    assert.equal(failedV2, 2);
  } finally {
    await c.stop();
  }
});

test('UpdateConfig.Delay spaces the batches', async () => {
  const c = await simCluster();
  try {
    const id = await c.manager.control.createService(
      fast('web', {
        Mode: { Replicated: { Replicas: 3 } },
        UpdateConfig: { Parallelism: 1, Delay: 300e6, Monitor: 10e6 },
      }),
    );
    await c.waitFor('3 running', () => running(c.tasks(id)).length === 3);
    await updateContainer(c, id, (cs) => (cs.Args = ['v2']));
    await c.waitFor('completed', () => c.service(id).UpdateStatus?.State === 'completed', 15_000);
    const created = c
      .tasks(id)
      .filter((t) => t.Spec.ContainerSpec?.Args?.[0] === 'v2')
      .map((t) => Date.parse(t.CreatedAt))
      .sort((a, b) => a - b);
    assert.equal(created.length, 3);
    for (let i = 1; i < created.length; i++)
      assert.ok(
        created[i]! - created[i - 1]! >= 280,
        `batch ${i} began ${created[i]! - created[i - 1]!} ms after the last`,
      );
  } finally {
    await c.stop();
  }
});

test('a rollback that fails too is paused as rollback_paused', async () => {
  // Tasks fail with the new spec, and so do those the rollback starts.
  let rollingBack = (): boolean => false;
  const c = await simCluster({
    behaviour: (a) =>
      a.task.Spec.ContainerSpec?.Args?.[0] === 'broken' || rollingBack() ? { exitCode: 1 } : {},
  });
  try {
    const id = await c.manager.control.createService(
      fast('web', {
        Mode: { Replicated: { Replicas: 2 } },
        UpdateConfig: { Parallelism: 1, Monitor: 300e6, FailureAction: 'rollback' },
        RollbackConfig: { Parallelism: 1, Monitor: 300e6, FailureAction: 'pause' },
      }),
    );
    rollingBack = () => c.service(id).UpdateStatus?.State === 'rollback_started';
    await c.waitFor('2 running', () => running(c.tasks(id)).length === 2);
    await updateContainer(c, id, (cs) => (cs.Args = ['broken']));
    await c.waitFor('rollback paused', () => c.service(id).UpdateStatus?.State === 'rollback_paused', 15_000);
    assert.match(
      c.service(id).UpdateStatus!.Message!,
      /^rollback paused due to failure or early termination of task \w{25}$/,
    );
  } finally {
    await c.stop();
  }
});

/**
 * Watches a service's tasks for stop-first: a task of a slot (or a global node) must not be
 * meant to run while another task of it may still have a container (assigned, not yet stopped),
 * since the agent starts it at once. Returns the offences seen.
 */
function watchStopFirst(c: SimCluster, id: string): { offences: string[]; stop: () => void } {
  const offences: string[] = [];
  const order = ['assigned', 'accepted', 'preparing', 'ready', 'starting', 'running'];
  const mayRun = (t: Task): boolean => order.includes(t.Status.State);
  const key = (x: Task): string => (x.Slot !== undefined ? `s${x.Slot}` : `n${x.NodeID}`);
  const stop = c.store.subscribe((e) => {
    if (e.kind !== 'commit') return;
    const tasks = c.tasks(id);
    for (const t of tasks) {
      if (
        t.DesiredState !== 'running' ||
        !(mayRun(t) || t.Status.State === 'pending' || t.Status.State === 'new')
      )
        continue;
      for (const other of tasks)
        if (other.ID !== t.ID && key(other) === key(t) && other.DesiredState !== 'running' && mayRun(other))
          offences.push(`${t.ID} is to run while ${other.ID} is still ${other.Status.State}`);
    }
  });
  return { offences, stop };
}

for (const mode of ['replicated', 'global'] as const) {
  test(`a ${mode} rollback with RollbackConfig.Order stop-first never runs old and new side by side`, async () => {
    const c = await simCluster();
    try {
      const id = await c.manager.control.createService(
        fast('web', {
          Mode: mode === 'global' ? { Global: {} } : { Replicated: { Replicas: 2 } },
          UpdateConfig: { Monitor: 10e6, Order: 'start-first' },
          RollbackConfig: { Monitor: 10e6, Order: 'stop-first' },
        }),
      );
      const want = mode === 'global' ? 1 : 2;
      await c.waitFor('running', () => running(c.tasks(id)).length === want);
      await updateContainer(c, id, (cs) => (cs.Args = ['v2']));
      await c.waitFor('updated', () => c.service(id).UpdateStatus?.State === 'completed');
      await c.waitFor('old tasks stopped', () =>
        c.tasks(id).every((t) => t.DesiredState === 'running' || t.Status.State === 'shutdown'),
      );
      const watch = watchStopFirst(c, id);
      const s = c.service(id);
      await c.manager.control.updateService(id, s.Version.Index, s.Spec, { rollback: true });
      await c.waitFor('rolled back', () => c.service(id).UpdateStatus?.State === 'rollback_completed');
      await c.waitFor('all back', () => running(c.tasks(id)).length === want);
      watch.stop();
      assert.deepEqual(watch.offences, []);
      assert.ok(running(c.tasks(id)).every((t) => t.Spec.ContainerSpec?.Args === undefined));
    } finally {
      await c.stop();
    }
  });
}
