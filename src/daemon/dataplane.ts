// The node's data plane, wired: the sandboxes and their VIP rules (NodeDataPlane), the DNS
// resolver that follows them, the engine plugin that attaches containers, the engine networks, and
// the executor's TaskNetworking. The agent hands the dispatcher's network views in (`onNetworks`);
// the executor asks `networking` before it creates a task's container. One per shoald while it is
// in a swarm; several shoalds sharing one engine (loopback test clusters) run with it off.
import { spawnSync } from 'node:child_process';
import { ShoalError, unavailable, type NetworkView, type TaskNetworking } from '../api/index.js';
import { EngineApiClient } from '../engineclient/index.js';
import { datapathTrace } from '../platform/index.js';
import { Attachments, type AttachmentDispatcher } from './attachments.js';
import {
  DnsResolver,
  EngineNetworks,
  IngressMesh,
  NodeDataPlane,
  PluginServer,
  Sandboxes,
  ShoalTaskNetworking,
  encryptionUnsupported,
  execRunner,
  standaloneResolvers,
  traceReady,
} from '../network/index.js';

export type DataPlaneMode = 'auto' | 'off';

/** How long an on-demand attachment waits for its network's view. */
const VIEW_WAIT_MS = 10_000;

/**
 * Whether this process can run the data plane: root, with iproute2 and nftables. In `auto` a
 * node without them runs tasks on the engine's default bridge and says why once.
 */
export function dataPlaneAvailable(mode: DataPlaneMode | undefined): { ok: boolean; why?: string } {
  if (mode === 'off') return { ok: false, why: 'turned off (--data-plane off)' };
  if (process.getuid?.() !== 0) return { ok: false, why: 'shoald is not running as root' };
  for (const [cmd, pkg] of [
    ['ip', 'iproute2'],
    ['nft', 'nftables'],
  ] as const) {
    const r = spawnSync(cmd, ['-V'], { stdio: 'ignore', timeout: 5000 });
    if (r.error || r.status !== 0) return { ok: false, why: `${cmd} is missing (install ${pkg})` };
  }
  return { ok: true };
}

export interface NodeNetworkingOptions {
  nodeId: string;
  /** This node's underlay address (the advertised one): the local end of its VXLAN tunnels. */
  underlayAddr: string;
  engineHost: string;
  log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;
  /** The session's dispatcher, for standalone containers' addresses (none while there is no session). */
  dispatcher?: () => AttachmentDispatcher | undefined;
}

export class NodeNetworking {
  readonly plane: NodeDataPlane;
  readonly dns: DnsResolver;
  readonly networking: TaskNetworking;
  readonly #sandboxes: Sandboxes;
  readonly #plugin: PluginServer;
  readonly #engineNets: EngineNetworks;
  readonly #warn: (m: string) => void;
  readonly #attachments: Attachments;
  #views = new Map<string, NetworkView>();
  #started = false;
  /** Ready endpoints of the last views received, for the trace only. */
  readonly #traceReady = new Set<string>();

  constructor(o: NodeNetworkingOptions) {
    const warn = (m: string): void => o.log('warn', m);
    this.#warn = warn;
    const engine = new EngineApiClient({ host: o.engineHost, timeoutMs: 60_000 });
    this.#sandboxes = new Sandboxes({ nodeId: o.nodeId, underlayAddr: () => o.underlayAddr, log: warn });
    this.dns = new DnsResolver({ log: (m) => o.log('debug', m) });
    this.plane = new NodeDataPlane({
      sandboxes: this.#sandboxes,
      ingress: new IngressMesh({ nodeId: o.nodeId, run: execRunner(), log: (m) => o.log('info', m) }),
      log: warn,
      onApplied: (views) => {
        void this.dns
          .update([...views], (id) => this.#sandboxes.namespaceOf(id))
          .catch((e: unknown) => warn(`dns: ${(e as Error).message}`));
        void this.#engineNets
          .prune(new Set(views.map((v) => v.id)))
          .catch((e: unknown) => warn(`pruning engine networks: ${(e as Error).message}`));
      },
    });
    this.#engineNets = new EngineNetworks({ engine });
    this.#attachments = new Attachments({
      nodeId: o.nodeId,
      engine,
      dispatcher: () => o.dispatcher?.(),
      views: () => this.#views,
      log: (m) => o.log('debug', m),
      warn,
    });
    this.#plugin = new PluginServer({
      sandboxes: this.#sandboxes,
      engine,
      log: warn,
      requestAddress: (networkId) => this.#attachments.request(networkId),
      releaseAddress: (networkId, address) => this.#attachments.release(networkId, address),
    });
    this.networking = new ShoalTaskNetworking({
      view: (id) => this.#views.get(id),
      networks: this.#engineNets,
      sandboxes: this.#sandboxes,
      encryptionUnsupported,
      replyRouteFailed: (address) => this.plane.replyRouteFailed(address),
      log: warn,
    });
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.#plugin.start();
    this.dns.start();
    this.plane.start();
  }

  /** The dispatcher's views of this node's networks, complete each time. */
  onNetworks(views: readonly NetworkView[]): void {
    if (datapathTrace.on) datapathTrace('views-received', traceReady(views, this.#traceReady));
    this.#views = new Map(views.map((v) => [v.id, v]));
    this.plane.apply(views);
    this.#attachments.onViews();
    // Names follow at once, not after the kernel pass: a task's forwarding entries are in place
    // from ASSIGNED on, well before it is ready, so a new answer never points at a dead end.
    void this.dns
      .update([...views], (id) => this.#sandboxes.namespaceOf(id))
      .catch((e: unknown) => this.#warn(`dns: ${(e as Error).message}`));
    // The records changed in update() itself; the listeners it may still be binding do not matter.
    if (datapathTrace.on) datapathTrace('dns-updated');
  }

  /**
   * Before a standalone container's create: each network it names that this node holds no view of
   * is asked for as an attachment (by name; a name that is no shoal network is the engine's
   * business), and its sandbox and engine network are made, so the create finds it. Swarm's
   * dockerd does the same on a worker without the network.
   */
  async prepareStandalone(networks: readonly string[]): Promise<void> {
    for (const n of networks) {
      if ([...this.#views.values()].some((v) => v.name === n || v.id === n)) continue;
      let view: NetworkView;
      try {
        view = await this.#attachments.reserve(n, (id) => this.#viewHolding(id));
      } catch (e) {
        // The manager's refusal is the client's answer. Anything else (no shoal network by that
        // name, no session now) leaves the create to the engine, which says what it lacks.
        if (e instanceof ShoalError && (e.code === 'PermissionDenied' || e.code === 'ResourceExhausted'))
          throw e;
        if (!(e instanceof ShoalError && e.code === 'NotFound'))
          this.#warn(`attaching to ${n} for a container: ${(e as Error).message}`);
        continue;
      }
      await this.#sandboxes.ensure(view);
      await this.#engineNets.ensure(view);
    }
  }

  /** The view that holds endpoint `id`, once the manager sends it (bounded). */
  async #viewHolding(id: string): Promise<NetworkView> {
    const deadline = Date.now() + VIEW_WAIT_MS;
    for (;;) {
      const v = [...this.#views.values()].find((x) => x.endpoints.some((e) => e.id === id));
      if (v) return v;
      if (Date.now() >= deadline)
        throw unavailable(
          `the manager granted attachment ${id} but sent no view of its network in ${VIEW_WAIT_MS} ms`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The resolvers of the attachable networks among `networks`, for a standalone container's Dns. */
  standaloneDns(networks: readonly string[]): string[] {
    return standaloneResolvers(this.#views.values(), networks);
  }

  /** Stops serving; the kernel keeps what it has, so running containers keep their networks. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    this.#attachments.stop();
    await this.plane.stop();
    await this.dns.stop();
    await this.#plugin.stop();
  }

  /**
   * Leaves nothing behind (swarm leave, after the task containers are gone): the engine networks
   * first, while the plugin still answers the engine's DeleteNetwork, then the sandboxes.
   */
  async teardown(): Promise<void> {
    await this.#engineNets
      .prune(new Set())
      .catch((e: unknown) => this.#warn(`removing engine networks: ${(e as Error).message}`));
    await this.stop();
    await this.plane.teardown();
  }
}
