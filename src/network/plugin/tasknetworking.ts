// The executor's side of the data plane: before a task's container is created, its overlay
// networks exist on this node's engine and in their sandboxes, and the container asks for the
// addresses the manager allocated.
import {
  failedPrecondition,
  parseIp,
  type ContainerNetworking,
  type NetworkView,
  type Task,
  type TaskNetworking,
} from '../../api/index.js';
import { systemClock, type Clock } from '../../platform/index.js';
import { execRunner, type CommandRunner } from '../command.js';
import type { SandboxHost } from '../sandboxhost.js';
import type { EngineNetworks } from './enginenets.js';

export const KERNEL_LACKS_ESP = 'the kernel lacks ESP/GCM (CONFIG_INET_ESP, CONFIG_CRYPTO_GCM)';
const DEFAULT_VIEW_WAIT_MS = 5_000;
const VIEW_POLL_MS = 50;
/** In a task's own namespace: the routing table of its ingress replies, and its rule's preference. */
export const TASK_REPLY_TABLE = 200;
export const TASK_REPLY_PREF = 100;

export interface ShoalTaskNetworkingOptions {
  /** The dispatcher's latest view of a network, if it has arrived. */
  view: (networkId: string) => NetworkView | undefined;
  networks: Pick<EngineNetworks, 'ensure'>;
  sandboxes: Pick<SandboxHost, 'ensure'>;
  /** Why this node cannot carry encrypted overlays, or undefined if it can (default: it cannot). */
  encryptionUnsupported?: () => string | undefined;
  /** How long to wait for a network's view that has not arrived yet (default 5 s). */
  viewWaitMs?: number;
  clock?: Clock;
  /** Runs nsenter (bounded, as every data-plane command). */
  run?: CommandRunner;
  /**
   * A task's ingress address whose reply route could not be installed: the mesh SNATs to it
   * instead (the node's data plane), so the task still answers, without the client's address.
   */
  replyRouteFailed?: (address: string) => void;
  log?: (m: string) => void;
}

/** Where the node's resolver answers for a network: its IPv4 gateway, in its sandbox (dns/server.ts). */
export function resolverOf(view: NetworkView): string | undefined {
  return view.subnets.find((s) => parseIp(s.gateway)?.family === 4)?.gateway;
}

/**
 * The resolvers a standalone container joining `networks` (engine network names, which are the
 * overlay networks' names, or shoal network IDs) is given: those of the attachable networks among
 * them that this node has a view of, in order, each once.
 */
export function standaloneResolvers(views: Iterable<NetworkView>, networks: readonly string[]): string[] {
  const all = [...views];
  const out: string[] = [];
  for (const n of networks) {
    const v = all.find((x) => x.name === n) ?? all.find((x) => x.id === n);
    const r = v?.attachable && !v.ingress ? resolverOf(v) : undefined;
    if (r !== undefined && !out.includes(r)) out.push(r);
  }
  return out;
}

export class ShoalTaskNetworking implements TaskNetworking {
  #o: ShoalTaskNetworkingOptions;
  constructor(o: ShoalTaskNetworkingOptions) {
    this.#o = o;
  }

  async prepare(task: Task): Promise<ContainerNetworking | undefined> {
    const attachments = task.NetworksAttachments ?? [];
    if (attachments.length === 0) return undefined;
    const views = await Promise.all(attachments.map((a) => this.#viewOf(a.Network.ID, a.Network.Spec.Name)));
    for (const v of views) {
      if (!('encrypted' in v.options)) continue;
      const why = this.#o.encryptionUnsupported ? this.#o.encryptionUnsupported() : KERNEL_LACKS_ESP;
      if (why) throw failedPrecondition(`this node cannot carry encrypted overlay network ${v.name}: ${why}`);
    }
    const endpoints: ContainerNetworking['endpoints'] = {};
    let networkMode = '';
    for (const [i, v] of views.entries()) {
      // Sandbox first: the plugin's Join plugs the container's veth into it.
      await this.#o.sandboxes.ensure(v);
      const name = await this.#o.networks.ensure(v);
      if (i === 0) networkMode = name;
      const ipam: { IPv4Address?: string; IPv6Address?: string } = {};
      for (const a of attachments[i]?.Addresses ?? []) {
        const bare = a.split('/')[0] ?? '';
        const p = parseIp(bare);
        if (p?.family === 4) ipam.IPv4Address ??= bare;
        else if (p?.family === 6) ipam.IPv6Address ??= bare;
      }
      endpoints[name] = { IPAMConfig: ipam };
    }
    const gw = resolverOf(views[0]!);
    return { networkMode, endpoints, dns: gw ? [gw] : [] };
  }

  /**
   * A task on the ingress network answers mesh clients from its ingress address, but its default
   * route is docker_gwbridge: a source rule in its own namespace sends those replies to the
   * ingress gateway (its node's ingress sandbox), which routes them back through the node that
   * took the connection. The engine cannot do this before start (the namespace is not there at
   * Join). If it fails, the task still runs and the mesh SNATs to it instead.
   */
  async started(task: Task, container: { id: string; pid: number }): Promise<void> {
    if (!Number.isInteger(container.pid) || container.pid <= 0) return;
    for (const a of task.NetworksAttachments ?? []) {
      const v = this.#o.view(a.Network.ID);
      if (!v?.ingress) continue;
      const ip = (a.Addresses ?? []).map((x) => x.split('/')[0] ?? '').find((x) => parseIp(x)?.family === 4);
      const gw = v.subnets.find((s) => parseIp(s.gateway)?.family === 4)?.gateway;
      if (ip === undefined || gw === undefined) continue;
      try {
        await this.#replyRoute(container.pid, ip, gw);
      } catch (e) {
        this.#o.log?.(
          `task ${task.ID}: no ingress reply route (${(e as Error).message}); the mesh masquerades to it instead`,
        );
        this.#o.replyRouteFailed?.(ip);
      }
    }
  }

  async #replyRoute(pid: number, ip: string, gw: string): Promise<void> {
    const run = this.#o.run ?? execRunner();
    const inNs = ['nsenter', '-t', String(pid), '-n', 'ip'];
    const must = async (args: string[]): Promise<void> => {
      const r = await run.run([...inNs, ...args]);
      if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
    };
    const table = String(TASK_REPLY_TABLE);
    await must(['route', 'replace', 'default', 'via', gw, 'table', table]);
    // A restarted agent may run this again on the same container: one rule, not two.
    await run.run([...inNs, 'rule', 'del', 'pref', String(TASK_REPLY_PREF)]);
    await must(['rule', 'add', 'pref', String(TASK_REPLY_PREF), 'from', ip, 'lookup', table]);
  }

  async #viewOf(networkId: string, name: string | undefined): Promise<NetworkView> {
    const wait = this.#o.viewWaitMs ?? DEFAULT_VIEW_WAIT_MS;
    const clock = this.#o.clock ?? systemClock;
    const deadline = clock.now() + wait;
    for (;;) {
      const v = this.#o.view(networkId);
      if (v) return v;
      if (clock.now() >= deadline)
        throw failedPrecondition(
          `network ${name ?? networkId} is not known on this node yet: no view of it came from the manager within ${wait} ms`,
        );
      // Views come over the dispatcher session; polling keeps this free of its plumbing.
      await clock.sleep(VIEW_POLL_MS);
    }
  }
}
