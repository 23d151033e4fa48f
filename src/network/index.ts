export { nextSubnet, nextAddress, gatewayOf, DEFAULT_ADDR_POOL, DEFAULT_SUBNET_SIZE } from './ipam.js';
export type { SandboxHost } from './sandboxhost.js';
export { execRunner, COMMAND_TIMEOUT_MS } from './command.js';
export type { CommandRunner, CommandResult } from './command.js';
export { macOf, ipv4Of } from './addresses.js';
export {
  Sandboxes,
  planSandbox,
  planPeers,
  wantedAddresses,
  vxlanName,
  isEncrypted,
  BRIDGE,
  OVERLAY_MTU,
  VXLAN_PORT,
  DEFAULT_NS_PREFIX,
} from './sandbox.js';
export type { SandboxesOptions, SandboxState, PeerState, Step } from './sandbox.js';
export { renderVipScript, renderVipUpdate, vipChains, planVips, VIP_TABLE } from './vip.js';
export type { VipPlan } from './vip.js';
export {
  planIngress,
  renderHostIngressScript,
  renderSandboxIngressScript,
  affinityBuckets,
  withPeerEndpoints,
  peerMark,
  INGRESS_TABLE,
  AFFINITY_BUCKETS,
  DEFAULT_TRANSIT,
} from './ingress.js';
export type { IngressPlan, MeshPort, MeshPeer, TransitLink } from './ingress.js';
export { IngressMesh } from './ingressmesh.js';
export type { IngressMeshOptions } from './ingressmesh.js';
export { NodeDataPlane, traceReady } from './nodeplane.js';
export type { NodeDataPlaneOptions } from './nodeplane.js';
export {
  PluginServer,
  ipLinks,
  shoalNetworkOf,
  NETWORK_ID_OPTION,
  NETWORK_VNI_OPTION,
  DEFAULT_PLUGIN_DIR,
  DEFAULT_PLUGIN_NAME,
} from './plugin/server.js';
export type { LinkOps, PluginServerOptions } from './plugin/server.js';
export { EngineNetworks } from './plugin/enginenets.js';
export type { EngineNetworksOptions } from './plugin/enginenets.js';
export {
  ShoalTaskNetworking,
  KERNEL_LACKS_ESP,
  resolverOf,
  standaloneResolvers,
} from './plugin/tasknetworking.js';
export type { ShoalTaskNetworkingOptions } from './plugin/tasknetworking.js';
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
export {
  answer as dnsAnswer,
  DnsResolver,
  parseUpstream,
  upstreamsFromResolvConf,
  RECORD_TTL,
} from './dns/index.js';
// The resolver's test and bench helpers: views, a seeded random, a stub client, a fake upstream.
export { seeded, testEndpoint, testNetwork, dnsQuery, FakeUpstream } from './dns/index.js';
export type { DnsResolverOptions, DnsStats, QueryInfo, Reply as DnsReply } from './dns/index.js';
