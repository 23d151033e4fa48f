// Writes on a manager that does not lead are carried whole to the leader, which runs them with
// the same routes (`runForwarded`) and answers; the follower answers once it has applied the
// leader's index. Which writes go and how they travel: `LeaderLink` (backend.ts), given by the node.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Server } from 'node:http';
import type { ForwardedRequest, ForwardedResponse, LeaderLink } from './backend.js';
import { apiVersionOf, rawBodyOf } from './request.js';

/** Marks a request a follower forwarded, so the leader never forwards it again. */
const FORWARDED_HEADER = 'x-shoal-forwarded';
/** Writes that change this node alone, not the cluster's state: never forwarded. */
const LOCAL_WRITES = new Set(['/swarm/init', '/swarm/join', '/swarm/leave', '/swarm/unlock']);
/** The request headers the routes read, the only ones carried to the leader. */
const CARRIED_HEADERS = ['content-type', 'x-registry-auth'];

/** A request that changes the cluster's state, which only the leader may propose. */
function isClusterWrite(req: FastifyRequest): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return false;
  return !LOCAL_WRITES.has(req.url.split('?')[0] ?? '');
}

/** On a manager that does not lead, cluster writes are answered by the leader. */
export function forwardWritesToLeader(app: FastifyInstance<Server>, leader: LeaderLink): void {
  app.addHook('preHandler', async (req, reply) => {
    if (!isClusterWrite(req) || !leader.forwardsWrites) return;
    // The leader lost its leadership while running a forwarded request: nobody leads.
    if (req.headers[FORWARDED_HEADER]) throw leader.noLeader();
    const v = apiVersionOf(req);
    const headers: Record<string, string> = {};
    for (const h of CARRIED_HEADERS) {
      const value = req.headers[h];
      if (typeof value === 'string') headers[h] = value;
    }
    const res = await leader.forwardToLeader({
      method: req.method,
      url: v ? `/v${v}${req.url}` : req.url,
      headers,
      body: Buffer.from(rawBodyOf(req) ?? ''),
    });
    reply.code(res.status);
    if (res.contentType) reply.type(res.contentType);
    return reply.send(res.body.byteLength > 0 ? res.body : undefined);
  });
}

/** Runs a request another manager forwarded to this one (the leader) through the same routes. */
export async function runForwarded(
  app: FastifyInstance<Server>,
  req: ForwardedRequest,
): Promise<ForwardedResponse> {
  const res = await app.inject({
    method: req.method as 'POST',
    url: req.url,
    headers: { ...req.headers, [FORWARDED_HEADER]: '1' },
    ...(req.body.byteLength > 0 ? { payload: Buffer.from(req.body) } : {}),
  });
  const ct = res.headers['content-type'];
  return { status: res.statusCode, contentType: typeof ct === 'string' ? ct : '', body: res.rawPayload };
}
