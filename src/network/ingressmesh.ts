// The routing mesh applied: the transit veth between the node's namespace and the ingress
// sandbox, the ingress subnet's route through it, the peers' reply routes in the sandbox, and the
// two `shoal_ingress` tables (ingress.ts renders them). Each pass observes what it must (the
// transit link, the sandbox's rules) and rewrites a table only when its script changed; forget()
// makes the next pass check and rewrite everything. Only our own objects are ever touched: the
// node namespace's other tables and rules stay as they are.
import type { NetworkView } from '../api/index.js';
import { commandFailed, mustRun, type CommandRunner } from './command.js';
import { inNetns } from './sandbox.js';
import {
  DEFAULT_TRANSIT,
  INGRESS_TABLE,
  PEER_RULE_PREF,
  TRANSIT_BITS,
  planIngress,
  renderHostIngressScript,
  renderIngressRemoval,
  renderSandboxIngressScript,
  type IngressPlan,
  type TransitLink,
} from './ingress.js';
import { macOf } from './addresses.js';
import { BRIDGE } from './sandbox.js';

export interface IngressMeshOptions {
  nodeId: string;
  /** Runs in the node's own namespace (the one whose addresses answer published ports). */
  run: CommandRunner;
  transit?: TransitLink;
  log?: (m: string) => void;
}

/** iptables waits this long for its lock (dockerd may hold it). */
const XTABLES_WAIT_S = '5';

export class IngressMesh {
  readonly #nodeId: string;
  readonly #run: CommandRunner;
  readonly #transit: TransitLink;
  readonly #log: (m: string) => void;
  #hostScript: string | undefined;
  #sandboxScript: string | undefined;
  #transitKey: string | undefined;
  #peersKey: string | undefined;
  #plan: IngressPlan | undefined;

  constructor(o: IngressMeshOptions) {
    this.#nodeId = o.nodeId;
    this.#run = o.run;
    this.#transit = o.transit ?? DEFAULT_TRANSIT;
    this.#log = o.log ?? (() => {});
  }

  get transit(): TransitLink {
    return this.#transit;
  }

  /** The plan the last pass applied (tests, diagnostics). */
  get plan(): IngressPlan | undefined {
    return this.#plan;
  }

  /** Forget what the kernel is believed to hold: the next pass checks and rewrites it all. */
  forget(): void {
    this.#hostScript = undefined;
    this.#sandboxScript = undefined;
    this.#transitKey = undefined;
    this.#peersKey = undefined;
  }

  /**
   * Converges the mesh on the ingress view (undefined: this node has none, so nothing is
   * published here). `ns` is the ingress sandbox, already converged; `localSnat` holds this
   * node's ingress tasks that have no reply route.
   */
  async apply(
    view: NetworkView | undefined,
    ns: string | undefined,
    localSnat: readonly string[] = [],
  ): Promise<void> {
    if (!view?.ingress || ns === undefined) {
      await this.#removeHost();
      this.#plan = undefined;
      return;
    }
    const plan = planIngress(view, this.#nodeId);
    await this.#ensureTransit(view, ns, plan);
    await this.#syncPeerRoutes(ns, plan);
    const sb = renderSandboxIngressScript(plan, this.#transit, localSnat);
    if (sb !== this.#sandboxScript) {
      this.#sandboxScript = undefined;
      await mustRun(this.#run, inNetns(ns, ['nft', '-f', '-']), sb);
      this.#sandboxScript = sb;
    }
    const host = renderHostIngressScript(plan, this.#transit);
    if (host !== this.#hostScript) {
      this.#hostScript = undefined;
      await mustRun(this.#run, ['nft', '-f', '-'], host);
      this.#hostScript = host;
      this.#log(
        `ingress: publishing ${plan.ports.map((p) => `${p.protocol}/${p.published}`).join(' ') || 'nothing'}`,
      );
    }
    this.#plan = plan;
  }

  /** Removes everything the mesh made in the node's namespace (swarm leave). */
  async teardown(): Promise<void> {
    await this.#removeHost(true);
    this.forget();
    this.#plan = undefined;
  }

  async #removeHost(force = false): Promise<void> {
    if (!force && this.#hostScript === '') return;
    const t = this.#transit;
    await mustRun(this.#run, ['nft', '-f', '-'], renderIngressRemoval());
    // The sandbox end goes with the sandbox; this catches a pair left by a sandbox still there.
    await this.#run.run(['ip', 'link', 'del', t.hostIf]);
    await this.#dockerUser('-D');
    this.#hostScript = '';
    this.#sandboxScript = undefined;
    this.#transitKey = undefined;
    this.#peersKey = undefined;
  }

  async #ensureTransit(view: NetworkView, ns: string, plan: IngressPlan): Promise<void> {
    const t = this.#transit;
    const subnets = view.subnets.map((s) => s.subnet).filter((s) => /^[0-9.]+\/\d+$/.test(s));
    const key = JSON.stringify([ns, subnets, plan.self]);
    // Built by us and unchanged: the node plane calls forget() when the sandbox was made again or
    // on its resync, so a pass that only moves backends starts no process here.
    if (this.#transitKey === key) return;
    const inside = await this.#run.run(['ip', '-n', ns, 'link', 'show', t.sandboxIf]);
    this.#transitKey = undefined;
    if (inside.code !== 0) {
      await this.#run.run(['ip', 'link', 'del', t.hostIf]);
      await mustRun(this.#run, [
        'ip',
        'link',
        'add',
        t.hostIf,
        'type',
        'veth',
        'peer',
        'name',
        t.sandboxIf,
        'netns',
        ns,
      ]);
    }
    await mustRun(this.#run, ['ip', 'addr', 'replace', `${t.hostAddr}/${TRANSIT_BITS}`, 'dev', t.hostIf]);
    await mustRun(this.#run, ['ip', 'link', 'set', t.hostIf, 'up']);
    // Forwarding into the sandbox; loopback sources may leave on the transit link (then SNATed).
    await mustRun(this.#run, [
      'sysctl',
      '-q',
      '-w',
      'net.ipv4.ip_forward=1',
      `net.ipv4.conf.${t.hostIf}.route_localnet=1`,
      `net.ipv4.conf.${t.hostIf}.rp_filter=0`,
    ]);
    const lines = [
      `addr replace ${t.sandboxAddr}/${TRANSIT_BITS} dev ${t.sandboxIf}`,
      `link set ${t.sandboxIf} up`,
      `route replace default via ${t.hostAddr} dev ${t.sandboxIf}`,
    ];
    // Peers recognise this node's sandbox by its bridge's MAC, derived from its ingress address.
    if (plan.self !== undefined) lines.push(`link set ${BRIDGE} address ${macOf(plan.self)}`);
    await mustRun(this.#run, ['ip', '-n', ns, '-batch', '-'], lines.join('\n') + '\n');
    for (const s of subnets) {
      await mustRun(this.#run, ['ip', 'route', 'replace', s, 'via', t.sandboxAddr, 'dev', t.hostIf]);
    }
    await this.#dockerUser('-I');
    this.#transitKey = key;
  }

  /**
   * Where a dockerd runs in the node's namespace, its FORWARD policy is DROP and an accept in our
   * own table cannot override it: the transit link's traffic is accepted in DOCKER-USER, the chain
   * dockerd keeps for this. Without dockerd's chain there is nothing to open.
   */
  async #dockerUser(op: '-I' | '-D'): Promise<void> {
    const has = await this.#run.run(['iptables', '-w', XTABLES_WAIT_S, '-n', '-L', 'DOCKER-USER']);
    if (has.code !== 0) return;
    for (const dir of ['-i', '-o']) {
      const rule = ['DOCKER-USER', dir, this.#transit.hostIf, '-j', 'ACCEPT'];
      const check = await this.#run.run(['iptables', '-w', XTABLES_WAIT_S, '-C', ...rule]);
      if (op === '-I' && check.code !== 0)
        await mustRun(this.#run, ['iptables', '-w', XTABLES_WAIT_S, '-I', ...rule]);
      if (op === '-D' && check.code === 0)
        await this.#run.run(['iptables', '-w', XTABLES_WAIT_S, '-D', ...rule]);
    }
  }

  /** One `ip rule fwmark M lookup M` and table M (default via the peer) per peer sandbox. */
  async #syncPeerRoutes(ns: string, plan: IngressPlan): Promise<void> {
    const key = JSON.stringify(plan.peers.map((p) => [p.address, p.mark]));
    if (key === this.#peersKey) return;
    this.#peersKey = undefined;
    const res = await mustRun(this.#run, ['ip', '-n', ns, '-j', 'rule', 'show']);
    const have = new Set<number>();
    for (const r of JSON.parse(res.stdout || '[]') as { priority?: number; fwmark?: string }[]) {
      if (r.priority === PEER_RULE_PREF && r.fwmark !== undefined) have.add(Number(r.fwmark));
    }
    const want = new Map(plan.peers.map((p) => [p.mark, p]));
    const lines: string[] = [];
    for (const m of have) {
      if (want.has(m)) continue;
      lines.push(`rule del pref ${PEER_RULE_PREF} fwmark 0x${m.toString(16)}`);
      lines.push(`route flush table ${m}`);
    }
    for (const [m, p] of want) {
      lines.push(`route replace default via ${p.address} dev ${BRIDGE} onlink table ${m}`);
      if (!have.has(m)) lines.push(`rule add pref ${PEER_RULE_PREF} fwmark 0x${m.toString(16)} lookup ${m}`);
    }
    if (lines.length > 0) {
      const argv = ['ip', '-n', ns, '-batch', '-'];
      // `route flush` of an empty table fails the batch; run line by line so one does not stop the rest.
      const res2 = await this.#run.run(['ip', '-n', ns, '-force', '-batch', '-'], {
        input: lines.join('\n') + '\n',
      });
      if (res2.code !== 0 && want.size > 0) {
        const check = await mustRun(this.#run, ['ip', '-n', ns, '-j', 'rule', 'show']);
        const now = (JSON.parse(check.stdout || '[]') as { priority?: number; fwmark?: string }[]).filter(
          (r) => r.priority === PEER_RULE_PREF,
        ).length;
        if (now !== want.size) throw commandFailed(argv, res2);
      }
    }
    this.#peersKey = key;
  }
}

export { INGRESS_TABLE };
