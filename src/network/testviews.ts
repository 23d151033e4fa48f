// Network views for tests and benches: one builder, the defaults a single-subnet network needs
// (network net1 "front", VNI 4097, 10.0.1.0/24), each field overridable.
import type { EndpointView, NetworkView } from '../api/index.js';

/** An endpoint named after its ID, ready, on node n1, with no address unless given. */
export function testEndpoint(over: Partial<EndpointView> & { id: string }): EndpointView {
  return {
    name: over.id,
    aliases: [],
    addresses: [],
    nodeId: 'n1',
    nodeAddr: '192.0.2.1',
    ready: true,
    ...over,
  };
}

export function testNetwork(over: Partial<NetworkView> = {}): NetworkView {
  return {
    id: 'net1',
    name: 'front',
    vni: 4097,
    subnets: [{ subnet: '10.0.1.0/24', gateway: '10.0.1.1' }],
    attachable: false,
    internal: false,
    ingress: false,
    options: {},
    endpoints: [],
    services: [],
    ...over,
  };
}
