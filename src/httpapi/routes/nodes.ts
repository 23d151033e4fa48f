// /nodes: list with filters, inspect, update (availability, role, labels), remove.
import type { FastifyInstance } from 'fastify';
import type { Server } from 'node:http';
import { notFound, parseFilters, type Node } from '../../api/index.js';
import type { ApiBackend } from '../backend.js';
import { filterNodes } from '../present.js';
import { queryBool, queryInt } from '../query.js';
import { sendEmpty, sendJson } from '../reply.js';
import { idParam, queryOf } from '../request.js';

/**
 * A node as the API shows it: whether it leads, from this manager's Raft view; no Raft ID, no
 * overlay addresses of its own (shoal's bookkeeping, like a service's registry credentials).
 */
function presentNode(b: ApiBackend, stored: Node): Node {
  const { NetworkAddrs: _a, ...n } = stored;
  if (!n.ManagerStatus) return n;
  const { RaftID, ...ms } = n.ManagerStatus;
  const r = b.raftLeader;
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

export function nodeRoutes(app: FastifyInstance<Server>, b: ApiBackend): void {
  app.get('/nodes', (req, reply) => {
    const f = parseFilters(queryOf(req).filters);
    const nodes = b.manager().store.view((tx) => filterNodes(tx, f));
    return sendJson(
      reply,
      200,
      nodes.map((n) => presentNode(b, n)),
    );
  });
  app.get('/nodes/:id', (req, reply) => {
    const id = idParam(req);
    const n = b.manager().store.view((tx) => tx.lookup('nodes', id));
    if (!n) throw notFound(`node ${id} not found`);
    return sendJson(reply, 200, presentNode(b, n));
  });
  app.post('/nodes/:id/update', async (req, reply) => {
    await b.manager().control.updateNode(idParam(req), queryInt(queryOf(req).version, 'version'), req.body);
    return sendEmpty(reply);
  });
  app.delete('/nodes/:id', async (req, reply) => {
    await b.manager().control.removeNode(idParam(req), queryBool(queryOf(req).force));
    return sendEmpty(reply);
  });
}
