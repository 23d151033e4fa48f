// The node's container engine behind shoal's API socket. Routes shoal does not own (containers,
// images, volumes, exec, build, /auth, /distribution...) travel to it unchanged, bodies and
// answers streamed, hijacked connections (attach, exec, `docker run -it`) piped both ways with
// half-close, so the socket serves the node as a swarm node's dockerd does.
import { Agent, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { parseTcpHost } from '../api/index.js';
import { EngineApiClient, type EngineAnswer } from '../engineclient/index.js';

export type { EngineAnswer };

/** Headers about one hop's connection, never carried to the next. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer']);
/** How long shoal waits for the engine's answer to its own calls (/info, /version, /networks). */
const CALL_TIMEOUT_MS = 10_000;
/** The largest answer shoal reads whole from the engine (a network list, /info). */
const CALL_MAX_BYTES = 16 << 20;
/**
 * Connections to the engine held at once. Each open stream (a followed log, a `wait`) holds one;
 * requests past this wait for a free one.
 */
const MAX_ENGINE_CONNECTIONS = 512;
/** The largest answer head the engine may send to a hijacking request. */
const MAX_ANSWER_HEAD = 64 << 10;

export type ProxyLog = (level: 'debug' | 'info' | 'warn', msg: string) => void;

/** `headers` without the hop-by-hop ones, as a raw [name, value, ...] list. */
function endToEnd(raw: readonly string[], drop: ReadonlySet<string> = HOP_BY_HOP): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2)
    if (!drop.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  return out;
}

/** A Docker-style error answer written on a raw socket (a refused or failed hijack). */
function socketError(sock: Duplex, status: number, reason: string, message: string): void {
  const body = `${JSON.stringify({ message })}\n`;
  sock.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export class EngineLink {
  readonly #where: { socketPath: string } | { host: string; port: number };
  #log: ProxyLog;
  /**
   * Kept-alive connections: with `Connection: close` dockerd shuts its socket as it answers, and a
   * request's last write can then fail (EPIPE) before its answer is read.
   */
  readonly #agent = new Agent({ keepAlive: true, maxSockets: MAX_ENGINE_CONNECTIONS, maxFreeSockets: 16 });
  /** shoal's own calls have their own connections: clients' open streams never queue them. */
  readonly #client: EngineApiClient;

  /** `address`: the engine's unix:///path or tcp://host:port (plain), as --engine-host. */
  constructor(
    readonly address: string,
    log: ProxyLog = () => undefined,
  ) {
    if (address.startsWith('unix://')) this.#where = { socketPath: address.slice('unix://'.length) };
    else {
      const { host, port } = parseTcpHost(address, false);
      this.#where = { host, port };
    }
    this.#log = log;
    this.#client = new EngineApiClient({
      host: address,
      agent: new Agent({ keepAlive: true, maxSockets: 8, maxFreeSockets: 4 }),
      timeoutMs: CALL_TIMEOUT_MS,
      unreachable: (e) => new Error(this.unreachable(e)),
    });
  }

  /** Where proxied requests are logged (the daemon's log, once the API listens). */
  setLog(log: ProxyLog): void {
    this.#log = log;
  }

  /** Docker's message when the engine does not answer (the CLI's words for a daemon that is down). */
  unreachable(e: Error): string {
    return `Cannot connect to the container engine at ${this.address}: ${e.message}`;
  }

  /**
   * Streams `req` to the engine and its answer to `res`. `body`, when given, replaces the request's
   * own stream (fastify already read it); `url`, its path (fastify rewrote it).
   */
  forward(req: IncomingMessage, res: ServerResponse, body?: Buffer, url = req.url ?? '/'): void {
    this.#log('debug', `engine proxy: ${req.method} ${url}`);
    let headers = endToEnd(req.rawHeaders);
    if (body) {
      headers = endToEnd(headers, new Set(['content-length', 'transfer-encoding']));
      headers.push('Content-Length', String(body.byteLength));
    }
    const up = request(
      { ...this.#where, method: req.method, path: url, headers, agent: this.#agent },
      (ans) => {
        res.writeHead(ans.statusCode ?? 502, ans.statusMessage, endToEnd(ans.rawHeaders));
        // Streams (logs -f, stats, pull progress) reach the client chunk by chunk.
        res.flushHeaders();
        ans.pipe(res);
        ans.on('error', () => res.destroy());
      },
    );
    up.on('error', (e) => {
      if (res.headersSent) return void res.destroy();
      const text = `${JSON.stringify({ message: this.unreachable(e) })}\n`;
      res.writeHead(500, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    });
    // The client went away: so does the engine's side (a followed log, a wait).
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    if (body) up.end(body);
    else req.pipe(up);
  }

  /**
   * A hijacked request (`Upgrade: tcp`): the request head goes to the engine as the client sent it,
   * then bytes flow both ways until each side closes; a side that finishes writing (stdin's end)
   * half-closes the other.
   */
  upgrade(req: IncomingMessage, client: Duplex, head: Buffer): void {
    const url = req.url ?? '/';
    this.#log('debug', `engine proxy: ${req.method} ${url} (hijacked)`);
    (client as Socket).allowHalfOpen = true;
    const w = this.#where;
    const up = connect(
      'socketPath' in w
        ? { path: w.socketPath, allowHalfOpen: true }
        : { host: w.host, port: w.port, allowHalfOpen: true },
    );
    let connected = false;
    up.once('connect', () => {
      connected = true;
      const lines = [`${req.method} ${url} HTTP/1.1`];
      const raw = req.rawHeaders;
      for (let i = 0; i + 1 < raw.length; i += 2) lines.push(`${raw[i]}: ${raw[i + 1]}`);
      up.write(`${lines.join('\r\n')}\r\n\r\n`);
      // The request's own body (exec start's JSON) goes with it: the engine answers only once it
      // has read it. Any bytes past it wait until the engine has taken the connection over (101).
      // A chunked body has no known end: it all goes through as it comes.
      let bodyLeft = req.headers['transfer-encoding']
        ? Infinity
        : Math.max(0, Number(req.headers['content-length'] ?? 0) || 0);
      const early: Buffer[] = [];
      const fromClient = (c: Buffer): void => {
        const n = Math.min(c.byteLength, bodyLeft);
        if (n > 0) up.write(c.subarray(0, n));
        bodyLeft -= n;
        if (n < c.byteLength) early.push(c.subarray(n));
      };
      fromClient(head);
      // The body may come after the head, in later packets: it is read as it comes.
      client.on('data', fromClient);
      let answer = Buffer.alloc(0);
      const onAnswer = (c: Buffer): void => {
        answer = Buffer.concat([answer, c]);
        const end = answer.indexOf('\r\n\r\n');
        if (end < 0) {
          if (answer.byteLength > MAX_ANSWER_HEAD) (client.destroy(), up.destroy());
          return;
        }
        up.off('data', onAnswer);
        const text = answer.subarray(0, end).toString('latin1');
        client.write(answer);
        if (/^HTTP\/1\.[01] 101 /.test(text)) {
          client.off('data', fromClient);
          for (const c of early) up.write(c);
          client.pipe(up);
          up.pipe(client);
          return;
        }
        // Not taken over (no such container, a conflict): that answer goes back, then both sides
        // close, so no later request on this connection reaches the engine unchecked.
        finishAnswer(text, answer.subarray(end + 4));
      };
      const finishAnswer = (text: string, sent: Buffer): void => {
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(text);
        const chunked = /\r\ntransfer-encoding:\s*chunked/i.test(text);
        let left = length ? Number(length[1]) - sent.byteLength : 0;
        let tail = sent.subarray(-5).toString('latin1');
        const done = (): boolean => (chunked ? tail.endsWith('0\r\n\r\n') : left <= 0);
        const close = (): void => {
          client.end();
          up.destroy();
        };
        if (done()) return close();
        up.on('data', (c: Buffer) => {
          client.write(c);
          left -= c.byteLength;
          tail = (tail + c.subarray(-5).toString('latin1')).slice(-5);
          if (done()) close();
        });
      };
      up.on('data', onAnswer);
    });
    up.on('error', (e) => {
      if (!connected) socketError(client, 500, 'Internal Server Error', this.unreachable(e));
      else client.destroy();
    });
    client.on('error', () => up.destroy());
    client.on('close', () => up.destroy());
    up.on('close', () => {
      if (connected) client.end();
    });
  }

  /**
   * shoal's own call: one request, its JSON answer read whole (bounded in time and size), through
   * the one Engine API client. Under the negotiated version, or `asSent`: the client's own path.
   */
  call(method: string, path: string, o: { asSent?: boolean } = {}): Promise<EngineAnswer> {
    return this.#client.answer(method, path, { asSent: o.asSent ?? false, maxBytes: CALL_MAX_BYTES });
  }
}
