export { ClusterServer, unary, toServiceError, fromServiceError } from './server.js';
export {
  ClusterServerCredentials,
  managerChannelCredentials,
  bootstrapChannelCredentials,
  CLUSTER_CHANNEL_OPTIONS,
} from './tls.js';
export type { TlsMaterial } from './tls.js';
export { authorize, authorizeIdentity, peerIdentity } from './peer.js';
export type { PeerPolicy } from './peer.js';
export * from './gen/shoal/v1/cluster.js';
export { GrpcRaftTransport, raftService, registerRaftService, MAX_RAFT_MESSAGE_BYTES } from './raft.js';
export type { GrpcRaftTransportOptions, RaftPeerStats, RaftServiceOptions } from './raft.js';
export {
  RaftServiceClient,
  RaftServiceService,
  StreamRaftMessageRequest,
  StreamRaftMessageResponse,
} from './gen/shoal/v1/raft.js';
export type { RaftServiceServer } from './gen/shoal/v1/raft.js';
export { notLeaderError, leaderHint, callLeader } from './leader.js';
export type { LeaderCallOptions } from './leader.js';
export { unaryCall } from './call.js';
export { toWireSession, fromWireSession, checkNetworkView } from './session.js';
export {
  ManagerServiceClient,
  ManagerServiceService,
  ForwardApiRequest,
  ForwardApiResponse,
  JoinRaftRequest,
  JoinRaftResponse,
  RaftMember,
  SubscribeLogsRequest,
  SubscribeLogsResponse,
} from './gen/shoal/v1/manager.js';
export type { ManagerServiceServer } from './gen/shoal/v1/manager.js';
export { managerService } from './manager.js';
export type { ManagerServiceOptions } from './manager.js';
