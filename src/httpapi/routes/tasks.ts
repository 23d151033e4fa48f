// /tasks: list with filters, inspect. Task logs: routes/logs.ts.
import type { FastifyInstance } from 'fastify';
import type { Server } from 'node:http';
import { notFound, parseFilters } from '../../api/index.js';
import type { ApiBackend } from '../backend.js';
import { filterTasks, publicTask } from '../present.js';
import { sendJson } from '../reply.js';
import { idParam, queryOf } from '../request.js';

export function taskRoutes(app: FastifyInstance<Server>, b: ApiBackend): void {
  app.get('/tasks', (req, reply) => {
    const f = parseFilters(queryOf(req).filters);
    return sendJson(
      reply,
      200,
      b.manager().store.view((tx) => filterTasks(tx, f).map(publicTask)),
    );
  });
  app.get('/tasks/:id', (req, reply) => {
    const id = idParam(req);
    const t = b.manager().store.view((tx) => tx.lookup('tasks', id));
    if (!t) throw notFound(`task ${id} not found`);
    return sendJson(reply, 200, publicTask(t));
  });
}
