import type { Task } from '../../api/index.js';

/** What a reconciler wants written: new tasks, and changed copies of existing ones. */
export interface Plan {
  create: Task[];
  update: Task[];
}

export function emptyPlan(): Plan {
  return { create: [], update: [] };
}
