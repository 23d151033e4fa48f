export { nextSubnet, nextAddress, gatewayOf, DEFAULT_ADDR_POOL, DEFAULT_SUBNET_SIZE } from './ipam.js';
export {
  detectEncryptionSupport,
  encryptedNetworkRefusal,
  encryptionRefusal,
  encryptionSupport,
  encryptionUnsupported,
  missingFromConfig,
  probeEncryption,
  ENCRYPTION_CONFIG,
  type EncryptionSupport,
} from './kernel.js';
