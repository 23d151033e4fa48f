// The Engine-compatible HTTP API. Routes live at /vX.Y/... and unprefixed; every answer carries
// the version headers the docker CLI negotiates with, and every error is {"message": ...} with the
// status Docker uses (see api/errors.ts for the one code → status table).
import Fastify, { type FastifyInstance } from 'fastify';
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { chmod, rm } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import {
  API_VERSION,
  MAX_API_VERSION,
  MIN_API_VERSION,
  SHOAL_VERSION,
  badParameter,
  checkDepth,
  dockerMessageFor,
  httpStatusFor,
  invalidArgument,
  ShoalError,
} from '../api/index.js';
import type { ApiBackend } from './backend.js';
import { dispatcher } from './dispatch.js';
import type { Standalone } from './containercreate.js';
import { EngineLink } from './engineproxy.js';
import { forwardWritesToLeader } from './forwarding.js';
import { API_HEADERS, sendJson } from './reply.js';
import { apiVersionOf, setApiVersion, setRawBody } from './request.js';
import { eventRoutes } from './routes/events.js';
import { logRoutes } from './routes/logs.js';
import { localNetworksToEngine, networkRoutes } from './routes/networks.js';
import { nodeRoutes } from './routes/nodes.js';
import { secretRoutes } from './routes/secrets.js';
import { serviceRoutes } from './routes/services.js';
import { swarmRoutes } from './routes/swarm.js';
import { systemRoutes } from './routes/system.js';
import { taskRoutes } from './routes/tasks.js';
import { parseTcpHost, tcpListenerNotice, type ServerTls } from './tls.js';

export { API_VERSION, MAX_API_VERSION, MIN_API_VERSION, SHOAL_VERSION };

function cmpVersion(a: string, b: string): number {
  const [a1, a2] = a.split('.').map(Number);
  const [b1, b2] = b.split('.').map(Number);
  return a1! - b1! || a2! - b2!;
}

/** Docker's CheckForJSON and our depth bound: a body is JSON, says so, and is not too deep. */
function parseBodies(app: FastifyInstance<Server>): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
    const text = String(body);
    setRawBody(req, text);
    if (text.trim() === '') return done(null, undefined);
    const ct = req.headers['content-type'] ?? '';
    if (!/^application\/json\s*(;|$)/i.test(ct))
      return done(badParameter(`Content-Type specified (${ct}) must be 'application/json'`), undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      return done(badParameter(`invalid JSON in request body: ${(e as Error).message}`), undefined);
    }
    try {
      checkDepth(parsed);
    } catch (e) {
      return done(e as Error, undefined);
    }
    done(null, parsed);
  });
}

/** Every answer carries the API headers; a version outside what we serve is Docker's 400. */
function checkApiVersion(app: FastifyInstance<Server>): void {
  app.addHook('onRequest', async (req, reply) => {
    reply.headers(API_HEADERS);
    const v = apiVersionOf(req);
    if (v && cmpVersion(v, MAX_API_VERSION) > 0) {
      throw invalidArgument(
        `client version ${v} is too new. Maximum supported API version is ${MAX_API_VERSION}`,
      );
    }
    if (v && cmpVersion(v, MIN_API_VERSION) < 0) {
      throw invalidArgument(
        `client version ${v} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
      );
    }
  });
}

/** Errors as Docker's `{"message"}` with Docker's status (api/errors.ts holds the one table). */
function answerErrors(app: FastifyInstance<Server>): void {
  app.setErrorHandler((err: unknown, _req, reply) => {
    reply.headers(API_HEADERS);
    if (err instanceof ShoalError) {
      void sendJson(reply, httpStatusFor(err.code), { message: dockerMessageFor(err) });
      return;
    }
    const e = err as { statusCode?: number; message?: string };
    const status = e.statusCode && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 500;
    void sendJson(reply, status, { message: e.message ?? String(err) });
  });
  app.setNotFoundHandler((_req, reply) => {
    void sendJson(reply, 404, { message: 'page not found' });
  });
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
/** What `listen` needs of a built app beyond fastify: its raw handler and the node's engine. */
const built = new WeakMap<
  FastifyInstance<Server>,
  { handler: () => Handler | undefined; engine?: EngineLink; standalone?: Standalone }
>();

/**
 * The Engine API of the node behind `backend`; serve it with `listen` (routes shoal does not own
 * go to the node's engine there), or call shoal's own routes with inject.
 */
export function buildApp(backend: ApiBackend): FastifyInstance<Server> {
  let handler: Handler | undefined;
  const app = Fastify({
    logger: false,
    // The largest legitimate body is a 1000 KB config, base64-encoded; a Raft entry stays small.
    bodyLimit: 2 * 1024 * 1024,
    serverFactory: (h) => {
      handler = h;
      return createServer(h);
    },
    // /vX.Y/... and unprefixed paths reach the same routes; the version is kept for the checks.
    rewriteUrl: (req) => {
      const m = /^\/v(\d+\.\d+)(\/.*)?$/.exec(req.url ?? '');
      if (!m) return req.url ?? '/';
      setApiVersion(req, m[1]!);
      return m[2] ?? '/';
    },
  }) as unknown as FastifyInstance<Server>;
  const engine = backend.engineHost ? new EngineLink(backend.engineHost) : undefined;
  built.set(app, {
    handler: () => handler,
    ...(engine ? { engine } : {}),
    ...(backend.standaloneDns
      ? {
          standalone: {
            dns: (networks: readonly string[]) => backend.standaloneDns?.(networks) ?? [],
            ...(backend.prepareStandalone
              ? { prepare: (networks: readonly string[]) => backend.prepareStandalone!(networks) }
              : {}),
          },
        }
      : {}),
  });

  parseBodies(app);
  checkApiVersion(app);
  // Before forwarding: a local network is this node's engine's, never the leader's.
  if (engine) localNetworksToEngine(app, backend, engine);
  forwardWritesToLeader(app, backend.leader);
  answerErrors(app);

  systemRoutes(app, backend, engine);
  networkRoutes(app, backend, engine);
  for (const routes of [
    eventRoutes,
    swarmRoutes,
    nodeRoutes,
    serviceRoutes,
    taskRoutes,
    logRoutes,
    secretRoutes,
  ])
    routes(app, backend);
  return app;
}

export interface ListenOptions {
  /** TLS for tcp listeners; unix sockets stay plain, as dockerd's. */
  tls?: ServerTls;
  /** --tls or --tlsverify was given at all (see tcpListenerNotice). */
  tlsExplicit?: boolean;
  log?: (level: 'debug' | 'info' | 'warn', msg: string) => void;
}

/**
 * Serves the app on each -H address (unix:///path or tcp://host:port); on every listener, the
 * routes shoal does not own go to the node's engine (dispatch.ts).
 */
export async function listen(
  app: FastifyInstance<Server>,
  hosts: readonly string[],
  o: ListenOptions = {},
): Promise<Array<Server | HttpsServer>> {
  await app.ready();
  const b = built.get(app);
  const shoal = b?.handler();
  if (!shoal) throw new Error('listen: the app was not made by buildApp');
  const log = o.log ?? (() => undefined);
  b!.engine?.setLog(log);
  const dispatch = dispatcher(shoal, b!.engine, {
    ...(b!.standalone ? { standalone: b!.standalone } : {}),
    log: (msg) => log('debug', msg),
  });
  const handler: Handler = (req, res) => dispatch.request(req, res);
  // Hijacked connections (attach, exec, `docker run -it`) arrive as 'upgrade', not at the handler.
  const upgrading = <S extends Server | HttpsServer>(srv: S): S => {
    srv.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      dispatch.upgrade(req, socket, head),
    );
    return srv;
  };
  const servers: Array<Server | HttpsServer> = [];
  for (const h of hosts) {
    let srv: Server | HttpsServer;
    if (h.startsWith('unix://')) {
      const path = h.slice('unix://'.length);
      srv = upgrading(createServer(handler));
      srv.keepAliveTimeout = 30_000;
      await rm(path, { force: true });
      await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(path, resolve));
      await chmod(path, 0o660);
    } else if (h.startsWith('tcp://')) {
      const { host, port } = parseTcpHost(h, o.tls !== undefined);
      const mode = o.tls ? (o.tls.verify ? 'verify' : 'tls') : 'off';
      const notice = tcpListenerNotice(h, host, { mode, explicit: o.tlsExplicit ?? false });
      if (notice) {
        for (const line of notice.lines) log(notice.level, line);
        if (notice.delayMs > 0) await new Promise((r) => setTimeout(r, notice.delayMs));
      }
      if (o.tls) {
        const t = o.tls;
        // Never fall back to Node's public roots: they would let any web certificate in.
        if (t.verify && !t.ca) throw new Error('--tlsverify needs the CA of the clients (--tlscacert)');
        srv = createHttpsServer(
          {
            cert: t.cert,
            key: t.key,
            // Only our CA's certificates get in (the ca option replaces Node's default roots).
            ...(t.verify ? { ca: t.ca!, requestCert: true, rejectUnauthorized: true } : {}),
          },
          handler,
        );
        // A refused handshake (no or foreign client certificate, plain HTTP) closes the connection.
        srv.on('tlsClientError', (e: Error & { reason?: string }, sock) =>
          log(
            'debug',
            `TLS connection from ${sock.remoteAddress ?? '?'} to ${h} refused: ${e.reason ?? e.message}`,
          ),
        );
      } else srv = createServer(handler);
      upgrading(srv);
      srv.keepAliveTimeout = 30_000;
      await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(port, host, resolve));
    } else throw new Error(`unsupported host ${h}: use unix:///path or tcp://host:port`);
    servers.push(srv);
  }
  return servers;
}
