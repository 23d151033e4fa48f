// /networks in Docker's shape, as a swarm manager's dockerd serves them: the swarm's networks
// (shoal's store) beside the node engine's local ones. Lists merge; inspect and remove find the
// swarm's first, else the engine's; a create goes to the swarm when it names the overlay driver or
// the swarm scope, else to the engine, which never gets a name the swarm already has.
// connect, disconnect and prune are the engine's alone (dispatch.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage, Server } from 'node:http';
import { notFound, parseFilters, ShoalError, type Network } from '../../api/index.js';
import { NETWORK_ID_OPTION } from '../../network/index.js';
import type { ApiBackend } from '../backend.js';
import type { EngineLink } from '../engineproxy.js';
import { dockerNetwork, filterNetworks, networkDetail } from '../present.js';
import { queryBool } from '../query.js';
import { sendEmpty, sendJson } from '../reply.js';
import { idParam, queryOf, rawBodyOf } from '../request.js';

/** The swarm network `id` names (ID, name or ID prefix), when this node is a manager that can read it. */
function swarmNetwork(b: ApiBackend, id: string): Network | undefined {
  if (!b.cluster()) return undefined;
  return b.manager().store.view((tx) => tx.lookup('networks', id));
}

/**
 * A create for the swarm: the overlay driver or the swarm scope, as dockerd redirects to its
 * manager, and (unlike dockerd, whose default is bridge) one that names no driver: the docker CLI
 * always names one (`bridge` by default), and shoal's API has taken a bare create as an overlay.
 */
function forSwarm(body: unknown): boolean {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return true; // shoal's error
  const o = body as Record<string, unknown>;
  const driver = o.Driver;
  return (
    o.Scope === 'swarm' || driver === 'overlay' || driver === undefined || driver === null || driver === ''
  );
}

/** The path and query as the client sent them, version prefix included (fastify routes without it). */
const clientUrl = (req: FastifyRequest): string =>
  (req.raw as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.raw.url ?? req.url;

/** Hands the request, as the client sent it, to the engine. */
function toEngine(engine: EngineLink, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  reply.hijack();
  const raw = rawBodyOf(req);
  engine.forward(req.raw, reply.raw, raw === undefined ? undefined : Buffer.from(raw), clientUrl(req));
  return reply;
}

/**
 * Local network creates and removes go to this node's engine before writes are forwarded to the
 * leader (whose engine is another node's).
 */
export function localNetworksToEngine(app: FastifyInstance<Server>, b: ApiBackend, engine: EngineLink): void {
  app.addHook('preHandler', async (req, reply) => {
    const route = req.routeOptions.url;
    if (req.method === 'POST' && route === '/networks/create') {
      if (forSwarm(req.body)) return;
      const name = (req.body as { Name?: unknown }).Name;
      // dockerd's router refuses a local name the cluster already has, before its backend.
      if (typeof name === 'string' && name !== '' && swarmNetwork(b, name))
        throw new ShoalError('Conflict', `network with name ${name} already exists`);
      return toEngine(engine, req, reply);
    }
    if (req.method === 'DELETE' && route === '/networks/:id' && !swarmNetwork(b, idParam(req)))
      return toEngine(engine, req, reply);
  });
}

export function networkRoutes(app: FastifyInstance<Server>, b: ApiBackend, engine?: EngineLink): void {
  app.get('/networks', async (req, reply) => {
    const query = queryOf(req);
    const f = parseFilters(query.filters);
    const swarm = b.cluster() ? b.manager().store.view((tx) => filterNetworks(tx, f).map(dockerNetwork)) : [];
    const local = engine ? await engineNetworks(engine, query.filters) : [];
    // As dockerd: the cluster's first, then the engine's it does not already list.
    const ids = new Set(swarm.map((n) => n.Id));
    const names = new Set(swarm.map((n) => n.Name));
    return sendJson(reply, 200, [...swarm, ...local.filter((n) => !ids.has(n.Id) && !names.has(n.Name))]);
  });
  app.get('/networks/:id', async (req, reply) => {
    const id = idParam(req);
    const verbose = queryBool(queryOf(req).verbose);
    const n = b.cluster()
      ? b.manager().store.view((tx) => {
          const found = tx.lookup('networks', id);
          return found && { ...dockerNetwork(found), ...networkDetail(tx, found, verbose) };
        })
      : undefined;
    if (n) {
      // On a node that has the network, its local endpoints are the engine network behind it.
      const name = String(n.Name);
      const behind = engine
        ? await engine.call('GET', `/networks/${encodeURIComponent(name)}`).catch(() => undefined)
        : undefined;
      const body = (behind?.status === 200 ? behind.body : undefined) as
        { Options?: Record<string, string>; Containers?: unknown } | undefined;
      if (body?.Options?.[NETWORK_ID_OPTION] === n.Id && body?.Containers) n.Containers = body.Containers;
      return sendJson(reply, 200, n);
    }
    // The engine's answer as it gave it (its path keeps the client's version and query); an
    // engine that does not answer holds no network.
    const local = engine
      ? await engine.call('GET', clientUrl(req), { asSent: true }).catch(() => undefined)
      : undefined;
    if (local) return sendJson(reply, local.status, local.body);
    throw notFound(`network ${id} not found`);
  });
  app.post('/networks/create', async (req, reply) => {
    const id = await b.manager().control.createNetwork(req.body);
    return sendJson(reply, 201, { Id: id, Warning: '' });
  });
  app.delete('/networks/:id', async (req, reply) => {
    await b.manager().control.removeNetwork(idParam(req));
    return sendEmpty(reply, 204);
  });
}

type Listed = Record<string, unknown> & { Id?: unknown; Name?: unknown };

/**
 * The engine's networks under the client's filters; an engine that does not answer lists none
 * (the swarm's are still shown), one that refuses the filters answers for them.
 */
async function engineNetworks(engine: EngineLink, filters: string | undefined): Promise<Listed[]> {
  let res: Awaited<ReturnType<EngineLink['call']>>;
  try {
    res = await engine.call(
      'GET',
      filters ? `/networks?filters=${encodeURIComponent(filters)}` : '/networks',
    );
  } catch {
    return [];
  }
  if (res.status >= 400 && res.status < 500) {
    const message = (res.body as { message?: unknown } | undefined)?.message;
    throw Object.assign(new Error(typeof message === 'string' ? message : String(res.body)), {
      statusCode: res.status,
    });
  }
  return res.status === 200 && Array.isArray(res.body) ? (res.body as Listed[]) : [];
}
