// Per overlay network, one sandbox namespace per node (libnetwork's overlay layout): bridge `br0`
// holding the network's gateway(s) and every VIP of the network, and `vxlan<VNI>`, created in the
// daemon's namespace so its UDP socket uses the underlay, then moved in. Remote endpoints are static
// neighbour and FDB entries (no learning, no multicast; with `proxy`, ARP never crosses the tunnel).
// Every change is planned from what the kernel holds now against the view, so a partial failure or
// a restart converges on the next pass. The planning is pure; `Sandboxes` only observes and runs.
import { stat } from 'node:fs/promises';
import { ShoalError, tryParseCidr, type NetworkView } from '../api/index.js';
import { ipv4Of, macOf, splitAddress } from './addresses.js';
import { commandFailed, execRunner, mustRun, type CommandRunner } from './command.js';
import type { SandboxHost } from './sandboxhost.js';
import { renderVipScript, renderVipUpdate } from './vip.js';

export const BRIDGE = 'br0';
/** 1500 less VXLAN's 50 bytes of outer headers. */
export const OVERLAY_MTU = 1450;
export const VXLAN_PORT = 4789;
export const DEFAULT_NS_PREFIX = 'shoal-';
const MAX_VNI = 2 ** 24 - 1;

/** Forwarding between task ports, the bridge and the tunnel; DNAT of bridged frames needs br_netfilter. */
export const SANDBOX_SYSCTLS = [
  'net.ipv4.ip_forward=1',
  'net.ipv4.conf.all.rp_filter=0',
  'net.ipv4.conf.default.rp_filter=0',
  'net.ipv4.conf.all.send_redirects=0',
  'net.ipv4.conf.default.send_redirects=0',
  'net.bridge.bridge-nf-call-iptables=1',
];

export { macOf };

/** One kernel command of a plan. `retryAfter` runs (failure ignored) before one retry. */
export interface Step {
  argv: string[];
  input?: string;
  retryAfter?: string[];
}

/** What a sandbox namespace holds now, as `ip -d -j addr show` reports it. */
export interface SandboxState {
  exists: boolean;
  links: {
    name: string;
    master?: string;
    up: boolean;
    mtu: number;
    vxlan?: { id?: number; local?: string };
    /** As a bridge port: whether the bridge learns MACs behind it. */
    learning?: boolean;
  }[];
  /** br0's addresses, "ip/bits", link-local ones left out. */
  addrs: string[];
}

/** The tunnel's forwarding entries now: neighbour IP → MAC, and FDB MAC → remote underlay addresses. */
export interface PeerState {
  neigh: Map<string, string>;
  fdb: Map<string, string[]>;
}

export const vxlanName = (vni: number): string => `vxlan${vni}`;

/** Docker's rule: the option's presence asks for encryption, whatever its value. */
export function isEncrypted(view: NetworkView): boolean {
  return Object.hasOwn(view.options, 'encrypted');
}

function checkVni(vni: number): void {
  if (!Number.isInteger(vni) || vni < 1 || vni > MAX_VNI) {
    throw new ShoalError('InvalidArgument', `network VNI ${vni} is not in 1..${MAX_VNI}`);
  }
}

/** br0's wanted addresses: each gateway with its subnet's prefix, each VIP as a host address. */
export function wantedAddresses(view: NetworkView): string[] {
  const out = new Set<string>();
  for (const s of view.subnets) {
    const net = tryParseCidr(s.subnet);
    const gw = splitAddress(s.gateway);
    if (net && gw && gw.bits === undefined && gw.family === net.family) out.add(`${gw.ip}/${net.bits}`);
  }
  // The ingress sandbox holds the node's own ingress address: peers route replies to it, and
  // the mesh SNATs to it.
  const own = view.ingress && view.nodeAddress !== undefined ? splitAddress(view.nodeAddress) : undefined;
  if (own) out.add(`${own.ip}/${own.bits ?? (own.family === 4 ? 32 : 128)}`);
  for (const svc of view.services) {
    const vip = svc.vip === undefined ? undefined : splitAddress(svc.vip);
    if (vip && vip.bits === undefined) out.add(`${vip.ip}/${vip.family === 4 ? 32 : 128}`);
  }
  return [...out].sort();
}

/**
 * The steps that take a sandbox from `state` to the view's structure and addresses: namespace,
 * sysctls, bridge, VXLAN device (created in the daemon's namespace, moved in), br0's addresses.
 */
export function planSandbox(
  view: NetworkView,
  state: SandboxState,
  opts: { ns: string; underlay: string },
): Step[] {
  const { ns } = opts;
  const vx = vxlanName(view.vni);
  const steps: Step[] = [];
  const link = (name: string): SandboxState['links'][number] | undefined =>
    state.links.find((l) => l.name === name);
  const br = link(BRIDGE);
  if (!state.exists) steps.push({ argv: ['ip', 'netns', 'add', ns] });
  if (!state.exists || !br) {
    // Before the bridge exists, so the `default` values reach every interface created after.
    steps.push({ argv: inNetns(ns, ['sysctl', '-q', '-w', ...SANDBOX_SYSCTLS]) });
  }
  const setup: string[] = [];
  if (!state.exists) setup.push('link set lo up');
  if (!br) setup.push(`link add ${BRIDGE} type bridge`);
  if (!br || !br.up || br.mtu !== OVERLAY_MTU) setup.push(`link set ${BRIDGE} mtu ${OVERLAY_MTU} up`);
  if (setup.length > 0) steps.push(ipBatch(ns, setup));

  const dev = link(vx);
  const vxOk = dev?.vxlan !== undefined && dev.vxlan.id === view.vni && dev.vxlan.local === opts.underlay;
  if (dev && !vxOk) steps.push({ argv: ['ip', '-n', ns, 'link', 'del', vx] });
  if (!vxOk) {
    const add = ['ip', 'link', 'add', vx, 'type', 'vxlan', 'id', String(view.vni), 'local', opts.underlay];
    add.push('dstport', String(VXLAN_PORT), 'nolearning', 'proxy');
    // A device of that name left in the daemon's namespace by a pass that died before the move.
    steps.push({ argv: add, retryAfter: ['ip', 'link', 'del', vx] });
    steps.push({ argv: ['ip', 'link', 'set', vx, 'netns', ns] });
  }
  if (!vxOk || dev.master !== BRIDGE || !dev.up || dev.mtu !== OVERLAY_MTU || dev.learning !== false) {
    // No learning behind the tunnel port: remote MACs are the FDB entries we program, and a learnt
    // one would outlive its endpoint by the ageing time.
    steps.push(
      ipBatch(ns, [
        `link set ${vx} master ${BRIDGE} mtu ${OVERLAY_MTU} up`,
        `link set ${vx} type bridge_slave learning off`,
      ]),
    );
  }

  const want = wantedAddresses(view);
  const have = new Set(state.addrs);
  const addrs: string[] = [];
  for (const a of state.addrs) if (!want.includes(a)) addrs.push(`addr del ${a} dev ${BRIDGE}`);
  for (const a of want) {
    if (!have.has(a)) addrs.push(`addr add ${a} dev ${BRIDGE}${a.includes(':') ? ' nodad' : ''}`);
  }
  if (addrs.length > 0) steps.push(ipBatch(ns, addrs));
  return steps;
}

/**
 * The neighbour and FDB changes that bring the tunnel's entries to the view: one entry pair per
 * remote endpoint (ready or not: a starting task must already be reachable), none for local ones
 * (the bridge learns them), and the entries of endpoints that left deleted. Unchanged entries are
 * not touched.
 */
export function planPeers(
  view: NetworkView,
  nodeId: string,
  state: PeerState,
): { neigh: string[]; fdb: string[] } {
  const vx = vxlanName(view.vni);
  const { neigh: wantNeigh, fdb: wantFdb } = wantedPeers(view, nodeId);
  const neigh: string[] = [];
  for (const ip of [...state.neigh.keys()].sort()) {
    if (!wantNeigh.has(ip)) neigh.push(`neigh del ${ip} dev ${vx}`);
  }
  for (const [ip, mac] of [...wantNeigh].sort()) {
    if (state.neigh.get(ip) !== mac) neigh.push(`neigh replace ${ip} lladdr ${mac} dev ${vx} nud permanent`);
  }
  const fdb: string[] = [];
  for (const [mac, dsts] of [...state.fdb].sort()) {
    for (const d of dsts) if (wantFdb.get(mac) !== d) fdb.push(`fdb del ${mac} dev ${vx} dst ${d} self`);
  }
  for (const [mac, dst] of [...wantFdb].sort()) {
    const have = state.fdb.get(mac);
    if (have?.length !== 1 || have[0] !== dst) {
      fdb.push(`fdb replace ${mac} dev ${vx} dst ${dst} self permanent`);
    }
  }
  return { neigh, fdb };
}

/** The tunnel entries the view wants on this node: neighbour IP → MAC, and FDB MAC → underlay address. */
export function wantedPeers(
  view: NetworkView,
  nodeId: string,
): { neigh: Map<string, string>; fdb: Map<string, string> } {
  const wantNeigh = new Map<string, string>();
  const wantFdb = new Map<string, string>();
  // Ready endpoints first, so that of two endpoints claiming one address the live one wins.
  const eps = [...view.endpoints].sort((a, b) => Number(b.ready) - Number(a.ready) || (a.id < b.id ? -1 : 1));
  for (const ep of eps) {
    if (ep.nodeId === nodeId) continue;
    const v4 = ipv4Of(ep);
    const dst = splitAddress(ep.nodeAddr);
    if (v4 === undefined || !dst || dst.bits !== undefined) continue;
    const mac = macOf(v4);
    if (wantFdb.has(mac)) continue;
    wantFdb.set(mac, dst.ip);
    for (const a of ep.addresses) {
      const s = splitAddress(a);
      if (s && !wantNeigh.has(s.ip)) wantNeigh.set(s.ip, mac);
    }
  }
  return { neigh: wantNeigh, fdb: wantFdb };
}

/**
 * A command run in a sandbox's network namespace only. Not `ip netns exec`: that also makes a
 * mount namespace and remounts /sys for each command, and tearing that down waits for RCU grace
 * periods: 0.5-1.5 s per `nft -f` on a loaded 2-vCPU host (bench/overlay.ts trace), against
 * tens of ms for setns alone. Neither nft nor sysctl's /proc/sys/net needs more than the netns.
 */
export function inNetns(ns: string, argv: readonly string[]): string[] {
  return ['nsenter', `--net=/run/netns/${ns}`, ...argv];
}

function ipBatch(ns: string, lines: string[]): Step {
  return { argv: ['ip', '-n', ns, '-batch', '-'], input: lines.join('\n') + '\n' };
}

interface IpLink {
  ifname?: string;
  flags?: string[];
  mtu?: number;
  master?: string;
  linkinfo?: {
    info_kind?: string;
    info_data?: { id?: number; local?: string };
    info_slave_data?: { learning?: boolean };
  };
  addr_info?: { family?: string; local?: string; prefixlen?: number; scope?: string }[];
}

/** Reads `ip -d -j addr show` of a sandbox. */
export function parseSandboxState(json: string): SandboxState {
  const links = JSON.parse(json) as IpLink[];
  const state: SandboxState = { exists: true, links: [], addrs: [] };
  for (const l of links) {
    if (l.ifname === undefined) continue;
    const entry: SandboxState['links'][number] = {
      name: l.ifname,
      up: l.flags?.includes('UP') ?? false,
      mtu: l.mtu ?? 0,
    };
    if (l.master !== undefined) entry.master = l.master;
    const learning = l.linkinfo?.info_slave_data?.learning;
    if (learning !== undefined) entry.learning = learning;
    if (l.linkinfo?.info_kind === 'vxlan') {
      const d = l.linkinfo.info_data ?? {};
      entry.vxlan = {};
      if (d.id !== undefined) entry.vxlan.id = d.id;
      if (d.local !== undefined) entry.vxlan.local = d.local;
    }
    state.links.push(entry);
    if (l.ifname !== BRIDGE) continue;
    for (const a of l.addr_info ?? []) {
      if (a.scope === 'link' || a.local === undefined || a.prefixlen === undefined) continue;
      const s = splitAddress(a.local);
      if (s) state.addrs.push(`${s.ip}/${a.prefixlen}`);
    }
  }
  return state;
}

/** Reads `ip -j neigh show dev X` and `bridge -j fdb show dev X`. */
export function parsePeerState(neighJson: string, fdbJson: string): PeerState {
  const state: PeerState = { neigh: new Map(), fdb: new Map() };
  for (const n of JSON.parse(neighJson || '[]') as { dst?: string; lladdr?: string }[]) {
    const s = n.dst === undefined ? undefined : splitAddress(n.dst);
    if (s) state.neigh.set(s.ip, (n.lladdr ?? '').toLowerCase());
  }
  for (const f of JSON.parse(fdbJson || '[]') as { mac?: string; dst?: string; flags?: string[] }[]) {
    // The bridge's own entries for the port (`master br0`) are not the tunnel's.
    if (f.mac === undefined || f.dst === undefined || !(f.flags ?? []).includes('self')) continue;
    const mac = f.mac.toLowerCase();
    state.fdb.set(mac, [...(state.fdb.get(mac) ?? []), f.dst]);
  }
  return state;
}

export interface SandboxesOptions {
  nodeId: string;
  /** This node's address that VXLAN uses as local. */
  underlayAddr: () => string;
  /** Sandbox namespaces are `<nsPrefix><vni>`; only names of that form are ever removed. */
  nsPrefix?: string;
  run?: CommandRunner;
  log?: (m: string) => void;
  /**
   * Which namespace a name stands for now (undefined: none), without running a command: the data
   * plane skips observing a sandbox it built itself while this stays the same. Default: the
   * device and inode of /run/netns/<name> when commands run unprefixed, else none (always observe).
   */
  namespaceId?: (ns: string) => Promise<string | undefined>;
}

async function netnsInode(ns: string): Promise<string | undefined> {
  try {
    const st = await stat(`/run/netns/${ns}`);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

export class Sandboxes implements SandboxHost {
  readonly nodeId: string;
  readonly nsPrefix: string;
  readonly #underlay: () => string;
  readonly #run: CommandRunner;
  readonly #log: (m: string) => void;
  readonly #namespaceId: ((ns: string) => Promise<string | undefined>) | undefined;
  readonly #byNetwork = new Map<string, string>();
  /** Per namespace, the tail of its chain of operations: one change at a time per sandbox. */
  readonly #tails = new Map<string, Promise<unknown>>();

  constructor(opts: SandboxesOptions) {
    this.nodeId = opts.nodeId;
    this.nsPrefix = opts.nsPrefix ?? DEFAULT_NS_PREFIX;
    this.#underlay = opts.underlayAddr;
    this.#run = opts.run ?? execRunner();
    this.#log = opts.log ?? (() => {});
    this.#namespaceId = opts.namespaceId ?? (opts.run === undefined ? netnsInode : undefined);
  }

  /** See SandboxesOptions.namespaceId: undefined when the namespace is gone or cannot be told. */
  async identity(ns: string): Promise<string | undefined> {
    return this.#namespaceId?.(ns);
  }

  /** What planSandbox depends on, besides the kernel: equal keys plan the same structure. */
  structureKey(view: NetworkView): string {
    return JSON.stringify([view.vni, this.#underlay(), wantedAddresses(view)]);
  }

  /** What planPeers depends on, besides the kernel: equal keys want the same tunnel entries. */
  peersKey(view: NetworkView): string {
    const { neigh, fdb } = wantedPeers(view, this.nodeId);
    return JSON.stringify([view.vni, [...neigh].sort(), [...fdb].sort()]);
  }

  nameOf(vni: number): string {
    return `${this.nsPrefix}${vni}`;
  }

  namespaceOf(networkId: string): string | undefined {
    return this.#byNetwork.get(networkId);
  }

  async ensure(view: NetworkView): Promise<string> {
    return (await this.converge(view)).ns;
  }

  /** ensure(), also saying whether the namespace had to be created (its VIP table is then empty). */
  async converge(view: NetworkView): Promise<{ ns: string; created: boolean }> {
    checkVni(view.vni);
    // Never carry an encrypted network's traffic in the clear: this kernel has no ESP (see
    // reference/networking.md), so such a network gets no sandbox here at all.
    if (isEncrypted(view)) {
      throw new ShoalError(
        'FailedPrecondition',
        `network ${view.name} is encrypted, and this node's kernel has no IPsec ESP to carry it`,
      );
    }
    const ns = this.nameOf(view.vni);
    const created = await this.#serial(ns, async () => {
      const underlay = splitAddress(this.#underlay());
      if (!underlay || underlay.bits !== undefined) {
        throw new ShoalError('Unavailable', `no underlay address for VXLAN on node ${this.nodeId}`);
      }
      const state = await this.#observe(ns);
      const steps = planSandbox(view, state, { ns, underlay: underlay.ip });
      if (!state.exists) this.#log(`sandbox ${ns}: creating for network ${view.name} (VNI ${view.vni})`);
      await this.#exec(steps);
      return !state.exists;
    });
    this.#byNetwork.set(view.id, ns);
    return { ns, created };
  }

  /** Brings the tunnel's neighbour and FDB entries to the view; returns how many lines changed. */
  async syncPeers(view: NetworkView): Promise<number> {
    const ns = this.nameOf(view.vni);
    const vx = vxlanName(view.vni);
    return this.#serial(ns, async () => {
      const n = await mustRun(this.#run, ['ip', '-n', ns, '-j', 'neigh', 'show', 'dev', vx]);
      const f = await mustRun(this.#run, ['bridge', '-n', ns, '-j', 'fdb', 'show', 'dev', vx]);
      const plan = planPeers(view, this.nodeId, parsePeerState(n.stdout, f.stdout));
      const steps: Step[] = [];
      if (plan.neigh.length > 0) steps.push(ipBatch(ns, plan.neigh));
      if (plan.fdb.length > 0) {
        steps.push({ argv: ['bridge', '-n', ns, '-batch', '-'], input: plan.fdb.join('\n') + '\n' });
      }
      await this.#exec(steps);
      return plan.neigh.length + plan.fdb.length;
    });
  }

  /**
   * Replaces the sandbox's VIP table with the view's, in one transaction. `prevChains`: the table
   * is the one this node last wrote, with these service chains; it is then updated in place.
   */
  async applyRules(view: NetworkView, prevChains?: readonly string[]): Promise<void> {
    const ns = this.nameOf(view.vni);
    const script = prevChains ? renderVipUpdate(view, prevChains) : renderVipScript(view);
    await this.#serial(ns, () => mustRun(this.#run, inNetns(ns, ['nft', '-f', '-']), script));
  }

  async plug(networkId: string, ifname: string): Promise<void> {
    const ns = this.#byNetwork.get(networkId);
    if (ns === undefined)
      throw new ShoalError('NotFound', `network ${networkId} has no sandbox on this node`);
    if (!IFNAME.test(ifname))
      throw new ShoalError('InvalidArgument', `bad interface name ${JSON.stringify(ifname)}`);
    await this.#serial(ns, async () => {
      const move = ['ip', 'link', 'set', ifname, 'netns', ns];
      const res = await this.#run.run(move);
      // A retried plug finds the interface already moved: that is done, not an error.
      if (res.code !== 0 && (await this.#run.run(['ip', '-n', ns, 'link', 'show', ifname])).code !== 0) {
        throw commandFailed(move, res);
      }
      await this.#exec([
        ipBatch(ns, [
          `link set ${ifname} master ${BRIDGE} mtu ${OVERLAY_MTU} up`,
          // Without hairpin a task cannot reach its own VIP when DNAT picks it as the backend.
          `link set ${ifname} type bridge_slave hairpin on`,
        ]),
      ]);
    });
  }

  /** The sandbox namespaces on this node with this prefix (`<prefix><vni>` only). */
  async list(): Promise<string[]> {
    const res = await mustRun(this.#run, ['ip', 'netns', 'list']);
    const own = new RegExp(`^${this.nsPrefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\d+$`);
    return res.stdout
      .split('\n')
      .map((line) => line.split(' ')[0] ?? '')
      .filter((name) => own.test(name));
  }

  /** Deletes a sandbox namespace: its bridge, tunnel and task ports go with it. */
  async remove(ns: string): Promise<void> {
    await this.#serial(ns, async () => {
      this.#log(`sandbox ${ns}: removing`);
      const res = await this.#run.run(['ip', 'netns', 'del', ns]);
      if (res.code !== 0 && !/No such file/.test(res.stderr))
        throw commandFailed(['ip', 'netns', 'del', ns], res);
    });
    for (const [id, name] of this.#byNetwork) if (name === ns) this.#byNetwork.delete(id);
  }

  /** Forgets a network's name mapping (its view left) without touching the kernel. */
  forget(networkId: string): void {
    this.#byNetwork.delete(networkId);
  }

  async #observe(ns: string): Promise<SandboxState> {
    const res = await this.#run.run(['ip', '-n', ns, '-d', '-j', 'addr', 'show']);
    if (res.code !== 0) {
      if (/Cannot open network namespace|No such file/.test(res.stderr)) {
        return { exists: false, links: [], addrs: [] };
      }
      throw commandFailed(['ip', '-n', ns, '-d', '-j', 'addr', 'show'], res);
    }
    return parseSandboxState(res.stdout);
  }

  async #exec(steps: Step[]): Promise<void> {
    for (const step of steps) {
      const res = await this.#run.run(step.argv, step.input !== undefined ? { input: step.input } : {});
      if (res.code === 0) continue;
      if (step.retryAfter === undefined) throw commandFailed(step.argv, res);
      await this.#run.run(step.retryAfter);
      await mustRun(this.#run, step.argv, step.input);
    }
  }

  #serial<T>(ns: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(ns) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.#tails.set(ns, tail);
    void tail.then(() => {
      if (this.#tails.get(ns) === tail) this.#tails.delete(ns);
    });
    return next;
  }
}
