// How every route answers: the headers the docker CLI negotiates with, and JSON.
import type { FastifyReply } from 'fastify';
import { API_VERSION, SHOAL_VERSION } from '../api/index.js';

/**
 * On every answer, errors and streams included. `Api-Version` is what a client negotiating from
 * `/_ping` starts at, as with dockerd.
 */
export const API_HEADERS = {
  'Api-Version': API_VERSION,
  'Docker-Experimental': 'false',
  Ostype: 'linux',
  Server: `shoal/${SHOAL_VERSION} (linux)`,
};

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

/** An answer without a body. */
export function sendEmpty(reply: FastifyReply, code = 200): FastifyReply {
  return reply.code(code).send();
}
