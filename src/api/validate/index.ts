// Validation of what comes from outside (API bodies, what workers send): the schemas of Docker's
// Go types (read by ../schema.ts, so a wrong type or an out-of-range number is a 400 that names
// the field, and unknown fields are dropped), then semantic checks per object, one file per area.
// Nothing here touches the store.
export {
  MAX_REPLICAS,
  MAX_TIMER_NS,
  MAX_TASK_HISTORY,
  MIN_HEARTBEAT_NS,
  MAX_HEARTBEAT_NS,
  MIN_CERT_EXPIRY_NS,
  MAX_CERT_EXPIRY_NS,
  isValidName,
} from './common.js';
export { normalizeServiceSpec } from './service.js';
export {
  validateNodeSpec,
  validateSwarmSpec,
  validateAddr,
  validateInitRequest,
  validateJoinRequest,
  DEFAULT_DATA_PATH_PORT,
} from './swarm.js';
export type { InitRequest, JoinRequest, ClusterNetworkConfig } from './swarm.js';
export {
  validateNetworkSpec,
  decodeBase64,
  decodeObjectSpec,
  validateSecretSpec,
  validateConfigSpec,
  MAX_SECRET_SIZE,
  MAX_CONFIG_SIZE,
} from './objects.js';
export type { DecodedObjectSpec } from './objects.js';
export {
  validateNodeDescription,
  validateTaskStatus,
  validateTaskId,
  validateNetworkId,
  validateNetworkRef,
  validateAttachmentAddress,
  validateAttachmentContainer,
  MAX_WORKER_TEXT,
} from './worker.js';
