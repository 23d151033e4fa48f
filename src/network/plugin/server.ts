// shoald as a Docker plugin: a libnetwork remote network driver and IPAM driver on a unix socket
// in /run/docker/plugins/, so that dockerd asks shoal, while it sets a container up, for the
// address the manager allocated and for an interface already on the network's sandbox bridge.
// The task's process therefore never runs without its network (reference/networking.md).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { cidrContains, formatCidr, parseCidr, parseIp } from '../../api/index.js';
import type { EngineApiClient } from '../../engineclient/index.js';
import { gatewayOf } from '../ipam.js';
import { macOf } from '../addresses.js';
import { OVERLAY_MTU } from '../sandbox.js';
import type { SandboxHost } from '../sandboxhost.js';
import { ip, linkExists } from './iproute.js';

/** The engine network option (and label) naming the shoal network behind an engine network. */
export const NETWORK_ID_OPTION = 'com.shoal.network.id';
export const NETWORK_VNI_OPTION = 'com.shoal.network.vni';
export const DEFAULT_PLUGIN_DIR = '/run/docker/plugins';
export const DEFAULT_PLUGIN_NAME = 'shoal';
/** VXLAN's 50 bytes come off the underlay's 1500. */

const MAX_BODY_BYTES = 1 << 20;
const MAX_ENDPOINTS = 65_536;
const LOOKUP_TIMEOUT_MS = 5_000;
const CONTENT_TYPE = 'application/vnd.docker.plugins.v1+json';
/** libnetwork's option keys (netlabel.Generic, ipamapi.RequestAddressType, netlabel.Gateway). */
const GENERIC = 'com.docker.network.generic';
const REQUEST_ADDRESS_TYPE = 'RequestAddressType';
const GATEWAY_TYPE = 'com.docker.network.gateway';

/** The veth operations Join and Leave need; the real ones run `ip`, tests may fake them. */
export interface LinkOps {
  /** A veth pair in the daemon's namespace; `container` gets the MAC (when known) and MTU. */
  createVeth(o: { container: string; host: string; mac?: string; mtu: number }): Promise<void>;
  /** Deletes a link if it exists (deleting one veth end deletes both). */
  remove(name: string): Promise<void>;
}

export const ipLinks: LinkOps = {
  async createVeth({ container, host, mac, mtu }) {
    await ip([
      'link',
      'add',
      container,
      'mtu',
      String(mtu),
      ...(mac ? ['address', mac] : []),
      'type',
      'veth',
      'peer',
      'name',
      host,
      'mtu',
      String(mtu),
    ]);
    try {
      await ip(['link', 'set', container, 'up']);
    } catch (e) {
      await this.remove(container);
      throw e;
    }
  },
  async remove(name) {
    if (!(await linkExists(name))) return;
    try {
      await ip(['link', 'del', name]);
    } catch (e) {
      // Gone in between (its peer's namespace went away): what we wanted.
      if (await linkExists(name)) throw e;
    }
  },
};

export interface PluginServerOptions {
  /** Where dockerd looks for plugin sockets (default /run/docker/plugins). */
  pluginDir?: string;
  /** The driver's name: the socket is `<pluginDir>/<name>.sock`, engine networks use it as Driver. */
  name?: string;
  sandboxes: SandboxHost;
  /** The node's engine: its network list rebuilds the engine → shoal network map on start. */
  engine?: EngineApiClient;
  /** An address for a container that asked for none (an attachable network's standalone container). */
  requestAddress?: (networkId: string) => Promise<string>;
  /** An address dockerd no longer uses. */
  releaseAddress?: (networkId: string, address: string) => Promise<void>;
  /** The first characters of veth names (at most 3), so parallel users of a host keep apart. */
  ifPrefix?: string;
  links?: LinkOps;
  log?: (msg: string) => void;
}

interface Endpoint {
  networkId: string;
  mac?: string;
}

class PluginError extends Error {}

type Body = Record<string, unknown>;
type Handler = (body: Body) => Promise<unknown> | unknown;

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const obj = (v: unknown): Body => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Body) : {});

/** The shoal network ID an engine network's driver options name, if any. */
export function shoalNetworkOf(options: unknown): string | undefined {
  const o = obj(options);
  const id = str(obj(o[GENERIC])[NETWORK_ID_OPTION]) || str(o[NETWORK_ID_OPTION]);
  return id || undefined;
}

export class PluginServer {
  readonly socketPath: string;
  readonly name: string;
  #o: PluginServerOptions;
  #links: LinkOps;
  #server: Server | undefined;
  /** Engine network ID → shoal network ID. */
  #networks = new Map<string, string>();
  #endpoints = new Map<string, Endpoint>();
  #handlers: Record<string, Handler>;

  constructor(o: PluginServerOptions) {
    this.#o = o;
    this.name = o.name ?? DEFAULT_PLUGIN_NAME;
    this.socketPath = join(o.pluginDir ?? DEFAULT_PLUGIN_DIR, `${this.name}.sock`);
    this.#links = o.links ?? ipLinks;
    if ((o.ifPrefix ?? '').length > 3) throw new Error('ifPrefix: at most 3 characters');
    this.#handlers = {
      '/Plugin.Activate': () => ({ Implements: ['NetworkDriver', 'IpamDriver'] }),
      '/NetworkDriver.GetCapabilities': () => ({ Scope: 'local', ConnectivityScope: 'global' }),
      '/NetworkDriver.CreateNetwork': (b) => this.#createNetwork(b),
      '/NetworkDriver.DeleteNetwork': (b) => {
        this.#networks.delete(str(b.NetworkID));
        return {};
      },
      '/NetworkDriver.AllocateNetwork': () => ({ Options: {} }),
      '/NetworkDriver.FreeNetwork': () => ({}),
      '/NetworkDriver.CreateEndpoint': (b) => this.#createEndpoint(b),
      '/NetworkDriver.EndpointOperInfo': () => ({ Value: {} }),
      '/NetworkDriver.DeleteEndpoint': async (b) => {
        const ep = str(b.EndpointID);
        this.#endpoints.delete(ep);
        await this.#removeVeth(ep);
        return {};
      },
      '/NetworkDriver.Join': (b) => this.#join(b),
      '/NetworkDriver.Leave': async (b) => {
        await this.#removeVeth(str(b.EndpointID));
        return {};
      },
      '/NetworkDriver.DiscoverNew': () => ({}),
      '/NetworkDriver.DiscoverDelete': () => ({}),
      '/NetworkDriver.ProgramExternalConnectivity': () => ({}),
      '/NetworkDriver.RevokeExternalConnectivity': () => ({}),
      '/IpamDriver.GetCapabilities': () => ({ RequiresMACAddress: false, RequiresRequestReplay: false }),
      '/IpamDriver.GetDefaultAddressSpaces': () => ({
        LocalDefaultAddressSpace: `${this.name}-local`,
        GlobalDefaultAddressSpace: `${this.name}-global`,
      }),
      '/IpamDriver.RequestPool': (b) => this.#requestPool(b),
      '/IpamDriver.ReleasePool': () => ({}),
      '/IpamDriver.RequestAddress': (b) => this.#requestAddress(b),
      '/IpamDriver.ReleaseAddress': async (b) => {
        const { networkId } = parsePoolId(str(b.PoolID));
        const addr = str(b.Address);
        if (addr) await this.#o.releaseAddress?.(networkId, addr);
        return {};
      },
    };
  }

  /** The shoal network behind an engine network, as this plugin knows it. */
  networkOf(engineNetworkId: string): string | undefined {
    return this.#networks.get(engineNetworkId);
  }

  async start(): Promise<void> {
    if (this.#server) return;
    await this.#rebuild();
    await mkdir(this.#o.pluginDir ?? DEFAULT_PLUGIN_DIR, { recursive: true });
    // A socket file left by a shoald that died: nothing answers on it any more.
    await unlink(this.socketPath).catch(() => undefined);
    const server = createServer((req, res) => void this.#serve(req, res));
    server.requestTimeout = 60_000;
    server.headersTimeout = 10_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await unlink(this.socketPath).catch(() => undefined);
  }

  /** dockerd does not call CreateNetwork again for the networks it has: read them from its list. */
  async #rebuild(): Promise<void> {
    const engine = this.#o.engine;
    if (!engine) return;
    try {
      const filters = encodeURIComponent(JSON.stringify({ driver: [this.name] }));
      const nets = await withTimeout(
        engine.call<{ Id: string; Options?: Record<string, string> }[]>(
          'GET',
          `/networks?filters=${filters}`,
        ),
        LOOKUP_TIMEOUT_MS,
      );
      for (const n of nets ?? []) {
        const id = shoalNetworkOf(n.Options);
        if (id) this.#networks.set(n.Id, id);
      }
    } catch (e) {
      // Not fatal: a Join on a network missing here looks it up again.
      this.#o.log?.(`network plugin: cannot list the engine's networks: ${(e as Error).message}`);
    }
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reply = (status: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'Content-Type': CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    };
    const handler = req.method === 'POST' ? this.#handlers[req.url ?? ''] : undefined;
    if (!handler) {
      req.resume();
      reply(404, { Err: `${req.method ?? ''} ${req.url ?? ''}: not a method of this plugin` });
      return;
    }
    let body: Body;
    try {
      body = await readJson(req);
    } catch (e) {
      // Stop reading an oversized body: the connection goes once the answer is out.
      res.on('finish', () => req.destroy());
      reply(400, { Err: (e as Error).message });
      return;
    }
    try {
      reply(200, (await handler(body)) ?? {});
    } catch (e) {
      const msg = (e as Error).message;
      if (!(e instanceof PluginError)) this.#o.log?.(`network plugin: ${req.url ?? ''}: ${msg}`);
      reply(500, { Err: msg });
    }
  }

  #createNetwork(b: Body): unknown {
    const id = shoalNetworkOf(b.Options);
    if (!id)
      throw new PluginError(
        `network has no ${NETWORK_ID_OPTION} option: ${this.name} networks are created by shoal for its overlay networks`,
      );
    this.#networks.set(str(b.NetworkID), id);
    return {};
  }

  #createEndpoint(b: Body): unknown {
    const epId = str(b.EndpointID);
    const networkId = str(b.NetworkID);
    if (this.#endpoints.size >= MAX_ENDPOINTS && !this.#endpoints.has(epId))
      throw new PluginError(`too many endpoints (${MAX_ENDPOINTS}) on this node`);
    const iface = obj(b.Interface);
    const given = str(iface.MacAddress);
    const addr = str(iface.Address);
    // libnetwork refuses an answer that sets what the request already set.
    const mac = given ? undefined : addr ? macOf(addr.split('/')[0]!) : undefined;
    const known = given || mac;
    this.#endpoints.set(epId, known ? { networkId, mac: known } : { networkId });
    return { Interface: mac ? { MacAddress: mac } : {} };
  }

  async #join(b: Body): Promise<unknown> {
    const epId = str(b.EndpointID);
    const engineNet = str(b.NetworkID);
    const networkId = this.#networks.get(engineNet) ?? (await this.#lookUp(engineNet));
    const { container, host } = this.#vethNames(epId);
    const mac = this.#endpoints.get(epId)?.mac;
    await this.#links.remove(container);
    await this.#links.createVeth({ container, host, mtu: OVERLAY_MTU, ...(mac ? { mac } : {}) });
    try {
      await this.#o.sandboxes.plug(networkId, host);
    } catch (e) {
      await this.#links.remove(container).catch(() => undefined);
      throw e;
    }
    // No Gateway: libnetwork then gives the container docker_gwbridge for egress, as in Swarm.
    return { InterfaceName: { SrcName: container, DstPrefix: 'eth' }, DisableGatewayService: false };
  }

  /** An engine network this plugin has not seen created (shoald restarted): ask the engine. */
  async #lookUp(engineNet: string): Promise<string> {
    const engine = this.#o.engine;
    if (engine) {
      try {
        const n = await withTimeout(
          engine.call<{ Options?: Record<string, string> }>(
            'GET',
            `/networks/${encodeURIComponent(engineNet)}`,
          ),
          LOOKUP_TIMEOUT_MS,
        );
        const id = shoalNetworkOf(n?.Options);
        if (id) {
          this.#networks.set(engineNet, id);
          return id;
        }
      } catch (e) {
        this.#o.log?.(`network plugin: cannot inspect engine network ${engineNet}: ${(e as Error).message}`);
      }
    }
    throw new PluginError(`engine network ${engineNet} is not a shoal network this node knows`);
  }

  #vethNames(epId: string): { container: string; host: string } {
    // Interface names have at most 15 characters; endpoint IDs are 64 hex digits.
    const p = this.#o.ifPrefix ?? 'sh';
    const tail = epId.replace(/[^0-9a-zA-Z]/g, '').slice(0, 10);
    if (!tail) throw new PluginError('an endpoint ID is required');
    return { container: `${p}c${tail}`, host: `${p}h${tail}` };
  }

  async #removeVeth(epId: string): Promise<void> {
    if (!epId) return;
    await this.#links.remove(this.#vethNames(epId).container);
    // The host end is in the sandbox once plugged; if plugging failed it may still be here.
    await this.#links.remove(this.#vethNames(epId).host);
  }

  #requestPool(b: Body): unknown {
    const pool = str(b.Pool);
    if (!pool)
      throw new PluginError(`${this.name} IPAM needs the network's subnet: it does not choose pools itself`);
    const c = parseCidr(pool);
    const canonical = formatCidr(c);
    const networkId = str(obj(b.Options)[NETWORK_ID_OPTION]);
    return { PoolID: `${networkId}/${canonical}`, Pool: canonical, Data: {} };
  }

  async #requestAddress(b: Body): Promise<unknown> {
    const { networkId, pool } = parsePoolId(str(b.PoolID));
    const c = parseCidr(pool);
    const wanted = str(b.Address);
    const withPrefix = (a: string): string => {
      const bare = a.split('/')[0] ?? '';
      const p = parseIp(bare);
      if (!p || !cidrContains(c, p)) throw new PluginError(`address ${bare} is not in subnet ${pool}`);
      return `${bare}/${c.bits}`;
    };
    if (wanted) return { Address: withPrefix(wanted), Data: {} };
    if (str(obj(b.Options)[REQUEST_ADDRESS_TYPE]) === GATEWAY_TYPE)
      return { Address: withPrefix(gatewayOf(pool)), Data: {} };
    const hook = this.#o.requestAddress;
    if (!hook)
      throw new PluginError(
        `no address was requested on ${pool}: shoal gives task containers their addresses; standalone containers on this network are not supported yet`,
      );
    return { Address: withPrefix(await hook(networkId)), Data: {} };
  }
}

/** PoolID is `<shoal network ID>/<subnet>`: stateless, so it survives a restart of shoald. */
function parsePoolId(poolId: string): { networkId: string; pool: string } {
  const i = poolId.indexOf('/');
  if (i < 0) throw new PluginError(`unknown pool ${poolId}`);
  return { networkId: poolId.slice(0, i), pool: poolId.slice(i + 1) };
}

async function readJson(req: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).byteLength;
    if (size > MAX_BODY_BYTES) {
      throw new PluginError(`request body exceeds ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new PluginError('request body is not JSON');
  }
  return obj(v);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
