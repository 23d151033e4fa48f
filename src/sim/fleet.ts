// Worker nodes and an operator inside the simulated cluster. Each worker runs the real Agent (its
// TaskRunners, recovery, report batching) on a SimExecutor whose containers outlive the agent, and
// talks to the leader's real Dispatcher over the real session protocol, carried by a simulated
// session link (link.ts) in place of the cluster port. The operator creates, scales and updates services
// through the leader's ControlAPI. Faults: agents crash and restart, are cut off from the
// managers, and lose containers. The checkers: task states never go backwards in any manager's
// store, a task's container runs on no node but its own, and once the faults heal every service
// converges, with exactly the containers the store asks for running, and every agent holds the
// network views the leader's store gives its node (no two live endpoints ever share an address).
import {
  isTerminal,
  newId,
  stateOrder,
  type Assignment,
  type Task,
  type Node,
  type Network,
  type Cluster,
} from '../api/index.js';
import { Agent, SimExecutor, type Controller, type Executor } from '../agent/index.js';
import { isDeepStrictEqual } from 'node:util';
import { DEFAULT_SWARM_SPEC, NetworkViews, SessionTable } from '../manager/index.js';
import type { Clock } from '../platform/index.js';
import type { NodeId } from '../raft/index.js';
import type { StoreEvent } from '../state/index.js';
import { Prng } from './prng.js';
import { hostileRequest, hostileStatus } from './hostile.js';
import { SIM_EPOCH, type Owner } from './scheduler.js';
import { SessionLink, type FleetHost, type ManagerIncarnation, type ManagerLoops } from './link.js';

export type { FleetHost, ManagerIncarnation } from './link.js';

/** Agents' addresses on the simulated network, apart from the managers' Raft IDs. */
const AGENT_NET_BASE = 100;
/** The operator's services. Restart delays are short so convergence is quick. */
const RESTART = { Condition: 'any', Delay: 100e6, MaxAttempts: 0 };
const ISO_EPOCH = new Date(SIM_EPOCH).toISOString();

/** Controllers whose steps take simulated time and stop dead with the agent that drives them. */
function gatedExecutor(ex: SimExecutor, clock: Clock, owner: Owner, delay: () => number): Executor {
  const hang = <T>(): Promise<T> => new Promise<T>(() => undefined);
  const step = async <T>(f: () => Promise<T>): Promise<T> => {
    await clock.sleep(delay());
    if (!owner.alive) return hang();
    const v = await f();
    return owner.alive ? v : hang();
  };
  return {
    describe: () => ex.describe(),
    managedTaskIds: () => step(() => ex.managedTaskIds()),
    removeContainer: (id) => step(() => ex.removeContainer(id)),
    start: () => ex.start(),
    stop: () => ex.stop(),
    controller(a: Assignment): Controller {
      const c = ex.controller(a);
      return {
        prepare: () => step(() => c.prepare()),
        start: () => step(() => c.start()),
        healthy: (signal) => c.healthy(signal),
        wait: (signal) => c.wait(signal).then((v) => (owner.alive ? v : hang())),
        shutdown: () => step(() => c.shutdown()),
        terminate: () => step(() => c.terminate()),
        remove: () => step(() => c.remove()),
        recover: () => step(() => c.recover()),
      };
    },
  };
}

class SimWorker {
  readonly name: string;
  readonly netId: NodeId;
  readonly executor: SimExecutor;
  inc: { owner: Owner; agent: Agent; link: SessionLink } | undefined;
  constructor(
    readonly index: number,
    readonly nodeId: string,
  ) {
    this.name = `w${index}`;
    this.netId = AGENT_NET_BASE + index;
    this.executor = new SimExecutor(
      {
        Hostname: this.name,
        Platform: { OS: 'linux', Architecture: 'x86_64' },
        Resources: { NanoCPUs: 4e9, MemoryBytes: 8e9 },
        Engine: { EngineVersion: 'sim' },
      },
      // Job tasks run to completion; everything else runs until stopped or killed.
      (a) => (a.serviceName.startsWith('job') ? { exitCode: 0 } : {}),
    );
  }
}

export class SimFleet {
  readonly workers: SimWorker[] = [];
  readonly #rand: Prng;
  /** Its own stream, so hostile requests (all refused, proposing nothing) leave a run's course as it was. */
  readonly #hostileRand: Prng;
  #hostileSent = 0;
  #bootstrapped = false;
  #ops = 0;
  #opsOk = 0;
  agentCrashes = 0;
  containerKills = 0;

  constructor(
    readonly host: FleetHost,
    count: number,
    seed: number,
  ) {
    // Its own streams: the Raft-level parts of a run draw what they would without the fleet.
    this.#rand = new Prng(seed ^ 0x5f1ee7);
    this.#hostileRand = new Prng(seed ^ 0x0bad1e);
    for (let i = 1; i <= count; i++) this.workers.push(new SimWorker(i, this.newId()));
  }

  /** Object IDs from the seed, so a run replays exactly. */
  newBytes = (n: number): Uint8Array => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.#rand.int(256);
    return out;
  };
  newId(): string {
    return newId(this.newBytes);
  }

  get stats(): { ops: number; opsOk: number; agentCrashes: number; containerKills: number } {
    return {
      ops: this.#ops,
      opsOk: this.#opsOk,
      agentCrashes: this.agentCrashes,
      containerKills: this.containerKills,
    };
  }

  // ---- managers ----

  /** Each manager incarnation's current sessions (by its owner: `incarnation()` hands out fresh views), as each manager process keeps its own. */
  readonly #sessionTables = new WeakMap<Owner, SessionTable>();
  #sessionTable(inc: ManagerIncarnation): SessionTable {
    let t = this.#sessionTables.get(inc.owner);
    if (!t) this.#sessionTables.set(inc.owner, (t = new SessionTable()));
    return t;
  }

  /** Wires one manager incarnation: its leader loops follow its Raft leadership. */
  attach(id: NodeId, inc: ManagerIncarnation): void {
    inc.manager.start();
    // Task states only move forward, in every manager's store (the dispatcher's rule).
    inc.store.subscribe((e: StoreEvent) => {
      if (e.kind !== 'change' || e.change.table !== 'tasks') return;
      const t = e.change.object as Task;
      const prev = e.previous as Task | undefined;
      // The leader's view of every task change, for reading a failing run.
      if (inc.node.isLeader)
        this.host.trace(
          `task ${t.ID.slice(0, 6)} ${e.change.action} slot=${t.Slot ?? '-'} ${t.Status.State}/${t.DesiredState} node=${this.#name(t.NodeID)}`,
        );
      if (e.change.action !== 'update') return;
      if (prev && stateOrder(t.Status.State) < stateOrder(prev.Status.State))
        this.host.fail(
          `manager ${id}: task ${t.ID} went back from ${prev.Status.State} to ${t.Status.State}`,
        );
    });
  }

  /** The replica has started or stopped its leader loops (ManagerReplica follows leadership). */
  onLeaderChange(id: NodeId, inc: ManagerIncarnation): void {
    this.host.trace(`manager ${id} loops ${inc.manager.leader ? 'running' : 'stopped'}`);
  }

  onManagerCrash(id: NodeId): void {
    for (const w of this.workers) w.inc?.link.managerCrashed(id);
  }

  /** The ready leader's incarnation and loops, if any. */
  /**
   * The manager running the leader's loops in the highest term. A deposed leader cut off from the
   * others runs its loops (on a store that no longer moves) until CheckQuorum steps it down, so
   * the first one found may be stale (seed 9025).
   */
  #leader(): { inc: ManagerIncarnation; loops: ManagerLoops } | undefined {
    let best: { inc: ManagerIncarnation; loops: ManagerLoops } | undefined;
    for (const id of this.host.managerIds()) {
      const inc = this.host.incarnation(id);
      const loops = inc?.manager.leader;
      if (inc && loops && (best === undefined || inc.node.term > best.inc.node.term)) best = { inc, loops };
    }
    return best;
  }

  // ---- setup: what swarm init and the workers' joins would write ----

  start(until: number): void {
    const tryBootstrap = (): void => {
      const lead = this.host
        .managerIds()
        .map((id) => this.host.incarnation(id))
        .find((inc) => inc?.node.isLeader);
      if (lead === undefined) return void this.host.sched.at(100, tryBootstrap);
      this.host.trace(`fleet: bootstrap through manager ${lead.node.id}`);
      // A manager that crashes takes the answer with it: try again if none came.
      let answered = false;
      this.host.sched.at(3000, () => {
        if (!answered) tryBootstrap();
      });
      lead.store
        .update((tx) => {
          if (tx.cluster()) return;
          const cluster: Cluster = {
            ID: this.newId(),
            Version: { Index: 0 },
            CreatedAt: ISO_EPOCH,
            UpdatedAt: ISO_EPOCH,
            Spec: structuredClone(DEFAULT_SWARM_SPEC),
            TLSInfo: {},
            RootRotationInProgress: false,
            DefaultAddrPool: ['10.0.0.0/8'],
            SubnetSize: 24,
            DataPathPort: 4789,
            JoinTokens: { Worker: 'sim', Manager: 'sim' },
          };
          tx.create('clusters', cluster);
          // As swarm init: the ingress network, whose view every node holds (the routing mesh).
          const ingress: Network = {
            ID: this.newId(),
            Version: { Index: 0 },
            CreatedAt: ISO_EPOCH,
            UpdatedAt: ISO_EPOCH,
            Spec: { Name: 'ingress', Ingress: true },
            DriverState: {
              Name: 'overlay',
              Options: { 'com.docker.network.driver.overlay.vxlanid_list': '4096' },
            },
            IPAMOptions: {
              Driver: { Name: 'default' },
              Configs: [{ Subnet: '10.0.0.0/24', Gateway: '10.0.0.1' }],
            },
          };
          tx.create('networks', ingress);
          for (const w of this.workers) {
            const node: Node = {
              ID: w.nodeId,
              Version: { Index: 0 },
              CreatedAt: ISO_EPOCH,
              UpdatedAt: ISO_EPOCH,
              Spec: { Labels: {}, Role: 'worker', Availability: 'active' },
              Description: {
                Hostname: w.name,
                Platform: { Architecture: '', OS: '' },
                Resources: { NanoCPUs: 0, MemoryBytes: 0 },
                Engine: { EngineVersion: '' },
              },
              Status: { State: 'unknown', Addr: `10.9.0.${w.index}` },
            };
            tx.create('nodes', node);
          }
        })
        .then(
          () => {
            answered = true;
            if (this.#bootstrapped) return;
            this.#bootstrapped = true;
            this.host.trace('fleet: cluster and worker nodes created');
            for (const w of this.workers) this.startAgent(w);
            this.#operate(until);
            this.#sendHostile(until);
          },
          (e: unknown) => {
            answered = true;
            if (this.#bootstrapped) return;
            this.host.trace(`fleet: bootstrap failed: ${(e as Error).message}`);
            this.host.sched.at(100, tryBootstrap);
          },
        );
    };
    this.host.sched.at(0, tryBootstrap);
    // A manager that became leader before the cluster object existed starts its loops now.
    const watchLeaders = (): void => {
      for (const id of this.host.managerIds()) {
        const inc = this.host.incarnation(id);
        inc?.leadIfReady();
      }
      this.host.sched.at(200, watchLeaders);
    };
    this.host.sched.at(200, watchLeaders);
  }

  // ---- agents ----

  startAgent(w: SimWorker): void {
    if (w.inc) return;
    const owner: Owner = { alive: true };
    const clock = this.host.sched.clock(owner);
    const rand = this.#rand.fork();
    const link = new SessionLink(this.host, (inc) => this.#sessionTable(inc), w, owner, rand.fork());
    const agentRand = rand.fork();
    const execRand = rand.fork();
    const agent = new Agent({
      nodeId: w.nodeId,
      addr: `10.9.0.${w.index}`,
      dispatcher: link,
      executor: gatedExecutor(w.executor, clock, owner, () => execRand.range(2, 40)),
      clock,
      random: () => agentRand.next(),
      log: (msg) => this.host.trace(`agent ${w.name}: ${msg}`),
    });
    w.inc = { owner, agent, link };
    this.host.trace(`agent ${w.name} start (${w.executor.running().length} containers running)`);
    agent.start().catch((e: unknown) => this.host.fail(`agent ${w.name} failed to start: ${String(e)}`));
  }

  crashAgent(w: SimWorker): void {
    const inc = w.inc;
    if (!inc) return;
    inc.owner.alive = false;
    w.inc = undefined;
    this.agentCrashes++;
    inc.link.agentCrashed();
    this.host.trace(`agent ${w.name} crash (containers keep running)`);
  }

  /** Faults for workers, on their own stream of choices. */
  scheduleFaults(until: number): void {
    const rand = this.#rand.fork();
    const act = (): void => {
      if (this.host.sched.now >= until) return;
      if (this.#bootstrapped) {
        const w = rand.pick(this.workers);
        const roll = rand.next();
        if (roll < 0.3) {
          if (w.inc) this.crashAgent(w);
          else this.startAgent(w);
        } else if (roll < 0.5) {
          for (const m of this.host.managerIds()) {
            this.host.net.cut(w.netId, m);
            this.host.net.cut(m, w.netId);
          }
          this.host.trace(`fault: cut agent ${w.name} off from the managers`);
        } else if (roll < 0.8) {
          const running = w.executor.running();
          if (running.length > 0) {
            const c = rand.pick(running);
            this.containerKills++;
            this.host.trace(`fault: kill container of task ${c.taskId} on ${w.name}`);
            w.executor.kill(c.taskId, 137);
          }
        } else if (!w.inc) {
          this.startAgent(w);
        }
      }
      this.host.sched.at(rand.range(300, 2500), act);
    };
    this.host.sched.at(rand.range(500, 1500), act);
  }

  healAll(): void {
    for (const w of this.workers) if (!w.inc) this.startAgent(w);
  }

  // ---- hostile input ----

  /**
   * Sends the leader's ControlAPI and dispatcher bad requests, each of which must be refused
   * before it proposes anything: every manager must keep applying (a refusal that let a poison
   * entry through stops a manager, which fails the run through onFatal).
   */
  #sendHostile(until: number): void {
    const rand = this.#hostileRand;
    const act = (): void => {
      if (this.host.sched.now >= until) return;
      this.host.sched.at(rand.range(200, 1000), act);
      const lead = this.#leader();
      if (!lead) return;
      let req = hostileRequest((n) => rand.int(n));
      while (!req.mustReject) req = hostileRequest((n) => rand.int(n));
      const { control } = lead.inc.manager;
      const cluster = lead.inc.store.view((tx) => tx.cluster());
      const node = lead.inc.store.view((tx) => tx.all('nodes')[0]);
      const dispatcher = lead.inc.manager.leader?.dispatcher;
      const pick = rand.int(8);
      const what = pick === 0 ? 'a task status report' : req.what;
      const run = (): Promise<unknown> => {
        if (pick === 0 && dispatcher && node)
          return dispatcher.updateTaskStatus(node.ID, [
            { taskId: 'x'.repeat(rand.int(2) * 100 + 1), status: hostileStatus((n) => rand.int(n)) as never },
          ]);
        switch (req.kind) {
          case 'service':
            return control.createService(req.body);
          case 'network':
            return control.createNetwork(req.body);
          case 'node':
            return node ? control.updateNode(node.ID, node.Version.Index, req.body) : Promise.resolve();
          case 'swarm':
            return cluster
              ? control.updateSwarm(cluster.Version.Index, req.body, {
                  worker: false,
                  manager: false,
                  unlockKey: false,
                })
              : Promise.resolve();
        }
      };
      this.#hostileSent++;
      run().then(
        () => {
          if (node && cluster) this.host.fail(`hostile input was taken: ${what}`);
        },
        (e: unknown) => {
          const code = (e as { code?: string }).code;
          this.host.trace(`hostile: ${what} refused (${String(code)})`);
          if (code !== 'InvalidArgument' && code !== 'BadParameter')
            this.host.fail(`hostile input (${what}) was refused as ${String(code)}: ${(e as Error).message}`);
        },
      );
    };
    this.host.sched.at(rand.range(100, 500), act);
  }

  /** Hostile requests sent (each refused). */
  get hostileSent(): number {
    return this.#hostileSent;
  }

  // ---- the operator ----

  #operate(until: number): void {
    const rand = this.#rand.fork();
    const act = (): void => {
      if (this.host.sched.now >= until) return;
      this.host.sched.at(rand.range(300, 1500), act);
      const lead = this.#leader();
      if (!lead) return;
      const control = lead.inc.manager.control;
      const services = lead.inc.store.view((tx) => tx.all('services'));
      const web = services.find((s) => s.Spec.Name === 'web');
      const backend = lead.inc.store.view((tx) => tx.byName('networks', 'backend'));
      const roll = rand.next();
      let op: { name: string; run: () => Promise<unknown> };
      if (!backend) {
        op = {
          name: 'create network backend',
          run: () => control.createNetwork({ Name: 'backend', Driver: 'overlay', Attachable: true }),
        };
      } else if (!web) {
        op = {
          name: 'create web',
          run: () =>
            control.createService({
              Name: 'web',
              TaskTemplate: {
                ContainerSpec: { Image: 'busybox:local' },
                RestartPolicy: RESTART,
                Networks: [{ Target: 'backend', Aliases: ['api'] }],
              },
              Mode: { Replicated: { Replicas: 3 } },
              // Published through the mesh: every node's ingress view carries it.
              EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] },
              UpdateConfig: {
                Parallelism: 1,
                Delay: 0,
                FailureAction: 'continue',
                Monitor: 200e6,
                Order: rand.chance(0.5) ? 'start-first' : 'stop-first',
              },
            }),
        };
      } else if (!services.some((s) => s.Spec.Name === 'g') && roll < 0.5) {
        op = {
          name: 'create g',
          run: () =>
            control.createService({
              Name: 'g',
              TaskTemplate: {
                ContainerSpec: { Image: 'busybox:local' },
                RestartPolicy: RESTART,
                Networks: [{ Target: 'backend' }],
              },
              Mode: { Global: {} },
              EndpointSpec: { Mode: 'dnsrr' },
            }),
        };
      } else if (roll < 0.45) {
        const replicas = rand.int(6);
        const spec = structuredClone(web.Spec) as Record<string, unknown>;
        spec.Mode = { Replicated: { Replicas: replicas } };
        op = {
          name: `scale web to ${replicas}`,
          run: () => control.updateService(web.ID, web.Version.Index, spec, { rollback: false }),
        };
      } else if (roll < 0.7) {
        const v = rand.int(1000);
        const spec = structuredClone(web.Spec);
        const template = spec.TaskTemplate ?? {};
        template.ContainerSpec = { ...template.ContainerSpec!, Env: [`V=${v}`] };
        spec.TaskTemplate = template;
        op = {
          name: `update web env V=${v}`,
          run: () => control.updateService(web.ID, web.Version.Index, spec, { rollback: false }),
        };
      } else if (roll < 0.8 && web.PreviousSpec) {
        op = {
          name: 'rollback web',
          run: () => control.updateService(web.ID, web.Version.Index, undefined, { rollback: true }),
        };
      } else if (roll < 0.9) {
        const g = services.find((s) => s.Spec.Name === 'g');
        if (!g) return;
        op = { name: 'remove g', run: () => control.removeService(g.ID) };
      } else {
        // A job that runs twice to completion; a change to it runs it again.
        const job = services.find((s) => s.Spec.Name === 'job');
        op = job
          ? { name: 'remove job', run: () => control.removeService(job.ID) }
          : {
              name: 'create job',
              run: () =>
                control.createService({
                  Name: 'job',
                  TaskTemplate: {
                    ContainerSpec: { Image: 'busybox:local' },
                    RestartPolicy: { Condition: 'on-failure', Delay: 100e6 },
                  },
                  Mode: { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 2 } },
                }),
            };
      }
      this.#ops++;
      const owner = lead.inc.owner;
      this.host.trace(`operator: ${op.name}`);
      op.run().then(
        () => {
          if (!owner.alive) return;
          this.#opsOk++;
          this.host.trace(`operator: ${op.name} done`);
        },
        (e: unknown) => {
          if (owner.alive) this.host.trace(`operator: ${op.name} failed: ${(e as Error).message}`);
        },
      );
    };
    this.host.sched.at(rand.range(100, 500), act);
  }

  // ---- convergence ----

  /**
   * Why the fleet has not converged yet, or undefined once it has: every node ready, every task
   * the store wants running is running, services have their replica counts (one per node for
   * global ones), and each worker runs exactly the containers of the tasks it holds.
   */
  unsettled(): string | undefined {
    if (!this.#bootstrapped) return 'not bootstrapped';
    const lead = this.#leader();
    if (!lead) return 'no leader running its loops';
    const { store } = lead.inc;
    return store.view((tx) => {
      for (const w of this.workers) {
        const n = tx.get('nodes', w.nodeId);
        if (n?.Status.State !== 'ready') return `node ${w.name} is ${n?.Status.State ?? 'missing'}`;
        if (!w.inc?.agent.connected) return `agent ${w.name} has no session`;
      }
      const want = new Map<string, Set<string>>(this.workers.map((w) => [w.nodeId, new Set<string>()]));
      for (const s of tx.all('services')) {
        const tasks = tx.by('tasks', 'service', s.ID);
        const live = tasks.filter((t) => t.DesiredState === 'running');
        for (const t of tasks) {
          if (t.Status.State === 'running' && t.DesiredState !== 'running')
            return `task ${t.ID} of ${s.Spec.Name} is running but desired ${t.DesiredState}`;
        }
        for (const t of live) {
          if (t.Status.State !== 'running')
            return `task ${t.ID} of ${s.Spec.Name} is ${t.Status.State}${this.#where(t)}`;
          want.get(t.NodeID ?? '')?.add(t.ID);
        }
        const mode = s.Spec.Mode ?? {};
        if (mode.Replicated) {
          const slots = new Set(live.map((t) => t.Slot));
          const replicas = mode.Replicated.Replicas ?? 1;
          if (live.length !== replicas || slots.size !== replicas) {
            const shared = live.filter((t) => live.some((u) => u !== t && u.Slot === t.Slot));
            const detail = shared.map((t) => `${t.ID}@slot${t.Slot}${this.#where(t)}`).join(', ');
            return `${s.Spec.Name} (update ${s.UpdateStatus?.State ?? 'none'}): ${live.length} tasks in ${slots.size} slots running, want ${replicas}${detail ? `; sharing a slot: ${detail}` : ''}`;
          }
        } else if (mode.Global) {
          for (const w of this.workers) {
            const mine = live.filter((t) => t.NodeID === w.nodeId).length;
            if (mine !== 1) return `${s.Spec.Name}: ${mine} tasks on ${w.name}, want 1`;
          }
        } else if (mode.ReplicatedJob) {
          const iteration = s.JobStatus?.JobIteration.Index ?? 0;
          const done = tasks.filter(
            (t) => t.Status.State === 'complete' && (t.JobIteration?.Index ?? 0) === iteration,
          ).length;
          const total = mode.ReplicatedJob.TotalCompletions ?? 1;
          if (done < total) return `${s.Spec.Name}: ${done} of ${total} completions`;
        }
      }
      for (const w of this.workers) {
        const running = new Set(w.executor.running().map((c) => c.taskId));
        const wanted = want.get(w.nodeId)!;
        for (const id of running)
          if (!wanted.has(id))
            return `${w.name} runs a container of task ${id} the store does not want there`;
        for (const id of wanted) if (!running.has(id)) return `${w.name} does not run task ${id}`;
      }
      // Every agent holds the views of its networks the leader's store gives its node.
      const views = new NetworkViews(tx);
      for (const w of this.workers) {
        const want = views.forNode(w.nodeId);
        const have = w.inc?.agent.networks ?? [];
        if (!isDeepStrictEqual(have, want))
          return `${w.name} holds network views ${JSON.stringify(have).slice(0, 600)}, the store gives ${JSON.stringify(want).slice(0, 600)}`;
      }
      return undefined;
    });
  }

  #name(nodeId: string | undefined): string {
    return this.workers.find((w) => w.nodeId === nodeId)?.name ?? (nodeId ? nodeId.slice(0, 6) : '-');
  }

  /** Where a task's node and container stand, for failure messages. */
  #where(t: Task): string {
    const w = this.workers.find((x) => x.nodeId === t.NodeID);
    if (!w) return ' on no worker';
    const c = w.executor.containers.get(t.ID);
    return ` on ${w.name} (container ${c ? c.state : 'absent'}; agent ${w.inc ? 'up' : 'down'})`;
  }

  /**
   * Safety at any time: no two live holders of an address on a network (endpoints, VIPs, nodes'
   * own addresses, gateways) share it, in the leader's store.
   */
  checkAddresses(): void {
    const lead = this.#leader();
    if (!lead) return;
    lead.inc.store.view((tx) => {
      const holders = new Map<string, string>();
      const hold = (netId: string, addr: string, who: string): void => {
        const key = `${netId} ${addr.split('/')[0]!}`;
        const had = holders.get(key);
        if (had !== undefined) this.host.fail(`address ${key} held by both ${had} and ${who}`);
        holders.set(key, who);
      };
      for (const n of tx.all('networks'))
        for (const c of n.IPAMOptions.Configs) if (c.Gateway) hold(n.ID, c.Gateway, `gateway of ${n.ID}`);
      for (const s of tx.all('services'))
        for (const v of s.Endpoint.VirtualIPs ?? []) hold(v.NetworkID, v.Addr, `VIP of ${s.ID}`);
      for (const n of tx.all('nodes'))
        for (const [netId, addr] of Object.entries(n.NetworkAddrs ?? {})) hold(netId, addr, `node ${n.ID}`);
      for (const t of tx.all('tasks'))
        if (!isTerminal(t.Status.State))
          for (const a of t.NetworksAttachments ?? [])
            for (const addr of a.Addresses) hold(a.Network.ID, addr, `task ${t.ID}`);
    });
  }

  /** Safety at any time: a task's container never runs on a node the task is not assigned to. */
  checkPlacement(): void {
    const lead = this.#leader();
    if (!lead) return;
    lead.inc.store.view((tx) => {
      for (const w of this.workers) {
        for (const c of w.executor.running()) {
          const t = tx.get('tasks', c.taskId);
          if (t && t.NodeID !== w.nodeId)
            this.host.fail(`task ${t.ID} assigned to ${t.NodeID ?? 'no node'} runs a container on ${w.name}`);
        }
      }
    });
  }
}
