// The names one overlay network answers, from the node's view of it (api/dataplane.ts). Pure: the
// server (server.ts) decodes and encodes packets; this file maps a question to an answer.
//
// Choices, each one a behaviour a test pins down:
// - Only READY endpoints answer, task names included. A starting or stopping task's name answers
//   NXDOMAIN, as Swarm drops a task's records when it leaves RUNNING: a peer that resolves it
//   would reach a container that is not serving yet, or is going away.
// - A name the network knows but with no ready address (a dnsrr service scaled to 0) answers
//   NXDOMAIN rather than being forwarded: cluster names never leave the node.
// - A name with addresses of the other family only answers NOERROR with no records (NODATA), or
//   glibc fails the A lookup of a name whose AAAA lookup said NXDOMAIN.
// - TTL 0: the answers follow the view the moment it changes, and dnsrr is reshuffled on every
//   lookup. The cost is a query per lookup, which the resolver carries (bench/dns.ts).
import { isIP } from 'node:net';
import type { StringAnswer } from 'dns-packet';
import { parseIp, type NetworkView } from '../../api/index.js';

export const RECORD_TTL = 0;

export type Rcode = 'NOERROR' | 'NXDOMAIN';

/** What a name of the network answers; undefined from `answer` for a name it does not know. */
export interface Reply {
  rcode: Rcode;
  answers: StringAnswer[];
}

/** The addresses behind one name. `shuffle`: several answers, in a new order at each lookup. */
interface NameEntry {
  v4: string[];
  v6: string[];
  shuffle: boolean;
}

/** A view's names, by lower-case name without the trailing dot: each lookup is one Map read. */
export interface NetworkIndex {
  names: Map<string, NameEntry>;
  /** Reverse names (`5.1.96.10.in-addr.arpa`) of ready endpoints and VIPs, to their name. */
  ptr: Map<string, string>;
}

const bare = (addr: string): string => {
  const slash = addr.indexOf('/');
  return slash < 0 ? addr : addr.slice(0, slash);
};

/** The reverse-lookup name of an address, or undefined for a string that is none. */
export function reverseName(addr: string): string | undefined {
  const a = bare(addr);
  const family = isIP(a);
  if (family === 4) return `${a.split('.').reverse().join('.')}.in-addr.arpa`;
  const ip = family === 6 ? parseIp(a) : undefined;
  if (!ip) return undefined;
  return `${[...ip.value.toString(16).padStart(32, '0')].reverse().join('.')}.ip6.arpa`;
}

export function normalizeName(qname: string): string {
  const lower = qname.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

export function buildIndex(view: NetworkView): NetworkIndex {
  const names = new Map<string, NameEntry>();
  const ptr = new Map<string, string>();
  // A name first claimed by a service keeps its service meaning: an endpoint's aliases are the
  // service's aliases for it, and `web` must answer the VIP, not the tasks' own addresses.
  const owned = new Set<string>();
  const entry = (name: string, shuffle: boolean): NameEntry => {
    const key = normalizeName(name);
    let e = names.get(key);
    if (!e) names.set(key, (e = { v4: [], v6: [], shuffle }));
    return e;
  };
  const push = (e: NameEntry, addr: string): void => {
    const a = bare(addr);
    const family = isIP(a);
    if (family === 4) e.v4.push(a);
    else if (family === 6) e.v6.push(a);
  };

  const ready = new Map<string, string[]>(); // serviceId -> ready addresses
  for (const ep of view.endpoints) {
    if (ep.serviceId === undefined || !ep.ready) continue;
    let list = ready.get(ep.serviceId);
    if (!list) ready.set(ep.serviceId, (list = []));
    list.push(...ep.addresses);
  }

  for (const svc of view.services) {
    const addrs = ready.get(svc.id) ?? [];
    for (const name of [svc.name, ...svc.aliases]) {
      const key = normalizeName(name);
      if (owned.has(key)) continue;
      owned.add(key);
      const e = entry(name, svc.mode === 'dnsrr');
      if (svc.mode === 'vip') {
        if (svc.vip !== undefined) push(e, svc.vip);
      } else {
        for (const a of addrs) push(e, a);
      }
      const tasksKey = `tasks.${key}`;
      if (owned.has(tasksKey)) continue;
      owned.add(tasksKey);
      const t = entry(tasksKey, true);
      for (const a of addrs) push(t, a);
    }
    if (svc.mode === 'vip' && svc.vip !== undefined) {
      const rev = reverseName(svc.vip);
      if (rev !== undefined && !ptr.has(rev)) ptr.set(rev, svc.name);
    }
  }

  for (const ep of view.endpoints) {
    for (const name of [ep.name, ...ep.aliases]) {
      if (name === '' || owned.has(normalizeName(name))) continue;
      const e = entry(name, true);
      if (ep.ready) for (const a of ep.addresses) push(e, a);
    }
    if (!ep.ready) continue;
    for (const a of ep.addresses) {
      const rev = reverseName(a);
      if (rev !== undefined && !ptr.has(rev)) ptr.set(rev, ep.name);
    }
  }
  return { names, ptr };
}

// Views are replaced, never changed in place (the dispatcher sends whole views), so an index
// built once per view object stays right for that object's life.
const indexes = new WeakMap<NetworkView, NetworkIndex>();

export function indexOf(view: NetworkView): NetworkIndex {
  let idx = indexes.get(view);
  if (!idx) indexes.set(view, (idx = buildIndex(view)));
  return idx;
}

/** Fisher–Yates on a copy, with the caller's random in [0, 1). */
export function shuffled<T>(xs: readonly T[], random: () => number): T[] {
  const out = xs.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}

/**
 * The answer of network `view` to one question, or undefined when the network does not know the
 * name (the server then forwards it). `qtype` is the question's type name ("A", "AAAA", ...).
 */
export function answer(
  view: NetworkView,
  qname: string,
  qtype: string,
  random: () => number,
): Reply | undefined {
  return answerFrom(indexOf(view), qname, qtype, random);
}

/** What a name answers, before it is made records: the values of one type (none for NODATA). */
export interface Lookup {
  rcode: Rcode;
  type: 'A' | 'AAAA' | 'PTR';
  values: readonly string[];
}

const NXDOMAIN: Lookup = { rcode: 'NXDOMAIN', type: 'A', values: [] };

/** The hot path of `answer`: one Map read, and a shuffle of the one name's addresses. */
export function lookup(
  idx: NetworkIndex,
  qname: string,
  qtype: string,
  random: () => number,
): Lookup | undefined {
  const name = normalizeName(qname);
  const e = idx.names.get(name);
  const type = qtype.toUpperCase();
  if (e) {
    if (e.v4.length === 0 && e.v6.length === 0) return NXDOMAIN;
    const list = type === 'A' ? e.v4 : type === 'AAAA' ? e.v6 : [];
    return {
      rcode: 'NOERROR',
      type: type === 'AAAA' ? 'AAAA' : 'A',
      values: e.shuffle && list.length > 1 ? shuffled(list, random) : list,
    };
  }
  const target = idx.ptr.get(name);
  if (target === undefined) return undefined;
  return { rcode: 'NOERROR', type: 'PTR', values: type === 'PTR' ? [target] : [] };
}

export function answerFrom(
  idx: NetworkIndex,
  qname: string,
  qtype: string,
  random: () => number,
): Reply | undefined {
  const l = lookup(idx, qname, qtype, random);
  if (!l) return undefined;
  return {
    rcode: l.rcode,
    answers: l.values.map((data) => ({ type: l.type, name: qname, ttl: RECORD_TTL, class: 'IN', data })),
  };
}
