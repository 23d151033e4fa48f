import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { planReplicated } from './replicated.js';
import { isLive } from './tasks.js';
import type { Service, Task, TaskState } from '../../api/index.js';

const NOW = Date.UTC(2026, 0, 1);

function service(replicas: number): Service {
  return {
    ID: 'svc',
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: {
      Name: 'web',
      Mode: { Replicated: { Replicas: replicas } },
      TaskTemplate: { ContainerSpec: { Image: 'x' } },
    },
    Endpoint: { Spec: {} },
  };
}

/** Applies a plan and then lets an idealised agent move every live task to RUNNING and every shut-down one to SHUTDOWN. */
function settle(tasks: Task[], plan: { create: Task[]; update: Task[] }): Task[] {
  const byId = new Map(tasks.map((t) => [t.ID, t]));
  for (const u of plan.update) byId.set(u.ID, u);
  for (const c of plan.create) byId.set(c.ID, c);
  return [...byId.values()].map((t) => ({
    ...t,
    Status: { ...t.Status, State: (isLive(t) ? 'running' : 'shutdown') as TaskState },
  }));
}

test('property: slot counts converge to replicas and no slot holds two running tasks', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 6 }),
      fc.array(fc.nat(50), { maxLength: 10 }),
      (scales, kills) => {
        let tasks: Task[] = [];
        for (const [round, replicas] of scales.entries()) {
          const svc = service(replicas);
          // Crash some running tasks between rounds (observed FAILED, still desired RUNNING): the
          // restart supervisor is tested elsewhere; here such slots must still count as occupied.
          const k = kills[round];
          if (k !== undefined && tasks.length > 0) {
            const victim = tasks[k % tasks.length]!;
            tasks = tasks.map((t) =>
              t.ID === victim.ID ? { ...t, DesiredState: 'shutdown' as TaskState } : t,
            );
          }
          for (let i = 0; i < 3; i++)
            tasks = settle(tasks, planReplicated({ service: svc, tasks, now: NOW, updating: false }));
          const live = tasks.filter((t) => isLive(t));
          assert.equal(live.length, replicas, 'live slots equal replicas');
          const slots = new Set(live.map((t) => t.Slot));
          assert.equal(slots.size, live.length, 'one live task per slot');
          const again = planReplicated({ service: svc, tasks, now: NOW, updating: false });
          assert.equal(
            again.create.length + again.update.length,
            0,
            'a settled service needs no changes (idempotent)',
          );
        }
      },
    ),
    { seed: 7, numRuns: 200 },
  );
});

test('scale down removes the highest slots that are not running first', () => {
  let tasks = settle([], planReplicated({ service: service(4), tasks: [], now: NOW, updating: false }));
  tasks = tasks.map((t) =>
    t.Slot === 2 ? { ...t, Status: { ...t.Status, State: 'starting' as TaskState } } : t,
  );
  const plan = planReplicated({ service: service(2), tasks, now: NOW, updating: false });
  assert.deepEqual(plan.update.map((t) => t.Slot).sort(), [2, 4]);
  assert.deepEqual(
    plan.update.map((t) => t.DesiredState),
    ['remove', 'remove'],
    "a removed slot's tasks are marked REMOVE, as Swarm marks them",
  );
});

test('during an update, a slot whose old task is still stopping is not refilled elsewhere', () => {
  const svc = service(2);
  let tasks = settle([], planReplicated({ service: svc, tasks: [], now: NOW, updating: false }));
  tasks = tasks.map((t) => (t.Slot === 1 ? { ...t, DesiredState: 'shutdown' as TaskState } : t));
  const plan = planReplicated({ service: svc, tasks, now: NOW, updating: true });
  assert.equal(plan.create.length, 0, 'slot 1 waits for its old task to stop');
  const stopped = tasks.map((t) =>
    t.Slot === 1 ? { ...t, Status: { ...t.Status, State: 'shutdown' as TaskState } } : t,
  );
  const plan2 = planReplicated({ service: svc, tasks: stopped, now: NOW, updating: true });
  assert.deepEqual(
    plan2.create.map((t) => t.Slot),
    [1],
  );
});

test('a slot two writers both refilled keeps one task (the running one) once no update runs', () => {
  const svc = service(2);
  const tasks = settle([], planReplicated({ service: svc, tasks: [], now: NOW, updating: false }));
  const twin: Task = {
    ...tasks.find((t) => t.Slot === 1)!,
    ID: 'twin',
    CreatedAt: '2026-01-02T00:00:00.000Z',
    Status: { ...tasks[0]!.Status, State: 'starting' },
  };
  const both = [...tasks, twin];
  assert.equal(planReplicated({ service: svc, tasks: both, now: NOW, updating: true }).update.length, 0);
  const plan = planReplicated({ service: svc, tasks: both, now: NOW, updating: false });
  assert.deepEqual(
    plan.update.map((t) => [t.ID, t.DesiredState]),
    [['twin', 'shutdown']],
  );
  assert.equal(plan.create.length, 0);
});

test('property: any number of duplicated slots settles to one live task per slot', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.nat(20), { maxLength: 12 }), (replicas, dups) => {
      const svc = service(replicas);
      let tasks = settle([], planReplicated({ service: svc, tasks: [], now: NOW, updating: false }));
      for (const [i, d] of dups.entries()) {
        const src = tasks.filter((t) => isLive(t))[d % replicas]!;
        tasks.push({ ...src, ID: `dup${i}` });
      }
      tasks = settle(tasks, planReplicated({ service: svc, tasks, now: NOW, updating: false }));
      const live = tasks.filter((t) => isLive(t));
      assert.equal(live.length, replicas);
      assert.equal(new Set(live.map((t) => t.Slot)).size, replicas);
    }),
    { seed: 11, numRuns: 200 },
  );
});
