// /secrets and /configs: create (201 {"ID"}), list with filters, inspect by ID, name or ID prefix,
// labels-only update (200, empty), remove (204). A secret's data never leaves the manager.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Server } from 'node:http';
import { badParameter, parseFilters } from '../api/index.js';
import type { ControlAPI } from '../manager/index.js';
import type { Daemon } from '../daemon/index.js';
import { sendJson } from './reply.js';

const param = (req: FastifyRequest): string => (req.params as { id: string }).id;
const query = (req: FastifyRequest): Record<string, string | undefined> =>
  req.query as Record<string, string | undefined>;

export function secretRoutes(app: FastifyInstance<Server>, d: Daemon): void {
  const control = (): ControlAPI => d.manager.manager.control;
  for (const kind of ['secret', 'config'] as const) {
    const ops =
      kind === 'secret'
        ? {
            list: (f: string | undefined) => control().listSecrets(parseFilters(f)),
            get: (ref: string) => control().getSecret(ref),
            create: (body: unknown) => control().createSecret(body),
            update: (ref: string, v: number, body: unknown) => control().updateSecret(ref, v, body),
            remove: (ref: string) => control().removeSecret(ref),
          }
        : {
            list: (f: string | undefined) => control().listConfigs(parseFilters(f)),
            get: (ref: string) => control().getConfig(ref),
            create: (body: unknown) => control().createConfig(body),
            update: (ref: string, v: number, body: unknown) => control().updateConfig(ref, v, body),
            remove: (ref: string) => control().removeConfig(ref),
          };
    app.get(`/${kind}s`, (req, reply) => sendJson(reply, 200, ops.list(query(req).filters)));
    app.post(`/${kind}s/create`, async (req, reply) =>
      sendJson(reply, 201, { ID: await ops.create(req.body) }),
    );
    app.get(`/${kind}s/:id`, (req, reply) => sendJson(reply, 200, ops.get(param(req))));
    app.post(`/${kind}s/:id/update`, async (req, reply) => {
      const raw = query(req).version;
      if (raw === undefined || !/^\d+$/.test(raw)) throw badParameter(`invalid ${kind} version`);
      await ops.update(param(req), Number(raw), req.body);
      return reply.code(200).send();
    });
    app.delete(`/${kind}s/:id`, async (req, reply) => {
      await ops.remove(param(req));
      return reply.code(204).send();
    });
  }
}
