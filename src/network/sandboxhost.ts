import type { NetworkView } from '../api/index.js';
export interface SandboxHost {
  /** The network's sandbox namespace name, created (bridge, VXLAN device, addresses) from its view if it is not there yet. */
  ensure(view: NetworkView): Promise<string>;
  /** Moves `ifname` (a veth end in the daemon's own namespace) into the network's sandbox, onto its bridge: up, MTU, hairpin on. */
  plug(networkId: string, ifname: string): Promise<void>;
  /** The sandbox namespace name of a network, if it exists. */
  namespaceOf(networkId: string): string | undefined;
}
