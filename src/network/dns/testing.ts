// Views and a seeded random for the resolver's tests and bench (bench/dns.ts).
import type { EndpointView, NetworkView, ServiceView } from '../../api/index.js';

/** A seeded random (mulberry32): the same seed gives the same shuffles. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function endpoint(over: Partial<EndpointView> & { id: string; name: string }): EndpointView {
  return { aliases: [], addresses: [], nodeId: 'n1', nodeAddr: '192.0.2.1', ready: true, ...over };
}

export function network(services: ServiceView[], endpoints: EndpointView[], id = 'net1'): NetworkView {
  return {
    id,
    name: 'front',
    vni: 4097,
    subnets: [{ subnet: '10.0.1.0/24', gateway: '10.0.1.1' }],
    attachable: false,
    internal: false,
    ingress: false,
    options: {},
    endpoints,
    services,
  };
}

