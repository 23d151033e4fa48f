export { nextSubnet, nextAddress, gatewayOf, DEFAULT_ADDR_POOL, DEFAULT_SUBNET_SIZE } from './ipam.js';
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
