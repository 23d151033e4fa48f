// A Daemon on the simulated executor with the HTTP app, driven through fastify's inject.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon, daemonApi } from '../../src/daemon/index.js';
import { SimExecutor } from '../../src/agent/index.js';
import { DESCRIPTION } from './cluster.js';

export interface ApiHarness {
  daemon: Daemon;
  executor: () => SimExecutor;
  call(
    method: string,
    url: string,
    body?: unknown,
    raw?: string,
    /** Replaces the default `Content-Type: application/json` of a request with a body. */
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: unknown; text: string; headers: Record<string, unknown> }>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  dataRoot?: string;
  /** The manager's encrypted-network check (default: this kernel's, see network/kernel.ts). */
  encryption?: () => Promise<string | undefined>;
}

export async function apiHarness(opts: HarnessOptions = {}): Promise<ApiHarness> {
  const dataRoot = opts.dataRoot ?? (await mkdtemp(join(tmpdir(), 'shoal-api-')));
  let executor: SimExecutor | undefined;
  const daemon = new Daemon({
    dataRoot,
    engineHost: 'unix:///nonexistent.sock',
    hostname: 'sim1',
    executorFactory: () => (executor = new SimExecutor(DESCRIPTION)),
    defaultListenAddr: '127.0.0.1:0',
    ...(opts.encryption ? { encryption: opts.encryption } : {}),
  });
  await daemon.start();
  const app = daemonApi(daemon);
  await app.ready();
  return {
    daemon,
    executor: () => executor!,
    async call(method, url, body, raw, headers) {
      const h = headers ?? { 'content-type': 'application/json' };
      const res = await app.inject({
        method: method as 'GET',
        url,
        ...(raw !== undefined
          ? { payload: raw, headers: h }
          : body !== undefined
            ? { payload: JSON.stringify(body), headers: h }
            : {}),
      });
      let parsed: unknown = undefined;
      try {
        parsed = res.body ? JSON.parse(res.body) : undefined;
      } catch {
        parsed = undefined;
      }
      return {
        status: res.statusCode,
        body: parsed,
        text: res.body,
        headers: res.headers as Record<string, unknown>,
      };
    },
    async close() {
      await daemon.shutdown();
      await app.close();
    },
  };
}

/** A service spec on the local busybox image that runs until stopped. */
export const serviceSpec = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  Name: name,
  TaskTemplate: { ContainerSpec: { Image: 'busybox:local', Args: ['sleep', '3600'] } },
  ...extra,
});

/** Runs fn against a harness whose node has initialised a swarm (cluster port on loopback, any port). */
export async function withSwarm(
  fn: (h: ApiHarness) => Promise<void>,
  opts: Omit<HarnessOptions, 'dataRoot'> = {},
): Promise<void> {
  const h = await apiHarness(opts);
  try {
    const init = await h.call('POST', '/v1.41/swarm/init', {
      ListenAddr: '127.0.0.1:0',
      AdvertiseAddr: '127.0.0.1',
    });
    if (init.status !== 200) throw new Error(`swarm init: ${init.status} ${init.text}`);
    await fn(h);
  } finally {
    await h.close();
  }
}
