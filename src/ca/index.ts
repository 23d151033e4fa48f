export {
  MANAGER_OU,
  WORKER_OU,
  ROOT_CN,
  ROOT_VALIDITY_MS,
  DEFAULT_NODE_CERT_VALIDITY_MS,
  CLOCK_SKEW_MS,
  createRootCA,
  createKeyAndCsr,
  signNodeCertificate,
  crossSignRoot,
  identityOf,
  verifyNodeCertificate,
  renewalDelayMs,
  splitPemCertificates,
  tlsInfoOf,
  signedByRoot,
} from './pki.js';
export type { NodeRole, CertKey, NodeIdentity } from './pki.js';
export {
  rootDigest,
  generateJoinToken,
  parseJoinToken,
  checkRootDigest,
  joinTokenMatches,
  rebaseJoinToken,
} from './tokens.js';
export { JoinRateLimiter } from './ratelimit.js';
export { KeyStore, formatUnlockKey, newUnlockKey, parseUnlockKey } from './keystore.js';
