// /services: list (with ServiceStatus on request), create, inspect (with defaults on request),
// update (rollback=previous), remove. Service logs: routes/logs.ts.
import type { FastifyInstance } from 'fastify';
import type { Server } from 'node:http';
import { invalidArgument, notFound, parseFilters } from '../../api/index.js';
import type { ApiBackend } from '../backend.js';
import { filterServices, serviceStatus, withDefaults } from '../present.js';
import { queryBool, queryInt } from '../query.js';
import { sendEmpty, sendJson } from '../reply.js';
import { idParam, queryOf } from '../request.js';

export function serviceRoutes(app: FastifyInstance<Server>, b: ApiBackend): void {
  app.get('/services', (req, reply) => {
    const p = queryOf(req);
    const f = parseFilters(p.filters);
    const out = b.manager().store.view((tx) => {
      const list = filterServices(tx, f);
      if (!queryBool(p.status)) return list;
      const nodes = new Map(tx.all('nodes').map((n) => [n.ID, n]));
      return list.map((s) => ({ ...s, ServiceStatus: serviceStatus(tx, s, nodes) }));
    });
    return sendJson(reply, 200, out);
  });
  app.post('/services/create', async (req, reply) => {
    const id = await b.manager().control.createService(req.body);
    return sendJson(reply, 201, { ID: id });
  });
  app.get('/services/:id', (req, reply) => {
    const id = idParam(req);
    const s = b.manager().store.view((tx) => tx.lookup('services', id));
    if (!s) throw notFound(`service ${id} not found`);
    return sendJson(reply, 200, queryBool(queryOf(req).insertDefaults) ? withDefaults(s) : s);
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
    await b.manager().control.updateService(idParam(req), queryInt(p.version, 'version'), req.body, {
      rollback: p.rollback === 'previous',
    });
    return sendJson(reply, 200, { Warnings: null });
  });
  app.delete('/services/:id', async (req, reply) => {
    await b.manager().control.removeService(idParam(req));
    return sendEmpty(reply);
  });
}
