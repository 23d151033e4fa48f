export * from './types.js';
export * from './errors.js';
export { newId, isFullId, setIdSource } from './ids.js';
export { parseConstraints, matchConstraint } from './constraints.js';
export type { Constraint } from './constraints.js';
export {
  normalizeServiceSpec,
  validateNodeSpec,
  validateSwarmSpec,
  validateNetworkSpec,
  isValidName,
  decodeBase64,
  decodeObjectSpec,
  validateSecretSpec,
  validateConfigSpec,
  MAX_SECRET_SIZE,
  MAX_CONFIG_SIZE,
} from './validate.js';
export type { DecodedObjectSpec } from './validate.js';
export { parseFilters } from './filters.js';
export type { Filters } from './filters.js';
export type {
  DispatcherAPI,
  Assignment,
  TaskStatusUpdate,
  Payload,
  SessionHandlers,
  AgentSession,
  TlsTarget,
  LogSubscription,
  TaskLogLine,
} from './dispatcher.js';
export { stateOrder, isTerminal } from './taskstate.js';
