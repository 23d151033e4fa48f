// Data-driven interaction tests: every testdata/*.txt is a script of commands for a small cluster of
// RawNodes joined by an in-memory network, each command followed by the output it must produce.
//
// File format:
//   # comment (kept on rewrite)
//   <command> <args...>
//   ----
//   <expected output: one or more non-blank lines>
//   <blank line ends the block>
//
// Arguments are words, `key=value` or `key=(1,2,3)`. Commands:
//   add-nodes <n> [voters=(ids)] [learners=(ids)] [index=i] [prevote=true] [checkquorum=true]
//             [election=ticks] [heartbeat=ticks] [max-size-per-msg=bytes] [max-inflight=n]
//             [max-uncommitted=bytes] [snapshot-chunk=bytes]
//       adds n nodes (ids follow the existing ones); with index>0 their storage starts from a
//       snapshot at that index (term 1) holding the given configuration. rand() is 0, so the
//       election timeout is exactly `election` ticks (default 10; heartbeat default 1).
//   campaign <id> | propose <id> <data> | read-index <id> <ctx> | transfer-leader <id> <to>
//   propose-conf-change <id> (add|add-learner|remove) <node>
//   tick <id> [n] | tick-heartbeat <ids...> | tick-election <ids...>   (one interval each)
//   set-rand <id> <r>            rand() returns r in [0,1): election timeout = election*(1+r) ticks
//                                from the node's next timer reset (default r=0)
//   process-ready <ids...>       one Ready each: persist, send (enqueue), apply, advance
//   deliver-msgs [drop=(ids)] [limit=n] [<ids...>]   deliver queued messages to <ids>, drop those to drop=();
//                                 with neither, deliver to everyone; limit=n takes the first n each
//   stabilize [<ids...>]         process-ready and deliver-msgs until nothing changes
//   partition <groups...> | heal   each group is `id` or `(ids)`; nodes not named form one more
//                                group; messages between groups are dropped on delivery
//   restart <id>                 crash and restart from storage (its queued messages are lost)
//   compact <id> <index>         snapshot the application at index, then compact the log to it
//   report-unreachable <id> <peer>
//   status <id> | raft-state | raft-log <id> | app-state <id> | log-level (debug|info|warn|none)
// Errors thrown by a command print as `error: <code>: <message>`.
//
// RAFT_TESTDATA_REWRITE=1 rewrites the files with the actual output instead of comparing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  decodeConfChange,
  describeConfState,
  describeEntry,
  describeMessage,
  describeReady,
  MemoryStorage,
  RaftError,
  RawNode,
} from './index.js';
import type { ConfChangeType, ConfState, Logger, Message, NodeId, RaftConfig } from './index.js';

const TESTDATA = new URL('../../../../src/raft/core/testdata/', import.meta.url);
const REWRITE = process.env['RAFT_TESTDATA_REWRITE'] === '1';

type Level = 'debug' | 'info' | 'warn' | 'none';
const LEVELS: Record<Level, number> = { debug: 0, info: 1, warn: 2, none: 3 };

function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}
function fromAscii(b: Uint8Array): string {
  return String.fromCharCode(...b);
}

interface Args {
  pos: string[];
  kv: Map<string, string>;
}

function parseArgs(words: string[]): Args {
  const pos: string[] = [];
  const kv = new Map<string, string>();
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq > 0) kv.set(w.slice(0, eq), w.slice(eq + 1));
    else pos.push(w);
  }
  return { pos, kv };
}

function idList(v: string | undefined): NodeId[] {
  if (v === undefined) return [];
  const inner = v.replace(/^\(/, '').replace(/\)$/, '').trim();
  if (inner === '') return [];
  return inner.split(/[ ,]+/).map(Number);
}

function num(v: string | undefined, what: string): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n)) throw new Error(`${what}: expected a number, got ${v}`);
  return n;
}

interface TestNode {
  rn: RawNode;
  storage: MemoryStorage;
  config: RaftConfig;
  /** The application: the payloads applied, in order. */
  applied: string[];
  appliedIndex: number;
  confState: ConfState;
}

class Env {
  readonly nodes = new Map<NodeId, TestNode>();
  queue: Message[] = [];
  #out: string[] = [];
  #indent = '';
  #level: Level = 'info';
  /** What each node's rand() returns (default 0: the election timeout is exactly `election`). */
  #rands = new Map<NodeId, number>();
  /** Partition group of each named node; unnamed nodes share group 0. */
  #groups = new Map<NodeId, number>();

  print(line: string): void {
    for (const l of line.split('\n')) this.#out.push(this.#indent + l);
  }

  take(): string {
    const out = this.#out.join('\n');
    this.#out = [];
    return out === '' ? 'ok' : out;
  }

  logger(): Logger {
    const log = (level: Level, tag: string) => (msg: string) => {
      if (LEVELS[level] >= LEVELS[this.#level]) this.print(`${tag} ${msg}`);
    };
    return { debug: log('debug', 'DEBUG'), info: log('info', 'INFO'), warn: log('warn', 'WARN') };
  }

  #withIndent(fn: () => void): void {
    const prev = this.#indent;
    this.#indent += '  ';
    try {
      fn();
    } finally {
      this.#indent = prev;
    }
  }

  node(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  run(cmd: string, a: Args): void {
    const id = (i = 0): NodeId => num(a.pos[i], `${cmd} node id`);
    switch (cmd) {
      case 'add-nodes':
        return this.addNodes(a);
      case 'campaign':
        return this.node(id()).rn.campaign();
      case 'propose':
        return this.node(id()).rn.propose(ascii(a.pos[1] ?? ''));
      case 'propose-conf-change': {
        const types: Record<string, ConfChangeType> = {
          add: 'AddNode',
          'add-learner': 'AddLearnerNode',
          remove: 'RemoveNode',
        };
        const type = types[a.pos[1] ?? ''];
        if (type === undefined) throw new Error(`unknown conf change ${a.pos[1]}`);
        return this.node(id()).rn.proposeConfChange({ type, nodeId: id(2) });
      }
      case 'read-index':
        return this.node(id()).rn.readIndex(ascii(a.pos[1] ?? ''));
      case 'transfer-leader':
        return this.node(id()).rn.transferLeadership(id(1));
      case 'report-unreachable':
        return this.node(id()).rn.reportUnreachable(id(1));
      case 'tick': {
        const n = a.pos[1] === undefined ? 1 : num(a.pos[1], 'ticks');
        for (let i = 0; i < n; i++) this.node(id()).rn.tick();
        return;
      }
      case 'tick-heartbeat':
      case 'tick-election':
        for (const p of a.pos) {
          const node = this.node(Number(p));
          const n = cmd === 'tick-heartbeat' ? node.config.heartbeatTick : node.config.electionTick;
          for (let i = 0; i < n; i++) node.rn.tick();
        }
        return;
      case 'set-rand':
        this.#rands.set(id(), num(a.pos[1], 'rand'));
        return;
      case 'process-ready':
        for (const p of a.pos) this.processReady(Number(p));
        return;
      case 'deliver-msgs': {
        const drop = new Set(idList(a.kv.get('drop')));
        const ids = a.pos.map(Number);
        // Only the named recipients (dropped ones count as named); none named means everyone.
        const named = [...ids, ...drop];
        const limit = a.kv.has('limit') ? num(a.kv.get('limit'), 'limit') : Infinity;
        this.deliverMsgs(named.length > 0 ? named : this.ids(), drop, limit);
        return;
      }
      case 'stabilize':
        return this.stabilize(a.pos.length > 0 ? a.pos.map(Number) : this.ids());
      case 'partition':
        this.#groups = new Map();
        a.pos.forEach((g, i) => {
          for (const nid of idList(g)) this.#groups.set(nid, i + 1);
        });
        return;
      case 'heal':
        this.#groups = new Map();
        return;
      case 'restart':
        return this.restart(id());
      case 'compact':
        return this.compact(id(), num(a.pos[1], 'index'));
      case 'status': {
        const s = this.node(id()).rn.describeProgress();
        this.print(s === '' ? `${id()} is not the leader` : s);
        return;
      }
      case 'raft-state':
        for (const nid of this.ids()) {
          const st = this.node(nid).rn.status();
          const role = st.config.voters.includes(nid)
            ? 'Voter'
            : st.config.learners.includes(nid)
              ? 'Learner'
              : 'NonMember';
          this.print(
            `${nid}: ${st.state} (${role}) Term:${st.term} Lead:${st.lead} Commit:${st.commit} Applied:${st.applied}`,
          );
        }
        return;
      case 'raft-log': {
        const n = this.node(id());
        const fi = n.storage.firstIndex();
        const li = n.storage.lastIndex();
        if (li < fi) {
          this.print(`log is empty: first index=${fi}, last index=${li}`);
          return;
        }
        for (const e of n.storage.entries(fi, li + 1, Infinity)) this.print(describeEntry(e));
        return;
      }
      case 'app-state': {
        const n = this.node(id());
        this.print(
          `applied=${n.appliedIndex} ${describeConfState(n.confState)} data=[${n.applied.join(' ')}]`,
        );
        return;
      }
      case 'log-level': {
        const l = a.pos[0] as Level;
        if (!(l in LEVELS)) throw new Error(`unknown log level ${l}`);
        this.#level = l;
        return;
      }
      default:
        throw new Error(`unknown command ${cmd}`);
    }
  }

  ids(): NodeId[] {
    return [...this.nodes.keys()].sort((x, y) => x - y);
  }

  addNodes(a: Args): void {
    const n = num(a.pos[0], 'node count');
    const voters = idList(a.kv.get('voters'));
    const learners = idList(a.kv.get('learners'));
    const index = Number(a.kv.get('index') ?? 0);
    const opt = (k: string): number | undefined => (a.kv.has(k) ? num(a.kv.get(k), k) : undefined);
    for (let i = 0; i < n; i++) {
      const id = this.nodes.size + 1;
      const storage = new MemoryStorage();
      const confState = { voters: [...voters], learners: [...learners] };
      if (index > 0) {
        storage.applySnapshot({ metadata: { index, term: 1, confState }, data: new Uint8Array(0) });
      }
      const config: RaftConfig = {
        id,
        storage,
        electionTick: opt('election') ?? 10,
        heartbeatTick: opt('heartbeat') ?? 1,
        rand: () => this.#rands.get(id) ?? 0,
        preVote: a.kv.get('prevote') === 'true',
        checkQuorum: a.kv.get('checkquorum') === 'true',
        lazyCommitBroadcast: a.kv.get('lazycommit') === 'true',
        logger: this.logger(),
      };
      const extra: [keyof RaftConfig, string][] = [
        ['maxSizePerMsg', 'max-size-per-msg'],
        ['maxInflightMsgs', 'max-inflight'],
        ['maxUncommittedEntriesSize', 'max-uncommitted'],
        ['snapshotChunkBytes', 'snapshot-chunk'],
      ];
      for (const [field, key] of extra) {
        const v = opt(key);
        if (v !== undefined) Object.assign(config, { [field]: v });
      }
      const rn = new RawNode(config);
      this.nodes.set(id, { rn, storage, config, applied: [], appliedIndex: index, confState });
    }
  }

  processReady(id: NodeId): boolean {
    const n = this.node(id);
    if (!n.rn.hasReady()) return false;
    this.print(`> ${id} handling Ready`);
    this.#withIndent(() => {
      const rd = n.rn.ready();
      this.print(describeReady(rd));
      // Persist, then send, then apply, then advance.
      if (rd.snapshot !== undefined) n.storage.applySnapshot(rd.snapshot);
      n.storage.append(rd.entries);
      if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState);
      this.queue.push(...rd.messages);
      if (rd.snapshot !== undefined) {
        const data = fromAscii(rd.snapshot.data);
        n.applied = data === '' ? [] : data.split(',');
        n.appliedIndex = rd.snapshot.metadata.index;
        n.confState = rd.snapshot.metadata.confState;
      }
      for (const e of rd.committedEntries) {
        if (e.type === 'EntryConfChange') {
          n.confState = n.rn.applyConfChange(decodeConfChange(e.data));
        } else if (e.data.byteLength > 0) {
          n.applied.push(fromAscii(e.data));
        }
        n.appliedIndex = e.index;
      }
      n.rn.advance();
    });
    return true;
  }

  #crossesPartition(m: Message): boolean {
    return (this.#groups.get(m.from) ?? 0) !== (this.#groups.get(m.to) ?? 0);
  }

  deliverMsgs(ids: NodeId[], drop: Set<NodeId>, limit = Infinity): boolean {
    let any = false;
    for (const id of [...new Set(ids)].sort((x, y) => x - y)) {
      const mine = this.queue.filter((m) => m.to === id).slice(0, limit);
      if (mine.length === 0) continue;
      this.queue = this.queue.filter((m) => !mine.includes(m));
      any = true;
      if (drop.has(id)) {
        for (const m of mine) this.print(`dropped: ${describeMessage(m)}`);
        continue;
      }
      const n = this.nodes.get(id);
      const live = mine.filter((m) => !this.#crossesPartition(m));
      if (n === undefined || live.length === 0) {
        for (const m of mine) this.print(`dropped: ${describeMessage(m)}`);
        continue;
      }
      this.print(`> ${id} receiving messages`);
      this.#withIndent(() => {
        for (const m of mine) {
          if (this.#crossesPartition(m)) {
            this.print(`dropped (partition): ${describeMessage(m)}`);
            continue;
          }
          this.print(describeMessage(m));
          this.#guard(() => n.rn.step(m));
        }
      });
    }
    return any;
  }

  stabilize(ids: NodeId[]): void {
    for (let round = 0; round < 1000; round++) {
      let any = false;
      for (const id of ids) any = this.processReady(id) || any;
      any = this.deliverMsgs(ids, new Set()) || any;
      if (!any) return;
    }
    throw new Error('stabilize did not converge in 1000 rounds');
  }

  /** A crash and restart: the node keeps only what it persisted; the app rebuilds from the snapshot. */
  restart(id: NodeId): void {
    const n = this.node(id);
    this.queue = this.queue.filter((m) => m.to !== id);
    const snap = n.storage.snapshot();
    const data = fromAscii(snap.data);
    n.applied = data === '' ? [] : data.split(',');
    n.appliedIndex = snap.metadata.index;
    n.confState = snap.metadata.confState;
    n.rn = new RawNode(n.config);
  }

  compact(id: NodeId, index: number): void {
    const n = this.node(id);
    if (index !== n.appliedIndex)
      throw new Error(
        `compact ${index}: the test app can only snapshot at its applied index ${n.appliedIndex}`,
      );
    n.storage.createSnapshot(index, n.confState, ascii(n.applied.join(',')));
    n.storage.compact(index);
  }

  #guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof RaftError) this.print(`error: ${e.code}: ${e.message}`);
      else throw e;
    }
  }

  exec(line: string): string {
    const words = line.match(/\S*\([^)]*\)|\S+/g) ?? [];
    const [cmd, ...rest] = words;
    if (cmd === undefined) throw new Error('empty command');
    this.#guard(() => this.run(cmd, parseArgs(rest)));
    return this.take();
  }
}

interface Block {
  line: number;
  text: string[];
  command: string;
  expected: string;
}

/** Splits a script into blocks; `text` holds the comments and blank lines before each command. */
function parseScript(src: string): { blocks: Block[]; trailer: string[] } {
  const lines = src.split('\n');
  const blocks: Block[] = [];
  let text: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const l = lines[i]!;
    if (l.trim() === '' || l.startsWith('#')) {
      text.push(l);
      i++;
      continue;
    }
    const line = i + 1;
    const command = l.trim();
    i++;
    if (lines[i] !== '----') throw new Error(`line ${line}: expected ---- after the command`);
    i++;
    const out: string[] = [];
    while (i < lines.length && lines[i]!.trim() !== '') out.push(lines[i++]!);
    if (i < lines.length) i++; // the blank line that ends the block
    blocks.push({ line, text, command, expected: out.join('\n') });
    text = [];
  }
  return { blocks, trailer: text };
}

const files = readdirSync(fileURLToPath(TESTDATA))
  .filter((f) => f.endsWith('.txt'))
  .sort();

test('testdata has scripts', () => {
  assert.ok(files.length > 0, `no testdata/*.txt under ${fileURLToPath(TESTDATA)}`);
});

for (const file of files) {
  test(`interaction ${file}`, () => {
    const path = fileURLToPath(new URL(file, TESTDATA));
    const { blocks, trailer } = parseScript(readFileSync(path, 'utf8'));
    const env = new Env();
    const rewritten: string[] = [];
    for (const b of blocks) {
      const actual = env.exec(b.command);
      rewritten.push(...b.text, b.command, '----', actual, '');
      if (!REWRITE) assert.equal(actual, b.expected, `${file}:${b.line}: ${b.command}`);
    }
    if (REWRITE) {
      while (trailer.length > 0 && trailer[trailer.length - 1] === '') trailer.pop();
      const out = [...rewritten, ...trailer].join('\n').replace(/\n+$/, '') + '\n';
      writeFileSync(path, out);
    }
  });
}
