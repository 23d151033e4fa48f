import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Task, TaskState } from '../../api/index.js';
import { acknowledged, type WireTask } from './remote.js';

const status = (State: TaskState, Message: string = State): Task['Status'] => ({
  Timestamp: '2026-01-01T00:00:00Z',
  State,
  Message,
  PortStatus: {},
});

function cached(state: TaskState): Map<string, WireTask> {
  const task = {
    ID: 't1',
    Version: { Index: 3 },
    Status: status(state),
    DesiredState: 'running',
  } as unknown as Task;
  return new Map([['t1', { task, serviceName: 'web', serviceLabels: {} }]]);
}

test("a taken report moves the session's copy of the task (the manager sends no echo)", () => {
  const tasks = cached('assigned');
  acknowledged(tasks, [{ taskId: 't1', status: status('running') }]);
  assert.equal(tasks.get('t1')!.task.Status.State, 'running');
  assert.equal(tasks.get('t1')!.task.DesiredState, 'running', 'the rest of the task is the manager’s');
  // Never backwards (an older report answered late), and news in the same state is kept.
  acknowledged(tasks, [{ taskId: 't1', status: status('starting') }]);
  assert.equal(tasks.get('t1')!.task.Status.State, 'running');
  acknowledged(tasks, [{ taskId: 't1', status: status('running', 'healthy') }]);
  assert.equal(tasks.get('t1')!.task.Status.Message, 'healthy');
  // A task the session does not hold is not invented.
  acknowledged(tasks, [{ taskId: 't2', status: status('running') }]);
  assert.equal(tasks.size, 1);
});
