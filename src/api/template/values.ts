// Go values as a template sees them: each carries its Go type, so printing (fmt's %v), comparisons
// and error messages ("can't evaluate field X in type struct { ... }") read as Go's do.

export type GoType =
  | { k: 'string' }
  | { k: 'int' }
  | { k: 'uint8' }
  | { k: 'float64' }
  | { k: 'bool' }
  | { k: 'map'; key: GoType; elem: GoType }
  | { k: 'struct'; name?: string; fields: readonly GoField[] }
  | { k: 'ptr'; elem: GoType }
  /** A value with no inner structure a template can reach (an interface, a pointer kept opaque). */
  | { k: 'opaque'; name: string };

export interface GoField {
  name: string;
  type: GoType;
  /** Embedded: its fields are promoted, as Go's FieldByName finds them. */
  embedded?: boolean;
}

/** A Go value: string, number, boolean, Map (map), Record (struct), or the target (ptr). */
export interface GoValue {
  t: GoType;
  v: unknown;
}

export const STRING: GoType = { k: 'string' };
export const INT: GoType = { k: 'int' };
export const BOOL: GoType = { k: 'bool' };
export const UINT8: GoType = { k: 'uint8' };
export const FLOAT: GoType = { k: 'float64' };

export const str = (v: string): GoValue => ({ t: STRING, v });
export const int = (v: number): GoValue => ({ t: INT, v });
export const bool = (v: boolean): GoValue => ({ t: BOOL, v });

/** A map[string]string. */
export function stringMap(m: Readonly<Record<string, string>> | undefined): GoValue {
  return {
    t: { k: 'map', key: STRING, elem: STRING },
    v: new Map(Object.entries(m ?? {}).map(([k, x]) => [k, str(x)])),
  };
}

/** reflect's Type.String(). */
export function typeString(t: GoType): string {
  switch (t.k) {
    case 'map':
      return `map[${typeString(t.key)}]${typeString(t.elem)}`;
    case 'ptr':
      return `*${typeString(t.elem)}`;
    case 'struct':
      return t.name ?? `struct { ${t.fields.map((f) => `${f.name} ${typeString(f.type)}`).join('; ')} }`;
    case 'opaque':
      return t.name;
    case 'string':
    case 'int':
    case 'uint8':
    case 'float64':
    case 'bool':
      return t.k;
  }
}

export const isNumber = (t: GoType): boolean => t.k === 'int' || t.k === 'uint8' || t.k === 'float64';

/** fmt's %v of a float64: shortest digits, exponent form outside [1e-4, 1e6) as Go's shortest %g picks it. */
export function formatFloat(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (!Number.isFinite(f)) return f > 0 ? '+Inf' : '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  const [mant, e] = f.toExponential().split('e') as [string, string];
  const exp = Number(e);
  if (exp < -4 || exp >= 6) {
    return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return f.toFixed(Math.max(0, (mant.split('.')[1]?.length ?? 0) - exp));
}

/** fmt's %v. `depth` > 0 is inside another value, where Go prints a pointer as its address. */
export function formatValue(x: GoValue | undefined, depth = 0): string {
  if (x === undefined) return '<nil>';
  const { t, v } = x;
  switch (t.k) {
    case 'string':
      return v as string;
    case 'int':
    case 'uint8':
      return String(v);
    case 'float64':
      return formatFloat(v as number);
    case 'bool':
      return v ? 'true' : 'false';
    case 'map': {
      const m = v as Map<string, GoValue>;
      const keys = [...m.keys()].sort();
      return `map[${keys.map((k) => `${k}:${formatValue(m.get(k), depth + 1)}`).join(' ')}]`;
    }
    case 'struct': {
      const r = v as Record<string, GoValue | undefined>;
      return `{${t.fields.map((f) => formatValue(r[f.name], depth + 1)).join(' ')}}`;
    }
    case 'ptr':
      if (v === undefined) return '<nil>';
      if (depth > 0) return '0xc000010000';
      return `&${formatValue(v as GoValue, depth + 1)}`;
    case 'opaque':
      return v === undefined ? '<nil>' : '0xc000010000';
  }
}

/** Go's strconv.Quote, for the %q of messages and printf. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else if (c === 11) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c === 0xfffd && ch !== '\ufffd') out += '\\ufffd';
    else if (/\p{C}/u.test(ch) && c > 0x7f) {
      out += c > 0xffff ? `\\U${c.toString(16).padStart(8, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

/** text/template's truth: false, 0, "", an empty map and nil are false. ok=false: no value at all. */
export function truth(x: GoValue | undefined): { truth: boolean; ok: boolean } {
  if (x === undefined) return { truth: false, ok: false };
  switch (x.t.k) {
    case 'string':
      return { truth: (x.v as string).length > 0, ok: true };
    case 'int':
    case 'uint8':
    case 'float64':
      return { truth: (x.v as number) !== 0, ok: true };
    case 'bool':
      return { truth: x.v as boolean, ok: true };
    case 'map':
      return { truth: (x.v as Map<string, GoValue>).size > 0, ok: true };
    case 'struct':
      return { truth: true, ok: true };
    case 'ptr':
    case 'opaque':
      return { truth: x.v !== undefined, ok: true };
  }
}
