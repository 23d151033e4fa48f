// Go's text/template builtins (and, or, not, len, index, slice, print, printf, println, html,
// js, urlquery, eq, ne, lt, le, gt, ge, call) over typed Go values, and the function contract
// the evaluator calls them through.
import { sprint, sprintf, sprintln } from './gofmt.js';
import {
  bool,
  formatValue,
  INT,
  isNumber,
  str,
  truth,
  typeString,
  UINT8,
  type GoType,
  type GoValue,
} from './values.js';

/** A function a template may call: its parameters are strings or any value. */
export interface TemplateFunc {
  /** Types of the fixed parameters ('any' takes every value). */
  params: readonly ('string' | 'any')[];
  /** The type of extra arguments, if it takes any. */
  variadic?: 'string' | 'any';
  call(args: (GoValue | undefined)[]): GoValue | undefined;
}

/** Raised by a function to report "error calling f: <message>". */
export class FuncError extends Error {}

const fail = (msg: string): never => {
  throw new FuncError(msg);
};

function nonNil(x: GoValue | undefined, what: string): GoValue {
  return x ?? fail(`${what} of untyped nil`);
}

function compareBasic(a: GoValue | undefined, b: GoValue | undefined): number | 'incompatible' {
  if (a === undefined || b === undefined) return 'incompatible';
  if (isNumber(a.t) && isNumber(b.t) && (a.t.k === 'float64') === (b.t.k === 'float64')) {
    return (a.v as number) < (b.v as number) ? -1 : (a.v as number) > (b.v as number) ? 1 : 0;
  }
  if (a.t.k !== b.t.k) return 'incompatible';
  if (a.t.k === 'string')
    return (a.v as string) < (b.v as string) ? -1 : (a.v as string) > (b.v as string) ? 1 : 0;
  if (a.t.k === 'bool') return a.v === b.v ? 0 : 2;
  return 'incompatible';
}

function eq(args: (GoValue | undefined)[]): GoValue {
  const [a, ...rest] = args;
  if (rest.length === 0) fail('missing argument for comparison');
  for (const b of rest) {
    if (a?.t.k === 'map' || b?.t.k === 'map' || a?.t.k === 'struct' || b?.t.k === 'struct') {
      const m = a?.t.k === 'map' || a?.t.k === 'struct' ? a : b!;
      fail(`non-comparable type ${formatValue(m)}: ${typeString(m.t)}`);
    }
    if (a === undefined || b === undefined) {
      if (a === b) return bool(true);
      continue;
    }
    const c = compareBasic(a, b);
    if (c === 'incompatible') fail('incompatible types for comparison');
    if (c === 0) return bool(true);
  }
  return bool(false);
}

function ordered(args: (GoValue | undefined)[], ok: (c: number) => boolean): GoValue {
  const [a, b] = args;
  if (a?.t.k === 'bool' || b?.t.k === 'bool' || a?.t.k === 'map' || a?.t.k === 'struct')
    fail('invalid type for comparison');
  const c = compareBasic(a, b);
  if (c === 'incompatible') return fail('incompatible types for comparison');
  return bool(ok(c));
}

function index(args: (GoValue | undefined)[]): GoValue | undefined {
  let item = nonNil(args[0], 'index');
  for (const ix of args.slice(1)) {
    if (item.t.k === 'map') {
      if (ix?.t.k !== 'string') fail(`value has type ${ix ? typeString(ix.t) : 'nil'}; should be string`);
      const m = item.v as Map<string, GoValue>;
      item = m.get(ix!.v as string) ?? zero(item.t.elem);
    } else if (item.t.k === 'string') {
      if (!ix || !isNumber(ix.t) || ix.t.k === 'float64')
        fail(`cannot index slice/array with type ${ix ? typeString(ix.t) : 'nil'}`);
      const bytes = Buffer.from(item.v as string, 'utf8');
      const n = ix!.v as number;
      if (n < 0 || n >= bytes.length) fail(`index out of range: ${n}`);
      item = { t: UINT8, v: bytes[n] };
    } else fail(`can't index item of type ${typeString(item.t)}`);
  }
  return item;
}

function slice(args: (GoValue | undefined)[]): GoValue {
  const item = nonNil(args[0], 'slice');
  if (item.t.k !== 'string') fail(`can't slice item of type ${typeString(item.t)}`);
  if (args.length > 3) fail('too many slice indexes: ' + String(args.length - 1));
  const bytes = Buffer.from(item.v as string, 'utf8');
  const ix = args.slice(1).map((x) => {
    if (!x || !isNumber(x.t) || x.t.k === 'float64') return fail('cannot index slice/array with nil');
    return x.v as number;
  });
  const [i = 0, j = bytes.length] = ix;
  if (i < 0 || j < i || j > bytes.length) fail(`index out of range: ${j > bytes.length ? j : i}`);
  return str(bytes.subarray(i, j).toString('utf8'));
}

function zero(t: GoType): GoValue {
  switch (t.k) {
    case 'string':
      return str('');
    case 'int':
    case 'uint8':
    case 'float64':
      return { t, v: 0 };
    case 'bool':
      return bool(false);
    case 'map':
      return { t, v: new Map() };
    case 'struct':
    case 'ptr':
    case 'opaque':
      return { t, v: undefined };
  }
}

/** The value a function taking strings sees: html, js and urlquery take Sprint of their args. */
const textOf = (args: (GoValue | undefined)[]): string =>
  args.length === 1 && args[0]?.t.k === 'string' ? (args[0].v as string) : sprint(args);

function htmlEscape(s: string): string {
  return s.replace(/[&'<>"\0]/g, (c) =>
    c === '&'
      ? '&amp;'
      : c === "'"
        ? '&#39;'
        : c === '<'
          ? '&lt;'
          : c === '>'
            ? '&gt;'
            : c === '"'
              ? '&#34;'
              : '\ufffd',
  );
}

function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\' || ch === "'" || ch === '"') out += `\\${ch}`;
    else if (ch === '<' || ch === '>' || ch === '&' || ch === '=' || c < 0x20 || /\p{C}/u.test(ch))
      out += `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`;
    else out += ch;
  }
  return out;
}

const urlEscape = (s: string): string =>
  [...Buffer.from(s, 'utf8')]
    .map((b) => {
      const c = String.fromCharCode(b);
      if (/[A-Za-z0-9\-_.~]/.test(c)) return c;
      return c === ' ' ? '+' : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');

/** Go's builtins. A swarm template holds no function values, so `call` can only fail, as Go's does. */
export const BUILTINS: Record<string, TemplateFunc> = {
  call: {
    params: ['any'],
    variadic: 'any',
    call: ([fn]) => fail(fn === undefined ? 'call of nil' : `non-function of type ${typeString(fn.t)}`),
  },
  and: { params: ['any'], variadic: 'any', call: (a) => a[a.length - 1] },
  or: { params: ['any'], variadic: 'any', call: (a) => a[a.length - 1] },
  not: { params: ['any'], call: (a) => bool(!truth(a[0]).truth) },
  len: {
    params: ['any'],
    call: ([x]) => {
      const v = nonNil(x, 'len');
      if (v.t.k === 'string') return { t: INT, v: Buffer.byteLength(v.v as string) };
      if (v.t.k === 'map') return { t: INT, v: (v.v as Map<string, unknown>).size };
      return fail(`len of type ${typeString(v.t)}`);
    },
  },
  index: { params: ['any'], variadic: 'any', call: index },
  slice: { params: ['any'], variadic: 'any', call: slice },
  print: { params: [], variadic: 'any', call: (a) => str(sprint(a)) },
  println: { params: [], variadic: 'any', call: (a) => str(sprintln(a)) },
  printf: { params: ['string'], variadic: 'any', call: ([f, ...a]) => str(sprintf(f!.v as string, a)) },
  html: { params: [], variadic: 'any', call: (a) => str(htmlEscape(textOf(a))) },
  js: { params: [], variadic: 'any', call: (a) => str(jsEscape(textOf(a))) },
  urlquery: { params: [], variadic: 'any', call: (a) => str(urlEscape(textOf(a))) },
  eq: { params: ['any'], variadic: 'any', call: eq },
  ne: {
    params: ['any', 'any'],
    call: (a) => bool(!(eq(a).v as boolean)),
  },
  lt: { params: ['any', 'any'], call: (a) => ordered(a, (c) => c === -1) },
  le: { params: ['any', 'any'], call: (a) => ordered(a, (c) => c === -1 || c === 0) },
  gt: { params: ['any', 'any'], call: (a) => ordered(a, (c) => c === 1) },
  ge: { params: ['any', 'any'], call: (a) => ordered(a, (c) => c === 1 || c === 0) },
};
