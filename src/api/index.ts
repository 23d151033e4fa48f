export * from './types.js';
export * from './errors.js';
export { newId, isFullId, setIdSource } from './ids.js';
export { parseConstraints, matchConstraint } from './constraints.js';
export { parseGenericResources, genericKind, genericResourceEnv } from './genericresource.js';
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
  MAX_REPLICAS,
  MAX_TIMER_NS,
  MAX_TASK_HISTORY,
  validateAddr,
  validateInitRequest,
  validateJoinRequest,
  DEFAULT_DATA_PATH_PORT,
  validateNodeDescription,
  validateTaskStatus,
  validateTaskId,
  validateNetworkId,
  validateNetworkRef,
  validateAttachmentAddress,
  validateAttachmentContainer,
  MAX_WORKER_TEXT,
} from './validate/index.js';
export type { DecodedObjectSpec, InitRequest, JoinRequest, ClusterNetworkConfig } from './validate/index.js';
export {
  check,
  checkBody,
  checkDepth,
  jsonDepth,
  MAX_JSON_DEPTH,
  int64,
  uint64,
  int32,
  uint32,
  duration,
} from './schema.js';
export type { Schema, GoInt } from './schema.js';
export {
  parseIp,
  formatIp,
  tryParseCidr,
  parseCidr,
  formatCidr,
  cidrContains,
  cidrsOverlap,
  lastOf,
  sizeOf,
  WIDTH,
} from './addr.js';
export type { Cidr, Family } from './addr.js';
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
  SessionChange,
  SessionMessage,
  LogNotice,
  NetworkAttachmentGrant,
} from './dispatcher.js';
export { ManagerList } from './managers.js';
export { stateOrder, isTerminal } from './taskstate.js';
export {
  API_VERSION,
  CLIENT_MAX_API_VERSION,
  MAX_API_VERSION,
  MIN_API_VERSION,
  SHOAL_VERSION,
} from './version.js';
export { parseTcpHost, PLAIN_PORT, TLS_PORT } from './hosts.js';
export {
  expandContainerSpec,
  expandPayload,
  expandTask,
  payloadError,
  swarmContext,
  TemplateError,
} from './template/index.js';
export type { NodeAssignment, PayloadSources, SwarmContext, TemplateNode } from './template/index.js';
export type * from './dataplane.js';
export { taskContainerName } from './dataplane.js';
