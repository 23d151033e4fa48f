// `POST /containers/create` on its way to the engine: a standalone container that joins an
// attachable shoal overlay network, with no resolvers of its own, is given that network's
// resolver (the node's DNS on the network's gateway) as `HostConfig.Dns`, as a task's container is.
// dockerd's embedded DNS forwards the names it does not know (service names, tasks.<service>,
// containers on other hosts) only to the container's own resolvers, and those are fixed at create.
// Only the Dns value is written into the body; every other byte stays as the client sent it.

/** What the node answers for the networks a container joins: their resolvers, in order ([]: none). */
export type StandaloneDns = (networks: readonly string[]) => string[];

/** What the node does for a standalone container created through shoal's socket. */
export interface Standalone {
  /**
   * Makes the attachable shoal networks among `networks` ready on this node, attaching it on
   * demand to one it does not hold yet (as dockerd asks a swarm manager). Rejects with the error
   * the client sees (a network that is not attachable); names that are no shoal network pass.
   */
  prepare?(networks: readonly string[]): Promise<void>;
  dns: StandaloneDns;
}

/** A JSON object's members as they appear in the text: key, and where its value starts and ends. */
interface Member {
  key: string;
  start: number;
  end: number;
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** A small scanner over one JSON text that is known to parse: only positions, no values. */
class Scan {
  constructor(readonly text: string) {}

  ws(i: number): number {
    while (i < this.text.length && WS.has(this.text.charCodeAt(i))) i++;
    return i;
  }

  /** The end (exclusive) of the string starting at i (a quote). */
  string(i: number): number {
    for (let j = i + 1; j < this.text.length; j++) {
      const c = this.text[j];
      if (c === '\\') j++;
      else if (c === '"') return j + 1;
    }
    throw new Error('unterminated string');
  }

  /** The end (exclusive) of the value starting at i. */
  value(i: number): number {
    const c = this.text[i];
    if (c === '"') return this.string(i);
    if (c === '{' || c === '[') {
      let depth = 0;
      for (let j = i; j < this.text.length; j++) {
        const d = this.text[j];
        if (d === '"') j = this.string(j) - 1;
        else if (d === '{' || d === '[') depth++;
        else if (d === '}' || d === ']') if (--depth === 0) return j + 1;
      }
      throw new Error('unterminated value');
    }
    let j = i;
    while (j < this.text.length && !/[\s,}\]]/.test(this.text[j]!)) j++;
    return j;
  }

  /** The members of the object starting at i (a brace). */
  members(i: number): Member[] {
    const out: Member[] = [];
    let j = this.ws(i + 1);
    if (this.text[j] === '}') return out;
    for (;;) {
      const keyEnd = this.string(j);
      const key = JSON.parse(this.text.slice(j, keyEnd)) as string;
      const start = this.ws(this.ws(keyEnd) + 1); // past the colon
      const end = this.value(start);
      out.push({ key, start, end });
      j = this.ws(end);
      if (this.text[j] !== ',') return out;
      j = this.ws(j + 1);
    }
  }
}

/**
 * The member dockerd decodes into the field `field`: Go's JSON decoder matches keys without
 * regard to case, and the last one in the text wins.
 */
function lastMember(members: readonly Member[], field: string): Member | undefined {
  const f = field.toLowerCase();
  return members.filter((m) => m.key.toLowerCase() === f).at(-1);
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Network modes that name no network of shoal's. */
const NOT_A_NETWORK = /^(|default|bridge|host|none|container:.*)$/;

/** A create body as far as shoal reads it: the networks it joins, and where Dns goes. */
interface CreateBody {
  text: string;
  scan: Scan;
  top: Member[];
  hostConfigAt: Member | undefined;
  hostConfig: unknown;
  hostMembers: Member[];
  dnsAt: Member | undefined;
  /** Resolvers of its own (`--dns`): left alone. */
  ownDns: boolean;
  /** The networks it names, NetworkMode first, each once. */
  networks: string[];
}

function readCreate(body: Buffer): CreateBody | undefined {
  const text = body.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(parsed)) return undefined;
  const scan = new Scan(text);
  const top = scan.members(scan.ws(0));
  const value = (m: Member | undefined): unknown =>
    m ? (JSON.parse(text.slice(m.start, m.end)) as unknown) : undefined;

  const hostConfigAt = lastMember(top, 'HostConfig');
  const hostConfig = value(hostConfigAt);
  if (hostConfig !== undefined && hostConfig !== null && !isObject(hostConfig)) return undefined;
  const hostMembers = isObject(hostConfig) ? scan.members(hostConfigAt!.start) : [];
  const dnsAt = lastMember(hostMembers, 'Dns');
  const dns = value(dnsAt);
  const ownDns = dns !== undefined && dns !== null && !(Array.isArray(dns) && dns.length === 0);

  const networks: string[] = [];
  const mode = isObject(hostConfig) ? value(lastMember(hostMembers, 'NetworkMode')) : undefined;
  if (typeof mode === 'string' && !NOT_A_NETWORK.test(mode)) networks.push(mode);
  const netConfigAt = lastMember(top, 'NetworkingConfig');
  if (isObject(value(netConfigAt))) {
    const endpoints = value(lastMember(scan.members(netConfigAt!.start), 'EndpointsConfig'));
    if (isObject(endpoints))
      for (const name of Object.keys(endpoints))
        if (!NOT_A_NETWORK.test(name) && !networks.includes(name)) networks.push(name);
  }
  return { text, scan, top, hostConfigAt, hostConfig, hostMembers, dnsAt, ownDns, networks };
}

/** The networks a create body names (none for bridge, host, none or container modes). */
export function createNetworks(body: Buffer): string[] {
  return readCreate(body)?.networks ?? [];
}

/**
 * The body with `HostConfig.Dns` set to the resolvers of the shoal networks the container joins,
 * or undefined to send it unchanged: not a JSON object, resolvers of its own (`--dns`), or no
 * network that `dnsOf` knows.
 */
export function withStandaloneDns(body: Buffer, dnsOf: StandaloneDns): Buffer | undefined {
  const c = readCreate(body);
  if (!c || c.ownDns || c.networks.length === 0) return undefined;
  const resolvers = dnsOf(c.networks);
  if (resolvers.length === 0) return undefined;
  const list = JSON.stringify(resolvers);
  const { text, scan, top, hostConfigAt, hostConfig, hostMembers, dnsAt } = c;

  let out: string;
  if (dnsAt) out = text.slice(0, dnsAt.start) + list + text.slice(dnsAt.end);
  else if (hostConfigAt && isObject(hostConfig)) {
    // Right after the brace: the value's own members stay as they were, commas included.
    const at = hostConfigAt.start + 1;
    const sep = hostMembers.length > 0 ? ',' : '';
    out = `${text.slice(0, at)}"Dns":${list}${sep}${text.slice(at)}`;
  } else if (hostConfigAt) {
    // `"HostConfig": null`: an object in its place.
    out = `${text.slice(0, hostConfigAt.start)}{"Dns":${list}}${text.slice(hostConfigAt.end)}`;
  } else {
    const at = scan.ws(0) + 1;
    const sep = top.length > 0 ? ',' : '';
    out = `${text.slice(0, at)}"HostConfig":{"Dns":${list}}${sep}${text.slice(at)}`;
  }
  return Buffer.from(out, 'utf8');
}
