// Standalone containers on attachable overlay networks, this node's side. The engine's IPAM asks
// the plugin for an address with none given (`docker run --network app`): the manager grants one
// and records a network-attachment task (attachNetwork); the engine releases it when the container
// leaves the network (detachNetwork). Which container holds a granted address is learned from the
// engine (its container list per network, read after a grant and whenever the views change), and
// told to the manager so the container's name answers in DNS on every node. On start (and on every
// views change) an attachment of this node whose address no container holds any more is detached:
// a shoald restart that missed a release leaks nothing.
import type { DispatcherAPI, NetworkView } from '../api/index.js';
import type { EngineApiClient } from '../engineclient/index.js';

export type AttachmentDispatcher = Pick<
  DispatcherAPI,
  'attachNetwork' | 'detachNetwork' | 'updateAttachment'
>;

/** A granted address not yet seen on a container is left alone this long (the container is starting). */
const GRANT_GRACE_MS = 60_000;
/** After a grant, the container list is read this often until the container is known, at most this long. */
const NAME_POLL_MS = 500;
const NAME_POLL_MAX_MS = 30_000;

/** One engine list call may take this long before the pass moves on (and polls again). */
const LIST_TIMEOUT_MS = 3000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

interface ContainerSummary {
  Id: string;
  Names?: string[];
  NetworkSettings?: { Networks?: Record<string, { IPAddress?: string }> };
}

export interface AttachmentsOptions {
  nodeId: string;
  engine: Pick<EngineApiClient, 'call'>;
  dispatcher: () => AttachmentDispatcher | undefined;
  views: () => Map<string, NetworkView>;
  /** Progress (debug). */
  log: (msg: string) => void;
  /** Failures; default `log`. */
  warn?: (msg: string) => void;
  now?: () => number;
}

export class Attachments {
  /** Grants made ahead of a create (`reserve`), for the engine's next request on their network. */
  #reserved: { attachmentId: string; address: string; networkId: string }[] = [];
  /** Reservations granted whose view `reserve` still waits for. */
  readonly #locating = new Set<string>();
  /** Granted addresses (bare) per network ID, with when: not detached while their container starts. */
  readonly #granted = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #pollUntil = 0;
  #syncing: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(private readonly o: AttachmentsOptions) {}

  #now(): number {
    return this.o.now?.() ?? Date.now();
  }

  #dispatcher(): AttachmentDispatcher {
    const d = this.o.dispatcher();
    if (!d?.attachNetwork || !d.detachNetwork)
      throw new Error('this node has no session with a manager: standalone containers cannot attach now');
    return d;
  }

  /**
   * Asks the manager for an attachment to `network` (name or ID) ahead of a container create, for
   * a node that does not hold the network yet: the grant makes the manager send the network's view,
   * which `locate` waits for (the view holding the attachment). The address is kept for the
   * engine's next request on that network (`request`); unused, it is detached after the grace, as
   * any grant no container takes.
   */
  async reserve(
    network: string,
    locate: (attachmentId: string) => Promise<NetworkView>,
  ): Promise<NetworkView> {
    const grant = await this.#dispatcher().attachNetwork!(this.o.nodeId, network);
    // Its view may reach a pass before `locate` sees it: the pass must not take it for a leak.
    this.#locating.add(grant.attachmentId);
    let view: NetworkView;
    try {
      view = await locate(grant.attachmentId);
    } finally {
      this.#locating.delete(grant.attachmentId);
    }
    this.#granted.set(`${view.id} ${grant.address.split('/')[0]}`, this.#now());
    this.#reserved.push({ ...grant, networkId: view.id });
    this.o.log(`network attachment ${grant.attachmentId}: ${grant.address} on ${view.name}, reserved`);
    return view;
  }

  /** The plugin's requestAddress hook. */
  async request(networkId: string): Promise<string> {
    const i = this.#reserved.findIndex((r) => r.networkId === networkId);
    if (i >= 0) {
      const [r] = this.#reserved.splice(i, 1);
      this.o.log(`network attachment ${r!.attachmentId}: the reserved ${r!.address} taken`);
      this.#pollUntil = this.#now() + NAME_POLL_MAX_MS;
      this.#schedule(NAME_POLL_MS);
      return r!.address;
    }
    const grant = await this.#dispatcher().attachNetwork!(this.o.nodeId, networkId);
    this.#granted.set(`${networkId} ${grant.address.split('/')[0]}`, this.#now());
    this.o.log(`network attachment ${grant.attachmentId}: ${grant.address} on ${networkId}`);
    this.#pollUntil = this.#now() + NAME_POLL_MAX_MS;
    this.#schedule(NAME_POLL_MS);
    return grant.address;
  }

  /** The plugin's releaseAddress hook. */
  async release(networkId: string, address: string): Promise<void> {
    this.#granted.delete(`${networkId} ${address.split('/')[0]}`);
    await this.#dispatcher().detachNetwork!(this.o.nodeId, networkId, address);
  }

  /** The views changed (or the node started): names and leaks are looked at again. */
  onViews(): void {
    this.#schedule(0);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(ms: number): void {
    if (this.#stopped || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.sync();
    }, ms);
    this.#timer.unref();
  }

  /** One pass; one at a time, a request meanwhile runs one more after it. */
  async sync(): Promise<void> {
    if (this.#syncing) {
      this.#again = true;
      return this.#syncing;
    }
    this.#syncing = this.#pass()
      .catch((e: unknown) => (this.o.warn ?? this.o.log)(`standalone attachments: ${(e as Error).message}`))
      .finally(() => {
        this.#syncing = undefined;
        if (this.#again) {
          this.#again = false;
          this.#schedule(0);
        }
      });
    return this.#syncing;
  }

  async #pass(): Promise<void> {
    const d = this.o.dispatcher();
    if (!d?.updateAttachment || !d.detachNetwork) return;
    this.o.log(`network attachments: pass over ${this.o.views().size} views`);
    let unnamed = false;
    for (const view of this.o.views().values()) {
      const mine = view.endpoints.filter((e) => e.nodeId === this.o.nodeId && e.serviceId === undefined);
      // A grant not yet in the views: look again once it is.
      if ([...this.#granted.keys()].some((k) => k.startsWith(`${view.id} `))) unnamed = true;
      this.o.log(
        `network attachments on ${view.name}: ${mine.map((e) => `${e.id}=${e.name}@${e.addresses[0] ?? ''}`).join(' ')}`,
      );
      if (mine.length === 0) continue;
      let list: ContainerSummary[] | undefined;
      try {
        list = await withTimeout(
          this.o.engine.call<ContainerSummary[]>(
            'GET',
            `/containers/json?filters=${encodeURIComponent(JSON.stringify({ network: [view.name] }))}`,
          ),
          LIST_TIMEOUT_MS,
        );
      } catch (err) {
        // The engine is busy (a container starting): look again soon rather than wait on it.
        this.o.log(`network attachments: listing ${view.name}: ${(err as Error).message}`);
        unnamed = true;
        continue;
      }
      const holder = new Map<string, ContainerSummary>();
      for (const c of list ?? []) {
        const ip = c.NetworkSettings?.Networks?.[view.name]?.IPAddress;
        if (ip) holder.set(ip, c);
      }
      for (const e of mine) {
        const addr = (e.addresses[0] ?? '').split('/')[0]!;
        const c = holder.get(addr);
        const key = `${view.id} ${addr}`;
        if (c) {
          this.#granted.delete(key);
          const name = (c.Names?.[0] ?? '').replace(/^\//, '');
          this.o.log(`network attachments: ${addr} is held by ${c.Id.slice(0, 12)} ${name}`);
          if (name && e.name !== name) await d.updateAttachment(this.o.nodeId, view.id, addr, c.Id, name);
          continue;
        }
        const at = this.#granted.get(key);
        if ((at !== undefined && this.#now() - at < GRANT_GRACE_MS) || this.#locating.has(e.id)) {
          unnamed = true;
          continue;
        }
        // No running container holds it: a release this node missed (it was down, or restarting),
        // or a reservation no create took.
        this.#granted.delete(key);
        this.#reserved = this.#reserved.filter((r) => r.attachmentId !== e.id);
        this.o.log(`detaching the network attachment ${e.id} on ${view.name}: no container holds ${addr}`);
        await d.detachNetwork(this.o.nodeId, view.id, addr);
      }
    }
    if (unnamed && this.#now() < this.#pollUntil) this.#schedule(NAME_POLL_MS);
  }
}
