// One simulated run: managers built as the daemon builds them (ManagerReplica: RaftNode + RaftProposer + MemoryStore) on a simulated
// clock, network and disk; clients writing and reading a key-value register set through the store;
// faults chosen by the seed; checkers watching from outside. Safety is checked during the faults,
// liveness once they heal.
import { createHash } from 'node:crypto';
import { bytesEqual } from '../raft/index.js';
import type { Entry, NodeId, RaftNode } from '../raft/index.js';
import type { MemoryStore } from '../state/index.js';
import { isShoalError, setIdSource, type Config } from '../api/index.js';
import { EventLog, ManagerReplica, type Manager as ManagerProcess } from '../manager/index.js';
import { SimDisk, SimDiskState } from './disk.js';
import { SimFleet, type FleetHost, type ManagerIncarnation } from './fleet.js';
import { checkLinearizable, describeOp } from './linearizability.js';
import type { HistoryOp, RegisterOp } from './linearizability.js';
import { SimNetwork } from './network.js';
import { Prng } from './prng.js';
import { NETWORKS, TIMING, chooseRegime, type Regime } from './regime.js';
import { Scheduler } from './scheduler.js';
import type { Owner } from './scheduler.js';

export interface SimOptions {
  seed: number;
  /** Length of the fault phase, in simulated ms. */
  faultMs?: number;
  /** After healing, the cluster must elect a leader, commit a write and converge within this. */
  livenessBoundMs?: number;
  clients?: number;
  /** Keep the whole trace (otherwise the last TRACE_TAIL lines). */
  verbose?: boolean;
  /** Run the leader-handoff workload whatever the seed's regime says (see Regime.handoff). */
  handoff?: boolean;
  /** Worker nodes to run, whatever the seed's regime says (see Regime.agents); 0 for none. */
  agents?: number;
  /** Raft timing, whatever the seed's regime says (see Regime.timing). */
  timing?: Regime['timing'];
}

export interface SimResult {
  seed: number;
  ok: boolean;
  failures: string[];
  /** SHA-256 of the whole event trace: the same seed must give the same digest. */
  digest: string;
  regime: Regime;
  stats: {
    events: number;
    simMs: number;
    ops: number;
    okOps: number;
    unknownOps: number;
    crashes: number;
    leaders: number;
    messages: number;
    dropped: number;
    fleet?: SimFleet['stats'];
  };
  trace: string[];
}

const TRACE_TAIL = 400;
const MAX_TRACE_LINES = 500_000;
const KEYS = ['x', 'y', 'z'];

interface Incarnation {
  owner: Owner;
  node: RaftNode;
  store: MemoryStore;
  /** Client operations sent to this incarnation and not answered yet. */
  inFlight: Set<HistoryOp>;
  /** The manager's ControlAPI and leader loops, when the run has a fleet. */
  manager: ManagerProcess | undefined;
  replica: ManagerReplica | undefined;
}

interface Manager {
  id: NodeId;
  disk: SimDiskState;
  inc: Incarnation | undefined;
  lastApplied: number;
}

function configObject(key: string, value: string): Config {
  return {
    ID: key,
    Version: { Index: 0 },
    CreatedAt: '2026-01-01T00:00:00.000Z',
    UpdatedAt: '2026-01-01T00:00:00.000Z',
    Spec: { Name: key, Data: value },
  };
}

class Sim implements FleetHost {
  readonly seed: number;
  readonly regime: Regime;
  readonly #rand: Prng;
  readonly sched = new Scheduler();
  readonly net: SimNetwork;
  readonly managers = new Map<NodeId, Manager>();
  readonly failures: string[] = [];
  readonly history: HistoryOp[] = [];
  readonly #hash = createHash('sha256');
  readonly #trace: string[] = [];
  readonly #verbose: boolean;
  /** Every entry any member applied: index → term and payload. */
  readonly #committed = new Map<number, { term: number; data: string }>();
  readonly #leaders = new Map<number, NodeId>();
  /** The handoff round waiting for a new leader, if any; `busy` holds off the random faults. */
  #handoff: { from: NodeId; onLeader: (m: Manager) => void } | undefined;
  #handoffBusy = false;
  #opId = 0;
  crashes = 0;
  readonly fleet: SimFleet | undefined;

  constructor(opts: SimOptions) {
    this.seed = opts.seed;
    this.#rand = new Prng(opts.seed);
    this.regime = chooseRegime(this.#rand.fork());
    if (opts.handoff) this.regime.handoff = true;
    if (opts.agents !== undefined) this.regime.agents = opts.agents;
    if (opts.timing !== undefined) this.regime.timing = opts.timing;
    this.#verbose = opts.verbose ?? false;
    this.net = new SimNetwork({ sched: this.sched, rand: this.#rand.fork(), trace: (l) => this.trace(l) });
    this.net.faults = { ...NETWORKS[this.regime.network]! };
    for (let id = 1; id <= this.regime.managers; id++) {
      this.managers.set(id, { id, disk: new SimDiskState(), inc: undefined, lastApplied: 0 });
    }
    if (this.regime.agents > 0) this.fleet = new SimFleet(this, this.regime.agents, this.seed);
  }

  managerIds(): NodeId[] {
    return [...this.managers.keys()];
  }

  incarnation(id: NodeId): ManagerIncarnation | undefined {
    const inc = this.managers.get(id)?.inc;
    return inc?.manager && inc.replica
      ? {
          owner: inc.owner,
          node: inc.node,
          store: inc.store,
          manager: inc.manager,
          leadIfReady: () => inc.replica?.leadIfReady(),
        }
      : undefined;
  }

  trace(line: string): void {
    const l = `${this.sched.now.toFixed(3)} ${line}`;
    this.#hash.update(l + '\n');
    this.#trace.push(l);
    const limit = this.#verbose ? MAX_TRACE_LINES : TRACE_TAIL * 2;
    if (this.#trace.length > limit)
      this.#trace.splice(0, this.#trace.length - (this.#verbose ? limit : TRACE_TAIL));
  }

  fail(msg: string): void {
    this.trace(`FAILURE ${msg}`);
    if (this.failures.length < 50) this.failures.push(msg);
  }

  digest(): string {
    return this.#hash.copy().digest('hex');
  }

  traceLines(): string[] {
    return this.#verbose ? [...this.#trace] : this.#trace.slice(-TRACE_TAIL);
  }

  // ---- members ----

  live(): Manager[] {
    return [...this.managers.values()].filter((m) => m.inc !== undefined);
  }

  start(m: Manager): void {
    const owner: Owner = { alive: true };
    const drift = 1 + (this.#rand.next() * 2 - 1) * this.regime.drift;
    const nodeRand = this.#rand.fork();
    const clock = this.sched.clock(owner, drift);
    const disk = new SimDisk({
      state: m.disk,
      sched: this.sched,
      owner,
      rand: this.#rand.fork(),
      faults: this.regime.disk,
    });
    const replica = new ManagerReplica({
      id: m.id,
      clock,
      transport: () => this.net.transport(m.id, owner),
      raft: {
        disk,
        rand: () => nodeRand.next(),
        peers: [...this.managers.keys()],
        ...TIMING[this.regime.timing],
        snapshotInterval: this.regime.snapshotInterval,
        snapshotKeep: 4,
        raft: { maxSizePerMsg: 64 * 1024, snapshotChunkBytes: 4096, maxInflightMsgs: 64 },
        onLeaderChange: (isLeader, leader, term) => {
          this.trace(`leader ${m.id}: ready=${isLeader} lead=${leader} term=${term}`);
          const h = this.#handoff;
          // On the raft-level election, ready or not: the driver, not the client, must hold writes back.
          if (h !== undefined && leader === m.id && m.id !== h.from) {
            this.#handoff = undefined;
            this.sched.at(0, () => h.onLeader(m));
          }
          const inc = this.incarnation(m.id);
          if (inc && inc.owner === owner) this.fleet?.onLeaderChange(m.id, inc);
        },
        onFatal: (e) => this.fail(`manager ${m.id} stopped on a fatal error: ${String(e)}`),
      },
      // The Manager's loops run only in runs with a fleet (fleet.ts starts and stops them).
      manager: {
        events: new EventLog(clock),
        log: (msg) => this.trace(`manager ${m.id}: ${msg}`),
        membership: false,
      },
      leaderLoops: this.fleet !== undefined,
      onApply: (e) => this.#onApply(m, e),
      onSnapshotInstalled: (index) => {
        this.trace(`restore ${m.id} @${index}`);
        m.lastApplied = index;
      },
    });
    const node = replica.raft;
    m.inc = {
      owner,
      node,
      store: replica.store,
      inFlight: new Set(),
      manager: this.fleet ? replica.manager : undefined,
      replica,
    };
    this.trace(`start ${m.id}`);
    const inc = this.incarnation(m.id);
    if (inc) this.fleet?.attach(m.id, inc);
    node.start().catch((e: unknown) => this.fail(`manager ${m.id} failed to start: ${String(e)}`));
  }

  crash(m: Manager): void {
    const inc = m.inc;
    if (inc === undefined) return;
    inc.owner.alive = false;
    m.inc = undefined;
    this.crashes++;
    const kept = m.disk.crash(this.#rand);
    this.trace(`crash ${m.id} (kept ${kept} unsynced records)`);
    // The clients' connections break: their writes' outcome is unknown, their reads failed.
    for (const h of inc.inFlight) this.#finish(h, { unknown: true });
    inc.inFlight.clear();
    this.fleet?.onManagerCrash(m.id);
  }

  #onApply(m: Manager, e: Entry): void {
    if (e.index <= m.lastApplied) this.fail(`manager ${m.id} applied ${e.index} after ${m.lastApplied}`);
    m.lastApplied = e.index;
    const data = new TextDecoder().decode(e.data);
    const prev = this.#committed.get(e.index);
    if (prev === undefined) this.#committed.set(e.index, { term: e.term, data });
    else if (prev.term !== e.term || prev.data !== data) {
      this.fail(
        `committed entry ${e.index} changed: term ${prev.term} on an earlier apply, term ${e.term} on manager ${m.id}`,
      );
    }
  }

  // ---- checkers ----

  /** At most one leader per term, over the whole run. */
  checkLeaders(): void {
    for (const m of this.live()) {
      const st = m.inc!.node.status();
      if (st === undefined || st.state !== 'StateLeader') continue;
      const prev = this.#leaders.get(st.term);
      if (prev === undefined) this.#leaders.set(st.term, m.id);
      else if (prev !== m.id) this.fail(`two leaders in term ${st.term}: ${prev} and ${m.id}`);
    }
  }

  get leaderTerms(): number {
    return this.#leaders.size;
  }

  /** Log matching: entries with the same index and term are identical, and so are their prefixes. */
  checkLogs(): void {
    const logs = this.live().map((m) => ({
      id: m.id,
      log: new Map(m.inc!.node.logEntries().map((e) => [e.index, e])),
    }));
    for (let i = 0; i < logs.length; i++) {
      for (let j = i + 1; j < logs.length; j++) {
        const a = logs[i]!;
        const b = logs[j]!;
        let top = 0;
        for (const [idx, ea] of a.log) {
          const eb = b.log.get(idx);
          if (eb !== undefined && eb.term === ea.term && idx > top) top = idx;
        }
        for (const [idx, ea] of a.log) {
          if (idx > top) continue;
          const eb = b.log.get(idx);
          if (eb === undefined) continue;
          if (eb.term !== ea.term || eb.type !== ea.type || !bytesEqual(ea.data, eb.data)) {
            this.fail(`log mismatch between ${a.id} and ${b.id} at ${idx} below their common entry ${top}`);
            return;
          }
        }
      }
    }
  }

  /** Stores that applied the same index hold the same objects. */
  checkStores(): void {
    const byIndex = new Map<number, { id: NodeId; state: string }>();
    for (const m of this.live()) {
      const s = m.inc!.store.snapshot();
      const canon = JSON.stringify(
        Object.entries(s.tables).map(([t, rows]) => [
          t,
          [...rows].sort((x, y) => (x.ID < y.ID ? -1 : x.ID > y.ID ? 1 : 0)),
        ]),
      );
      const prev = byIndex.get(s.index);
      if (prev === undefined) byIndex.set(s.index, { id: m.id, state: canon });
      else if (prev.state !== canon) this.fail(`stores of ${prev.id} and ${m.id} differ at index ${s.index}`);
    }
  }

  // ---- clients ----

  #finish(h: HistoryOp, r: { output?: string | null | boolean; unknown?: boolean; failed?: boolean }): void {
    if (h.ret !== -1) return; // already answered (a crash got there first)
    if (r.failed || (r.unknown && h.op.kind === 'read')) {
      h.ret = -2;
      this.trace(`c${h.client} ${h.op.kind} ${h.key} failed`);
      return;
    }
    if (r.unknown) {
      h.unknown = true;
      h.ret = Infinity;
    } else {
      h.ret = this.sched.now;
      if (r.output !== undefined) h.output = r.output;
    }
    this.trace(`c${h.client} done ${describeOp(h)}`);
  }

  /** Issues one operation; calls next() once it is answered. */
  issue(
    client: number,
    target: Manager,
    op: RegisterOp,
    key: string,
    direct: boolean,
    next: (hint: NodeId | undefined, failed: boolean, h: HistoryOp) => void,
  ): void {
    const inc = target.inc!;
    const h: HistoryOp = { id: this.#opId++, client, key, op, call: this.sched.now, ret: -1, unknown: false };
    this.history.push(h);
    inc.inFlight.add(h);
    this.trace(
      `c${client} call ${op.kind} ${key} ${op.kind === 'read' ? '' : JSON.stringify(op)} on ${target.id}`,
    );
    const node = inc.node;
    const store = inc.store;
    const run = async (): Promise<string | null | boolean | undefined> => {
      switch (op.kind) {
        case 'write':
          await store.update((tx) => {
            const cur = tx.get('configs', key);
            if (cur) tx.update('configs', { ...cur, Spec: { ...cur.Spec, Data: op.value } });
            else tx.create('configs', configObject(key, op.value));
          });
          return undefined;
        case 'read':
          await node.readIndex();
          return store.view((tx) => tx.get('configs', key)?.Spec.Data ?? null);
        case 'cas':
          // A direct cas validates on the local store inside the write, as controlapi does; its
          // "no" is a local read no quorum confirmed, so only its "yes" goes in the history.
          if (!direct) await node.readIndex();
          return store.update((tx) => {
            const cur = tx.get('configs', key);
            if ((cur?.Spec.Data ?? null) !== op.expect) return false;
            if (cur) tx.update('configs', { ...cur, Spec: { ...cur.Spec, Data: op.value } });
            else tx.create('configs', configObject(key, op.value));
            return true;
          });
      }
    };
    const unconfirmed = direct ? (output: unknown): boolean => output === false : (): boolean => false;
    run().then(
      (output) => {
        if (!inc.owner.alive) return;
        inc.inFlight.delete(h);
        if (unconfirmed(output)) this.#finish(h, { failed: true });
        else this.#finish(h, output === undefined ? {} : { output });
        next(undefined, false, h);
      },
      (e: unknown) => {
        if (!inc.owner.alive) return;
        inc.inFlight.delete(h);
        if (isShoalError(e, 'raft')) {
          // A write may have committed; a failed readIndex is a read (or a cas before its write) that did nothing.
          this.#finish(h, e.maybeCommitted ? { unknown: true } : { failed: true });
          next(e.leader || undefined, true, h);
        } else {
          this.fail(`unexpected error from ${op.kind} on ${target.id}: ${String(e)}`);
          this.#finish(h, { failed: true });
          next(undefined, true, h);
        }
      },
    );
  }

  startClient(client: number, until: number): void {
    const rand = this.#rand.fork();
    let target: NodeId | undefined;
    let seq = 0;
    const step = (): void => {
      if (this.sched.now >= until) return;
      const live = this.live();
      if (live.length === 0) {
        this.sched.at(50, step);
        return;
      }
      const key = rand.pick(KEYS);
      const roll = rand.next();
      const value = `c${client}.${seq++}`;
      const op: RegisterOp =
        roll < 0.4
          ? { kind: 'write', value }
          : roll < 0.8
            ? { kind: 'read' }
            : { kind: 'cas', expect: rand.chance(0.2) ? null : this.#recentValue(key, rand), value };
      const chosen =
        op.kind === 'read' ? rand.pick(live) : (live.find((m) => m.id === target) ?? rand.pick(live));
      this.issue(client, chosen, op, key, op.kind === 'cas' && rand.chance(0.5), (hint, failed) => {
        target = hint ?? (op.kind === 'read' ? target : undefined);
        // Back off after a failure, as a real client would, so leaderless spells are not all noise.
        this.sched.at(failed ? rand.range(50, 300) : rand.range(1, 40), step);
      });
    };
    this.sched.at(rand.range(0, 50), step);
  }

  #recentValue(key: string, rand: Prng): string | null {
    const writes = this.history.filter((h) => h.key === key && h.op.kind !== 'read').slice(-5);
    if (writes.length === 0) return null;
    const op = rand.pick(writes).op;
    return op.kind === 'read' ? null : op.value;
  }

  /** The client side of Regime.handoff: rounds of read, write, cut the leader, stale CAS on the next. */
  startHandoff(until: number): void {
    // Its own stream, so the other components draw exactly what they did without it.
    const rand = new Prng(this.seed ^ 0x4a4d0ff);
    const client = 100;
    let round = 0;
    const begin = (): void => {
      if (this.sched.now >= until) return;
      const lead = this.live().find((m) => m.inc!.node.isLeader);
      if (lead === undefined) return void this.sched.at(100, begin);
      const r = ++round;
      let over = false;
      const end = (why: string): void => {
        if (over) return;
        over = true;
        this.trace(`handoff ${r} over: ${why}`);
        this.#handoff = undefined;
        this.sched.at(rand.range(100, 500), () => {
          this.net.heal();
          this.#handoffBusy = false;
          this.sched.at(rand.range(200, 800), begin);
        });
      };
      // A crash swallows a client's answer: the watchdog ends the round anyway.
      this.sched.at(8000, () => end('timed out'));
      const write = (key: string, before: string | null): void => {
        if (lead.inc === undefined) return end('leader crashed');
        this.issue(client, lead, { kind: 'write', value: `w${r}` }, key, false, (_hint, failed) => {
          if (failed || over) return end('write failed');
          // Acknowledged: cut the leader off now, so the commit index it just sent never arrives.
          this.#handoffBusy = true;
          this.net.heal();
          this.net.partition([[lead.id], [...this.managers.keys()].filter((id) => id !== lead.id)]);
          this.trace(`handoff ${r}: ${key} acknowledged on ${lead.id}; cut it off`);
          this.#handoff = { from: lead.id, onLeader: (m) => stale(m, key, before, this.sched.now + 300) };
        });
      };
      // Sends the new leader a CAS only state from before the acknowledged write satisfies,
      // retrying quickly while it refuses (not ready yet).
      const stale = (m: Manager, key: string, expect: string | null, deadline: number): void => {
        if (over) return;
        if (m.inc === undefined || this.sched.now > deadline) return end('new leader gone or never ready');
        this.issue(client, m, { kind: 'cas', expect, value: `s${r}` }, key, true, (_hint, failed, h) => {
          if (!failed) return end(`stale cas on ${m.id} → ${String(h.output ?? false)}`);
          this.sched.at(rand.range(1, 3), () => stale(m, key, expect, deadline));
        });
      };
      // Either a register CAS on one key, or "create if absent" on a name no one has used yet.
      if (rand.chance(0.5)) {
        this.issue(client, lead, { kind: 'read' }, 'h', false, (_hint, failed, h) => {
          if (failed || over || h.output === undefined || typeof h.output === 'boolean')
            return end('read failed');
          write('h', h.output);
        });
      } else {
        write(`n${r}`, null);
      }
    };
    this.sched.at(rand.range(300, 1000), begin);
  }

  // ---- faults ----

  scheduleFaults(until: number): void {
    const rand = this.#rand.fork();
    const ids = [...this.managers.keys()];
    const act = (): void => {
      if (this.sched.now >= until) return;
      const r = this.regime;
      const roll = rand.next();
      if (this.#handoffBusy) {
        this.trace('fault: none during the handoff round');
      } else if (roll < 0.3) {
        this.net.heal();
        this.trace('fault: heal network');
      } else if (roll < 0.65 && r.partitions !== 'none') {
        this.net.heal();
        if (r.partitions === 'symmetric') {
          const shuffled = [...ids];
          for (let i = shuffled.length - 1; i > 0; i--) {
            const j = rand.int(i + 1);
            [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
          }
          const cut = rand.range(1, ids.length - 1);
          this.net.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
        } else if (r.partitions === 'asymmetric') {
          for (let i = 0; i < rand.range(1, ids.length); i++) {
            const a = rand.pick(ids);
            const b = rand.pick(ids.filter((x) => x !== a));
            this.net.cut(a, b);
          }
        } else {
          const lead = this.live().find((m) => m.inc!.node.isLeader);
          if (lead) this.net.partition([[lead.id], ids.filter((x) => x !== lead.id)]);
        }
        this.trace(`fault: cut ${this.net.cutLinks.join(' ')}`);
      } else if (r.crashes) {
        const down = [...this.managers.values()].filter((m) => m.inc === undefined);
        const majority = Math.floor(this.managers.size / 2) + 1;
        // Mostly keep a quorum up: a cluster that is down all the time checks little.
        const keepQuorum = this.live().length <= majority && rand.chance(0.8);
        if (down.length > 0 && (keepQuorum || rand.chance(0.6))) {
          this.start(rand.pick(down));
        } else {
          const live = this.live();
          if (live.length > 0) this.crash(rand.pick(live));
        }
      }
      this.sched.at(rand.range(200, 2000), act);
    };
    this.sched.at(rand.range(200, 1500), act);
  }

  healAll(): void {
    this.trace('heal everything');
    this.net.heal();
    this.net.faults = { ...NETWORKS[this.regime.network]!, dropRate: 0, dupRate: 0, stallRate: 0 };
    for (const m of this.managers.values()) if (m.inc === undefined) this.start(m);
    this.fleet?.healAll();
  }

  /** Liveness: a leader that takes a write, every member applied it, every client answered. */
  converged(probe: { index: number }): boolean {
    const live = this.live();
    if (probe.index === 0) return false;
    if (!live.every((m) => m.inc!.node.appliedIndex >= probe.index)) return false;
    if (this.fleet?.unsettled() !== undefined) return false;
    return this.history.every((h) => h.ret !== -1);
  }

  startProbe(probe: { index: number }): void {
    const attempt = (): void => {
      if (probe.index > 0) return;
      const lead = this.live().find((m) => m.inc!.node.isLeader);
      if (lead === undefined) {
        this.sched.at(100, attempt);
        return;
      }
      const inc = lead.inc!;
      inc.store
        .update((tx) => {
          const cur = tx.get('configs', 'probe');
          if (cur) tx.update('configs', { ...cur, Spec: { ...cur.Spec, Data: String(this.sched.now) } });
          else tx.create('configs', configObject('probe', '0'));
        })
        .then(
          () => {
            if (!inc.owner.alive) return;
            probe.index = inc.store.index;
            this.trace(`probe write committed at ${probe.index}`);
          },
          () => {
            if (inc.owner.alive) this.sched.at(100, attempt);
          },
        );
    };
    attempt();
  }
}

export async function runSim(opts: SimOptions): Promise<SimResult> {
  const sim = new Sim(opts);
  const faultMs = opts.faultMs ?? 8000;
  // Orchestration settles later than Raft: a node is down after 3 heartbeat periods, then its
  // tasks are replaced and rolling updates finish.
  const bound = opts.livenessBoundMs ?? (sim.fleet ? 30_000 : 15_000);
  sim.trace(`seed ${sim.seed} regime ${JSON.stringify(sim.regime)}`);
  const ids = sim.fleet ? setIdSource(sim.fleet.newBytes) : undefined;
  try {
    for (const m of sim.managers.values()) sim.start(m);
    if (sim.fleet) {
      sim.fleet.start(faultMs);
      sim.fleet.scheduleFaults(faultMs);
    }
    for (let c = 0; c < (opts.clients ?? 3); c++) sim.startClient(c, faultMs);
    if (sim.regime.handoff) sim.startHandoff(faultMs);
    sim.scheduleFaults(faultMs);
    const periodic = (): void => {
      sim.checkLogs();
      sim.checkStores();
      sim.fleet?.checkPlacement();
      sim.fleet?.checkAddresses();
      sim.sched.at(250, periodic);
    };
    sim.sched.at(250, periodic);
    const safety = (): boolean => {
      sim.checkLeaders();
      return sim.failures.length > 0;
    };
    await sim.sched.runUntil(faultMs, { stop: safety });
    if (sim.failures.length === 0) {
      sim.healAll();
      const probe = { index: 0 };
      sim.sched.at(0, () => sim.startProbe(probe));
      await sim.sched.runUntil(faultMs + bound, { stop: () => safety() || sim.converged(probe) });
      if (sim.failures.length === 0 && !sim.converged(probe)) {
        const hung = sim.history.filter((h) => h.ret === -1).length;
        const applied = sim
          .live()
          .map((m) => `${m.id}@${m.inc!.node.appliedIndex}${m.inc!.node.isLeader ? '*' : ''}`);
        const fleet = sim.fleet?.unsettled();
        sim.fail(
          `no convergence ${bound} ms after healing: probe=${probe.index} applied=[${applied.join(' ')}] unanswered client ops=${hung}${fleet ? `; fleet: ${fleet}` : ''}`,
        );
      }
      // Let followers apply the last commit before comparing.
      await sim.sched.runUntil(sim.sched.now + 500, { stop: safety });
      sim.checkLogs();
      sim.checkStores();
    }
    if (sim.failures.length === 0) {
      const done = sim.history.filter((h) => h.ret >= 0);
      const lin = checkLinearizable(done);
      if (lin.ok === false) {
        sim.fail(`history of key ${lin.key} is not linearizable:\n  ${lin.ops.map(describeOp).join('\n  ')}`);
      } else if (lin.ok === 'unknown') {
        sim.trace(`linearizability not decided for ${lin.key}: ${lin.reason}`);
      }
    }
  } catch (e) {
    sim.fail(`exception: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  } finally {
    if (ids) setIdSource(ids);
  }
  for (const m of sim.managers.values()) if (m.inc) m.inc.owner.alive = false;
  const done = sim.history.filter((h) => h.ret >= 0);
  return {
    seed: sim.seed,
    ok: sim.failures.length === 0,
    failures: sim.failures,
    digest: sim.digest(),
    regime: sim.regime,
    stats: {
      events: sim.sched.eventsFired,
      simMs: Math.round(sim.sched.now),
      ops: sim.history.length,
      okOps: done.filter((h) => !h.unknown).length,
      unknownOps: done.filter((h) => h.unknown).length,
      crashes: sim.crashes,
      leaders: sim.leaderTerms,
      messages: sim.net.sent,
      dropped: sim.net.dropped,
      ...(sim.fleet ? { fleet: sim.fleet.stats } : {}),
    },
    trace: sim.traceLines(),
  };
}
