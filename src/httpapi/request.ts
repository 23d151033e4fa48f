// What a request carries past fastify's own fields: the API version its path named (set by the
// server's rewriteUrl) and the body as sent (kept by the body parser, for forwarding).
import type { FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { invalidArgument } from '../api/index.js';

type Versioned = IncomingMessage & { apiVersion?: string };

/** Records the version of a `/vX.Y/...` path on the raw request. */
export function setApiVersion(req: IncomingMessage, version: string): void {
  (req as Versioned).apiVersion = version;
}

/** The version a `/vX.Y/...` path named; undefined for an unprefixed path. */
export function apiVersionOf(req: FastifyRequest): string | undefined {
  return (req.raw as Versioned).apiVersion;
}

export function setRawBody(req: FastifyRequest, text: string): void {
  (req as FastifyRequest & { rawBody?: string }).rawBody = text;
}

export function rawBodyOf(req: FastifyRequest): string | undefined {
  return (req as FastifyRequest & { rawBody?: string }).rawBody;
}

export type Query = Record<string, string | undefined>;

export const queryOf = (req: FastifyRequest): Query => req.query as Query;

/** The `:id` of a route such as `/services/:id`. */
export const idParam = (req: FastifyRequest): string => (req.params as { id: string }).id;

/** A JSON request body that must be an object (or absent). */
export function objectBody(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body))
    throw invalidArgument('the request body must be a JSON object');
  return body as Record<string, unknown>;
}
