// The fmt functions templates reach through print, println and printf: Go's Sprint rules and
// the common verbs, with Go's %!verb(type=value) for a value the verb cannot print.
import { formatFloat, formatValue, goQuote, isNumber, typeString, type GoValue } from './values.js';

const isString = (x: GoValue | undefined): boolean => x?.t.k === 'string';

/** fmt.Sprint: a space between operands when neither is a string. */
export function sprint(args: readonly (GoValue | undefined)[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && !isString(a) && !isString(args[i - 1])) out += ' ';
    out += formatValue(a);
  });
  return out;
}

/** fmt.Sprintln: spaces between all operands, a newline at the end. */
export const sprintln = (args: readonly (GoValue | undefined)[]): string =>
  `${args.map((a) => formatValue(a)).join(' ')}\n`;

const badVerb = (verb: string, a: GoValue | undefined): string =>
  a === undefined ? `%!${verb}(<nil>)` : `%!${verb}(${typeString(a.t)}=${formatValue(a)})`;

function pad(s: string, width: number | undefined, minus: boolean, zero: boolean): string {
  if (width === undefined || s.length >= width) return s;
  if (minus) return s.padEnd(width);
  if (zero) {
    const sign = /^[+-]/.test(s) ? s[0]! : '';
    return sign + s.slice(sign.length).padStart(width - sign.length, '0');
  }
  return s.padStart(width);
}

/** fmt.Sprintf for the verbs a template reasonably uses: %v %s %d %q %x %X %t %f %c %%. */
export function sprintf(format: string, args: readonly (GoValue | undefined)[]): string {
  let out = '';
  let argi = 0;
  for (let i = 0; i < format.length; i++) {
    const c = format[i]!;
    if (c !== '%') {
      out += c;
      continue;
    }
    let minus = false;
    let plus = false;
    let zero = false;
    let space = false;
    for (; i + 1 < format.length && '-+0 #'.includes(format[i + 1]!); i++) {
      const f = format[i + 1];
      if (f === '-') minus = true;
      else if (f === '+') plus = true;
      else if (f === '0') zero = true;
      else if (f === ' ') space = true;
    }
    let width: number | undefined;
    let prec: number | undefined;
    // fmt's parsenum: a number that grows past 1e6 is taken as a runaway, and the rest of the
    // format with it (so "%99999999d" prints %!(NOVERB) instead of padding that far).
    const parsenum = (): number | undefined => {
      let n: number | undefined;
      while (i + 1 < format.length && /[0-9]/.test(format[i + 1]!)) {
        if (n !== undefined && n > 1e6) {
          i = format.length;
          return undefined;
        }
        n = (n ?? 0) * 10 + Number(format[++i]);
      }
      return n;
    };
    width = parsenum();
    if (format[i + 1] === '.') {
      i++;
      prec = parsenum() ?? 0;
    }
    const verb = format[++i];
    if (verb === undefined) {
      out += '%!(NOVERB)';
      break;
    }
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const a = args[argi++];
    const n = a !== undefined && isNumber(a.t) ? (a.v as number) : undefined;
    const sign = (x: number, s: string): string => (x < 0 ? s : plus ? `+${s}` : space ? ` ${s}` : s);
    let s: string;
    switch (verb) {
      case 'v':
        s = formatValue(a);
        break;
      case 's':
        s = isString(a) ? (a!.v as string) : badVerb(verb, a);
        if (prec !== undefined && isString(a)) s = [...s].slice(0, prec).join('');
        break;
      case 'q':
        s = isString(a) ? goQuote(a!.v as string) : badVerb(verb, a);
        break;
      case 'd':
        s = n !== undefined && a!.t.k !== 'float64' ? sign(n, String(n)) : badVerb(verb, a);
        break;
      case 'c':
        s = n !== undefined && a!.t.k !== 'float64' ? String.fromCodePoint(n) : badVerb(verb, a);
        break;
      case 'x':
      case 'X': {
        let h: string | undefined;
        if (isString(a)) h = Buffer.from(a!.v as string, 'utf8').toString('hex');
        else if (n !== undefined && a!.t.k !== 'float64') h = sign(n, Math.abs(n).toString(16));
        s = h === undefined ? badVerb(verb, a) : verb === 'X' ? h.toUpperCase() : h;
        break;
      }
      case 't':
        s = a?.t.k === 'bool' ? String(a.v) : badVerb(verb, a);
        break;
      case 'f':
      case 'F':
        s = n !== undefined && a!.t.k === 'float64' ? sign(n, n.toFixed(prec ?? 6)) : badVerb(verb, a);
        break;
      case 'g':
        s = n !== undefined && a!.t.k === 'float64' ? sign(n, formatFloat(n)) : badVerb(verb, a);
        break;
      default:
        s = badVerb(verb, a);
    }
    out += pad(s, width, minus, zero && !minus && verb !== 's' && verb !== 'q' && verb !== 'v');
  }
  if (argi < args.length) {
    out += `%!(EXTRA ${args
      .slice(argi)
      .map((a) => (a === undefined ? '<nil>' : `${typeString(a.t)}=${formatValue(a)}`))
      .join(', ')})`;
  }
  return out;
}
