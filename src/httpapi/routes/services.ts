// /services: list (with ServiceStatus on request), create, inspect (with defaults on request),
// update (rollback=previous), remove. Service logs: routes/logs.ts. The registry credentials a
// client sends (X-Registry-Auth, `--with-registry-auth`) are kept with the service for the
// nodes' pulls and never shown, as Docker hides PullOptions.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Server } from 'node:http';
import { badParameter, invalidArgument, notFound, parseFilters, type Service } from '../../api/index.js';
import type { ApiBackend } from '../backend.js';
import { filterServices, serviceStatus, withDefaults } from '../present.js';
import { queryBool, queryInt } from '../query.js';
import { sendEmpty, sendJson } from '../reply.js';
import { idParam, queryOf } from '../request.js';

/** Far above a real auth config (a username, a password or token and an address). */
const MAX_REGISTRY_AUTH = 8192;

/** The X-Registry-Auth header (base64url JSON, as the docker CLI sends it), if any. */
function registryAuthOf(req: FastifyRequest): string | undefined {
  const v = req.headers['x-registry-auth'];
  if (typeof v !== 'string' || v === '') return undefined;
  if (v.length > MAX_REGISTRY_AUTH)
    throw badParameter(`invalid X-Registry-Auth header: longer than ${MAX_REGISTRY_AUTH} characters`);
  if (!/^[A-Za-z0-9_\-+/]+=*$/.test(v)) throw badParameter('invalid X-Registry-Auth header: not base64');
  return v;
}

/** A service as the API shows it: without its registry credentials. */
function publicService<T extends Service>(s: T): T {
  const { RegistryAuth: _a, PreviousRegistryAuth: _p, ...rest } = s;
  return rest as T;
}

export function serviceRoutes(app: FastifyInstance<Server>, b: ApiBackend): void {
  app.get('/services', (req, reply) => {
    const p = queryOf(req);
    const f = parseFilters(p.filters);
    const out = b.manager().store.view((tx) => {
      const list = filterServices(tx, f).map(publicService);
      if (!queryBool(p.status)) return list;
      const nodes = new Map(tx.all('nodes').map((n) => [n.ID, n]));
      return list.map((s) => ({ ...s, ServiceStatus: serviceStatus(tx, s, nodes) }));
    });
    return sendJson(reply, 200, out);
  });
  app.post('/services/create', async (req, reply) => {
    const registryAuth = registryAuthOf(req);
    const id = await b.manager().control.createService(req.body, registryAuth ? { registryAuth } : {});
    return sendJson(reply, 201, { ID: id });
  });
  app.get('/services/:id', (req, reply) => {
    const id = idParam(req);
    const s = b.manager().store.view((tx) => tx.lookup('services', id));
    if (!s) throw notFound(`service ${id} not found`);
    const shown = publicService(s);
    return sendJson(reply, 200, queryBool(queryOf(req).insertDefaults) ? withDefaults(shown) : shown);
  });
  app.post('/services/:id/update', async (req, reply) => {
    const p = queryOf(req);
    if (p.rollback !== undefined && p.rollback !== 'previous' && p.rollback !== '') {
      throw invalidArgument(`unknown rollback value "${p.rollback}"; use rollback=previous`);
    }
    if (p.registryAuthFrom !== undefined && !['spec', 'previous-spec', ''].includes(p.registryAuthFrom)) {
      throw invalidArgument(
        `unknown registryAuthFrom value "${p.registryAuthFrom}"; use spec or previous-spec`,
      );
    }
    const registryAuth = registryAuthOf(req);
    await b.manager().control.updateService(idParam(req), queryInt(p.version, 'version'), req.body, {
      rollback: p.rollback === 'previous',
      ...(registryAuth ? { registryAuth } : {}),
      ...(p.registryAuthFrom === 'previous-spec' ? { registryAuthFrom: 'previous-spec' as const } : {}),
    });
    return sendJson(reply, 200, { Warnings: null });
  });
  app.delete('/services/:id', async (req, reply) => {
    await b.manager().control.removeService(idParam(req));
    return sendEmpty(reply);
  });
}
