// The Docker Engine API calls the executor makes, typed, over the shared Engine API client (which
// negotiates the version with the node's dockerd). dockerode would do, but it loads ssh2 (with a
// 16 MB WebAssembly heap) and gRPC at startup, which cost shoald ~45 MB of idle memory.
import type { IncomingMessage } from 'node:http';
import { EngineApiClient } from '../../../engineclient/index.js';

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
  NetworkSettings?: {
    Networks?: Record<string, unknown>;
    /** "80/tcp" → the host addresses and ports the engine bound for it. */
    Ports?: Record<string, { HostIp?: string; HostPort?: string }[] | null>;
  };
}

export interface ContainerSummary {
  Id: string;
  Labels: Record<string, string>;
  State: string;
}

/** An image reference in a path, its slashes kept (the engine's route takes `{name:.*}`). */
const imagePath = (image: string): string => image.split('/').map(encodeURIComponent).join('/');

/** The node's dockerd. Errors are HttpStatusErrors: `status` 404 means no such container. */
export class DockerEngine {
  #api: EngineApiClient;

  constructor(host: string) {
    this.#api = new EngineApiClient({ host, statusInMessage: true });
  }

  stream(method: string, path: string, body?: unknown): Promise<IncomingMessage> {
    return this.#api.stream(method, path, body);
  }

  call<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.#api.call<T>(method, path, body);
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

  /** GET /images/{name}/json; a 404 (HttpStatusError) when the engine has no such image. */
  inspectImage(image: string): Promise<{ Id: string }> {
    return this.call('GET', `/images/${imagePath(image)}/json`);
  }

  /**
   * POST /images/create: the engine pulls `fromImage` at `tag` (a tag or a digest) and streams
   * its progress as JSON lines; `auth` is an X-Registry-Auth value, passed on as it is.
   */
  pullImage(fromImage: string, tag: string, auth?: string): Promise<IncomingMessage> {
    const q = new URLSearchParams({ fromImage, tag });
    return this.#api.stream(
      'POST',
      `/images/create?${q.toString()}`,
      undefined,
      auth ? { 'X-Registry-Auth': auth } : {},
    );
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
  NetworkMode?: string;
  /** "80/tcp" → where the engine publishes it; HostPort "" lets the engine pick one. */
  PortBindings?: Record<string, { HostIp?: string; HostPort: string }[]>;
}

/** An engine network's endpoint settings for a container (create's EndpointsConfig, connect). */
export interface EndpointSettings {
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string };
  Aliases?: string[];
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
  ExposedPorts?: Record<string, Record<string, never>>;
  NetworkingConfig?: { EndpointsConfig: Record<string, EndpointSettings> };
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
