// The cluster store: in-memory tables with indexes, changed only through transactions.
// A transaction runs synchronously against the committed state plus its own writes, then its
// changes go to the Proposer as one entry; once the Proposer commits them, apply() installs them
// with Version.Index = the entry's index and emits one event per change and then a commit event.
// Objects handed out are deep-frozen: readers share them safely and writers build new ones.
import {
  alreadyExists,
  assert,
  notFound,
  outOfSequence,
  type Cluster,
  type Config,
  type Meta,
  type Network,
  type Node,
  type Secret,
  type Service,
  type Task,
} from '../../api/index.js';

export interface Tables {
  clusters: Cluster;
  nodes: Node;
  services: Service;
  tasks: Task;
  networks: Network;
  secrets: Secret;
  configs: Config;
}
export type TableName = keyof Tables;
export const TABLES: readonly TableName[] = [
  'clusters',
  'nodes',
  'services',
  'tasks',
  'networks',
  'secrets',
  'configs',
];

export type Action = 'create' | 'update' | 'remove';
export interface Change<T extends TableName = TableName> {
  table: T;
  action: Action;
  object: Tables[T];
}

export type StoreEvent =
  { kind: 'change'; change: Change; previous?: Tables[TableName] } | { kind: 'commit'; index: number };

/** Makes a list of changes durable (and, with Raft, replicated); resolves with the entry's index. */
export interface Proposer {
  propose(changes: readonly Change[]): Promise<number>;
}

/** Tables whose objects have a unique Spec.Name. */
const NAMED: ReadonlySet<TableName> = new Set(['services', 'networks', 'secrets', 'configs']);
const KIND: Record<TableName, string> = {
  clusters: 'cluster',
  nodes: 'node',
  services: 'service',
  tasks: 'task',
  networks: 'network',
  secrets: 'secret',
  configs: 'config',
};
/** One entry may not grow past this many changes; callers split larger work with batch(). */
export const MAX_CHANGES_PER_ENTRY = 2000;

function specName(o: unknown): string | undefined {
  return (o as { Spec?: { Name?: string } }).Spec?.Name;
}

/** A label index holds both `key` and `key=value`, as label filters ask for either. */
function labelKeys(labels: Record<string, string> | undefined): string[] {
  if (!labels) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(labels)) out.push(k, `${k}=${v}`);
  return out;
}

/**
 * Nesting bound of a stored object. The API's schemas stay far below it, so a deeper object in a
 * committed entry is a bug; it fails the apply (loudly) instead of overflowing the stack.
 */
export const MAX_STORED_DEPTH = 64;

/** Freezes o and everything in it, without recursion (o may come from any committed entry). */
export function deepFreeze<T>(o: T): T {
  const stack: unknown[] = [o];
  while (stack.length > 0) {
    const x = stack.pop();
    if (!x || typeof x !== 'object' || Object.isFrozen(x)) continue;
    Object.freeze(x);
    for (const v of Object.values(x)) stack.push(v);
  }
  return o;
}

/**
 * A frozen deep copy of a JSON value, made without recursion; refuses a value nested deeper than
 * MAX_STORED_DEPTH. The state machine's apply uses it, so no input can overflow its stack.
 */
export function frozenCopy<T>(o: T): T {
  const copy = (x: unknown): unknown =>
    x === null || typeof x !== 'object' ? x : Array.isArray(x) ? new Array<unknown>(x.length) : {};
  const root = copy(o);
  const stack: [src: unknown, dst: unknown, depth: number][] = [[o, root, 1]];
  const done: object[] = [];
  while (stack.length > 0) {
    const [src, dst, depth] = stack.pop()!;
    if (src === null || typeof src !== 'object') continue;
    if (depth > MAX_STORED_DEPTH)
      throw new Error(`a stored object is nested deeper than ${MAX_STORED_DEPTH} levels`);
    for (const [k, v] of Object.entries(src)) {
      if (v === undefined) continue;
      if (typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint')
        throw new Error(`a stored object holds a ${typeof v} at ${k}`);
      const c = copy(v);
      (dst as Record<string, unknown>)[k] = c;
      if (c !== null && typeof c === 'object') stack.push([v, c, depth + 1]);
    }
    done.push(dst as object);
  }
  for (const d of done) Object.freeze(d);
  return root as T;
}

/** A mutable deep copy of a stored object. */
export function thaw<T>(o: T): T {
  return structuredClone(o) as T;
}

class Table<T extends { ID: string }> {
  readonly rows = new Map<string, T>();
  readonly byName = new Map<string, string>();
  /** Secondary indexes: index name → key → IDs. */
  readonly indexes = new Map<string, Map<string, Set<string>>>();
  constructor(readonly indexers: Record<string, (o: T) => readonly string[]>) {
    for (const name of Object.keys(indexers)) this.indexes.set(name, new Map());
  }
  put(o: T, named: boolean): void {
    const prev = this.rows.get(o.ID);
    if (prev) this.unindex(prev, named);
    this.rows.set(o.ID, o);
    if (named) {
      const n = specName(o);
      if (n) this.byName.set(n, o.ID);
    }
    for (const [name, f] of Object.entries(this.indexers)) {
      const idx = this.indexes.get(name)!;
      for (const key of f(o)) {
        let set = idx.get(key);
        if (!set) idx.set(key, (set = new Set()));
        set.add(o.ID);
      }
    }
  }
  delete(id: string, named: boolean): void {
    const prev = this.rows.get(id);
    if (!prev) return;
    this.unindex(prev, named);
    this.rows.delete(id);
  }
  private unindex(o: T, named: boolean): void {
    if (named) {
      const n = specName(o);
      if (n && this.byName.get(n) === o.ID) this.byName.delete(n);
    }
    for (const [name, f] of Object.entries(this.indexers)) {
      for (const key of f(o)) {
        const set = this.indexes.get(name)!.get(key);
        set?.delete(o.ID);
        if (set && set.size === 0) this.indexes.get(name)!.delete(key);
      }
    }
  }
}

export interface ReadTx {
  get<T extends TableName>(table: T, id: string): Tables[T] | undefined;
  all<T extends TableName>(table: T): Tables[T][];
  byName<T extends TableName>(table: T, name: string): Tables[T] | undefined;
  /** Objects whose secondary index `index` holds `key` (tasks: service, node, desired, label, network; others: label). */
  by<T extends TableName>(table: T, index: string, key: string): Tables[T][];
  tasksByService(serviceId: string): Task[];
  tasksByNode(nodeId: string): Task[];
  /** Resolves a full ID, a unique name, or a unique ID prefix, as the Engine API does in paths. */
  lookup<T extends TableName>(table: T, ref: string): Tables[T] | undefined;
  cluster(): Cluster | undefined;
}

export interface WriteTx extends ReadTx {
  create<T extends TableName>(table: T, object: Tables[T]): void;
  /** Replaces an object; its Version.Index must equal the stored one ("update out of sequence"). */
  update<T extends TableName>(table: T, object: Tables[T]): void;
  remove<T extends TableName>(table: T, id: string): void;
}

export class MemoryStore {
  readonly #tables: { [K in TableName]: Table<Tables[K]> } = {
    clusters: new Table({}),
    nodes: new Table<Node>({
      label: (n) => labelKeys(n.Spec.Labels),
      role: (n) => [n.Spec.Role ?? 'worker'],
    }),
    services: new Table<Service>({ label: (s) => labelKeys(s.Spec.Labels) }),
    tasks: new Table<Task>({
      service: (t) => [t.ServiceID],
      node: (t) => (t.NodeID ? [t.NodeID] : []),
      desired: (t) => [t.DesiredState],
      label: (t) => labelKeys(t.Labels),
      // The dispatcher's network views find a network's endpoints without a scan of all tasks.
      network: (t) => (t.NetworksAttachments ?? []).map((a) => a.Network.ID),
    }),
    networks: new Table<Network>({ label: (n) => labelKeys(n.Spec.Labels) }),
    secrets: new Table<Secret>({ label: (x) => labelKeys(x.Spec.Labels) }),
    configs: new Table<Config>({ label: (x) => labelKeys(x.Spec.Labels) }),
  };
  readonly #proposer: Proposer;
  #queue: Promise<unknown> = Promise.resolve();
  #subscribers = new Set<(e: StoreEvent) => void>();
  #index = 0;

  constructor(proposer: Proposer) {
    this.#proposer = proposer;
  }

  /** The index of the last applied entry. */
  get index(): number {
    return this.#index;
  }

  view<R>(fn: (tx: ReadTx) => R): R {
    return fn(this.#reader());
  }

  /**
   * Runs fn as one transaction. Transactions are serialised: fn sees every earlier committed write.
   * If fn throws, nothing is proposed and nothing changes.
   */
  update<R>(fn: (tx: WriteTx) => R): Promise<R> {
    const run = async (): Promise<R> => {
      const { tx, changes } = this.#writer();
      const result = fn(tx);
      if (changes.length === 0) return result;
      assert(
        changes.length <= MAX_CHANGES_PER_ENTRY,
        `transaction has ${changes.length} changes; use batch()`,
      );
      const index = await this.#proposer.propose(changes);
      if (index > this.#index) this.apply(changes, index);
      return result;
    };
    const p = this.#queue.then(run, run);
    this.#queue = p.catch(() => undefined);
    return p;
  }

  /** Runs fn while no transaction is in flight (e.g. to snapshot the store and its log together). */
  exclusive<R>(fn: () => Promise<R>): Promise<R> {
    const p = this.#queue.then(fn, fn);
    this.#queue = p.catch(() => undefined);
    return p;
  }

  /** Runs fn over items in chunks, one transaction per chunk, so no entry grows unbounded. */
  async batch<I>(items: readonly I[], fn: (tx: WriteTx, item: I) => void, chunk = 500): Promise<void> {
    for (let i = 0; i < items.length; i += chunk) {
      const part = items.slice(i, i + chunk);
      await this.update((tx) => {
        for (const it of part) fn(tx, it);
      });
    }
  }

  /** Installs committed changes. Called by update() here, and by the replication layer on followers. */
  apply(changes: readonly Change[], index: number): void {
    assert(index > this.#index, `apply of index ${index} after ${this.#index}`);
    // Every change is checked and copied before any is installed: one that cannot be throws here
    // and leaves the store as it was (the Raft member then stops on the entry; see ApplyError).
    const objects = changes.map((c) => {
      if (!Object.hasOwn(this.#tables, c.table))
        throw new Error(`a change names no table: ${String(c.table)}`);
      if (c.action !== 'create' && c.action !== 'update' && c.action !== 'remove')
        throw new Error(`a change has no valid action: ${String(c.action)}`);
      if (typeof c.object !== 'object' || c.object === null || typeof c.object.ID !== 'string')
        throw new Error('a change carries no object with an ID');
      if (c.action === 'remove') return undefined;
      const obj = frozenCopy({ ...c.object, Version: { Index: index } });
      if (NAMED.has(c.table) && typeof specName(obj) !== 'string')
        throw new Error(`a ${c.table} object has no Spec.Name`);
      return obj;
    });
    const events: StoreEvent[] = [];
    for (const [i, c] of changes.entries()) {
      const table = this.#tables[c.table] as unknown as Table<Meta>;
      const named = NAMED.has(c.table);
      const previous = table.rows.get(c.object.ID) as Tables[TableName] | undefined;
      if (c.action === 'remove') {
        table.delete(c.object.ID, named);
        events.push({
          kind: 'change',
          change: { ...c, object: previous ?? c.object },
          ...(previous ? { previous } : {}),
        });
        continue;
      }
      const obj = objects[i]!;
      table.put(obj, named);
      events.push({ kind: 'change', change: { ...c, object: obj }, ...(previous ? { previous } : {}) });
    }
    this.#index = index;
    events.push({ kind: 'commit', index });
    for (const e of events) for (const s of this.#subscribers) s(e);
  }

  /** Calls cb synchronously for every event; cb must be cheap (mark dirty, enqueue). */
  subscribe(cb: (e: StoreEvent) => void): () => void {
    this.#subscribers.add(cb);
    return () => this.#subscribers.delete(cb);
  }

  snapshot(): { index: number; tables: { [K in TableName]: Tables[K][] } } {
    const tables = {} as { [K in TableName]: Tables[K][] };
    for (const t of TABLES) (tables as Record<string, unknown[]>)[t] = [...this.#tables[t].rows.values()];
    return { index: this.#index, tables };
  }

  /**
   * Replaces the whole state (a snapshot installed from the leader). Subscribers see the
   * difference as changes, then a commit at the snapshot's index, as if the entries it stands for
   * had been applied one by one: a follower's event log stays whole.
   */
  restore(snap: { index: number; tables: Partial<{ [K in TableName]: Tables[K][] }> }): void {
    const events: StoreEvent[] = [];
    const watched = this.#subscribers.size > 0;
    for (const t of TABLES) {
      const table = this.#tables[t] as unknown as Table<Meta>;
      const before = watched ? new Map(table.rows) : new Map<string, Meta>();
      table.rows.clear();
      table.byName.clear();
      for (const idx of table.indexes.values()) idx.clear();
      for (const o of snap.tables[t] ?? []) {
        table.put(deepFreeze(o), NAMED.has(t));
        if (!watched) continue;
        const prev = before.get(o.ID) as Tables[TableName] | undefined;
        before.delete(o.ID);
        if (prev === undefined)
          events.push({ kind: 'change', change: { table: t, action: 'create', object: o } });
        else if (prev.Version.Index !== o.Version.Index)
          events.push({ kind: 'change', change: { table: t, action: 'update', object: o }, previous: prev });
      }
      for (const gone of before.values())
        events.push({
          kind: 'change',
          change: { table: t, action: 'remove', object: gone as Tables[TableName] },
          previous: gone as Tables[TableName],
        });
    }
    this.#index = snap.index;
    if (!watched) return;
    events.push({ kind: 'commit', index: snap.index });
    for (const e of events) for (const sub of this.#subscribers) sub(e);
  }

  #reader(overlay?: Map<string, { table: TableName; object: unknown | null }>): ReadTx {
    const tables = this.#tables;
    const key = (t: TableName, id: string): string => `${t}/${id}`;
    const get = <T extends TableName>(table: T, id: string): Tables[T] | undefined => {
      const o = overlay?.get(key(table, id));
      if (o) return (o.object ?? undefined) as Tables[T] | undefined;
      return tables[table].rows.get(id) as Tables[T] | undefined;
    };
    const overlaid = <T extends TableName>(table: T, base: Iterable<string>): Tables[T][] => {
      if (!overlay) return [...base].map((id) => tables[table].rows.get(id)!) as Tables[T][];
      const ids = new Set(base);
      if (overlay) for (const [k, v] of overlay) if (v.table === table) ids.add(k.slice(table.length + 1));
      const out: Tables[T][] = [];
      for (const id of ids) {
        const o = get(table, id);
        if (o) out.push(o);
      }
      return out;
    };
    const by = <T extends TableName>(table: T, index: string, key: string): Tables[T][] => {
      const t = tables[table] as unknown as Table<Tables[T]>;
      const indexer = t.indexers[index];
      assert(indexer !== undefined, `table ${table} has no index ${index}`);
      const ids = t.indexes.get(index)!.get(key) ?? new Set<string>();
      if (!overlay) {
        // The common read path: no transaction overlay, straight from the index.
        const rows: Tables[T][] = [];
        for (const id of ids) rows.push(t.rows.get(id)!);
        return rows;
      }
      // Inside a transaction, objects it wrote may have moved in or out of the index.
      return overlaid(table, ids).filter((o) => indexer(o).includes(key));
    };
    const reader: ReadTx = {
      get,
      all: (table) => overlaid(table, tables[table].rows.keys()),
      byName: (table, name) => {
        if (overlay) return reader.all(table).find((o) => specName(o) === name);
        const id = tables[table].byName.get(name);
        return id === undefined ? undefined : get(table, id);
      },
      by,
      tasksByService: (id) => by('tasks', 'service', id),
      tasksByNode: (id) => by('tasks', 'node', id),
      lookup: (table, ref) => {
        const direct = get(table, ref);
        if (direct) return direct;
        if (table === 'nodes') {
          const byHost = reader
            .all('nodes')
            .filter((n) => n.Description.Hostname === ref || n.Spec.Name === ref);
          if (byHost.length === 1) return byHost[0] as Tables[typeof table];
        } else {
          const named = reader.byName(table, ref);
          if (named) return named;
        }
        if (ref.length === 0) return undefined;
        const matches = reader.all(table).filter((o) => o.ID.startsWith(ref));
        return matches.length === 1 ? matches[0] : undefined;
      },
      cluster: () => reader.all('clusters')[0],
    };
    return reader;
  }

  #writer(): { tx: WriteTx; changes: Change[] } {
    const overlay = new Map<string, { table: TableName; object: unknown | null }>();
    const changes: Change[] = [];
    const reader = this.#reader(overlay);
    const record = <T extends TableName>(table: T, action: Action, object: Tables[T]): void => {
      overlay.set(`${table}/${object.ID}`, { table, object: action === 'remove' ? null : object });
      const i = changes.findIndex((c) => c.table === table && c.object.ID === object.ID);
      // A create followed by an update in one transaction is still a create.
      if (i >= 0) {
        const prev = changes[i]!;
        if (prev.action === 'create' && action === 'remove') changes.splice(i, 1);
        else changes[i] = { table, action: prev.action === 'create' ? 'create' : action, object };
        return;
      }
      changes.push({ table, action, object });
    };
    const checkName = (table: TableName, o: { ID: string }): void => {
      if (!NAMED.has(table)) return;
      const name = specName(o);
      if (!name) return;
      const existing = reader.byName(table, name);
      if (existing && existing.ID !== o.ID) {
        throw table === 'services'
          ? alreadyExists(`name conflicts with an existing object: service ${name} already exists`)
          : alreadyExists(`${KIND[table]} ${name} already exists`);
      }
    };
    const tx: WriteTx = {
      ...reader,
      create: (table, object) => {
        if (reader.get(table, object.ID)) throw alreadyExists(`${KIND[table]} ${object.ID} already exists`);
        checkName(table, object);
        record(table, 'create', object);
      },
      update: (table, object) => {
        const cur = reader.get(table, object.ID);
        if (!cur) throw notFound(`${KIND[table]} ${object.ID} not found`);
        if (cur.Version.Index !== object.Version.Index) throw outOfSequence();
        checkName(table, object);
        record(table, 'update', object);
      },
      remove: (table, id) => {
        const cur = reader.get(table, id);
        if (!cur) throw notFound(`${KIND[table]} ${id} not found`);
        record(table, 'remove', cur);
      },
    };
    return { tx, changes };
  }
}
