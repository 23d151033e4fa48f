// /events: with `since`, the bounded history from then; then, unless `until` has passed, live events
// until `until` or until the client goes away.
import type { FastifyInstance } from 'fastify';
import type { Server } from 'node:http';
import { badParameter, parseFilters } from '../../api/index.js';
import { systemClock, type Cancel } from '../../platform/index.js';
import type { ApiBackend } from '../backend.js';
import { API_HEADERS } from '../reply.js';
import { queryOf } from '../request.js';
import { parseEventTime } from '../timestamp.js';

interface EngineEventView {
  Type: string;
  Action: string;
  scope: string;
  Actor: { ID: string; Attributes: Record<string, string> };
}

/** Docker's MatchKVList: every `k` / `k=v` of the filter is in the attributes. */
function matchLabels(want: string[] | undefined, attrs: Record<string, string>): boolean {
  if (!want || want.length === 0) return true;
  return want.every((w) => {
    const i = w.indexOf('=');
    const k = i < 0 ? w : w.slice(0, i);
    if (!Object.prototype.hasOwnProperty.call(attrs, k)) return false;
    return i < 0 || attrs[k] === w.slice(i + 1);
  });
}

export function eventRoutes(app: FastifyInstance<Server>, b: ApiBackend): void {
  app.get('/events', (req, reply) => {
    const p = queryOf(req);
    // As dockerd: a filter key it does not know is ignored, not refused.
    const f = parseFilters(p.filters);
    const now = Date.now();
    const since = parseEventTime(p.since, now);
    const until = parseEventTime(p.until, now);
    if (since !== undefined && until !== undefined && until < since)
      throw badParameter(`\`since\` time (${p.since}) cannot be after \`until\` time (${p.until})`);
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
      return matchLabels(f.get('label'), e.Actor.Attributes);
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
    // As dockerd: past events only when `since` asks for them; live ones unless `until` has passed.
    const live = until === undefined || until > now * 1e6;
    const queue = live ? b.events.follow() : undefined;
    if (since !== undefined) for (const e of b.events.history()) if (!write(e)) break;
    if (!queue) return void res.end();
    let cancel: Cancel | undefined;
    const close = (): void => {
      cancel?.();
      b.events.unfollow(queue);
    };
    res.on('close', close);
    // systemClock's timer, because a far `until` (years away) must not fire at once as setTimeout would.
    if (until !== undefined) cancel = systemClock.setTimer(until / 1e6 - Date.now() + 1, close);
    void (async () => {
      for await (const batch of queue) for (const e of batch) if (!write(e)) close();
      res.end();
    })();
  });
}
