// A small Engine API client for the shoal CLI (unix socket, or tcp with or without TLS), with
// Docker's error shape.
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { parseTcpHost } from '../api/index.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** TLS for a tcp host, as the docker CLI's --tls/--tlsverify (unix sockets stay plain). */
export interface ClientTls {
  /** Check the daemon's certificate against `ca` (and its address); --tls alone does not. */
  verify: boolean;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export interface ClientOptions {
  host: string;
  tls?: ClientTls;
}

export class Client {
  #socketPath: string | undefined;
  #host = 'localhost';
  #port = 2375;
  #tls: ClientTls | undefined;
  constructor(o: ClientOptions) {
    if (o.host.startsWith('unix://')) this.#socketPath = o.host.slice('unix://'.length);
    else if (o.host.startsWith('tcp://') || !o.host.includes('://')) {
      ({ host: this.#host, port: this.#port } = parseTcpHost(o.host, o.tls !== undefined));
      this.#tls = o.tls;
    } else throw new Error(`unsupported host ${o.host}: use unix:///path or tcp://host:port`);
  }

  raw(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Buffer; stream: NodeJS.ReadableStream }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const t = this.#tls;
      const req = (t ? httpsRequest : request)(
        {
          method,
          path: `/v1.41${path}`,
          ...(this.#socketPath ? { socketPath: this.#socketPath } : { host: this.#host, port: this.#port }),
          ...(t
            ? {
                rejectUnauthorized: t.verify,
                ...(t.ca ? { ca: t.ca } : {}),
                ...(t.cert && t.key ? { cert: t.cert, key: t.key } : {}),
              }
            : {}),
          headers: {
            'Content-Type': 'application/json',
            ...(payload ? { 'Content-Length': payload.length } : {}),
          },
        },
        (res) => resolve({ status: res.statusCode ?? 0, body: Buffer.alloc(0), stream: res }),
      );
      req.on('error', (e: Error & { reason?: string }) =>
        reject(
          new Error(
            t
              ? `cannot reach shoald over TLS: ${e.reason ?? e.message}`
              : `cannot reach shoald: ${e.message} (is it running? set -H, SHOAL_HOST or DOCKER_HOST)`,
          ),
        ),
      );
      if (payload) req.write(payload);
      req.end();
    });
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.raw(method, path, body);
    const chunks: Buffer[] = [];
    for await (const c of res.stream) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (res.status >= 400) {
      let message = text;
      try {
        message = (JSON.parse(text) as { message: string }).message;
      } catch {
        /* not JSON */
      }
      throw new ApiError(res.status, message);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }
}
