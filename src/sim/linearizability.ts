// A linearizability checker for a key-value store of registers (Wing & Gong's search with Lowe's
// memoization, as in Knossos and Porcupine). Keys are independent, so each key's history is
// checked alone. An operation whose outcome is unknown (the client gave up) has no return time:
// it may take effect at any point after its call, or never.

export type RegisterOp =
  { kind: 'write'; value: string } | { kind: 'read' } | { kind: 'cas'; expect: string | null; value: string };

export interface HistoryOp {
  id: number;
  client: number;
  key: string;
  op: RegisterOp;
  call: number;
  /** Infinity when the outcome is unknown. */
  ret: number;
  /** read: the value seen (null: absent); cas: whether it swapped; write: unused. */
  output?: string | null | boolean;
  unknown: boolean;
}

export type CheckResult =
  | { ok: true }
  | { ok: false; key: string; ops: HistoryOp[] }
  | { ok: 'unknown'; key: string; reason: string };

/** Histories past these sizes are not searched (the search is exponential in the worst case). */
export const MAX_OPS_PER_KEY = 400;
export const DEFAULT_STEP_BUDGET = 2_000_000;

type State = string | null;

function step(state: State, h: HistoryOp): State | undefined {
  const op = h.op;
  switch (op.kind) {
    case 'write':
      return op.value;
    case 'read':
      return h.output === state ? state : undefined;
    case 'cas':
      if (h.unknown) return state === op.expect ? op.value : state;
      if (h.output === true) return state === op.expect ? op.value : undefined;
      return state !== op.expect ? state : undefined;
  }
}

interface Node {
  op: HistoryOp | undefined;
  isCall: boolean;
  match: Node | undefined;
  prev: Node | undefined;
  next: Node | undefined;
}

function checkKey(ops: HistoryOp[], budget: number): 'ok' | 'fail' | 'budget' {
  const events: { t: number; call: boolean; op: HistoryOp }[] = [];
  for (const op of ops) {
    events.push({ t: op.call, call: true, op }, { t: op.ret, call: false, op });
  }
  // Calls before returns at equal times: operations that touch at an instant count as concurrent.
  events.sort((a, b) => a.t - b.t || (a.call === b.call ? a.op.id - b.op.id : a.call ? -1 : 1));
  const head: Node = { op: undefined, isCall: false, match: undefined, prev: undefined, next: undefined };
  let tail = head;
  const calls = new Map<number, Node>();
  for (const e of events) {
    const n: Node = { op: e.op, isCall: e.call, match: undefined, prev: tail, next: undefined };
    tail.next = n;
    tail = n;
    if (e.call) calls.set(e.op.id, n);
    else calls.get(e.op.id)!.match = n;
  }
  const lift = (n: Node): void => {
    n.prev!.next = n.next;
    if (n.next) n.next.prev = n.prev;
    const m = n.match!;
    m.prev!.next = m.next;
    if (m.next) m.next.prev = m.prev;
  };
  const unlift = (n: Node): void => {
    const m = n.match!;
    m.prev!.next = m;
    if (m.next) m.next.prev = m;
    n.prev!.next = n;
    if (n.next) n.next.prev = n;
  };
  const slot = new Map<number, number>(ops.map((o, i) => [o.id, i]));
  const done = new Uint8Array(ops.length);
  const seen = new Set<string>();
  const stack: { node: Node; state: State }[] = [];
  let state: State = null;
  let entry = head.next;
  while (head.next !== undefined) {
    if (--budget < 0) return 'budget';
    if (entry === undefined) return 'fail';
    if (entry.isCall) {
      const next = step(state, entry.op!);
      if (next !== undefined) {
        const i = slot.get(entry.op!.id)!;
        done[i] = 1;
        const key = `${Buffer.from(done).toString('base64')}|${next === null ? '\0' : next}`;
        if (!seen.has(key)) {
          seen.add(key);
          stack.push({ node: entry, state });
          state = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        done[i] = 0;
      }
      entry = entry.next;
    } else {
      // A return whose call could not be placed: undo the last placement and try the next one.
      const top = stack.pop();
      if (top === undefined) return 'fail';
      state = top.state;
      done[slot.get(top.node.op!.id)!] = 0;
      unlift(top.node);
      entry = top.node.next;
    }
  }
  return 'ok';
}

export function checkLinearizable(
  history: readonly HistoryOp[],
  opts: { budget?: number } = {},
): CheckResult {
  const byKey = new Map<string, HistoryOp[]>();
  for (const h of history) {
    let l = byKey.get(h.key);
    if (!l) byKey.set(h.key, (l = []));
    l.push(h);
  }
  for (const key of [...byKey.keys()].sort()) {
    const ops = byKey.get(key)!;
    if (ops.length > MAX_OPS_PER_KEY) {
      return { ok: 'unknown', key, reason: `${ops.length} operations on one key (limit ${MAX_OPS_PER_KEY})` };
    }
    const r = checkKey(ops, opts.budget ?? DEFAULT_STEP_BUDGET);
    if (r === 'fail') return { ok: false, key, ops };
    if (r === 'budget') return { ok: 'unknown', key, reason: 'search budget exhausted' };
  }
  return { ok: true };
}

export function describeOp(h: HistoryOp): string {
  const op = h.op;
  const what =
    op.kind === 'write'
      ? `write(${op.value})`
      : op.kind === 'read'
        ? `read() → ${String(h.output)}`
        : `cas(${String(op.expect)}, ${op.value}) → ${h.unknown ? '?' : String(h.output)}`;
  return `c${h.client} ${h.key} ${what} [${h.call}, ${h.unknown ? '∞' : h.ret}]`;
}
