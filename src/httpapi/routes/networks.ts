// /networks in Docker's shape: list and inspect (empty outside a swarm), create, remove.
import type { FastifyInstance } from 'fastify';
import type { Server } from 'node:http';
import { notFound, parseFilters } from '../../api/index.js';
import type { ApiBackend } from '../backend.js';
import { dockerNetwork, filterNetworks } from '../present.js';
import { sendEmpty, sendJson } from '../reply.js';
import { idParam, queryOf } from '../request.js';

export function networkRoutes(app: FastifyInstance<Server>, b: ApiBackend): void {
  app.get('/networks', (req, reply) => {
    const f = parseFilters(queryOf(req).filters);
    if (b.state !== 'active') return sendJson(reply, 200, []);
    return sendJson(
      reply,
      200,
      b.manager().store.view((tx) => filterNetworks(tx, f).map(dockerNetwork)),
    );
  });
  app.get('/networks/:id', (req, reply) => {
    const id = idParam(req);
    const n = b.state === 'active' ? b.manager().store.view((tx) => tx.lookup('networks', id)) : undefined;
    if (!n) throw notFound(`network ${id} not found`);
    return sendJson(reply, 200, dockerNetwork(n));
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
