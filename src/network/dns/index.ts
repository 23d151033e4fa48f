export { answer, buildIndex, normalizeName, reverseName, shuffled, RECORD_TTL } from './records.js';
export type { Reply, Rcode, NetworkIndex } from './records.js';
export { DnsResolver, parseUpstream, upstreamsFromResolvConf } from './server.js';
export type { DnsResolverOptions, DnsStats, QueryInfo, Upstream } from './server.js';
export {
  seeded,
  endpoint as testEndpoint,
  network as testNetwork,
  dnsQuery,
  FakeUpstream,
} from './testing.js';
