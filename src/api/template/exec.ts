// Executes a parsed template against a Go value, as text/template does with
// Option("missingkey=error"): the builtins a user reasonably writes, plus the functions the
// caller registers (swarm's join, env, secret, config). Work and output are bounded.
import { BUILTINS, type TemplateFunc } from './builtins.js';
import {
  argString,
  commandString,
  parse,
  TEMPLATE_NAME,
  TemplateError,
  type Arg,
  type Command,
  type Node,
  type Pipe,
} from './parse.js';
import {
  FLOAT,
  INT,
  bool,
  int,
  formatValue,
  str,
  truth,
  typeString,
  type GoField,
  type GoType,
  type GoValue,
} from './values.js';

/**
 * What templates may spend, shared by all the templates of one spec or payload, so that many
 * small templates cost no more than one large one: evaluation steps (nodes walked, commands run,
 * range iterations) and bytes of output.
 */
export class Budget {
  steps = 0;
  output = 0;
  constructor(
    readonly maxSteps = 1_000_000,
    readonly maxOutput = 1024 * 1024,
  ) {}
}

class Control {
  constructor(readonly kind: 'break' | 'continue') {}
}

interface Variable {
  name: string;
  value: GoValue | undefined;
}

const MISSING = Symbol('missing');
type Final = GoValue | undefined | typeof MISSING;

/** Finds a struct field by name, through embedded structs as Go's FieldByName does. */
function findField(t: GoType, name: string): { path: GoField[] } | undefined {
  if (t.k !== 'struct') return undefined;
  for (const f of t.fields) if (f.name === name) return { path: [f] };
  for (const f of t.fields) {
    if (!f.embedded) continue;
    const inner = findField(f.type.k === 'ptr' ? f.type.elem : f.type, name);
    if (inner) return { path: [f, ...inner.path] };
  }
  return undefined;
}

class Execution {
  #out: string[] = [];
  #vars: Variable[];
  #node: { pos: number; text: string } | undefined;

  constructor(
    private readonly src: string,
    private readonly funcs: Record<string, TemplateFunc>,
    private readonly limits: Budget,
    dot: GoValue,
  ) {
    this.#vars = [{ name: '$', value: dot }];
  }

  output(): string {
    return this.#out.join('');
  }

  at(node: { pos: number; text: string }): void {
    this.#node = node;
  }

  errorf(msg: string): never {
    if (!this.#node) throw new TemplateError(`template: ${TEMPLATE_NAME}: ${msg}`);
    const { pos, text } = this.#node;
    const before = this.src.slice(0, pos);
    const nl = before.lastIndexOf('\n');
    const line = 1 + (before.match(/\n/g)?.length ?? 0);
    const col = nl < 0 ? pos : pos - (nl + 1);
    const context = text.length > 20 ? `${text.slice(0, 20)}...` : text;
    throw new TemplateError(
      `template: ${TEMPLATE_NAME}:${line}:${col}: executing "${TEMPLATE_NAME}" at <${context}>: ${msg}`,
    );
  }

  step(): void {
    if (++this.limits.steps > this.limits.maxSteps)
      this.errorf(`templates take more than ${this.limits.maxSteps} steps`);
  }

  write(s: string): void {
    this.limits.output += Buffer.byteLength(s);
    if (this.limits.output > this.limits.maxOutput)
      this.errorf(`template output is larger than ${this.limits.maxOutput} bytes`);
    this.#out.push(s);
  }

  walk(dot: GoValue | undefined, list: readonly Node[]): void {
    for (const n of list) {
      this.step();
      switch (n.type) {
        case 'text':
          this.write(n.text);
          break;
        case 'action': {
          const v = this.pipeline(dot, n.pipe);
          if (n.pipe.decl.length === 0) this.print(n, v);
          break;
        }
        case 'if':
        case 'with': {
          const mark = this.#vars.length;
          const v = this.pipeline(dot, n.pipe);
          const t = truth(v);
          if (!t.ok) this.errorf(`if/with can't use ${formatValue(v)}`);
          if (t.truth) this.walk(n.type === 'with' ? v : dot, n.list);
          else if (n.elseList) this.walk(dot, n.elseList);
          this.#vars.length = mark;
          break;
        }
        case 'range':
          this.range(dot, n);
          break;
        case 'break':
        case 'continue':
          throw new Control(n.type);
      }
    }
  }

  range(dot: GoValue | undefined, n: Extract<Node, { type: 'if' | 'with' | 'range' }>): void {
    const mark = this.#vars.length;
    const v = this.pipeline(dot, n.pipe);
    let items: Iterable<[GoValue, GoValue | undefined]> = [];
    let empty = true;
    if (v?.t.k === 'map') {
      const m = v.v as Map<string, GoValue>;
      items = [...m.keys()].sort().map((k): [GoValue, GoValue | undefined] => [str(k), m.get(k)]);
      empty = m.size === 0;
    } else if (v?.t.k === 'int') {
      const count = v.v as number;
      if (this.limits.steps + count > this.limits.maxSteps)
        this.errorf(`templates take more than ${this.limits.maxSteps} steps`);
      // Counted, not listed: a large count costs steps, not memory.
      items = (function* (): Generator<[GoValue, GoValue]> {
        for (let i = 0; i < count; i++) yield [int(i), int(i)];
      })();
      empty = count <= 0;
    } else if (v !== undefined && !(v.t.k === 'ptr' && v.v === undefined)) {
      this.at({ pos: n.pos, text: pipeText(n.pipe) });
      // Go prints the value; a string may be a secret's, and this message reaches the task's error.
      this.errorf(`range can't iterate over ${v.t.k === 'string' ? 'a string' : formatValue(v)}`);
    }
    const oneVar = n.pipe.decl.length === 1;
    for (const [k, e] of items) {
      this.step();
      const inner = this.#vars.length;
      if (n.pipe.decl.length > 0) {
        // One variable gets the element; two get key and element.
        this.setTop(oneVar ? 1 : 2, e, oneVar ? undefined : k);
      }
      try {
        this.walk(e, n.list);
      } catch (c) {
        if (!(c instanceof Control)) throw c;
        if (c.kind === 'break') break;
      } finally {
        this.#vars.length = inner;
      }
    }
    if (empty && n.elseList) this.walk(dot, n.elseList);
    this.#vars.length = mark;
  }

  /** Sets the range variables (declared last by the pipeline: key then element). */
  setTop(count: number, elem: GoValue | undefined, key: GoValue | undefined): void {
    const top = this.#vars.length;
    if (count === 1) this.#vars[top - 1]!.value = elem;
    else {
      this.#vars[top - 2]!.value = key;
      this.#vars[top - 1]!.value = elem;
    }
  }

  print(n: { pos: number }, v: GoValue | undefined): void {
    if (v === undefined) return this.write('<no value>');
    const shown = v.t.k === 'ptr' ? (v.v as GoValue | undefined) : v;
    this.write(shown === undefined ? '<nil>' : formatValue(shown));
    void n;
  }

  pipeline(dot: GoValue | undefined, pipe: Pipe): GoValue | undefined {
    let value: Final = MISSING;
    for (const cmd of pipe.cmds) {
      this.step();
      value = this.command(dot, cmd, value);
    }
    const v = value === MISSING ? undefined : value;
    for (const name of pipe.decl) {
      if (pipe.isAssign) {
        const slot = [...this.#vars].reverse().find((x) => x.name === name);
        if (slot) slot.value = v;
      } else this.#vars.push({ name, value: v });
    }
    return v;
  }

  command(dot: GoValue | undefined, cmd: Command, final: Final): GoValue | undefined {
    const first = cmd.args[0]!;
    switch (first.type) {
      case 'field':
        this.at({ pos: first.pos, text: argString(first) });
        return this.fieldChain(dot, dot, first.ident, cmd.args, final);
      case 'chain': {
        this.at({ pos: first.pos, text: argString(first) });
        if (first.node.type === 'nil') this.errorf(`indirection through explicit nil in ${argString(first)}`);
        const base = this.arg(dot, first.node);
        this.at({ pos: first.pos, text: argString(first) });
        return this.fieldChain(dot, base, first.field, cmd.args, final);
      }
      case 'identifier':
        return this.call(dot, first.name, cmd, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.nested(dot, first.pipe);
      case 'dot':
        this.at({ pos: first.pos, text: '.' });
        this.notAFunction(cmd.args, final);
        return dot;
      case 'variable': {
        this.at({ pos: first.pos, text: argString(first) });
        const v = this.variable(first.ident[0]!);
        if (first.ident.length === 1) {
          this.notAFunction(cmd.args, final);
          return v;
        }
        return this.fieldChain(dot, v, first.ident.slice(1), cmd.args, final);
      }
      case 'bool':
      case 'nil':
      case 'number':
      case 'string':
    }
    this.at({ pos: first.pos, text: argString(first) });
    this.notAFunction(cmd.args, final);
    return this.literal(first);
  }

  nested(dot: GoValue | undefined, pipe: Pipe): GoValue | undefined {
    const mark = this.#vars.length;
    const v = this.pipeline(dot, pipe);
    this.#vars.length = mark;
    return v;
  }

  literal(a: Arg): GoValue | undefined {
    switch (a.type) {
      case 'bool':
        return bool(a.value);
      case 'string':
        return str(a.text);
      case 'number':
        return { t: a.isFloat ? FLOAT : INT, v: a.value };
      case 'nil':
        return this.errorf('nil is not a command');
      case 'field':
      case 'variable':
      case 'dot':
      case 'identifier':
      case 'chain':
      case 'pipe':
        return this.errorf(`can't handle ${argString(a)}`);
    }
  }

  notAFunction(args: readonly Arg[], final: Final): void {
    if (args.length > 1 || final !== MISSING)
      this.errorf(`can't give argument to non-function ${argString(args[0]!)}`);
  }

  variable(name: string): GoValue | undefined {
    for (let i = this.#vars.length - 1; i >= 0; i--)
      if (this.#vars[i]!.name === name) return this.#vars[i]!.value;
    return this.errorf(`undefined variable: ${name}`);
  }

  fieldChain(
    dot: GoValue | undefined,
    receiver: GoValue | undefined,
    ident: readonly string[],
    args: readonly Arg[],
    final: Final,
  ): GoValue | undefined {
    let r = receiver;
    for (const [i, name] of ident.entries()) {
      const last = i === ident.length - 1;
      r = this.field(name, last ? args : [], last ? final : MISSING, r);
    }
    return r;
  }

  field(
    name: string,
    args: readonly Arg[],
    final: Final,
    receiver: GoValue | undefined,
  ): GoValue | undefined {
    if (receiver === undefined) return this.errorf(`nil data; no entry for key ${JSON.stringify(name)}`);
    const typ = typeString(receiver.t);
    let r = receiver;
    if (r.t.k === 'ptr') {
      if (r.v === undefined) {
        if (findField(r.t.elem, name)) this.errorf(`nil pointer evaluating ${typ}.${name}`);
        this.errorf(`can't evaluate field ${name} in type ${typ}`);
      }
      r = r.v as GoValue;
    }
    const hasArgs = args.length > 1 || final !== MISSING;
    if (r.t.k === 'struct') {
      const f = findField(r.t, name);
      if (f) {
        if (!/^\p{Lu}/u.test(name)) this.errorf(`${name} is an unexported field of struct type ${typ}`);
        if (hasArgs) this.errorf(`${name} has arguments but cannot be invoked as function`);
        let v: GoValue | undefined = r;
        for (const step of f.path) {
          v = (v!.v as Record<string, GoValue | undefined>)[step.name];
          if (v?.t.k === 'ptr' && step !== f.path[f.path.length - 1]) v = v.v as GoValue | undefined;
        }
        return v;
      }
    } else if (r.t.k === 'map' && r.t.key.k === 'string') {
      if (hasArgs) this.errorf(`${name} is not a method but has arguments`);
      const v = (r.v as Map<string, GoValue>).get(name);
      if (v === undefined) this.errorf(`map has no entry for key ${JSON.stringify(name)}`);
      return v;
    }
    return this.errorf(`can't evaluate field ${name} in type ${typ}`);
  }

  /** Evaluates an argument of a call or chain. */
  arg(dot: GoValue | undefined, a: Arg): GoValue | undefined {
    this.at({ pos: a.pos, text: argString(a) });
    switch (a.type) {
      case 'dot':
        return dot;
      case 'nil':
        return undefined;
      case 'field':
        return this.fieldChain(dot, dot, a.ident, [a], MISSING);
      case 'variable': {
        const v = this.variable(a.ident[0]!);
        return a.ident.length === 1 ? v : this.fieldChain(dot, v, a.ident.slice(1), [a], MISSING);
      }
      case 'pipe':
        return this.nested(dot, a.pipe);
      case 'identifier':
        return this.call(dot, a.name, { pos: a.pos, args: [a] }, MISSING);
      case 'chain': {
        const base = this.arg(dot, a.node);
        this.at({ pos: a.pos, text: argString(a) });
        return this.fieldChain(dot, base, a.field, [a], MISSING);
      }
      case 'bool':
      case 'number':
      case 'string':
        return this.literal(a);
    }
  }

  call(dot: GoValue | undefined, name: string, cmd: Command, final: Final): GoValue | undefined {
    const ident = cmd.args[0]!;
    this.at({ pos: ident.pos, text: argString(ident) });
    const fn = this.funcs[name] ?? BUILTINS[name];
    if (!fn) return this.errorf(`${JSON.stringify(name)} is not a defined function`);
    const argNodes = cmd.args.slice(1);
    const numIn = argNodes.length + (final === MISSING ? 0 : 1);
    if (fn.variadic) {
      if (numIn < fn.params.length)
        this.errorf(`wrong number of args for ${name}: want at least ${fn.params.length} got ${numIn}`);
    } else if (numIn !== fn.params.length) {
      this.errorf(`wrong number of args for ${name}: want ${fn.params.length} got ${numIn}`);
    }
    const want = (i: number): 'string' | 'any' => fn.params[i] ?? fn.variadic ?? 'any';
    const check = (v: GoValue | undefined, i: number, node: Arg | undefined): GoValue | undefined => {
      if (want(i) === 'string' && v?.t.k !== 'string') {
        if (node && (node.type === 'number' || node.type === 'bool' || node.type === 'nil')) {
          this.at({ pos: node.pos, text: argString(node) });
          this.errorf(`expected string; found ${argString(node)}`);
        }
        this.errorf(`wrong type for value; expected string; got ${v ? typeString(v.t) : '<nil>'}`);
      }
      return v;
    };
    const values: (GoValue | undefined)[] = [];
    // and/or stop at the first argument that decides them, as Go's do.
    const shortCircuit = name === 'and' || name === 'or';
    for (const [i, node] of argNodes.entries()) {
      const v = check(this.arg(dot, node), i, node);
      values.push(v);
      if (shortCircuit && truth(v).truth === (name === 'or')) return v;
    }
    if (final !== MISSING) {
      values.push(check(final, argNodes.length, undefined));
    }
    if (shortCircuit) return values[values.length - 1];
    try {
      return fn.call(values);
    } catch (e) {
      if (e instanceof TemplateError) throw e;
      this.at({ pos: cmd.pos, text: commandString(cmd) });
      let msg = (e as Error).message;
      // Go names the operand that is not a function.
      if (name === 'call' && argNodes[0] && msg.startsWith('non-function '))
        msg = `non-function ${argString(argNodes[0])} ${msg.slice('non-function '.length)}`;
      return this.errorf(`error calling ${name}: ${msg}`);
    }
  }
}

const pipeText = (p: Pipe): string => p.cmds.map(commandString).join(' | ');

export interface Template {
  execute(dot: GoValue, budget?: Budget): string;
}

/** Parses `src` once; the names in `funcs` (with Go's builtins) are the callable functions. */
export function compile(src: string, funcs: Record<string, TemplateFunc> = {}): Template {
  const nodes = parse(src, new Set([...Object.keys(BUILTINS), ...Object.keys(funcs)]));
  return {
    execute(dot: GoValue, budget = new Budget()): string {
      const ex = new Execution(src, funcs, budget, dot);
      try {
        ex.walk(dot, nodes);
      } catch (e) {
        if (e instanceof RangeError)
          throw new TemplateError(`template: ${TEMPLATE_NAME}: template nests too deeply`);
        throw e;
      }
      return ex.output();
    },
  };
}
