// The node's DNS resolver for overlay networks (docs/DESIGN.md §5): one per node, listening on each
// network's gateway address inside that network's sandbox namespace, answering from the node's
// view of that network only (records.ts), and forwarding the names the network does not know to
// the node's own upstream resolvers. Task containers reach it through `HostConfig.Dns`, behind
// the engine's embedded DNS, which forwards from inside the container's namespace: the source
// address of a query is the task's own address.
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { unavailable, type NetworkView } from '../../api/index.js';
import { indexOf, lookup, RECORD_TTL } from './records.js';
import { encodeAnswer, parseQuery, QR, RCODE, rawReply, TC, udpLimit } from './wire.js';

const HEADER = 12;
const MAX_MESSAGE = 65_535;
const CHILD = fileURLToPath(new URL('./bind-child.js', import.meta.url));

export interface Upstream {
  host: string;
  port: number;
}

/** One query as the resolver saw it (for logs and tests: `from` is the querying task's address). */
export interface QueryInfo {
  networkId: string;
  from: string;
  transport: 'udp' | 'tcp';
  name: string;
  type: string;
  /** "local": answered from the view; "forwarded": sent upstream; "servfail": neither worked. */
  outcome: 'local' | 'forwarded' | 'servfail';
}

export interface DnsResolverOptions {
  /** "ip", "ip:port" or "[ipv6]:port". Default: the nameservers of /etc/resolv.conf, no 127/8. */
  upstreams?: string[];
  /** How long a forwarded query may take before the client gets SERVFAIL. */
  forwardTimeoutMs?: number;
  /** Forwarded queries in flight; past it, SERVFAIL at once. */
  maxInFlight?: number;
  random?: () => number;
  onQuery?: (q: QueryInfo) => void;
  log?: (msg: string) => void;
  /** How long the child that binds in a namespace may take. */
  bindTimeoutMs?: number;
  /** How soon a listener that could not bind (no gateway address yet) is tried again. */
  retryMs?: number;
  tcpIdleMs?: number;
  maxTcpConnections?: number;
  /** The port the resolver listens on in the sandboxes (53; tests may pick another). */
  port?: number;
}

export interface DnsStats {
  queries: number;
  local: number;
  forwarded: number;
  servfail: number;
  dropped: number;
  inFlight: number;
  listeners: number;
}

interface Listener {
  key: string;
  networkId: string;
  udp: dgram.Socket;
  tcp: net.Server;
  conns: Set<net.Socket>;
}

interface Wanted {
  networkId: string;
  nsPath: string;
  host: string;
}

/** The nameservers of a resolv.conf, without the loopback ones (a node-local stub cannot be reached from a sandbox's point of view, and could loop back to us). */
export function upstreamsFromResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    const addr = m?.[1]?.split('%')[0];
    if (addr === undefined || net.isIP(addr) === 0) continue;
    if (addr.startsWith('127.') || addr === '::1') continue;
    out.push(addr);
  }
  return out;
}

export function parseUpstream(s: string): Upstream {
  if (net.isIP(s) !== 0) return { host: s, port: 53 };
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  const port = Number(m?.[2]);
  if (!m || net.isIP(m[1]!) === 0 || !(port > 0 && port < 65536)) {
    throw unavailable(`dns: upstream "${s}" is not ip, ip:port or [ipv6]:port`);
  }
  return { host: m[1]!, port };
}

/** Forwards queries to the upstream resolvers over UDP, retrying over TCP when truncated. */
class Forwarder {
  readonly #upstreams: Upstream[];
  readonly #timeoutMs: number;
  readonly #max: number;
  readonly #log: (msg: string) => void;
  #socks = new Map<4 | 6, dgram.Socket>();
  #pending = new Map<
    number,
    {
      origId: number;
      query: Buffer;
      deadline: number;
      upstream: number;
      timer?: NodeJS.Timeout;
      tcp: boolean;
      resolve: (b: Buffer | undefined) => void;
    }
  >();
  #stopped = false;

  constructor(upstreams: Upstream[], timeoutMs: number, max: number, log: (msg: string) => void) {
    this.#upstreams = upstreams;
    this.#timeoutMs = timeoutMs;
    this.#max = max;
    this.#log = log;
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  /** The upstream's answer with the client's ID, or undefined: the client gets SERVFAIL. */
  forward(raw: Buffer): Promise<Buffer | undefined> {
    if (this.#stopped || this.#upstreams.length === 0 || this.#pending.size >= this.#max) {
      return Promise.resolve(undefined);
    }
    // A fresh random ID per forwarded query: an off-path guess has to hit it.
    let id = randomInt(65536);
    while (this.#pending.has(id)) id = randomInt(65536);
    const query = Buffer.from(raw);
    query.writeUInt16BE(id, 0);
    return new Promise((resolve) => {
      const p = {
        origId: raw.readUInt16BE(0),
        query,
        deadline: Date.now() + this.#timeoutMs,
        upstream: -1,
        tcp: false,
        resolve,
      };
      this.#pending.set(id, p);
      this.#attempt(id, 0);
    });
  }

  #attempt(id: number, i: number): void {
    const p = this.#pending.get(id);
    if (!p) return;
    const up = this.#upstreams[i];
    if (!up) return this.#finish(id, undefined);
    p.upstream = i;
    // The time left is shared by the upstreams not tried yet, so a dead first one leaves the
    // others a turn within the same bound.
    const slice = Math.max(1, (p.deadline - Date.now()) / (this.#upstreams.length - i));
    p.timer = setTimeout(() => this.#attempt(id, i + 1), slice);
    const family = net.isIPv6(up.host) ? 6 : 4;
    this.#socket(family).send(p.query, up.port, up.host, (err) => {
      if (err && this.#pending.get(id) === p && p.upstream === i) {
        clearTimeout(p.timer);
        this.#attempt(id, i + 1);
      }
    });
  }

  #socket(family: 4 | 6): dgram.Socket {
    let s = this.#socks.get(family);
    if (!s) {
      s = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
      s.on('message', (msg, rinfo) => this.#onAnswer(msg, rinfo));
      s.on('error', (e) => this.#log(`dns: upstream socket: ${e.message}`));
      this.#socks.set(family, s);
    }
    return s;
  }

  #onAnswer(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg.length < HEADER || (msg.readUInt16BE(2) & QR) === 0) return;
    const id = msg.readUInt16BE(0);
    const p = this.#pending.get(id);
    const up = p && this.#upstreams[p.upstream];
    // Only the upstream asked may answer, and only once.
    if (!p || !up || p.tcp || rinfo.address !== up.host || rinfo.port !== up.port) return;
    clearTimeout(p.timer);
    if ((msg.readUInt16BE(2) & TC) !== 0) {
      p.tcp = true;
      tcpQuery(up, p.query, Math.max(1, p.deadline - Date.now())).then(
        (full) => this.#finish(id, full),
        () => this.#finish(id, msg),
      );
      return;
    }
    this.#finish(id, msg);
  }

  #finish(id: number, answer: Buffer | undefined): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if (answer) {
      const out = Buffer.from(answer);
      out.writeUInt16BE(p.origId, 0);
      p.resolve(out);
    } else {
      p.resolve(undefined);
    }
  }

  stop(): void {
    this.#stopped = true;
    for (const id of [...this.#pending.keys()]) this.#finish(id, undefined);
    for (const s of this.#socks.values()) s.close();
    this.#socks.clear();
  }
}

/** One query over TCP (RFC 7766 framing), bounded in time and size. */
function tcpQuery(up: Upstream, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: up.host, port: up.port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => sock.destroy(new Error('timed out')), timeoutMs);
    const len = Buffer.alloc(2);
    len.writeUInt16BE(query.length);
    sock.on('connect', () => sock.write(Buffer.concat([len, query])));
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2) return;
      const n = buf.readUInt16BE(0);
      if (buf.length < 2 + n) return;
      clearTimeout(timer);
      sock.destroy();
      resolve(buf.subarray(2, 2 + n));
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      reject(new Error('closed before an answer'));
    });
  });
}

function closeListener(l: Listener): void {
  try {
    l.udp.close();
  } catch {
    // already closed
  }
  l.tcp.close();
  for (const c of l.conns) c.destroy();
}

/**
 * The resolver. `update` gives it the node's views and where each network's sandbox is; it answers
 * from the new views at once and converges its listeners in the background (the promise says
 * when they are).
 */
export class DnsResolver {
  readonly #opts: Required<Omit<DnsResolverOptions, 'upstreams' | 'onQuery'>> & {
    onQuery: ((q: QueryInfo) => void) | undefined;
  };
  readonly #upstreamsGiven: string[] | undefined;
  #forwarder: Forwarder | undefined;
  #views = new Map<string, NetworkView>();
  #listeners = new Map<string, Listener>();
  #wanted = new Map<string, Wanted>();
  #chain: Promise<void> = Promise.resolve();
  #retry: NodeJS.Timeout | undefined;
  #stopped = false;
  #stats = { queries: 0, local: 0, forwarded: 0, servfail: 0, dropped: 0 };

  constructor(opts: DnsResolverOptions = {}) {
    this.#upstreamsGiven = opts.upstreams;
    this.#opts = {
      forwardTimeoutMs: opts.forwardTimeoutMs ?? 2000,
      maxInFlight: opts.maxInFlight ?? 1024,
      random: opts.random ?? Math.random,
      onQuery: opts.onQuery,
      log: opts.log ?? (() => {}),
      bindTimeoutMs: opts.bindTimeoutMs ?? 10_000,
      retryMs: opts.retryMs ?? 2000,
      tcpIdleMs: opts.tcpIdleMs ?? 10_000,
      maxTcpConnections: opts.maxTcpConnections ?? 256,
      port: opts.port ?? 53,
    };
  }

  start(): void {
    let list = this.#upstreamsGiven;
    if (list === undefined) {
      try {
        list = upstreamsFromResolvConf(readFileSync('/etc/resolv.conf', 'utf8'));
      } catch {
        list = [];
      }
    }
    this.#forwarder = new Forwarder(
      list.map(parseUpstream),
      this.#opts.forwardTimeoutMs,
      this.#opts.maxInFlight,
      this.#opts.log,
    );
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#wanted.clear();
    await this.#chain;
    for (const l of this.#listeners.values()) closeListener(l);
    this.#listeners.clear();
    this.#forwarder?.stop();
  }

  stats(): DnsStats {
    return { ...this.#stats, inFlight: this.#forwarder?.inFlight ?? 0, listeners: this.#listeners.size };
  }

  /**
   * The node's views, and the sandbox namespace of each network (a name under /run/netns or a
   * path), undefined while it has none. Answers change at once; the returned promise settles
   * when the listeners have converged (a listener that cannot bind yet is retried later).
   */
  update(views: NetworkView[], namespaceOf: (networkId: string) => string | undefined): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#views = new Map(views.map((v) => [v.id, v]));
    for (const v of views) indexOf(v); // built here, not by the first query
    this.#wanted.clear();
    for (const v of views) {
      const ns = namespaceOf(v.id);
      if (ns === undefined) continue;
      const nsPath = ns.startsWith('/') ? ns : `/run/netns/${ns}`;
      // The namespace's inode is in the key: a sandbox deleted and made again under the same name
      // is a new namespace, and the old sockets (which keep the old one alive) are replaced.
      let ino: number;
      try {
        ino = statSync(nsPath).ino;
      } catch {
        continue;
      }
      for (const { gateway } of v.subnets) {
        if (net.isIP(gateway) === 0) continue;
        this.#wanted.set(`${v.id}|${nsPath}|${ino}|${gateway}`, { networkId: v.id, nsPath, host: gateway });
      }
    }
    for (const [key, l] of this.#listeners) {
      if (!key.startsWith('local|') && !this.#wanted.has(key)) {
        closeListener(l);
        this.#listeners.delete(key);
      }
    }
    return this.#converge();
  }

  /** Listens for network `networkId` on host:port in this process's namespace; the port bound. */
  async listenLocal(networkId: string, host: string, port: number): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const udp = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' });
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind({ address: host, port, exclusive: true }, () => {
          udp.off('error', reject);
          resolve();
        });
      });
      const bound = udp.address().port;
      const tcp = net.createServer();
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen({ host, port: bound, exclusive: true }, () => {
            tcp.off('error', reject);
            resolve();
          });
        });
      } catch (e) {
        udp.close();
        // Port 0 gave a UDP port whose TCP twin is taken: another pick, a few times.
        if (port === 0 && attempt < 5) continue;
        throw e;
      }
      this.#attach(`local|${networkId}|${host}|${bound}`, networkId, udp, tcp);
      return bound;
    }
  }

  #converge(): Promise<void> {
    this.#chain = this.#chain.then(() => this.#bindMissing());
    return this.#chain;
  }

  async #bindMissing(): Promise<void> {
    let failed = false;
    for (const [key, w] of [...this.#wanted]) {
      if (this.#stopped) return;
      if (this.#listeners.has(key)) continue;
      try {
        const { udp, tcp } = await bindInNamespace(
          w.nsPath,
          w.host,
          this.#opts.port,
          this.#opts.bindTimeoutMs,
        );
        if (this.#stopped || !this.#wanted.has(key) || this.#listeners.has(key)) {
          udp.close();
          tcp.close();
          continue;
        }
        this.#attach(key, w.networkId, udp, tcp);
        this.#opts.log(`dns: listening on ${w.host}:${this.#opts.port} in ${w.nsPath}`);
      } catch (e) {
        failed = true;
        this.#opts.log(`dns: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (failed && !this.#stopped && this.#retry === undefined) {
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        void this.#converge();
      }, this.#opts.retryMs);
      this.#retry.unref();
    }
  }

  #attach(key: string, networkId: string, udp: dgram.Socket, tcp: net.Server): void {
    const l: Listener = { key, networkId, udp, tcp, conns: new Set() };
    udp.on('message', (msg, rinfo) => this.#onUdp(l, msg, rinfo));
    udp.on('error', (e) => this.#opts.log(`dns: ${key}: ${e.message}`));
    tcp.on('connection', (sock) => this.#onTcp(l, sock));
    tcp.on('error', (e) => this.#opts.log(`dns: ${key}: ${e.message}`));
    this.#listeners.set(key, l);
  }

  #onUdp(l: Listener, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const send = (b: Buffer): void => {
      if (this.#listeners.get(l.key) === l) l.udp.send(b, rinfo.port, rinfo.address);
    };
    this.#handle(l.networkId, msg, rinfo.address, 'udp', send);
  }

  #onTcp(l: Listener, sock: net.Socket): void {
    if (l.conns.size >= this.#opts.maxTcpConnections) {
      sock.destroy();
      return;
    }
    l.conns.add(sock);
    sock.setTimeout(this.#opts.tcpIdleMs, () => sock.destroy());
    sock.on('close', () => l.conns.delete(sock));
    sock.on('error', () => {});
    const from = sock.remoteAddress ?? '';
    let buf = Buffer.alloc(0);
    let open = 0;
    const send = (b: Buffer): void => {
      open--;
      if (sock.destroyed) return;
      const len = Buffer.alloc(2);
      len.writeUInt16BE(b.length);
      sock.write(Buffer.concat([len, b]));
    };
    sock.on('data', (chunk) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const n = buf.readUInt16BE(0);
        if (n < HEADER) return void sock.destroy();
        if (buf.length < 2 + n) break;
        const msg = buf.subarray(2, 2 + n);
        buf = buf.subarray(2 + n);
        // Pipelined queries are answered as they complete (RFC 7766), a few at a time.
        if (++open > 16) return void sock.destroy();
        this.#handle(l.networkId, msg, from, 'tcp', send, () => open--);
      }
      if (buf.length > 2 + MAX_MESSAGE) sock.destroy();
    });
  }

  #handle(
    networkId: string,
    msg: Buffer,
    from: string,
    transport: 'udp' | 'tcp',
    send: (b: Buffer) => void,
    dropped: () => void = () => {},
  ): void {
    this.#stats.queries++;
    const q = parseQuery(msg);
    if (!q) {
      this.#stats.dropped++;
      return dropped();
    }
    const limit = transport === 'udp' ? udpLimit(q) : MAX_MESSAGE;
    const note = (outcome: QueryInfo['outcome']): void =>
      this.#opts.onQuery?.({ networkId, from, transport, name: q.name, type: q.type, outcome });
    // Only standard queries (opcode 0); NOTIFY, UPDATE and the rest are not ours.
    if ((q.flags >> 11) & 0xf) {
      const out = rawReply(msg, RCODE.NOTIMP);
      return out ? send(out) : dropped();
    }
    const view = this.#views.get(networkId);
    const found = view && lookup(indexOf(view), q.name, q.type, this.#opts.random);
    if (found) {
      this.#stats.local++;
      note('local');
      return send(encodeAnswer(msg, q, RCODE[found.rcode], found.type, found.values, RECORD_TTL, limit));
    }
    const forwarder = this.#forwarder;
    const servfail = (): void => {
      this.#stats.servfail++;
      note('servfail');
      const out = rawReply(msg, RCODE.SERVFAIL);
      return out ? send(out) : dropped();
    };
    if (!forwarder) return servfail();
    this.#stats.forwarded++;
    void forwarder.forward(msg).then((answer) => {
      if (!answer) return servfail();
      note('forwarded');
      if (answer.length <= limit) return send(answer);
      const out = rawReply(answer, (answer.readUInt16BE(2) & 0xf) as number, true);
      return out ? send(out) : dropped();
    });
  }
}

/** Binds UDP and TCP on host:port inside the namespace at nsPath, through a short-lived child. */
function bindInNamespace(
  nsPath: string,
  host: string,
  port: number,
  timeoutMs: number,
): Promise<{ udp: dgram.Socket; tcp: net.Server }> {
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', [`--net=${nsPath}`, '--', process.execPath, CHILD, host, String(port)], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    let udp: dgram.Socket | undefined;
    let tcp: net.Server | undefined;
    let done = false;
    const fail = (why: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      udp?.close();
      tcp?.close();
      child.kill('SIGKILL');
      reject(unavailable(`cannot listen on ${host}:${port} in ${nsPath}: ${why}`));
    };
    const timer = setTimeout(() => fail('timed out'), timeoutMs);
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 2000) stderr += d.toString();
    });
    child.on('error', (e) => fail(e.message));
    child.on('exit', (code) => fail(stderr.trim() || `bind helper exited with ${code}`));
    child.on('message', (m: { kind?: string; message?: string }, handle: unknown) => {
      if (done) return;
      if (m.kind === 'error') return fail(m.message ?? 'bind failed');
      if (m.kind === 'udp' && handle instanceof dgram.Socket) udp = handle;
      if (m.kind === 'tcp' && handle instanceof net.Server) tcp = handle;
      if (udp && tcp) {
        done = true;
        clearTimeout(timer);
        child.send('done');
        resolve({ udp, tcp });
      }
    });
  });
}
