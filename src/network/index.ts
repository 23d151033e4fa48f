export { nextSubnet, nextAddress, gatewayOf, DEFAULT_ADDR_POOL, DEFAULT_SUBNET_SIZE } from './ipam.js';
export {
  answer as dnsAnswer,
  DnsResolver,
  parseUpstream,
  upstreamsFromResolvConf,
  RECORD_TTL,
} from './dns/index.js';
export type { DnsResolverOptions, DnsStats, QueryInfo, Reply as DnsReply } from './dns/index.js';
