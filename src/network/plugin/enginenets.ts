// One local-scope engine network per overlay network a node needs, named as the overlay network so
// that `docker run --network app` on the node's own engine finds it, driven by shoal's plugin.
import { failedPrecondition, HttpStatusError, parseCidr, type NetworkView } from '../../api/index.js';
import type { EngineApiClient } from '../../engineclient/index.js';
import { DEFAULT_PLUGIN_NAME, NETWORK_ID_OPTION, NETWORK_VNI_OPTION, shoalNetworkOf } from './server.js';

export interface EngineNetworksOptions {
  engine: EngineApiClient;
  /** The plugin's name, the engine networks' Driver and IPAM driver (default "shoal"). */
  driver?: string;
}

interface EngineNetwork {
  Id: string;
  Name: string;
  Driver: string;
  Options?: Record<string, string>;
  Containers?: Record<string, unknown>;
}

const status = (e: unknown): number | undefined => (e instanceof HttpStatusError ? e.status : undefined);

export class EngineNetworks {
  readonly driver: string;
  #engine: EngineApiClient;
  /** One ensure at a time per name: two tasks of a network starting together create it once. */
  #pending = new Map<string, Promise<string>>();

  constructor(o: EngineNetworksOptions) {
    this.#engine = o.engine;
    this.driver = o.driver ?? DEFAULT_PLUGIN_NAME;
  }

  /** Makes sure the engine has the network of `view`; resolves with its engine name. */
  ensure(view: NetworkView): Promise<string> {
    const running = this.#pending.get(view.name);
    if (running) return running;
    const p = this.#ensure(view).finally(() => this.#pending.delete(view.name));
    this.#pending.set(view.name, p);
    return p;
  }

  async #ensure(view: NetworkView): Promise<string> {
    const existing = await this.#inspect(view.name);
    if (existing) {
      if (existing.Driver !== this.driver)
        throw failedPrecondition(
          `cannot attach to overlay network ${view.name}: this node's engine already has a network named ${view.name} (driver ${existing.Driver}) that is not shoal's; remove or rename it`,
        );
      const id = shoalNetworkOf(existing.Options);
      if (id === view.id) return view.name;
      // A shoal network of the same name that has since been removed and created again.
      if (Object.keys(existing.Containers ?? {}).length > 0)
        throw failedPrecondition(
          `cannot attach to overlay network ${view.name}: this node's engine still has containers on an earlier network of that name (${id ?? 'unknown'})`,
        );
      await this.#remove(existing.Id);
    }
    try {
      await this.#engine.call('POST', '/networks/create', this.createBody(view));
    } catch (e) {
      // Created meanwhile by another shoald sharing this engine (tests): check it is the same one.
      if (status(e) !== 409) throw e;
      const again = await this.#inspect(view.name);
      if (!again || shoalNetworkOf(again.Options) !== view.id) throw e;
    }
    return view.name;
  }

  /** The engine's network create body for an overlay network view. */
  createBody(view: NetworkView): Record<string, unknown> {
    const marks = { [NETWORK_ID_OPTION]: view.id, [NETWORK_VNI_OPTION]: String(view.vni) };
    return {
      Name: view.name,
      CheckDuplicate: true,
      Driver: this.driver,
      Internal: view.internal,
      EnableIPv6: view.subnets.some((s) => parseCidr(s.subnet).family === 6),
      IPAM: {
        Driver: this.driver,
        Config: view.subnets.map((s) => ({ Subnet: s.subnet, Gateway: s.gateway })),
        // The IPAM driver sees these options, not the network's: they name the network to it.
        Options: { [NETWORK_ID_OPTION]: view.id },
      },
      Options: marks,
      Labels: marks,
    };
  }

  /**
   * Removes the engine networks of shoal networks not in `needed` (shoal network IDs) that no
   * container is on any more; the rest wait for a later call.
   */
  async prune(needed: ReadonlySet<string>): Promise<string[]> {
    const filters = encodeURIComponent(JSON.stringify({ driver: [this.driver] }));
    const nets = (await this.#engine.call<EngineNetwork[]>('GET', `/networks?filters=${filters}`)) ?? [];
    const removed: string[] = [];
    for (const n of nets) {
      const id = shoalNetworkOf(n.Options);
      if (!id || needed.has(id)) continue;
      const full = await this.#inspect(n.Id);
      if (!full || Object.keys(full.Containers ?? {}).length > 0) continue;
      try {
        await this.#remove(n.Id);
        removed.push(n.Name);
      } catch (e) {
        // A container joined it in between: it stays until the next prune.
        if (status(e) !== 403 && status(e) !== 409) throw e;
      }
    }
    return removed;
  }

  async #inspect(nameOrId: string): Promise<EngineNetwork | undefined> {
    try {
      const n = await this.#engine.call<EngineNetwork>('GET', `/networks/${encodeURIComponent(nameOrId)}`);
      // dockerd matches a name or an ID prefix: only an exact name or ID is this network.
      return n && (n.Name === nameOrId || n.Id === nameOrId) ? n : undefined;
    } catch (e) {
      if (status(e) === 404) return undefined;
      throw e;
    }
  }

  async #remove(id: string): Promise<void> {
    try {
      await this.#engine.call('DELETE', `/networks/${encodeURIComponent(id)}`);
    } catch (e) {
      if (status(e) !== 404) throw e;
    }
  }
}
