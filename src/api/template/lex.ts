// The lexer of the Go text/template subset shoal expands (swarm's templates in task specs,
// secrets and configs). Its tokens, trim markers and error texts follow Go's text/template/parse,
// so a template Docker takes lexes the same here and a bad one fails with Go's words.

export type ItemType =
  | 'error'
  | 'eof'
  | 'text'
  | 'left'
  | 'right'
  | 'space'
  | 'field'
  | 'variable'
  | 'identifier'
  | 'keyword'
  | 'string'
  | 'rawString'
  | 'char'
  | 'number'
  | 'bool'
  | 'nil'
  | 'dot'
  | 'pipe'
  | 'lparen'
  | 'rparen'
  | 'declare'
  | 'assign'
  | 'comma';

export interface Item {
  typ: ItemType;
  val: string;
  /** Byte offset of the token in the template source (Go reports columns from it). */
  pos: number;
  line: number;
}

const KEYWORDS = new Set([
  'if',
  'else',
  'end',
  'range',
  'with',
  'define',
  'template',
  'block',
  'break',
  'continue',
]);
const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isAlnum = (c: string | undefined): boolean => c !== undefined && /^[\p{L}\p{Nd}_]$/u.test(c);
const hasLeftTrim = (s: string, i: number): boolean => s[i] === '-' && isSpace(s[i + 1]);
const hasRightTrim = (s: string, i: number): boolean => isSpace(s[i]) && s[i + 1] === '-';

/** Go's item.String(), for "unexpected X in Y" messages. */
export function describeItem(it: Item): string {
  if (it.typ === 'eof') return 'EOF';
  if (it.typ === 'error') return it.val;
  if (it.typ === 'keyword') return `<${it.val}>`;
  if (it.val.length > 10) return `${JSON.stringify(it.val.slice(0, 10))}...`;
  return JSON.stringify(it.val);
}

/** Splits a template into tokens; the last is EOF or an error. Comments are dropped, as Go's parser does. */
export function lex(src: string): Item[] {
  const items: Item[] = [];
  let pos = 0;
  let start = 0;
  let line = 1;
  let startLine = 1;
  let parenDepth = 0;
  const emit = (typ: ItemType, val = src.slice(start, pos)): void => {
    items.push({ typ, val, pos: start, line: startLine });
    for (let i = start; i < pos; i++) if (src[i] === '\n') line++;
    start = pos;
    startLine = line;
  };
  const skip = (): void => {
    for (let i = start; i < pos; i++) if (src[i] === '\n') line++;
    start = pos;
    startLine = line;
  };
  const fail = (msg: string): Item[] => {
    items.push({ typ: 'error', val: msg, pos: start, line: startLine });
    return items;
  };

  for (;;) {
    // Text up to the next action.
    const left = src.indexOf('{{', pos);
    if (left < 0) {
      pos = src.length;
      if (pos > start) emit('text');
      items.push({ typ: 'eof', val: '', pos, line });
      return items;
    }
    const trimLeft = hasLeftTrim(src, left + 2);
    pos = left;
    let textEnd = left;
    if (trimLeft) while (textEnd > start && isSpace(src[textEnd - 1])) textEnd--;
    if (textEnd > start) {
      const p = pos;
      pos = textEnd;
      emit('text');
      pos = p;
    }
    skip();
    pos = left + 2 + (trimLeft ? 2 : 0);
    // A comment: {{/* ... */}}, with optional trim markers.
    if (src.startsWith('/*', pos)) {
      const end = src.indexOf('*/', pos + 2);
      if (end < 0) return fail('unclosed comment');
      pos = end + 2;
      let trimRight = false;
      if (hasRightTrim(src, pos) && src.startsWith('}}', pos + 2)) {
        trimRight = true;
        pos += 2;
      }
      if (!src.startsWith('}}', pos)) return fail('comment ends before closing delimiter');
      pos += 2;
      if (trimRight) while (isSpace(src[pos])) pos++;
      skip();
      continue;
    }
    emit('left', '{{');
    // Inside the action.
    for (;;) {
      if (hasRightTrim(src, pos) && src.startsWith('}}', pos + 2)) {
        if (parenDepth > 0) return fail('unclosed left paren');
        pos += 4;
        emit('right', '}}');
        while (isSpace(src[pos])) pos++;
        skip();
        break;
      }
      if (src.startsWith('}}', pos)) {
        if (parenDepth > 0) return fail('unclosed left paren');
        pos += 2;
        emit('right');
        break;
      }
      const c = src[pos];
      if (c === undefined) return fail('unclosed action');
      if (isSpace(c)) {
        while (isSpace(src[pos])) pos++;
        // ' -}}': the space belongs to the trim marker.
        if (src[pos] === '-' && src.startsWith('}}', pos + 1)) {
          pos--;
          if (pos === start) continue;
        }
        emit('space');
        continue;
      }
      pos++;
      switch (c) {
        case '=':
          emit('assign');
          continue;
        case ':':
          if (src[pos] !== '=') return fail('expected :=');
          pos++;
          emit('declare');
          continue;
        case '|':
          emit('pipe');
          continue;
        case ',':
          emit('comma');
          continue;
        case '(':
          parenDepth++;
          emit('lparen');
          continue;
        case ')':
          if (--parenDepth < 0) return fail(`unexpected right paren`);
          emit('rparen');
          continue;
        case '"': {
          for (;;) {
            const d = src[pos++];
            if (d === '\\' && src[pos] !== undefined && src[pos] !== '\n') pos++;
            else if (d === undefined || d === '\n') return fail('unterminated quoted string');
            else if (d === '"') break;
          }
          emit('string');
          continue;
        }
        case '`': {
          const end = src.indexOf('`', pos);
          if (end < 0) return fail('unterminated raw quoted string');
          pos = end + 1;
          emit('rawString');
          continue;
        }
        case "'": {
          for (;;) {
            const d = src[pos++];
            if (d === '\\' && src[pos] !== undefined && src[pos] !== '\n') pos++;
            else if (d === undefined || d === '\n') return fail('unterminated character constant');
            else if (d === "'") break;
          }
          emit('char');
          continue;
        }
        case '$': {
          while (isAlnum(src[pos])) pos++;
          emit('variable');
          continue;
        }
        case '.': {
          if (src[pos] !== undefined && /[0-9]/.test(src[pos]!)) {
            pos--;
            if (!lexNumber()) return fail(`bad number syntax: ${JSON.stringify(src.slice(start, pos))}`);
            continue;
          }
          if (!isAlnum(src[pos])) {
            emit('dot');
            continue;
          }
          while (isAlnum(src[pos])) pos++;
          emit('field');
          continue;
        }
      }
      if (c === '+' || c === '-' || /[0-9]/.test(c)) {
        pos--;
        if (!lexNumber()) return fail(`bad number syntax: ${JSON.stringify(src.slice(start, pos))}`);
        continue;
      }
      if (isAlnum(c)) {
        while (isAlnum(src[pos])) pos++;
        const word = src.slice(start, pos);
        if (KEYWORDS.has(word)) emit('keyword');
        else if (word === 'true' || word === 'false') emit('bool');
        else if (word === 'nil') emit('nil');
        else emit('identifier');
        continue;
      }
      const cp = c.codePointAt(0)!;
      return fail(
        `unrecognized character in action: U+${cp.toString(16).toUpperCase().padStart(4, '0')} '${c}'`,
      );
    }
  }

  // Go's lexNumber: a sign, a base prefix, digits with underscores, a fraction and an exponent.
  function lexNumber(): boolean {
    if (src[pos] === '+' || src[pos] === '-') pos++;
    let digits = '0123456789_';
    let exp = 'eE';
    if (src[pos] === '0' && /[xXoObB]/.test(src[pos + 1] ?? '')) {
      const b = src[pos + 1]!.toLowerCase();
      pos += 2;
      digits = b === 'x' ? '0123456789abcdefABCDEF_' : b === 'o' ? '01234567_' : '01_';
      exp = b === 'x' ? 'pP' : '';
    }
    while (src[pos] !== undefined && digits.includes(src[pos]!)) pos++;
    if (src[pos] === '.') {
      pos++;
      while (src[pos] !== undefined && digits.includes(src[pos]!)) pos++;
    }
    if (exp && src[pos] !== undefined && exp.includes(src[pos]!)) {
      pos++;
      if (src[pos] === '+' || src[pos] === '-') pos++;
      while (src[pos] !== undefined && '0123456789_'.includes(src[pos]!)) pos++;
    }
    if (isAlnum(src[pos])) {
      pos++;
      return false;
    }
    emit('number');
    return true;
  }
}
