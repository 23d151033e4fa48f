// The type-checking half of validation: a small schema walker that reads a JSON value the way
// Docker's Go decoder reads it into its API types. A wrong type, or a number its Go type cannot
// hold, is a 400 that names the field; unknown fields are dropped, as Go drops them. Everything a
// schema accepts has a bounded depth (no field takes arbitrary JSON), so nothing stored can be
// nested deeper than the schemas are.
import { badParameter } from './errors.js';

/** An integer kind of Go's, with the range it holds. */
export interface GoInt {
  readonly int: string;
  readonly min: number;
  readonly max: number;
}

// Doubles hold every integer in these ranges' endpoints exactly, and `max` is exclusive below:
// 2^63 is the double nearest int64's maximum, and Go refuses it, so it must be refused here too.
export const int64: GoInt = { int: 'int64', min: -(2 ** 63), max: 2 ** 63 - 1024 };
export const uint64: GoInt = { int: 'uint64', min: 0, max: 2 ** 64 - 2048 };
export const int32: GoInt = { int: 'int32', min: -(2 ** 31), max: 2 ** 31 - 1 };
export const uint32: GoInt = { int: 'uint32', min: 0, max: 2 ** 32 - 1 };
/** Go's time.Duration: int64 nanoseconds. */
export const duration: GoInt = { int: 'time.Duration', min: -(2 ** 63), max: 2 ** 63 - 1024 };

export type Schema =
  | 'string'
  | 'bool'
  | 'float32'
  | 'strings'
  | 'labels'
  /** An object whose fields are all ignored (Docker's `Runtime: {}`). */
  | 'empty'
  | GoInt
  | { obj: Record<string, Schema> }
  | { arr: Schema }
  | { map: Schema };

/** JSON nested deeper than this is refused before any schema sees it (Go's decoder stops at 10,000). */
export const MAX_JSON_DEPTH = 64;

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** The nesting depth of a JSON value, without recursion (the value may be arbitrarily deep). */
export function jsonDepth(v: unknown, limit = Infinity): number {
  let max = 0;
  const stack: [unknown, number][] = [[v, 1]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== 'object') continue;
    if (d > max) max = d;
    if (max > limit) return max;
    for (const c of Array.isArray(x) ? x : Object.values(x)) stack.push([c, d + 1]);
  }
  return max;
}

/** Refuses a request body nested deeper than MAX_JSON_DEPTH. */
export function checkDepth(v: unknown): void {
  if (jsonDepth(v, MAX_JSON_DEPTH) > MAX_JSON_DEPTH)
    throw badParameter(`the request body is nested deeper than ${MAX_JSON_DEPTH} levels`);
}

/**
 * Reads v as schema s. `undefined` and `null` read as absent (Go leaves the field at its zero
 * value); inside an array a null is refused, since nothing downstream can use a null item.
 */
export function check(v: unknown, s: Schema, path: string): unknown {
  const bad = (want: string): never => {
    const shown = typeof v === 'number' ? `number ${String(v)}` : typeName(v);
    throw badParameter(`json: cannot unmarshal ${shown} into field ${path || '(body)'} of type ${want}`);
  };
  if (v === null || v === undefined) return undefined;
  if (typeof s === 'object' && 'int' in s) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < s.min || v > s.max) return bad(s.int);
    return v;
  }
  if (s === 'string') return typeof v === 'string' ? v : bad('string');
  if (s === 'bool') return typeof v === 'boolean' ? v : bad('bool');
  if (s === 'float32') {
    return typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= 3.4028234663852886e38
      ? v
      : bad('float32');
  }
  if (s === 'strings') return check(v, { arr: 'string' }, path);
  if (s === 'labels') return check(v, { map: 'string' }, path);
  if (s === 'empty') return typeof v === 'object' && !Array.isArray(v) ? {} : bad('object');
  if ('arr' in s) {
    if (!Array.isArray(v)) return bad('array');
    return v.map((x, i) => {
      if (x === null || x === undefined) throw badParameter(`${path}[${i}] must not be null`);
      return check(x, s.arr, `${path}[${i}]`);
    });
  }
  if (typeof v !== 'object' || Array.isArray(v)) return bad('object');
  const out: Record<string, unknown> = {};
  if ('map' in s) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (x === null || x === undefined) throw badParameter(`${path}.${k} must not be null`);
      out[k] = check(x, s.map, `${path}.${k}`);
    }
    return out;
  }
  // Go matches a key to a field by exact name, else case-insensitively (docker-py sends
  // {"name": …} and {"global": {}}); a later key for the same field wins, as in Go.
  const given: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const name = fieldFor(s.obj, k);
    if (name !== undefined) given[name] = x;
  }
  for (const [k, sub] of Object.entries(s.obj)) {
    const x = check(given[k], sub, path ? `${path}.${k}` : k);
    if (x !== undefined) out[k] = x;
  }
  return out;
}

const folded = new WeakMap<Record<string, Schema>, Map<string, string>>();

/**
 * The field of an object schema that a JSON key names, as Go's decoder finds it: the field of
 * that exact name, else one whose name equals the key ignoring case (Go folds Unicode case; the
 * API's field names are ASCII, where lower-casing is the same thing).
 */
export function fieldFor(obj: Record<string, Schema>, key: string): string | undefined {
  if (Object.hasOwn(obj, key)) return key;
  let byFold = folded.get(obj);
  if (!byFold) {
    byFold = new Map();
    // The first field in declaration order wins a tie, as Go's does.
    for (const name of Object.keys(obj))
      if (!byFold.has(name.toLowerCase())) byFold.set(name.toLowerCase(), name);
    folded.set(obj, byFold);
  }
  return byFold.get(key.toLowerCase());
}

/** A top-level body that must be a JSON object, read as schema s. */
export function checkBody<T>(raw: unknown, s: { obj: Record<string, Schema> }, what: string): T {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw badParameter(`the request body must be a JSON object (${what})`);
  return check(raw, s, '') as T;
}
