import { TASK_STATES, type TaskState } from './types.js';

// Task states only move forward; their order is the order of TASK_STATES.
const ORDER = new Map<TaskState, number>(TASK_STATES.map((s, i) => [s, i]));
export function stateOrder(s: TaskState): number {
  return ORDER.get(s) ?? 0;
}
export function isTerminal(s: TaskState): boolean {
  return stateOrder(s) >= stateOrder('complete');
}
