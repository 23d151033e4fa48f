// The parser of the Go text/template subset: the node tree and its error texts follow Go's
// text/template/parse (node positions included, since execution errors report them).
import { describeItem, lex, type Item } from './lex.js';

export class TemplateError extends Error {}

/** The tokens that begin a command's first operand. */
const STARTS_OPERAND: ReadonlySet<Item['typ']> = new Set([
  'bool',
  'char',
  'dot',
  'field',
  'identifier',
  'number',
  'nil',
  'rawString',
  'string',
  'variable',
  'lparen',
]);

/** Template sources are swarm's "expansion" templates: Go names them so in every message. */
export const TEMPLATE_NAME = 'expansion';
/** Deeper nesting than this is refused: it bounds the parser's and the evaluator's recursion. */
export const MAX_DEPTH = 100;

export type Arg =
  | { type: 'field'; pos: number; ident: string[] }
  | { type: 'variable'; pos: number; ident: string[] }
  | { type: 'dot'; pos: number }
  | { type: 'identifier'; pos: number; name: string }
  | { type: 'chain'; pos: number; node: Arg; field: string[] }
  | { type: 'pipe'; pos: number; pipe: Pipe }
  | { type: 'string'; pos: number; quoted: string; text: string }
  | { type: 'number'; pos: number; text: string; value: number; isFloat: boolean; isChar: boolean }
  | { type: 'bool'; pos: number; value: boolean }
  | { type: 'nil'; pos: number };

export interface Command {
  pos: number;
  args: Arg[];
}

export interface Pipe {
  pos: number;
  line: number;
  isAssign: boolean;
  decl: string[];
  cmds: Command[];
}

export type Node =
  | { type: 'text'; text: string }
  | { type: 'action'; pos: number; pipe: Pipe }
  | { type: 'if' | 'with' | 'range'; pos: number; pipe: Pipe; list: Node[]; elseList?: Node[] }
  | { type: 'break' | 'continue'; pos: number };

/** A node as Go prints it (the `<...>` of execution errors). */
export function argString(a: Arg): string {
  switch (a.type) {
    case 'field':
      return `.${a.ident.join('.')}`;
    case 'variable':
      return a.ident.join('.');
    case 'dot':
      return '.';
    case 'identifier':
      return a.name;
    case 'chain':
      return `${a.node.type === 'pipe' ? argString(a.node) : argString(a.node)}.${a.field.join('.')}`;
    case 'pipe':
      return `(${pipeString(a.pipe)})`;
    case 'string':
      return a.quoted;
    case 'number':
      return a.text;
    case 'bool':
      return a.value ? 'true' : 'false';
    case 'nil':
      return 'nil';
  }
}

export const commandString = (c: Command): string => c.args.map(argString).join(' ');

export function pipeString(p: Pipe): string {
  const cmds = p.cmds.map(commandString).join(' | ');
  return p.decl.length > 0 ? `${p.decl.join(', ')} ${p.isAssign ? '=' : ':='} ${cmds}` : cmds;
}

/** Go's strconv.Unquote for "..." and '...' literals. */
function unquote(q: string): string {
  const body = q.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    const simple: Record<string, string> = {
      a: '\x07',
      b: '\b',
      f: '\f',
      n: '\n',
      r: '\r',
      t: '\t',
      v: '\v',
      '\\': '\\',
      '"': '"',
      "'": "'",
    };
    if (e !== undefined && simple[e] !== undefined) {
      if ((e === "'" && q[0] === '"') || (e === '"' && q[0] === "'")) throw new Error('invalid syntax');
      out += simple[e];
      continue;
    }
    const hex = (n: number): number => {
      const h = body.slice(i + 1, i + 1 + n);
      if (h.length !== n || !/^[0-9a-fA-F]+$/.test(h)) throw new Error('invalid syntax');
      i += n;
      return parseInt(h, 16);
    };
    if (e === 'x') out += String.fromCharCode(hex(2));
    else if (e === 'u') out += String.fromCodePoint(hex(4));
    else if (e === 'U') out += String.fromCodePoint(hex(8));
    else if (e !== undefined && /[0-7]/.test(e)) {
      const o = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(o)) throw new Error('invalid syntax');
      i += 2;
      out += String.fromCharCode(parseInt(o, 8));
    } else throw new Error('invalid syntax');
  }
  return out;
}

function parseNumber(text: string): { value: number; isFloat: boolean } | undefined {
  const t = text.replace(/_/g, '');
  const sign = t.startsWith('-') ? -1 : 1;
  const u = t.replace(/^[+-]/, '');
  if (/^0[xX][0-9a-fA-F]+$/.test(u)) return { value: sign * parseInt(u.slice(2), 16), isFloat: false };
  if (/^0[oO][0-7]+$/.test(u)) return { value: sign * parseInt(u.slice(2), 8), isFloat: false };
  if (/^0[bB][01]+$/.test(u)) return { value: sign * parseInt(u.slice(2), 2), isFloat: false };
  if (/^0[0-7]+$/.test(u)) return { value: sign * parseInt(u, 8), isFloat: false };
  if (/^[0-9]+$/.test(u)) return { value: sign * Number(u), isFloat: false };
  if (/^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(u))
    return { value: sign * Number(u), isFloat: true };
  return undefined;
}

/** Parses a template; `funcs` are the names callable in it (Go refuses others at parse time). */
export function parse(src: string, funcs: ReadonlySet<string>): Node[] {
  const items = lex(src);
  let i = 0;
  let line = 1;
  let depth = 0;
  let rangeDepth = 0;
  const vars: string[] = ['$'];

  const fail = (msg: string): never => {
    throw new TemplateError(`template: ${TEMPLATE_NAME}:${line}: ${msg}`);
  };
  const next = (): Item => {
    const it = items[Math.min(i++, items.length - 1)]!;
    line = it.line;
    return it;
  };
  const backup = (n = 1): void => {
    i -= n;
  };
  const peek = (): Item => items[Math.min(i, items.length - 1)]!;
  const nextNonSpace = (): Item => {
    let it = next();
    while (it.typ === 'space') it = next();
    return it;
  };
  const peekNonSpace = (): Item => {
    const it = nextNonSpace();
    backup();
    return it;
  };
  const unexpected = (it: Item, context: string): never =>
    it.typ === 'error' ? fail(it.val) : fail(`unexpected ${describeItem(it)} in ${context}`);
  const expect = (typ: Item['typ'], context: string): Item => {
    const it = nextNonSpace();
    return it.typ === typ ? it : unexpected(it, context);
  };
  const nest = (): void => {
    if (++depth > MAX_DEPTH) fail('max expression depth exceeded');
  };

  function term(): Arg | undefined {
    const it = nextNonSpace();
    switch (it.typ) {
      case 'identifier':
        if (!funcs.has(it.val)) fail(`function ${JSON.stringify(it.val)} not defined`);
        return { type: 'identifier', pos: it.pos, name: it.val };
      case 'dot':
        return { type: 'dot', pos: it.pos };
      case 'nil':
        return { type: 'nil', pos: it.pos };
      case 'variable':
        if (!vars.includes(it.val)) fail(`undefined variable ${JSON.stringify(it.val)}`);
        return { type: 'variable', pos: it.pos, ident: [it.val] };
      case 'field':
        return { type: 'field', pos: it.pos, ident: [it.val.slice(1)] };
      case 'bool':
        return { type: 'bool', pos: it.pos, value: it.val === 'true' };
      case 'char':
      case 'number': {
        if (it.typ === 'char') {
          let s: string;
          try {
            s = unquote(it.val);
          } catch {
            return fail(`malformed character constant: ${it.val}`);
          }
          if ([...s].length !== 1) fail(`malformed character constant: ${it.val}`);
          return {
            type: 'number',
            pos: it.pos,
            text: it.val,
            value: s.codePointAt(0)!,
            isFloat: false,
            isChar: true,
          };
        }
        const n = parseNumber(it.val);
        if (!n) return fail(`illegal number syntax: ${JSON.stringify(it.val)}`);
        return { type: 'number', pos: it.pos, text: it.val, ...n, isChar: false };
      }
      case 'lparen': {
        nest();
        const p = pipeline('parenthesized pipeline', 'rparen');
        depth--;
        return { type: 'pipe', pos: it.pos, pipe: p };
      }
      case 'string':
      case 'rawString': {
        let text: string;
        try {
          text = it.typ === 'string' ? unquote(it.val) : it.val.slice(1, -1);
        } catch {
          return fail(`invalid syntax`);
        }
        return { type: 'string', pos: it.pos, quoted: it.val, text };
      }
      case 'error':
      case 'eof':
      case 'text':
      case 'left':
      case 'right':
      case 'space':
      case 'keyword':
      case 'pipe':
      case 'rparen':
      case 'declare':
      case 'assign':
      case 'comma':
        backup();
        return undefined;
    }
  }

  function operand(): Arg | undefined {
    const node = term();
    if (!node || peek().typ !== 'field') return node;
    const pos = peek().pos;
    const fields: string[] = [];
    while (peek().typ === 'field') fields.push(next().val.slice(1));
    switch (node.type) {
      case 'field':
        return { type: 'field', pos, ident: [...node.ident, ...fields] };
      case 'variable':
        return { type: 'variable', pos, ident: [...node.ident, ...fields] };
      case 'bool':
      case 'string':
      case 'number':
      case 'nil':
      case 'dot':
        return fail(`unexpected . after term ${JSON.stringify(argString(node))}`);
      case 'chain':
      case 'identifier':
      case 'pipe':
        return { type: 'chain', pos, node, field: fields };
    }
  }

  function command(): Command {
    const cmd: Command = { pos: peekNonSpace().pos, args: [] };
    for (;;) {
      peekNonSpace();
      const op = operand();
      if (op) cmd.args.push(op);
      const it = next();
      if (it.typ === 'space') continue;
      if (it.typ === 'right' || it.typ === 'rparen') backup();
      else if (it.typ !== 'pipe') unexpected(it, 'operand');
      break;
    }
    if (cmd.args.length === 0) fail('empty command');
    return cmd;
  }

  function pipeline(context: string, end: 'right' | 'rparen'): Pipe {
    const first = peekNonSpace();
    const pipe: Pipe = { pos: first.pos, line: first.line, isAssign: false, decl: [], cmds: [] };
    // Declarations: $x := or $x = (range takes $k, $v :=).
    for (;;) {
      const save = i;
      const v = nextNonSpace();
      if (v.typ !== 'variable') {
        i = save;
        break;
      }
      const op = nextNonSpace();
      if (op.typ === 'assign' || op.typ === 'declare') {
        pipe.isAssign = op.typ === 'assign';
        if (!pipe.isAssign) vars.push(v.val);
        else if (!vars.includes(v.val)) fail(`undefined variable ${JSON.stringify(v.val)}`);
        pipe.decl.push(v.val);
        break;
      }
      if (op.typ === 'comma') {
        pipe.decl.push(v.val);
        vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          const t = peekNonSpace().typ;
          if (t === 'variable' || t === 'right' || t === 'rparen') continue;
          fail('range can only initialize variables');
        }
        fail(`too many declarations in ${context}`);
      }
      // Not a declaration: the variable starts the command.
      i = save;
      break;
    }
    for (;;) {
      const it = nextNonSpace();
      if (it.typ === end) break;
      if (!STARTS_OPERAND.has(it.typ)) unexpected(it, context);
      backup();
      pipe.cmds.push(command());
    }
    if (pipe.cmds.length === 0) fail(`missing value for ${context}`);
    for (const [n, c] of pipe.cmds.entries()) {
      if (n === 0) continue;
      const t = c.args[0]!.type;
      if (t !== 'field' && t !== 'chain' && t !== 'identifier' && t !== 'pipe' && t !== 'variable')
        fail(`non executable command in pipeline stage ${n + 1}`);
    }
    return pipe;
  }

  type Parsed = Node | { type: 'end' | 'else'; pos: number };

  function itemList(): { list: Node[]; next: { type: 'end' | 'else'; pos: number } } {
    const list: Node[] = [];
    while (peekNonSpace().typ !== 'eof') {
      const n = textOrAction();
      if (n.type === 'end' || n.type === 'else')
        return { list, next: n as { type: 'end' | 'else'; pos: number } };
      list.push(n as Node);
    }
    return fail('unexpected EOF');
  }

  function control(context: 'if' | 'with' | 'range'): Node {
    nest();
    const mark = vars.length;
    const pipe = pipeline(context, 'right');
    if (context === 'range') rangeDepth++;
    const { list, next: after } = itemList();
    if (context === 'range') rangeDepth--;
    let elseList: Node[] | undefined;
    if (after.type === 'else') {
      const p = peekNonSpace();
      if ((context === 'if' && p.val === 'if') || (context === 'with' && p.val === 'with')) {
        next();
        elseList = [control(context)];
      } else {
        const r = itemList();
        if (r.next.type !== 'end') fail('expected end; found {{else}}');
        elseList = r.list;
      }
    }
    vars.length = mark;
    depth--;
    return { type: context, pos: pipe.pos, pipe, list, ...(elseList ? { elseList } : {}) };
  }

  function action(): Parsed {
    const it = nextNonSpace();
    if (it.typ === 'keyword') {
      switch (it.val) {
        case 'else': {
          const p = peekNonSpace();
          if (p.val === 'if' || p.val === 'with') return { type: 'else', pos: p.pos };
          expect('right', 'else');
          return { type: 'else', pos: it.pos };
        }
        case 'end':
          expect('right', 'end');
          return { type: 'end', pos: it.pos };
        case 'if':
        case 'with':
        case 'range':
          return control(it.val);
        case 'break':
        case 'continue':
          if (rangeDepth === 0) fail(`{{${it.val}}} outside {{range}}`);
          expect('right', it.val);
          return { type: it.val, pos: it.pos };
        default:
          return fail(`{{${it.val}}} is not supported in swarm templates`);
      }
    }
    backup();
    const pipe = pipeline('command', 'right');
    return { type: 'action', pos: pipe.pos, pipe };
  }

  function textOrAction(): Parsed {
    const it = nextNonSpace();
    if (it.typ === 'text') return { type: 'text', text: it.val };
    if (it.typ === 'left') return action();
    return unexpected(it, 'input');
  }

  const root: Node[] = [];
  while (peek().typ !== 'eof') {
    const n = textOrAction();
    if (n.type === 'end' || n.type === 'else') fail(`unexpected {{${n.type}}}`);
    root.push(n as Node);
  }
  return root;
}
