export * from './types.js';
export * from './errors.js';
export { newId, isFullId } from './ids.js';
export { parseConstraints, matchConstraint } from './constraints.js';
export type { Constraint } from './constraints.js';
export {
  normalizeServiceSpec,
  validateNodeSpec,
  validateSwarmSpec,
  validateNetworkSpec,
  isValidName,
} from './validate.js';
export { parseFilters } from './filters.js';
export type { Filters } from './filters.js';
export type { DispatcherAPI, Assignment, TaskStatusUpdate } from './dispatcher.js';
export { stateOrder, isTerminal } from './taskstate.js';
