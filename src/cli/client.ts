// The CLI's connection to shoald: the shared Engine API client, with the CLI's words for a daemon
// it cannot reach.
import { EngineApiClient, type ClientTls } from '../engineclient/index.js';

export type Client = EngineApiClient;

export function shoaldClient(host: string, tls?: ClientTls): Client {
  return new EngineApiClient({
    host,
    ...(tls ? { tls } : {}),
    unreachable: (e) =>
      new Error(
        tls
          ? `cannot reach shoald over TLS: ${e.reason ?? e.message}`
          : `cannot reach shoald: ${e.message} (is it running? set -H, SHOAL_HOST or DOCKER_HOST)`,
      ),
  });
}
