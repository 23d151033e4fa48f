export { nextSubnet, nextAddress, gatewayOf, DEFAULT_ADDR_POOL, DEFAULT_SUBNET_SIZE } from './ipam.js';
export { macOf } from './mac.js';
export type { SandboxHost } from './sandboxhost.js';
export {
  PluginServer,
  ipLinks,
  shoalNetworkOf,
  NETWORK_ID_OPTION,
  NETWORK_VNI_OPTION,
  DEFAULT_PLUGIN_DIR,
  DEFAULT_PLUGIN_NAME,
  OVERLAY_MTU,
} from './plugin/server.js';
export type { LinkOps, PluginServerOptions } from './plugin/server.js';
export { EngineNetworks } from './plugin/enginenets.js';
export type { EngineNetworksOptions } from './plugin/enginenets.js';
export { ShoalTaskNetworking, KERNEL_LACKS_ESP } from './plugin/tasknetworking.js';
export type { ShoalTaskNetworkingOptions } from './plugin/tasknetworking.js';
