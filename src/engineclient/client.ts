// One Engine API client, for the agent (the node's dockerd) and the CLI (shoald's Engine API):
// unix socket or tcp, optionally TLS, JSON bodies, streamed answers, errors as ShoalErrors that
// keep the HTTP status. It speaks the newest version both sides know, as the docker CLI does:
// dockerd refuses a version below its minimum (1.44 from moby 29), so no version is pinned.
import { request, type Agent, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { API_VERSION, CLIENT_MAX_API_VERSION, errorFromHttpStatus, parseTcpHost } from '../api/index.js';

/** TLS for a tcp host, as the docker CLI's --tls/--tlsverify (unix sockets stay plain). */
export interface ClientTls {
  /** Check the server's certificate against `ca` (and its address); --tls alone does not. */
  verify: boolean;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export interface EngineClientOptions {
  /** unix:///path, tcp://host:port or host:port. */
  host: string;
  tls?: ClientTls;
  /** Prefix error messages with "(HTTP code N) ", as the executor's task errors read. */
  statusInMessage?: boolean;
  /** Turns a failure to reach the server (not an HTTP answer) into the error callers see. */
  unreachable?: (e: Error & { reason?: string }) => Error;
  /** Connections to reuse (keep-alive), for a caller that calls often. */
  agent?: Agent;
  /** A request not answered within this long fails (no limit when absent). */
  timeoutMs?: number;
}

/** An answer read whole: its status and its JSON (or text, or undefined when empty). */
export interface EngineAnswer {
  status: number;
  body: unknown;
}

/**
 * The version used with an engine whose /_ping names none: the one shoal's types are written
 * against (v1.41.yaml), which every engine from 20.10 to 28 accepts.
 */
export const DEFAULT_API_VERSION = API_VERSION;

/** "1.45" < "1.50"; versions are major.minor. */
export function compareApiVersions(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am - bm || an - bn;
}

/** What the client uses given the engine's `Api-Version` header: that, capped at our newest. */
export function negotiateApiVersion(engine: string | undefined): string {
  if (!engine || !/^\d+\.\d+$/.test(engine)) return DEFAULT_API_VERSION;
  return compareApiVersions(engine, CLIENT_MAX_API_VERSION) < 0 ? engine : CLIENT_MAX_API_VERSION;
}

export class EngineApiClient {
  #socketPath: string | undefined;
  #host = 'localhost';
  #port = 2375;
  #tls: ClientTls | undefined;
  #statusInMessage: boolean;
  #unreachable: ((e: Error & { reason?: string }) => Error) | undefined;
  #agent: Agent | undefined;
  #timeoutMs: number | undefined;
  /** Negotiated once; a failed negotiation is tried again by the next request. */
  #version: Promise<string> | undefined;

  constructor(o: EngineClientOptions) {
    if (o.host.startsWith('unix://')) this.#socketPath = o.host.slice('unix://'.length);
    else if (o.host.startsWith('tcp://') || !o.host.includes('://')) {
      ({ host: this.#host, port: this.#port } = parseTcpHost(o.host, o.tls !== undefined));
      this.#tls = o.tls;
    } else throw new Error(`unsupported host ${o.host}: use unix:///path or tcp://host:port`);
    this.#statusInMessage = o.statusInMessage ?? false;
    this.#unreachable = o.unreachable;
    this.#agent = o.agent;
    this.#timeoutMs = o.timeoutMs;
  }

  /** The API version in use: the engine's, capped at CLIENT_MAX_API_VERSION. */
  apiVersion(): Promise<string> {
    this.#version ??= this.#send('GET', '/_ping').then(
      (res) => {
        res.resume();
        const v = res.headers['api-version'];
        return negotiateApiVersion(Array.isArray(v) ? v[0] : v);
      },
      (e: unknown) => {
        this.#version = undefined;
        throw e;
      },
    );
    return this.#version;
  }

  /** Sends a request under /v<version> and resolves with the response, whatever its status. */
  async raw(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<IncomingMessage> {
    return this.#send(method, `/v${await this.apiVersion()}${path}`, body, headers);
  }

  /** Like raw, but an answer of 400 or more rejects with its error (an HttpStatusError). */
  async stream(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<IncomingMessage> {
    const res = await this.raw(method, path, body, headers);
    const status = res.statusCode ?? 500;
    if (status < 400) return res;
    const text = await readText(res);
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      /* not JSON */
    }
    throw errorFromHttpStatus(status, this.#statusInMessage ? `(HTTP code ${status}) ${message}` : message);
  }

  /** A request whose answer is JSON (or empty: undefined). */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const text = await readText(await this.stream(method, path, body));
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * A request answered whole, whatever its status, the answer bounded to `maxBytes`. `asSent`: the
   * path already carries its version (a client's own request, kept as it asked it).
   */
  async answer(
    method: string,
    path: string,
    o: { asSent?: boolean; maxBytes?: number; headers?: Record<string, string> } = {},
  ): Promise<EngineAnswer> {
    const res = o.asSent
      ? await this.#send(method, path, undefined, o.headers)
      : await this.raw(method, path, undefined, o.headers);
    const max = o.maxBytes ?? 16 << 20;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of res) {
      size += (c as Buffer).byteLength;
      if (size > max) {
        res.destroy();
        throw new Error(`the answer to ${method} ${path} exceeds ${max} bytes`);
      }
      chunks.push(c as Buffer);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown = text || undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON: the text */
    }
    return { status: res.statusCode ?? 500, body };
  }

  #send(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const t = this.#tls;
      const req = (t ? httpsRequest : request)(
        {
          method,
          path,
          ...(this.#socketPath ? { socketPath: this.#socketPath } : { host: this.#host, port: this.#port }),
          ...(this.#agent ? { agent: this.#agent } : {}),
          // Without a timeout of its own, none: Node 20's global agent would otherwise end a call
          // after 5 s of silence, and a container start under load takes longer (the task then
          // failed while its container ran on beside its replacement).
          timeout: this.#timeoutMs ?? 0,
          ...(t
            ? {
                rejectUnauthorized: t.verify,
                ...(t.ca ? { ca: t.ca } : {}),
                ...(t.cert && t.key ? { cert: t.cert, key: t.key } : {}),
              }
            : {}),
          headers: {
            ...headers,
            ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {}),
          },
        },
        resolve,
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.#timeoutMs} ms`)));
      req.on('error', (e: Error) => reject(this.#unreachable ? this.#unreachable(e) : e));
      if (payload) req.write(payload);
      req.end();
    });
  }
}

async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
