// Who answers a request on shoal's API socket: shoal (the swarm's routes, through fastify) or the
// node's engine (everything else, streamed by engineproxy.ts). Decided on the raw request, before
// fastify, whose body parser takes only JSON up to 2 MB: proxied routes carry tar streams (load,
// build, import, cp) and hijacked connections.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ShoalError, httpStatusFor } from '../api/index.js';
import { createNetworks, withStandaloneDns, type Standalone } from './containercreate.js';
import type { EngineLink } from './engineproxy.js';

/** The largest container create body read whole to be given resolvers; a larger one goes as it is. */
export const MAX_CREATE_BODY = 4 << 20;

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

/**
 * The path the engine's router would match, without its query and /vX.Y prefix, or undefined
 * when it is not one plain path. dockerd decodes `%XX` before matching and takes any `/v[0-9.]+`
 * prefix, so `/v1.41/%73warm/init` and `/v1.41.0/swarm/init` are its swarm routes: the decision
 * has to be made on the same reading, or a route shoal owns would reach the engine.
 */
export function routePath(url: string): string | undefined {
  const raw = url.split('?')[0] ?? '';
  // An absolute-form target (`http://host/...`) or anything not rooted is no path of ours.
  if (!raw.startsWith('/')) return undefined;
  let path: string;
  try {
    path = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  // Empty or dot segments would be cleaned (or redirected) by the engine's router into another route.
  if (path.includes('//') || /(^|\/)\.\.?(\/|$)/.test(path) || path.includes('\0')) return undefined;
  const m = /^\/v[0-9.]+(\/.*)?$/.exec(path);
  return m ? (m[1] ?? '/') : path;
}

/**
 * True when shoal answers `url` itself; false when the node's engine does. A path that is not
 * plain stays with shoal (its router answers 404), never with the engine.
 */
export function ownedByShoal(url: string): boolean {
  const path = routePath(url);
  if (path === undefined) return true;
  if (ENGINE_NETWORK_ROUTES.test(path)) return false;
  return OWNED.has(path.split('/')[1] ?? '');
}

/** The engine routes that take over their connection (attach, exec start, build sessions). */
const HIJACKING = /^\/(containers\/[^/]+\/attach(\/ws)?|exec\/[^/]+\/start|session|grpc)\/?$/;

/** True when `url` is an engine route that may hijack its connection. */
export function hijacks(url: string): boolean {
  const path = routePath(url);
  return path !== undefined && !ownedByShoal(url) && HIJACKING.test(path);
}

export interface Dispatch {
  request(req: IncomingMessage, res: ServerResponse): void;
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

/**
 * Reads a container create's body (at most MAX_CREATE_BODY, else it streams as it is) and forwards
 * it with the resolvers of the shoal networks it joins (containercreate.ts).
 */
function forwardCreate(
  engine: EngineLink,
  req: IncomingMessage,
  res: ServerResponse,
  standalone: Standalone,
  log: (msg: string) => void,
): void {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > MAX_CREATE_BODY) return engine.forward(req, res);
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  req.on('data', (c: Buffer) => {
    size += c.byteLength;
    if (over) return;
    if (size > MAX_CREATE_BODY) {
      // A chunked body past the bound: what was read cannot be streamed on, so it is refused.
      over = true;
      req.pause();
      const text = `${JSON.stringify({ message: `container create body larger than ${MAX_CREATE_BODY} bytes` })}\n`;
      res.writeHead(413, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(text),
        Connection: 'close',
      });
      res.end(text, () => req.destroy());
      return;
    }
    chunks.push(c);
  });
  req.on('error', () => res.destroy());
  req.on('end', () => {
    if (over) return;
    const body = Buffer.concat(chunks);
    void prepared(body, standalone, log).then(
      () => {
        let out: Buffer = body;
        try {
          const rewritten = withStandaloneDns(body, standalone.dns);
          if (rewritten) {
            log(`container create: resolvers of its shoal networks as HostConfig.Dns`);
            out = rewritten;
          }
        } catch (e) {
          // Sent as it came: the engine answers a body it cannot read, as it would without shoal.
          log(`container create: body left as it is (${(e as Error).message})`);
        }
        engine.forward(req, res, out);
      },
      (e: unknown) => {
        const status = e instanceof ShoalError ? httpStatusFor(e.code) : 500;
        const text = `${JSON.stringify({ message: (e as Error).message })}\n`;
        res.writeHead(status, {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(text),
        });
        res.end(text);
      },
    );
  });
}

/** The networks the body joins made ready on this node; only a refusal the client must see rejects. */
async function prepared(body: Buffer, standalone: Standalone, log: (msg: string) => void): Promise<void> {
  if (!standalone.prepare) return;
  let networks: string[];
  try {
    networks = createNetworks(body);
  } catch {
    return;
  }
  if (networks.length > 0) await standalone.prepare(networks);
  else log('container create: joins no shoal network');
}

export interface DispatchOptions {
  /** The node's shoal networks, for standalone containers created through shoal. */
  standalone?: Standalone;
  log?: (msg: string) => void;
}

/** Requests for shoal's routes go to `shoal` (fastify's handler); the rest to `engine`. */
export function dispatcher(
  shoal: (req: IncomingMessage, res: ServerResponse) => void,
  engine: EngineLink | undefined,
  o: DispatchOptions = {},
): Dispatch {
  return {
    request(req, res) {
      const url = req.url ?? '/';
      if (!engine || ownedByShoal(url)) shoal(req, res);
      else if (o.standalone && req.method === 'POST' && routePath(url) === '/containers/create')
        forwardCreate(engine, req, res, o.standalone, o.log ?? (() => undefined));
      else engine.forward(req, res);
    },
    upgrade(req, socket, head) {
      if (engine && hijacks(req.url ?? '/')) return engine.upgrade(req, socket, head);
      // Only attach and exec start take over a connection. Tunnelling any other request would
      // leave a raw pipe to the engine that later requests on the connection could use unchecked.
      const body = `${JSON.stringify({ message: `${req.url ?? '/'} does not upgrade its connection` })}\n`;
      socket.end(
        `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    },
  };
}
