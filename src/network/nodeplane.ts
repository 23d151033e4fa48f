// The node's data plane: converges the kernel on the overlay network views the dispatcher sends.
// Level-triggered: each pass observes the sandboxes and plans against them, so a missed message, a
// failed command or a restart heals on the next pass. Views coalesce (the latest win), one pass
// runs at a time, a failed pass is retried with backoff, and views equal to the last ones applied
// cost nothing. `stop()` leaves the kernel as it is: running containers keep their network.
import type { NetworkView } from '../api/index.js';
import { datapathTrace, systemClock, type Cancel, type Clock } from '../platform/index.js';
import type { IngressMesh } from './ingressmesh.js';
import { withPeerEndpoints } from './ingress.js';
import { isEncrypted, type Sandboxes } from './sandbox.js';
import { renderVipScript, vipChains } from './vip.js';

export interface NodeDataPlaneOptions {
  sandboxes: Sandboxes;
  /** The ingress routing mesh; without it, published ports are not programmed on this node. */
  ingress?: IngressMesh;
  clock?: Clock;
  log?: (m: string) => void;
  /** Called after each pass that applied views (the DNS resolver follows them). */
  onApplied?: (views: readonly NetworkView[]) => void;
  /** Backoff after a failed pass, doubling from min to max. */
  retry?: { minMs: number; maxMs: number };
  /** A full pass (rules rewritten too) this often even without new views, to heal outside changes; 0: never. */
  resyncMs?: number;
}

/**
 * For the trace: the endpoints that became ready since `seen` (which is brought up to date), at
 * most 8 named, and how many are ready in all.
 */
export function traceReady(views: readonly NetworkView[], seen: Set<string>): string {
  const now = new Set(views.flatMap((v) => v.endpoints.filter((e) => e.ready).map((e) => e.id)));
  const fresh = [...now].filter((id) => !seen.has(id));
  seen.clear();
  for (const id of now) seen.add(id);
  return `new-ready=${fresh.slice(0, 8).join(',') || '-'} ready=${now.size}`;
}

/** A resync that gave way to newer views runs again this much later. */
const RESYNC_YIELD_MS = 2000;

/** A resync pass stopped between steps because newer views wait. */
class Superseded extends Error {}

/** A stuck pass must not hold stop() forever: each command is already bounded by its runner. */
const STOP_WAIT_MS = 30_000;
const MAX_NETWORKS = 4096;
/** Local ingress tasks without a reply route (SNATed instead); more is a bug elsewhere. */
const MAX_LOCAL_SNAT = 4096;

export class NodeDataPlane {
  readonly #sb: Sandboxes;
  readonly #mesh: IngressMesh | undefined;
  /** This node's ingress task addresses whose reply route could not be installed. */
  readonly #localSnat = new Set<string>();
  readonly #clock: Clock;
  readonly #log: (m: string) => void;
  readonly #onApplied: ((views: readonly NetworkView[]) => void) | undefined;
  readonly #retry: { minMs: number; maxMs: number };
  readonly #resyncMs: number;
  #started = false;
  #wanted: NetworkView[] = [];
  #wantedKey: string | undefined;
  /** The key of the views the last successful pass applied; undefined forces a pass. */
  #appliedKey: string | undefined;
  /** Per sandbox, the VIP script it holds, so a pass rewrites only tables that change. */
  readonly #scripts = new Map<string, string>();
  /** Per sandbox, the service chains of the VIP table it holds (those an update must delete). */
  readonly #chains = new Map<string, string[]>();
  /**
   * Per sandbox this plane built or checked: the namespace's identity then, and the keys of the
   * structure and tunnel entries it holds. While the namespace is the same one and a key is
   * unchanged, a pass neither observes nor writes that part: a task becoming ready then costs one
   * `nft -f`, not five commands. What changes behind our back heals at the next resync.
   */
  readonly #known = new Map<string, { id: string; structure: string; peers: string }>();
  /** The sandboxes the last successful pass kept; the same set again needs no `ip netns list`. */
  #keptKey: string | undefined;
  #pass: Promise<void> | undefined;
  /** A resync is due: the next pass runs even for views already applied. */
  #force = false;
  #backoffMs = 0;
  #retryTimer: Cancel | undefined;
  #resyncTimer: Cancel | undefined;
  /** The resync that gave way to newer views, due again. */
  #yieldTimer: Cancel | undefined;
  /** Encrypted networks already reported, so each is logged once, not on every pass. */
  readonly #refused = new Set<string>();
  #waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  /** Ready endpoints of the last pass applied, for the trace only. */
  readonly #traceReady = new Set<string>();

  constructor(opts: NodeDataPlaneOptions) {
    this.#sb = opts.sandboxes;
    this.#mesh = opts.ingress;
    this.#clock = opts.clock ?? systemClock;
    this.#log = opts.log ?? (() => {});
    this.#onApplied = opts.onApplied;
    this.#retry = opts.retry ?? { minMs: 500, maxMs: 30_000 };
    this.#resyncMs = opts.resyncMs ?? 60_000;
  }

  get sandboxes(): Sandboxes {
    return this.#sb;
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#scheduleResync();
    if (this.#wantedKey !== undefined) this.#kick();
  }

  async stop(): Promise<void> {
    this.#started = false;
    this.#retryTimer?.();
    this.#retryTimer = undefined;
    this.#resyncTimer?.();
    this.#resyncTimer = undefined;
    this.#yieldTimer?.();
    this.#yieldTimer = undefined;
    const pass = this.#pass;
    if (pass) await Promise.race([pass, this.#clock.sleep(STOP_WAIT_MS)]);
    this.#settleWaiters(new Error('data plane stopped'));
  }

  /** The views to converge on: every overlay network this node needs. */
  apply(views: readonly NetworkView[]): void {
    this.#wanted = views.slice(0, MAX_NETWORKS).map((v) => structuredClone(v));
    if (views.length > MAX_NETWORKS)
      this.#log(`data plane: ${views.length} networks, only ${MAX_NETWORKS} kept`);
    this.#wantedKey = JSON.stringify(this.#wanted);
    this.#kick();
  }

  /**
   * A local ingress task (by its ingress address) that could not get its reply route: the mesh
   * SNATs connections to it where it sits, so it still answers, with the node's address as peer.
   */
  replyRouteFailed(address: string): void {
    if (this.#localSnat.size >= MAX_LOCAL_SNAT) return;
    this.#localSnat.add(address.split('/')[0] ?? address);
    this.#force = true;
    this.#kick();
  }

  /** Resolves once the latest views are applied; rejects if the pass applying them fails. */
  settled(): Promise<void> {
    if (!this.#pass && this.#wantedKey === this.#appliedKey) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Removes every sandbox with this node's prefix (swarm leave, tests). Call after stop(). */
  async teardown(): Promise<void> {
    if (this.#pass) await this.#pass;
    await this.#mesh?.teardown();
    for (const ns of await this.#sb.list()) await this.#sb.remove(ns);
    this.#scripts.clear();
    this.#known.clear();
    this.#keptKey = undefined;
    this.#appliedKey = undefined;
    for (const v of this.#wanted) this.#sb.forget(v.id);
  }

  #kick(): void {
    if (!this.#started || this.#pass) return;
    if (this.#wantedKey === undefined || (this.#wantedKey === this.#appliedKey && !this.#force)) return;
    this.#retryTimer?.();
    this.#retryTimer = undefined;
    this.#pass = this.#run().finally(() => {
      this.#pass = undefined;
      // Views that came during the pass.
      if (this.#started && this.#retryTimer === undefined) this.#kick();
      if (!this.#pass && this.#wantedKey === this.#appliedKey) this.#settleWaiters();
    });
  }

  async #run(): Promise<void> {
    const views = this.#wanted;
    const key = this.#wantedKey;
    // A resync checks and rewrites everything, ignoring what we believe the kernel holds. That
    // belief is kept, so a resync that gives way to newer views leaves the next pass as cheap.
    const verify = this.#force;
    this.#force = false;
    const superseded = verify ? (): boolean => this.#wantedKey !== key : undefined;
    const t0 = datapathTrace.on ? performance.now() : 0;
    if (datapathTrace.on) datapathTrace('pass-start');
    try {
      await this.#converge(views, superseded);
      if (datapathTrace.on)
        datapathTrace(
          'pass-end',
          `ms=${(performance.now() - t0).toFixed(1)} ${traceReady(views, this.#traceReady)}`,
        );
      this.#appliedKey = key;
      this.#backoffMs = 0;
      try {
        this.#onApplied?.(views);
      } catch (e) {
        this.#log(`data plane: onApplied failed: ${String(e)}`);
      }
    } catch (e) {
      this.#appliedKey = undefined;
      if (e instanceof Superseded) {
        // Newer views go first (the finally's kick), as a normal pass; the resync comes after.
        this.#yieldTimer?.();
        this.#yieldTimer = this.#clock.setTimer(RESYNC_YIELD_MS, () => {
          this.#yieldTimer = undefined;
          this.#force = true;
          this.#kick();
        });
        return;
      }
      this.#backoffMs = Math.min(this.#retry.maxMs, Math.max(this.#retry.minMs, this.#backoffMs * 2));
      this.#log(`data plane: pass failed, retrying in ${this.#backoffMs} ms: ${errText(e)}`);
      this.#settleWaiters(e);
      if (this.#started) {
        this.#retryTimer = this.#clock.setTimer(this.#backoffMs, () => {
          this.#retryTimer = undefined;
          this.#kick();
        });
      }
    }
  }

  /** `superseded`, in a resync: true once newer views wait; the pass then stops between steps. */
  async #converge(views: readonly NetworkView[], superseded?: () => boolean): Promise<void> {
    const verify = superseded !== undefined;
    const yieldIfNewer = (): void => {
      if (superseded?.()) throw new Superseded();
    };
    const keep = new Set<string>();
    const errors: unknown[] = [];
    let ingress: { view: NetworkView; ns: string } | undefined;
    // An ingress sandbox that failed this pass keeps the mesh as it was, not removed.
    let ingressFailed = false;
    // One network's failure must not hold back the others; the pass still fails, and retries.
    for (const view of views) {
      if (isEncrypted(view)) {
        // Not a failure to retry: the kernel cannot do it. Tasks on it fail in prepare().
        if (!this.#refused.has(view.id))
          this.#log(`data plane: network ${view.name} is encrypted: not carried here`);
        this.#refused.add(view.id);
        continue;
      }
      const ns = this.#sb.nameOf(view.vni);
      if (keep.has(ns)) {
        errors.push(new Error(`network ${view.id}: VNI ${view.vni} is already another network's`));
        continue;
      }
      keep.add(ns);
      try {
        yieldIfNewer();
        const known = verify ? undefined : this.#known.get(ns);
        const id = known && (await this.#sb.identity(ns));
        const same = known !== undefined && id === known.id && this.#sb.namespaceOf(view.id) === ns;
        // The ingress sandbox also reaches the other nodes' sandboxes: replies go back through them.
        const peerView = view.ingress ? withPeerEndpoints(view, this.#sb.nodeId) : view;
        const structure = this.#sb.structureKey(view);
        const peers = this.#sb.peersKey(peerView);
        let created = false;
        if (!same || known.structure !== structure) created = (await this.#sb.converge(view)).created;
        if (!same || created || known.peers !== peers) await this.#sb.syncPeers(peerView);
        if (view.ingress && !ingress) ingress = { view, ns };
        if (created || !same) this.#mesh?.forget();
        const script = renderVipScript(view);
        // A namespace made again (deleted behind our back) holds no table, whatever we last wrote.
        const prevScript = this.#scripts.get(ns);
        if (!same || created || prevScript !== script) {
          this.#scripts.delete(ns);
          // In place when the table is surely the one we wrote; a failure leaves no script
          // remembered, so the retry replaces the whole table.
          const chains = same && !created && prevScript !== undefined ? this.#chains.get(ns) : undefined;
          this.#chains.delete(ns);
          await this.#sb.applyRules(view, chains);
          this.#scripts.set(ns, script);
          this.#chains.set(ns, vipChains(view));
        }
        const now = same && !created ? id : await this.#sb.identity(ns);
        if (now !== undefined) this.#known.set(ns, { id: now, structure, peers });
      } catch (e) {
        if (e instanceof Superseded) throw e;
        // Half done: the next pass observes this sandbox again.
        this.#known.delete(ns);
        if (view.ingress) ingressFailed = true;
        errors.push(e);
      }
    }
    if (this.#mesh && !ingressFailed) {
      yieldIfNewer();
      if (verify) this.#mesh.forget();
      try {
        await this.#mesh.apply(ingress?.view, ingress?.ns, this.#localSnatOf(ingress?.view));
      } catch (e) {
        errors.push(e);
      }
    }
    // Only a pass whose set of sandboxes changed (or a resync) looks for ones to remove.
    const keptKey = [...keep].sort().join(',');
    if (verify || keptKey !== this.#keptKey) {
      this.#keptKey = undefined;
      for (const ns of await this.#sb.list()) {
        if (keep.has(ns)) continue;
        try {
          await this.#sb.remove(ns);
          this.#scripts.delete(ns);
          this.#chains.delete(ns);
          this.#known.delete(ns);
        } catch (e) {
          errors.push(e);
        }
      }
    }
    if (errors.length > 0) {
      throw new AggregateError(errors, errors.map(errText).join('; '));
    }
    this.#keptKey = keptKey;
  }

  /** The failed-reply-route addresses still held by this node's ingress endpoints. */
  #localSnatOf(view: NetworkView | undefined): string[] {
    if (!view || this.#localSnat.size === 0) return [];
    const mine = new Set<string>();
    for (const ep of view.endpoints)
      if (ep.nodeId === this.#sb.nodeId) for (const a of ep.addresses) mine.add(a.split('/')[0] ?? a);
    for (const a of this.#localSnat) if (!mine.has(a)) this.#localSnat.delete(a);
    return [...this.#localSnat];
  }

  #scheduleResync(): void {
    if (this.#resyncMs <= 0 || !this.#started) return;
    this.#resyncTimer = this.#clock.setTimer(this.#resyncMs, () => {
      this.#resyncTimer = undefined;
      this.#force = true;
      this.#kick();
      this.#scheduleResync();
    });
  }

  #settleWaiters(err?: unknown): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      if (err === undefined) w.resolve();
      else w.reject(err);
    }
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
