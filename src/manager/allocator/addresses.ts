// The addresses in use on each network, derived from the store: gateways, service VIPs, the
// addresses of tasks not finished (network attachments of standalone containers among them) and
// the nodes' own addresses. The allocator and the dispatcher's attachNetwork both take addresses
// through one of these per transaction, so nothing is handed out twice.
import { parseCidr, type Network, type Node, type Service, type Task } from '../../api/index.js';
import { nextAddress } from '../../network/index.js';

const bare = (addr: string): string => addr.split('/')[0]!;

export function isTerminalState(s: string): boolean {
  return ['complete', 'shutdown', 'failed', 'rejected', 'remove', 'orphaned'].includes(s);
}

/** What of the store address use is derived from. */
export interface AddressSource {
  all(table: 'networks'): Network[];
  all(table: 'services'): Service[];
  all(table: 'tasks'): Task[];
  all(table: 'nodes'): Node[];
}

export class AddressBook {
  readonly #used = new Map<string, Set<string>>();
  readonly networks: Map<string, Network>;

  constructor(tx: AddressSource) {
    this.networks = new Map(tx.all('networks').map((n) => [n.ID, n]));
    for (const s of tx.all('services'))
      for (const v of s.Endpoint.VirtualIPs ?? []) this.#markUsed(v.NetworkID, v.Addr);
    for (const t of tx.all('tasks')) {
      if (isTerminalState(t.Status.State)) continue;
      for (const a of t.NetworksAttachments ?? [])
        for (const addr of a.Addresses) this.#markUsed(a.Network.ID, addr);
    }
    for (const n of tx.all('nodes'))
      for (const [netId, addr] of Object.entries(n.NetworkAddrs ?? {})) this.#markUsed(netId, addr);
  }

  /** A network's used addresses (bare); its gateways are never handed out. */
  usedIn(n: Network): Set<string> {
    let s = this.#used.get(n.ID);
    if (!s) {
      this.#used.set(n.ID, (s = new Set()));
      for (const c of n.IPAMOptions.Configs) if (c.Gateway) s.add(c.Gateway);
    }
    return s;
  }

  #markUsed(netId: string, addr: string): void {
    const n = this.networks.get(netId);
    if (n) this.usedIn(n).add(bare(addr));
  }

  /** A free address of one subnet (with prefix), marked used; undefined when it is full. */
  take(n: Network, c: Network['IPAMOptions']['Configs'][number]): string | undefined {
    if (!c.Subnet) return undefined;
    const addr = nextAddress(c.Subnet, this.usedIn(n), c.IPRange);
    if (addr) this.usedIn(n).add(bare(addr));
    return addr;
  }

  /** A virtual IP (or a node's address): from the first subnet with a free address. */
  vipOf(n: Network): string | undefined {
    for (const c of n.IPAMOptions.Configs) {
      const addr = this.take(n, c);
      if (addr) return addr;
    }
    return undefined;
  }

  /** A task's addresses: one of each family, from the first subnet of that family with room. */
  addressesOf(n: Network): string[] {
    const out: string[] = [];
    const done = new Set<number>();
    for (const c of n.IPAMOptions.Configs) {
      const family = c.Subnet ? parseCidr(c.Subnet).family : undefined;
      if (family === undefined || done.has(family)) continue;
      const addr = this.take(n, c);
      if (addr) {
        out.push(addr);
        done.add(family);
      }
    }
    return out;
  }
}
