// Who answers a request on shoal's API socket: shoal (the swarm's routes, through fastify) or the
// node's engine (everything else, streamed by engineproxy.ts). Decided on the raw request, before
// fastify, whose body parser takes only JSON up to 2 MB: proxied routes carry tar streams (load,
// build, import, cp) and hijacked connections.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { EngineLink } from './engineproxy.js';

/** The first path segment of every route shoal serves itself. */
const OWNED = new Set([
  '_ping',
  'version',
  'info',
  'events',
  'swarm',
  'nodes',
  'services',
  'tasks',
  'secrets',
  'configs',
  'networks',
]);
/** Network routes that act on the engine's containers alone (connect, disconnect, prune). */
const ENGINE_NETWORK_ROUTES = /^\/networks\/(prune|[^/]+\/(connect|disconnect))\/?$/;

/** The path without its query and /vX.Y prefix. */
export function routePath(url: string): string {
  const path = url.split('?')[0] ?? '/';
  const m = /^\/v\d+\.\d+(\/.*)?$/.exec(path);
  return m ? (m[1] ?? '/') : path;
}

/** True when shoal answers `url` itself; false when the node's engine does. */
export function ownedByShoal(url: string): boolean {
  const path = routePath(url);
  if (ENGINE_NETWORK_ROUTES.test(path)) return false;
  return OWNED.has(path.split('/')[1] ?? '');
}

export interface Dispatch {
  request(req: IncomingMessage, res: ServerResponse): void;
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

/** Requests for shoal's routes go to `shoal` (fastify's handler); the rest to `engine`. */
export function dispatcher(
  shoal: (req: IncomingMessage, res: ServerResponse) => void,
  engine: EngineLink | undefined,
): Dispatch {
  return {
    request(req, res) {
      if (!engine || ownedByShoal(req.url ?? '/')) shoal(req, res);
      else engine.forward(req, res);
    },
    upgrade(req, socket, head) {
      if (engine && !ownedByShoal(req.url ?? '/')) return engine.upgrade(req, socket, head);
      // shoal's routes never hijack a connection (dockerd ignores the Upgrade header on them too).
      const body = `${JSON.stringify({ message: `${req.url ?? '/'} does not upgrade its connection` })}\n`;
      socket.end(
        `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    },
  };
}
