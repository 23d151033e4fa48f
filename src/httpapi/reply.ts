// How every route answers with JSON.
import type { FastifyReply } from 'fastify';

/**
 * JSON with exactly `Content-Type: application/json`: the docker CLI only parses error bodies
 * whose type matches exactly, and fastify would append a charset to a string payload.
 */
export function sendJson(reply: FastifyReply, code: number, body: unknown): FastifyReply {
  return reply
    .code(code)
    .header('content-type', 'application/json')
    .send(Buffer.from(`${JSON.stringify(body)}\n`));
}
