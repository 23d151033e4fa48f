// The Engine-compatible HTTP API. Routes live at /vX.Y/... and unprefixed; every answer carries
// the version headers the docker CLI negotiates with, and every error is {"message": ...} with the
// status Docker uses (see api/errors.ts for the one code → status table).
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { chmod, rm } from 'node:fs/promises';
import { arch, release, cpus, totalmem } from 'node:os';
import {
  API_VERSION,
  MAX_API_VERSION,
  MIN_API_VERSION,
  SHOAL_VERSION,
  badParameter,
  dockerMessageFor,
  httpStatusFor,
  invalidArgument,
  notFound,
  parseFilters,
  ShoalError,
  unavailable,
  validateInitRequest,
  validateJoinRequest,
  checkDepth,
  type Node,
} from '../api/index.js';
import { NO_LEADER, type Daemon } from '../daemon/index.js';
import {
  dockerNetwork,
  filterNetworks,
  filterNodes,
  filterServices,
  filterTasks,
  publicCluster,
  serviceStatus,
  withDefaults,
} from './present.js';
import { streamLogs } from './logs.js';
import { secretRoutes } from './secrets.js';
import { sendJson } from './reply.js';
import { queryBool, queryInt } from './query.js';
import { parseTcpHost, tcpListenerNotice, type ServerTls } from './tls.js';

export { API_VERSION, MAX_API_VERSION, MIN_API_VERSION, SHOAL_VERSION };

const HEADERS = {
  'Api-Version': API_VERSION,
  'Docker-Experimental': 'false',
  Ostype: 'linux',
  Server: `shoal/${SHOAL_VERSION} (linux)`,
};

function cmpVersion(a: string, b: string): number {
  const [a1, a2] = a.split('.').map(Number);
  const [b1, b2] = b.split('.').map(Number);
  return a1! - b1! || a2! - b2!;
}

type Q = Record<string, string | undefined>;

const q = (req: FastifyRequest): Q => req.query as Q;
const bool = queryBool;
const intParam = queryInt;

/** Endpoints that only make sense in a swarm answer Docker's 503 when this node is not in one. */
/** A JSON request body that must be an object (or absent). */
function objectBody(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body))
    throw invalidArgument('the request body must be a JSON object');
  return body as Record<string, unknown>;
}

/** Marks a request a follower forwarded, so the leader never forwards it again. */
const FORWARDED_HEADER = 'x-shoal-forwarded';
/** Writes that change this node alone, not the cluster's state: never forwarded. */
const LOCAL_WRITES = new Set(['/swarm/init', '/swarm/join', '/swarm/leave', '/swarm/unlock']);

function isForwardable(req: FastifyRequest): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return false;
  return !LOCAL_WRITES.has(req.url.split('?')[0] ?? '');
}

/** A node as the API shows it: whether it leads, from this manager's Raft view; no Raft ID. */
function presentNode(d: Daemon, n: Node): Node {
  if (!n.ManagerStatus) return n;
  const { RaftID, ...ms } = n.ManagerStatus;
  const r = d.raftLeader;
  const leader = RaftID !== undefined && r !== undefined && r.leader === RaftID;
  return {
    ...n,
    ManagerStatus: {
      ...(leader ? { Leader: true } : {}),
      ...ms,
      // This manager and the leader are plainly reachable, whatever the last record says.
      ...(leader || RaftID === r?.self ? { Reachability: 'reachable' as const } : {}),
    },
  };
}

function requireSwarm(d: Daemon): void {
  void d.manager;
}

export function buildApp(d: Daemon): FastifyInstance<Server> {
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const app = Fastify({
    logger: false,
    // The largest legitimate body is a 1000 KB config, base64-encoded; a Raft entry stays small.
    bodyLimit: 2 * 1024 * 1024,
    serverFactory: (h) => {
      handler = h;
      return createServer(h);
    },
    rewriteUrl: (req) => {
      const m = /^\/v(\d+\.\d+)(\/.*)?$/.exec(req.url ?? '');
      if (!m) return req.url ?? '/';
      (req as IncomingMessage & { apiVersion?: string }).apiVersion = m[1]!;
      return m[2] ?? '/';
    },
  }) as unknown as FastifyInstance<Server>;
  (app as unknown as { shoalHandler: () => typeof handler }).shoalHandler = () => handler;

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
    const text = String(body);
    (req as FastifyRequest & { rawBody?: string }).rawBody = text;
    if (text.trim() === '') return done(null, undefined);
    const ct = req.headers['content-type'] ?? '';
    // Docker's CheckForJSON: a body must say it is JSON.
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

  app.addHook('onRequest', async (req, reply) => {
    reply.headers(HEADERS);
    const v = (req.raw as IncomingMessage & { apiVersion?: string }).apiVersion;
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

  // A manager that does not lead sends writes to the leader, which runs them as its own requests.
  app.addHook('preHandler', async (req, reply) => {
    if (!isForwardable(req) || !d.forwardsWrites) return;
    if (req.headers[FORWARDED_HEADER]) throw unavailable(NO_LEADER);
    const v = (req.raw as IncomingMessage & { apiVersion?: string }).apiVersion;
    const headers: Record<string, string> = {};
    for (const h of ['content-type', 'x-registry-auth']) {
      const value = req.headers[h];
      if (typeof value === 'string') headers[h] = value;
    }
    const res = await d.forwardToLeader({
      method: req.method,
      url: v ? `/v${v}${req.url}` : req.url,
      headers,
      body: Buffer.from((req as FastifyRequest & { rawBody?: string }).rawBody ?? ''),
    });
    reply.code(res.status);
    if (res.contentType) reply.type(res.contentType);
    return reply.send(res.body.byteLength > 0 ? res.body : undefined);
  });
  d.setApiHandler(async (req) => {
    const res = await app.inject({
      method: req.method as 'POST',
      url: req.url,
      headers: { ...req.headers, [FORWARDED_HEADER]: '1' },
      ...(req.body.byteLength > 0 ? { payload: Buffer.from(req.body) } : {}),
    });
    const ct = res.headers['content-type'];
    return { status: res.statusCode, contentType: typeof ct === 'string' ? ct : '', body: res.rawPayload };
  });

  app.setErrorHandler((err: unknown, _req, reply) => {
    reply.headers(HEADERS);
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

  const json = sendJson;
  const empty = (reply: FastifyReply, code = 200): FastifyReply => reply.code(code).send();

  // ---- system ----
  const ping = (_req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    reply.header('Cache-Control', 'no-cache, no-store, must-revalidate').header('Pragma', 'no-cache');
    reply.header(
      'Swarm',
      d.state === 'active' ? (d.isManager ? 'active/manager' : 'active/worker') : d.state,
    );
    return reply
      .code(200)
      .type('text/plain; charset=utf-8')
      .send(_req.method === 'HEAD' ? '' : 'OK');
  };
  app.get('/_ping', ping);

  app.get('/version', (_req, reply) =>
    json(reply, 200, {
      Platform: { Name: 'shoal' },
      Components: [
        {
          Name: 'shoal',
          Version: SHOAL_VERSION,
          Details: { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: 'amd64' },
        },
      ],
      Version: SHOAL_VERSION,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: 'shoal',
      GoVersion: `node${process.versions.node}`,
      Os: 'linux',
      Arch: arch() === 'x64' ? 'amd64' : arch(),
      KernelVersion: release(),
      BuildTime: new Date(d.startedAt).toISOString(),
    }),
  );

  app.get('/info', (_req, reply) => {
    const cluster = d.cluster();
    const nodes = cluster ? d.manager.store.view((tx) => tx.all('nodes')) : [];
    const managers = cluster
      ? nodes.flatMap((n) => (n.ManagerStatus ? [{ NodeID: n.ID, Addr: n.ManagerStatus.Addr }] : []))
      : d.managers.map((Addr) => ({ NodeID: '', Addr }));
    const swarm: Record<string, unknown> = {
      NodeID: d.nodeId ?? '',
      NodeAddr: d.nodeAddr,
      LocalNodeState: d.state,
      ControlAvailable: cluster !== undefined,
      Error: '',
      RemoteManagers: d.state === 'active' ? managers : null,
    };
    if (cluster) {
      swarm.Nodes = nodes.length;
      swarm.Managers = nodes.filter((n) => n.Spec.Role === 'manager').length;
      const { JoinTokens: _t, ...c } = publicCluster(cluster);
      swarm.Cluster = c;
    }
    return json(reply, 200, {
      ID: d.nodeId ?? '',
      Containers: 0,
      ContainersRunning: 0,
      ContainersPaused: 0,
      ContainersStopped: 0,
      Images: 0,
      Driver: 'shoal',
      DriverStatus: [],
      Plugins: { Volume: null, Network: ['overlay'], Authorization: null, Log: null },
      MemoryLimit: true,
      SwapLimit: false,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      IPv4Forwarding: true,
      Debug: false,
      NFd: 0,
      OomKillDisable: false,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'json-file',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: '1',
      NEventsListener: 0,
      KernelVersion: release(),
      OperatingSystem: 'shoal',
      OSVersion: SHOAL_VERSION,
      OSType: 'linux',
      Architecture: arch() === 'x64' ? 'x86_64' : arch(),
      IndexServerAddress: '',
      RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: [], Mirrors: [] },
      NCPU: cpus().length,
      MemTotal: totalmem(),
      GenericResources: null,
      DockerRootDir: d.dataRoot,
      Name: d.hostname,
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: SHOAL_VERSION,
      Runtimes: {},
      DefaultRuntime: 'runc',
      Swarm: swarm,
      LiveRestoreEnabled: false,
      Isolation: '',
      InitBinary: '',
      ContainerdCommit: { ID: '' },
      RuncCommit: { ID: '' },
      InitCommit: { ID: '' },
      SecurityOptions: [],
      Warnings: null,
    });
  });

  // ---- swarm ----
  app.get('/swarm', (_req, reply) => {
    const { store } = d.manager;
    return json(reply, 200, publicCluster(store.view((tx) => tx.cluster())!));
  });
  app.post('/swarm/init', async (req, reply) => {
    const body = validateInitRequest(req.body);
    const id = await d.init({
      ...(body.AdvertiseAddr ? { advertiseAddr: body.AdvertiseAddr } : {}),
      ...(body.ListenAddr ? { listenAddr: body.ListenAddr } : {}),
      spec: body.Spec ?? {},
      ...(body.ForceNewCluster === true ? { forceNewCluster: true } : {}),
    });
    return json(reply, 200, id);
  });
  app.post('/swarm/join', async (req, reply) => {
    const body = validateJoinRequest(req.body);
    await d.join({
      remoteAddrs: body.RemoteAddrs,
      joinToken: body.JoinToken,
      ...(body.AdvertiseAddr ? { advertiseAddr: body.AdvertiseAddr } : {}),
      ...(body.ListenAddr ? { listenAddr: body.ListenAddr } : {}),
      ...(body.Availability ? { availability: body.Availability } : {}),
    });
    return empty(reply);
  });
  app.post('/swarm/leave', async (req, reply) => {
    await d.leave(bool(q(req).force));
    return empty(reply);
  });
  app.post('/swarm/update', async (req, reply) => {
    const p = q(req);
    const { manager } = d.manager;
    await manager.control.updateSwarm(intParam(p.version, 'version'), req.body, {
      worker: bool(p.rotateWorkerToken),
      manager: bool(p.rotateManagerToken),
      unlockKey: bool(p.rotateManagerUnlockKey),
    });
    // This manager's key store follows the spec just written before the answer; the others
    // follow as they apply it.
    await d.syncKeys();
    return empty(reply);
  });
  app.get('/swarm/unlockkey', (_req, reply) => {
    requireSwarm(d);
    return json(reply, 200, { UnlockKey: d.unlockKey() });
  });
  app.post('/swarm/unlock', async (req, reply) => {
    const body = objectBody(req.body) as { UnlockKey?: unknown };
    if (typeof body.UnlockKey !== 'string') throw invalidArgument('UnlockKey must be a string');
    if (d.state === 'inactive') throw unavailable('This node is not part of a swarm');
    await d.unlock(body.UnlockKey);
    return empty(reply);
  });

  // ---- nodes ----
  app.get('/nodes', (req, reply) => {
    const f = parseFilters(q(req).filters);
    return json(
      reply,
      200,
      d.manager.store.view((tx) => filterNodes(tx, f)).map((n) => presentNode(d, n)),
    );
  });
  app.get('/nodes/:id', (req, reply) => {
    const { id } = req.params as { id: string };
    const n = d.manager.store.view((tx) => tx.lookup('nodes', id));
    if (!n) throw notFound(`node ${id} not found`);
    return json(reply, 200, presentNode(d, n));
  });
  app.post('/nodes/:id/update', async (req, reply) => {
    const { id } = req.params as { id: string };
    await d.manager.manager.control.updateNode(id, intParam(q(req).version, 'version'), req.body);
    return empty(reply);
  });
  app.delete('/nodes/:id', async (req, reply) => {
    const { id } = req.params as { id: string };
    await d.manager.manager.control.removeNode(id, bool(q(req).force));
    return empty(reply);
  });

  // ---- services ----
  app.get('/services', (req, reply) => {
    const p = q(req);
    const f = parseFilters(p.filters);
    const { store } = d.manager;
    const out = store.view((tx) => {
      const list = filterServices(tx, f);
      if (!bool(p.status)) return list;
      const nodes = new Map(tx.all('nodes').map((n) => [n.ID, n]));
      return list.map((s) => ({ ...s, ServiceStatus: serviceStatus(tx, s, nodes) }));
    });
    return json(reply, 200, out);
  });
  app.post('/services/create', async (req, reply) => {
    const id = await d.manager.manager.control.createService(req.body);
    return json(reply, 201, { ID: id });
  });
  app.get('/services/:id', (req, reply) => {
    const { id } = req.params as { id: string };
    const s = d.manager.store.view((tx) => tx.lookup('services', id));
    if (!s) throw notFound(`service ${id} not found`);
    return json(reply, 200, bool(q(req).insertDefaults) ? withDefaults(s) : s);
  });
  app.post('/services/:id/update', async (req, reply) => {
    const p = q(req);
    const { id } = req.params as { id: string };
    if (p.rollback !== undefined && p.rollback !== 'previous' && p.rollback !== '') {
      throw invalidArgument(`unknown rollback value "${p.rollback}"; use rollback=previous`);
    }
    if (p.registryAuthFrom !== undefined && !['spec', 'previous-spec', ''].includes(p.registryAuthFrom)) {
      throw invalidArgument(
        `unknown registryAuthFrom value "${p.registryAuthFrom}"; use spec or previous-spec`,
      );
    }
    await d.manager.manager.control.updateService(id, intParam(p.version, 'version'), req.body, {
      rollback: p.rollback === 'previous',
    });
    return json(reply, 200, { Warnings: null });
  });
  app.delete('/services/:id', async (req, reply) => {
    const { id } = req.params as { id: string };
    await d.manager.manager.control.removeService(id);
    return empty(reply);
  });
  app.get('/services/:id/logs', async (req, reply) => {
    const { id } = req.params as { id: string };
    const { store } = d.manager;
    const svc = store.view((tx) => tx.lookup('services', id));
    if (!svc) throw notFound(`service ${id} not found`);
    const tasks = store.view((tx) => tx.tasksByService(svc.ID));
    await streamLogs(d, reply, tasks, q(req), svc.ID);
  });

  // ---- tasks ----
  app.get('/tasks', (req, reply) => {
    const f = parseFilters(q(req).filters);
    const out = d.manager.store.view((tx) => filterTasks(tx, f));
    return json(reply, 200, out);
  });
  app.get('/tasks/:id', (req, reply) => {
    const { id } = req.params as { id: string };
    const t = d.manager.store.view((tx) => tx.lookup('tasks', id));
    if (!t) throw notFound(`task ${id} not found`);
    return json(reply, 200, t);
  });
  app.get('/tasks/:id/logs', async (req, reply) => {
    const { id } = req.params as { id: string };
    const t = d.manager.store.view((tx) => tx.lookup('tasks', id));
    if (!t) throw notFound(`task ${id} not found`);
    await streamLogs(d, reply, [t], q(req));
  });

  // ---- networks ----
  app.get('/networks', (req, reply) => {
    const f = parseFilters(q(req).filters);
    if (d.state !== 'active') return json(reply, 200, []);
    return json(
      reply,
      200,
      d.manager.store.view((tx) => filterNetworks(tx, f).map(dockerNetwork)),
    );
  });
  app.get('/networks/:id', (req, reply) => {
    const { id } = req.params as { id: string };
    const n = d.state === 'active' ? d.manager.store.view((tx) => tx.lookup('networks', id)) : undefined;
    if (!n) throw notFound(`network ${id} not found`);
    return json(reply, 200, dockerNetwork(n));
  });
  app.post('/networks/create', async (req, reply) => {
    const id = await d.manager.manager.control.createNetwork(req.body);
    return json(reply, 201, { Id: id, Warning: '' });
  });
  app.delete('/networks/:id', async (req, reply) => {
    const { id } = req.params as { id: string };
    await d.manager.manager.control.removeNetwork(id);
    return empty(reply, 204);
  });

  secretRoutes(app, d);

  // ---- registry ----
  app.get('/distribution/*', (req) => {
    const name = (req.params as { '*': string })['*'].replace(/\/json$/, '');
    // No registry is reachable from shoal; the CLI then warns and lets nodes use their local image.
    throw new ShoalError(
      'Internal',
      `no registry is reachable to resolve ${name}; nodes will use their local copy of the image`,
    );
  });

  // ---- events ----
  app.get('/events', (req, reply) => {
    const p = q(req);
    const f = parseFilters(p.filters);
    for (const k of f.keys())
      if (!['type', 'scope', 'event', 'service', 'node', 'container', 'label'].includes(k))
        throw invalidArgument(`invalid filter '${k}'`);
    const parseTime = (v: string | undefined): number | undefined => {
      if (v === undefined || v === '') return undefined;
      const n = Number(v);
      if (!Number.isFinite(n)) throw invalidArgument(`invalid value for time: ${v}`);
      return n * 1e9;
    };
    const since = parseTime(p.since);
    const until = parseTime(p.until);
    const match = (e: {
      Type: string;
      Action: string;
      scope: string;
      Actor: { ID: string; Attributes: Record<string, string> };
    }): boolean => {
      const types = f.get('type');
      if (types && !types.includes(e.Type)) return false;
      const scopes = f.get('scope');
      if (scopes && !scopes.includes(e.scope)) return false;
      const acts = f.get('event');
      if (acts && !acts.includes(e.Action)) return false;
      for (const k of ['service', 'node', 'container'] as const) {
        const want = f.get(k);
        if (
          want &&
          (e.Type !== k || !want.some((w) => e.Actor.ID.startsWith(w) || e.Actor.Attributes.name === w))
        )
          return false;
      }
      return true;
    };
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { ...HEADERS, 'Content-Type': 'application/json' });
    const write = (e: { timeNano: number }): boolean => {
      if (since !== undefined && e.timeNano < since) return true;
      if (until !== undefined && e.timeNano > until) return false;
      if (match(e as never)) res.write(`${JSON.stringify(e)}\n`);
      return true;
    };
    const queue = until === undefined ? d.events.follow() : undefined;
    for (const e of d.events.history()) if (!write(e)) break;
    if (!queue) return void res.end();
    const close = (): void => d.events.unfollow(queue);
    res.on('close', close);
    void (async () => {
      for await (const batch of queue) for (const e of batch) write(e);
      res.end();
    })();
  });

  return app;
}

export interface ListenOptions {
  /** TLS for tcp listeners; unix sockets stay plain, as dockerd's. */
  tls?: ServerTls;
  /** --tls or --tlsverify was given at all (see tcpListenerNotice). */
  tlsExplicit?: boolean;
  log?: (level: 'debug' | 'info' | 'warn', msg: string) => void;
}

/** Serves the app on each -H address (unix:///path or tcp://host:port). */
export async function listen(
  app: FastifyInstance<Server>,
  hosts: readonly string[],
  o: ListenOptions = {},
): Promise<Array<Server | HttpsServer>> {
  await app.ready();
  const handler = (
    app as unknown as {
      shoalHandler: () => ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
    }
  ).shoalHandler();
  const log = o.log ?? (() => undefined);
  const servers: Array<Server | HttpsServer> = [];
  for (const h of hosts) {
    let srv: Server | HttpsServer;
    if (h.startsWith('unix://')) {
      const path = h.slice('unix://'.length);
      srv = createServer(handler);
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
      srv.keepAliveTimeout = 30_000;
      await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(port, host, resolve));
    } else throw new Error(`unsupported host ${h}: use unix:///path or tcp://host:port`);
    servers.push(srv);
  }
  return servers;
}
