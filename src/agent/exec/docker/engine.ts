// A small client for the Docker Engine API calls the executor makes. dockerode would do, but it
// loads ssh2 (with a 16 MB WebAssembly heap) and gRPC at startup, which costs shoald ~45 MB of its
// idle memory for transports it never uses; these dozen calls over node:http cost nothing.
import { request, type IncomingMessage } from 'node:http';

export class EngineError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

export interface ContainerInspect {
  Id: string;
  State: {
    Status: string;
    Running: boolean;
    Restarting: boolean;
    Pid: number;
    ExitCode: number;
    Health?: { Status?: string };
  };
  Config: { Tty: boolean; Labels?: Record<string, string> };
}

export interface ContainerSummary {
  Id: string;
  Labels: Record<string, string>;
  State: string;
}

const API = '/v1.41';

export class EngineClient {
  #socketPath: string | undefined;
  #host = 'localhost';
  #port = 2375;

  constructor(host: string) {
    if (host.startsWith('unix://')) this.#socketPath = host.slice('unix://'.length);
    else {
      const u = new URL(host.replace(/^tcp:/, 'http:'));
      this.#host = u.hostname;
      this.#port = Number(u.port || 2375);
    }
  }

  /** Starts a request and resolves with the response once its status is known. */
  stream(method: string, path: string, body?: unknown): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(
        {
          method,
          path: `${API}${path}`,
          ...(this.#socketPath ? { socketPath: this.#socketPath } : { host: this.#host, port: this.#port }),
          headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {},
        },
        (res) => {
          if ((res.statusCode ?? 500) < 400) return resolve(res);
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let message = text;
            try {
              message = (JSON.parse(text) as { message?: string }).message ?? text;
            } catch {
              /* not JSON */
            }
            reject(new EngineError(res.statusCode ?? 500, `(HTTP code ${res.statusCode ?? 500}) ${message}`));
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.stream(method, path, body);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    return (text ? JSON.parse(text) : undefined) as T;
  }

  ping(): Promise<unknown> {
    return this.call('GET', '/_ping').catch((e: unknown) => {
      // /_ping answers text/plain "OK", which is not JSON.
      if (e instanceof SyntaxError) return 'OK';
      throw e;
    });
  }

  info(): Promise<Record<string, unknown>> {
    return this.call('GET', '/info');
  }

  version(): Promise<{ Version?: string }> {
    return this.call('GET', '/version');
  }

  async createContainer(name: string, config: Record<string, unknown>): Promise<string> {
    const r = await this.call<{ Id: string }>(
      'POST',
      `/containers/create?name=${encodeURIComponent(name)}`,
      config,
    );
    return r.Id;
  }

  startContainer(id: string): Promise<void> {
    return this.call('POST', `/containers/${encodeURIComponent(id)}/start`);
  }

  inspectContainer(id: string): Promise<ContainerInspect> {
    return this.call('GET', `/containers/${encodeURIComponent(id)}/json`);
  }

  stopContainer(id: string, graceSeconds: number): Promise<void> {
    return this.call('POST', `/containers/${encodeURIComponent(id)}/stop?t=${graceSeconds}`);
  }

  killContainer(id: string): Promise<void> {
    return this.call('POST', `/containers/${encodeURIComponent(id)}/kill`);
  }

  removeContainer(id: string): Promise<void> {
    return this.call('DELETE', `/containers/${encodeURIComponent(id)}?force=1`);
  }

  listContainers(filters: Record<string, string[]>): Promise<ContainerSummary[]> {
    return this.call('GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify(filters))}`);
  }

  events(filters: Record<string, string[]>): Promise<IncomingMessage> {
    return this.stream('GET', `/events?filters=${encodeURIComponent(JSON.stringify(filters))}`);
  }

  logs(id: string, o: { follow: boolean; tail?: number; since?: number }): Promise<IncomingMessage> {
    const q = new URLSearchParams({
      stdout: '1',
      stderr: '1',
      timestamps: '1',
      follow: o.follow ? '1' : '0',
    });
    if (o.tail !== undefined) q.set('tail', String(o.tail));
    if (o.since !== undefined) q.set('since', String(o.since));
    return this.stream('GET', `/containers/${encodeURIComponent(id)}/logs?${q.toString()}`);
  }
}

export interface MountSettings {
  Type: string;
  Source: string;
  Target: string;
  ReadOnly: boolean;
  BindOptions?: unknown;
  VolumeOptions?: unknown;
  TmpfsOptions?: unknown;
}

export interface HostConfig {
  Mounts?: MountSettings[];
  Init?: boolean;
  RestartPolicy?: { Name: string };
  ReadonlyRootfs?: boolean;
  Memory?: number;
  NanoCpus?: number;
  PidsLimit?: number;
  CapAdd?: string[];
  CapDrop?: string[];
  Sysctls?: Record<string, string>;
  Ulimits?: { Name: string; Soft: number; Hard: number }[];
  GroupAdd?: string[];
  ExtraHosts?: string[];
  Dns?: string[];
  DnsSearch?: string[];
  DnsOptions?: string[];
}

/** POST /containers/create, with the container name (a query parameter there) alongside. */
export interface ContainerCreateOptions {
  name: string;
  Image: string;
  Labels?: Record<string, string>;
  Env?: string[];
  Tty?: boolean;
  OpenStdin?: boolean;
  HostConfig?: HostConfig;
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  User?: string;
  Hostname?: string;
  StopSignal?: string;
  StopTimeout?: number;
  Healthcheck?: {
    Test?: string[];
    Interval?: number;
    Timeout?: number;
    Retries?: number;
    StartPeriod?: number;
  };
}
