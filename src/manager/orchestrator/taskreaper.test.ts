import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Task, TaskState } from '../../api/index.js';
import { tasksToReap } from './taskreaper.js';

let seq = 0;
function task(slot: number, state: TaskState, desired: TaskState = 'shutdown'): Task {
  seq++;
  return {
    ID: `t${String(seq).padStart(3, '0')}`,
    Version: { Index: seq },
    CreatedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
    UpdatedAt: '',
    ServiceID: 's1',
    Slot: slot,
    Spec: { ContainerSpec: { Image: 'x' } },
    DesiredState: desired,
    Status: { Timestamp: '', State: state, Message: '' },
  } as Task;
}

test('the history limit counts every task of a slot, the running one included, and reaps the oldest', () => {
  const dead = Array.from({ length: 7 }, () => task(1, 'failed'));
  const live = task(1, 'running', 'running');
  const reaped = tasksToReap([live, ...dead], 5, true);
  // 8 tasks, limit 5: the 3 oldest failures go; the running task and the 4 newest stay.
  assert.deepEqual(
    reaped.sort(),
    dead.slice(0, 3).map((t) => t.ID),
  );
});

test('a slot within the limit, and tasks still running, are never reaped', () => {
  const slot2 = [task(2, 'running', 'running'), task(2, 'failed'), task(2, 'shutdown')];
  assert.deepEqual(tasksToReap(slot2, 5, true), []);
  // A slot made only of tasks still running (a start-first update) keeps them all.
  const busy = [task(3, 'running', 'shutdown'), task(3, 'running', 'running')];
  assert.deepEqual(tasksToReap(busy, 1, true), []);
});

test('tasks of a removed service go once they stopped or never reached a node', () => {
  const ts = [task(1, 'running', 'remove'), task(1, 'complete', 'remove'), task(2, 'pending', 'remove')];
  assert.deepEqual(tasksToReap(ts, 5, false).sort(), [ts[1]!.ID, ts[2]!.ID].sort());
});

test('a slot removed by a scale-down goes whole once its containers have stopped, as in Swarm', () => {
  const history = [task(3, 'failed'), task(3, 'shutdown')];
  const stopping = task(3, 'running', 'remove');
  // While the REMOVE task's container stops, its history goes and the task stays as the mark.
  assert.deepEqual(tasksToReap([...history, stopping], 5, true).sort(), history.map((t) => t.ID).sort());
  const stopped = { ...stopping, Status: { ...stopping.Status, State: 'shutdown' as const } };
  assert.deepEqual(tasksToReap([stopped], 5, true), [stopped.ID]);
  // An old task still stopping keeps the mark until it has stopped too.
  const old = task(4, 'running', 'shutdown');
  const removed = task(4, 'shutdown', 'remove');
  assert.deepEqual(tasksToReap([old, removed], 5, true), []);
  // A REMOVE task never given to a node goes at once.
  const unplaced = task(5, 'pending', 'remove');
  assert.deepEqual(tasksToReap([unplaced], 5, true), [unplaced.ID]);
});

test('a slot filled again keeps its history under the limit; its stopped REMOVE task goes', () => {
  const removed = task(6, 'shutdown', 'remove');
  const history = task(6, 'failed');
  const refilled = task(6, 'running', 'running');
  assert.deepEqual(tasksToReap([removed, history, refilled], 5, true), [removed.ID]);
});
