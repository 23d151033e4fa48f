// A small Engine API client for the shoal CLI (unix socket or tcp), with Docker's error shape.
import { request } from 'node:http';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ClientOptions {
  host: string;
}

export class Client {
  #socketPath: string | undefined;
  #host = 'localhost';
  #port = 2375;
  constructor(o: ClientOptions) {
    if (o.host.startsWith('unix://')) this.#socketPath = o.host.slice('unix://'.length);
    else {
      const u = new URL(o.host.replace(/^tcp:/, 'http:'));
      this.#host = u.hostname;
      this.#port = Number(u.port || 2375);
    }
  }

  raw(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Buffer; stream: NodeJS.ReadableStream }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(
        {
          method,
          path: `/v1.41${path}`,
          ...(this.#socketPath ? { socketPath: this.#socketPath } : { host: this.#host, port: this.#port }),
          headers: {
            'Content-Type': 'application/json',
            ...(payload ? { 'Content-Length': payload.length } : {}),
          },
        },
        (res) => resolve({ status: res.statusCode ?? 0, body: Buffer.alloc(0), stream: res }),
      );
      req.on('error', (e) =>
        reject(new Error(`cannot reach shoald: ${e.message} (is it running? set SHOAL_HOST or -H)`)),
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
