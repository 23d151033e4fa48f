import { badParameter } from './errors.js';

/**
 * Engine API `filters` query parameter: {"key":{"value":true}} (or the legacy {"key":["value"]}).
 * A malformed one is refused as dockerd refuses it: a 400 "invalid filter" with no rpc prefix.
 */
export type Filters = Map<string, string[]>;

export function parseFilters(raw: string | undefined): Filters {
  const out: Filters = new Map();
  if (!raw) return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw badParameter('invalid filter');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw badParameter('invalid filter');
  }
  for (const [key, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(v)) out.set(key, v.map(String));
    else if (typeof v === 'object' && v !== null) {
      out.set(
        key,
        Object.entries(v as Record<string, unknown>)
          .filter(([, on]) => on === true)
          .map(([val]) => val),
      );
    } else throw badParameter('invalid filter');
  }
  return out;
}
