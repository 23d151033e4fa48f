export { ClusterServer, unary, toServiceError } from './server.js';
export {
  ClusterServerCredentials,
  managerChannelCredentials,
  bootstrapChannelCredentials,
  CLUSTER_CHANNEL_OPTIONS,
} from './tls.js';
export type { TlsMaterial } from './tls.js';
export { authorize, authorizeIdentity, peerIdentity, RpcError } from './peer.js';
export type { PeerPolicy } from './peer.js';
export * from './gen/shoal/v1/cluster.js';
