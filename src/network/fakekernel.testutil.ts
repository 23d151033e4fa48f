// A fake of the few kernel commands the data plane runs, keeping just enough state (namespaces,
// links, br0's addresses, neighbour and FDB entries, nft scripts) for planning tests without root.
// It records every command, so a test can assert what a pass ran.
import type { CommandResult, CommandRunner } from './command.js';

interface FakeLink {
  name: string;
  master?: string;
  up: boolean;
  mtu: number;
  vxlan?: { id: number; local: string };
  learning?: boolean;
  hairpin?: boolean;
}
interface FakeNs {
  links: Map<string, FakeLink>;
  addrs: string[];
  neigh: Map<string, string>;
  fdb: Map<string, string>;
  nft?: string;
}

export class FakeKernel implements CommandRunner {
  readonly calls: { argv: string[]; input?: string }[] = [];
  readonly ns = new Map<string, FakeNs>();
  readonly daemonLinks = new Map<string, FakeLink>();
  /** A command matching this fails once (then the matcher is cleared). */
  failOnce: ((argv: string[]) => boolean) | undefined;

  readonly #ids = new WeakMap<FakeNs, number>();
  #nextId = 1;

  /** Sandboxes' `namespaceId`: a namespace made again (or replaced in `ns`) gets a new one. */
  readonly namespaceId = (name: string): Promise<string | undefined> => {
    const n = this.ns.get(name);
    if (!n) return Promise.resolve(undefined);
    if (!this.#ids.has(n)) this.#ids.set(n, this.#nextId++);
    return Promise.resolve(String(this.#ids.get(n)));
  };

  /** The calls that change something (reads left out). */
  writes(): string[] {
    return this.calls
      .filter((c) => !isRead(c.argv))
      .map((c) => c.argv.join(' ') + (c.input !== undefined ? `\n${c.input}` : ''));
  }

  run(argv: readonly string[], opts: { input?: string } = {}): Promise<CommandResult> {
    const a = [...argv];
    this.calls.push(opts.input !== undefined ? { argv: a, input: opts.input } : { argv: a });
    if (this.failOnce?.(a)) {
      this.failOnce = undefined;
      return Promise.resolve({ code: 2, stdout: '', stderr: 'RTNETLINK answers: injected failure' });
    }
    try {
      return Promise.resolve({ code: 0, stdout: this.#exec(a, opts.input ?? ''), stderr: '' });
    } catch (e) {
      return Promise.resolve({ code: 1, stdout: '', stderr: (e as Error).message });
    }
  }

  #exec(a: string[], input: string): string {
    const j = a.join(' ');
    let m: RegExpMatchArray | null;
    if (j === 'ip netns list') return [...this.ns.keys()].map((n) => `${n}\n`).join('');
    if ((m = /^ip netns add (\S+)$/.exec(j))) {
      if (this.ns.has(m[1]!)) throw new Error('File exists');
      this.ns.set(m[1]!, {
        links: new Map([['lo', { name: 'lo', up: false, mtu: 65536 }]]),
        addrs: [],
        neigh: new Map(),
        fdb: new Map(),
      });
      return '';
    }
    if ((m = /^ip netns del (\S+)$/.exec(j))) {
      if (!this.ns.delete(m[1]!)) throw new Error('No such file or directory');
      return '';
    }
    if ((m = /^(?:ip netns exec |nsenter --net=\/run\/netns\/)(\S+) (.*)$/.exec(j))) {
      const ns = this.#ns(m[1]!);
      if (m[2]!.startsWith('nft -f -')) ns.nft = input;
      return '';
    }
    if ((m = /^ip link add (\S+) type vxlan id (\d+) local (\S+) /.exec(j))) {
      if (this.daemonLinks.has(m[1]!)) throw new Error('RTNETLINK answers: File exists');
      this.daemonLinks.set(m[1]!, {
        name: m[1]!,
        up: false,
        mtu: 1500,
        vxlan: { id: Number(m[2]), local: m[3]! },
      });
      return '';
    }
    if ((m = /^ip link del (\S+)$/.exec(j))) {
      if (!this.daemonLinks.delete(m[1]!)) throw new Error('Cannot find device');
      return '';
    }
    if ((m = /^ip link set (\S+) netns (\S+)$/.exec(j))) {
      const link = this.daemonLinks.get(m[1]!) ?? { name: m[1]!, up: false, mtu: 1500 };
      this.daemonLinks.delete(m[1]!);
      this.#ns(m[2]!).links.set(link.name, link);
      return '';
    }
    if ((m = /^ip -n (\S+) -d -j addr show$/.exec(j))) {
      const ns = this.ns.get(m[1]!);
      if (!ns) throw new Error(`Cannot open network namespace "${m[1]}": No such file or directory`);
      return JSON.stringify(
        [...ns.links.values()].map((l) => ({
          ifname: l.name,
          flags: l.up ? ['UP'] : [],
          mtu: l.mtu,
          ...(l.master !== undefined ? { master: l.master } : {}),
          linkinfo: {
            ...(l.vxlan ? { info_kind: 'vxlan', info_data: l.vxlan } : {}),
            ...(l.learning !== undefined ? { info_slave_data: { learning: l.learning } } : {}),
          },
          addr_info:
            l.name === 'br0'
              ? ns.addrs.map((x) => ({
                  family: 'inet',
                  local: x.split('/')[0],
                  prefixlen: Number(x.split('/')[1]),
                }))
              : [],
        })),
      );
    }
    if ((m = /^ip -n (\S+) -j neigh show dev \S+$/.exec(j))) {
      const ns = this.#ns(m[1]!);
      return JSON.stringify([...ns.neigh].map(([dst, lladdr]) => ({ dst, lladdr, state: ['PERMANENT'] })));
    }
    if ((m = /^bridge -n (\S+) -j fdb show dev \S+$/.exec(j))) {
      const ns = this.#ns(m[1]!);
      return JSON.stringify(
        [...ns.fdb].map(([mac, dst]) => ({ mac, dst, flags: ['self'], state: 'permanent' })),
      );
    }
    if ((m = /^ip -n (\S+) link show (\S+)$/.exec(j))) {
      if (!this.#ns(m[1]!).links.has(m[2]!)) throw new Error('Device does not exist');
      return '';
    }
    if ((m = /^(ip|bridge) -n (\S+) -batch -$/.exec(j))) {
      const ns = this.#ns(m[2]!);
      for (const line of input.split('\n').filter(Boolean)) this.#line(ns, line.split(' '));
      return '';
    }
    if ((m = /^ip -n (\S+) (link .*)$/.exec(j))) {
      this.#line(this.#ns(m[1]!), m[2]!.split(' '));
      return '';
    }
    throw new Error(`fake kernel: unknown command ${j}`);
  }

  #line(ns: FakeNs, w: string[]): void {
    const [obj, verb, name] = w;
    if (obj === 'link' && verb === 'add') {
      ns.links.set(name!, { name: name!, up: false, mtu: 1500 });
    } else if (obj === 'link' && verb === 'del') {
      ns.links.delete(name!);
    } else if (obj === 'link' && verb === 'set') {
      const l = ns.links.get(name!);
      if (!l) throw new Error(`Cannot find device "${name}"`);
      for (let i = 3; i < w.length; i++) {
        if (w[i] === 'up') l.up = true;
        else if (w[i] === 'mtu') l.mtu = Number(w[++i]);
        else if (w[i] === 'master') l.master = w[++i]!;
        else if (w[i] === 'learning') l.learning = w[++i] === 'on';
        else if (w[i] === 'hairpin') l.hairpin = w[++i] === 'on';
      }
    } else if (obj === 'addr' && verb === 'add') {
      if (ns.addrs.includes(name!)) throw new Error('RTNETLINK answers: File exists');
      ns.addrs.push(name!);
    } else if (obj === 'addr' && verb === 'del') {
      ns.addrs = ns.addrs.filter((x) => x !== name);
    } else if (obj === 'neigh' && verb === 'replace') {
      ns.neigh.set(name!, w[4]!);
    } else if (obj === 'neigh' && verb === 'del') {
      ns.neigh.delete(name!);
    } else if (obj === 'fdb' && verb === 'replace') {
      ns.fdb.set(name!, w[6]!);
    } else if (obj === 'fdb' && verb === 'del') {
      ns.fdb.delete(name!);
    } else {
      throw new Error(`fake kernel: unknown line ${w.join(' ')}`);
    }
  }

  #ns(name: string): FakeNs {
    const ns = this.ns.get(name);
    if (!ns) throw new Error(`Cannot open network namespace "${name}": No such file or directory`);
    return ns;
  }
}

function isRead(a: string[]): boolean {
  const j = a.join(' ');
  return / show( |$)/.test(j) || j === 'ip netns list';
}
