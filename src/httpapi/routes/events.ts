// /events: the bounded history, then (without `until`) live events until the client goes away.
import type { FastifyInstance } from 'fastify';
import type { Server } from 'node:http';
import { invalidArgument, parseFilters } from '../../api/index.js';
import type { ApiBackend } from '../backend.js';
import { API_HEADERS } from '../reply.js';
import { queryOf } from '../request.js';

const FILTERS = ['type', 'scope', 'event', 'service', 'node', 'container', 'label'];

interface EngineEventView {
  Type: string;
  Action: string;
  scope: string;
  Actor: { ID: string; Attributes: Record<string, string> };
}

/** Seconds (with a fraction) → nanoseconds, as events are timed. */
function parseTime(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw invalidArgument(`invalid value for time: ${v}`);
  return n * 1e9;
}

export function eventRoutes(app: FastifyInstance<Server>, b: ApiBackend): void {
  app.get('/events', (req, reply) => {
    const p = queryOf(req);
    const f = parseFilters(p.filters);
    for (const k of f.keys()) if (!FILTERS.includes(k)) throw invalidArgument(`invalid filter '${k}'`);
    const since = parseTime(p.since);
    const until = parseTime(p.until);
    const match = (e: EngineEventView): boolean => {
      const types = f.get('type');
      if (types && !types.includes(e.Type)) return false;
      const scopes = f.get('scope');
      if (scopes && !scopes.includes(e.scope)) return false;
      const acts = f.get('event');
      if (acts && !acts.includes(e.Action)) return false;
      for (const k of ['service', 'node', 'container'] as const) {
        const want = f.get(k);
        if (
          want &&
          (e.Type !== k || !want.some((w) => e.Actor.ID.startsWith(w) || e.Actor.Attributes.name === w))
        )
          return false;
      }
      return true;
    };
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { ...API_HEADERS, 'Content-Type': 'application/json' });
    const write = (e: { timeNano: number }): boolean => {
      if (since !== undefined && e.timeNano < since) return true;
      if (until !== undefined && e.timeNano > until) return false;
      if (match(e as never)) res.write(`${JSON.stringify(e)}\n`);
      return true;
    };
    const queue = until === undefined ? b.events.follow() : undefined;
    for (const e of b.events.history()) if (!write(e)) break;
    if (!queue) return void res.end();
    const close = (): void => b.events.unfollow(queue);
    res.on('close', close);
    void (async () => {
      for await (const batch of queue) for (const e of batch) write(e);
      res.end();
    })();
  });
}
