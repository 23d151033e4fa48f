// The production executor: drives the node's Docker Engine (engine.ts). Containers carry
// swarm's names and com.docker.swarm.* labels, so `docker ps` on a node looks as Swarm users expect.
// One engine event stream per node routes exits and health changes to waiting controllers.
import type { Readable } from 'node:stream';
import {
  DockerEngine,
  type ContainerCreateOptions,
  type ContainerInspect,
  type HostConfig,
  type MountSettings,
} from './engine.js';
import { ImagePuller } from './pull.js';
import {
  expandTask,
  HttpStatusError,
  genericResourceEnv,
  type Assignment,
  type GenericResource,
  type ContainerSpec,
  type Mount,
  type NodeAssignment,
  type NodeDescription,
  type PortConfig,
  type Task,
  type TemplateNode,
  type ContainerNetworking,
  type TaskNetworking,
} from '../../../api/index.js';
import { TaskFiles, type FileMount } from '../../secrets/taskfiles.js';
import {
  containerName,
  type Controller,
  type Executor,
  type ExitInfo,
  type LogLine,
  type LogOptions,
  type Recovered,
} from '../executor.js';

export const LABEL = {
  node: 'com.docker.swarm.node.id',
  service: 'com.docker.swarm.service.id',
  serviceName: 'com.docker.swarm.service.name',
  task: 'com.docker.swarm.task',
  taskId: 'com.docker.swarm.task.id',
  taskName: 'com.docker.swarm.task.name',
} as const;

type EngineEvent = {
  Type?: string;
  Action?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
  timeNano?: number;
};

export interface DockerExecutorOptions {
  engineHost: string;
  nodeId: string;
  hostname?: string;
  /** The node's generic resources as shoald was given them; without them, the engine's (`/info`). */
  genericResources?: GenericResource[];
  /** This node's runtime directory (tmpfs mounts for task secrets live under it). */
  execRoot: string;
  log?: (msg: string) => void;
  /** Receives every container event of this node (for /events). */
  onEngineEvent?: (e: EngineEvent) => void;
  /** The longest an image pull may take (default DEFAULT_PULL_TIMEOUT_MS). */
  pullTimeoutMs?: number;
  /** The node's data plane: attaches task containers to their overlay networks. */
  networking?: TaskNetworking;
}

const ns = (v: number | undefined): number | undefined => (v === undefined ? undefined : v);

function mounts(ms: readonly Mount[] | undefined): MountSettings[] {
  return (ms ?? []).map((m) => {
    const out: MountSettings = {
      Type: m.Type,
      Target: m.Target,
      Source: m.Source ?? '',
      ReadOnly: m.ReadOnly ?? false,
    };
    if (m.BindOptions) (out as unknown as Record<string, unknown>).BindOptions = m.BindOptions;
    if (m.VolumeOptions) (out as unknown as Record<string, unknown>).VolumeOptions = m.VolumeOptions;
    if (m.TmpfsOptions) (out as unknown as Record<string, unknown>).TmpfsOptions = m.TmpfsOptions;
    return out;
  });
}

/**
 * The engine's port bindings for a task's host-mode ports (`--publish mode=host`), as swarmkit's
 * executor makes them: the engine publishes the port on every host address straight to the
 * container (with --userland-proxy=false its DNAT keeps the client's address); no published
 * port lets the engine pick one.
 */
export function portBindings(ports: readonly PortConfig[] | undefined): HostConfig['PortBindings'] {
  const out: NonNullable<HostConfig['PortBindings']> = {};
  for (const p of ports ?? []) {
    if (p.PublishMode !== 'host' || !p.TargetPort) continue;
    const key = `${p.TargetPort}/${p.Protocol ?? 'tcp'}`;
    (out[key] ??= []).push({ HostPort: p.PublishedPort ? String(p.PublishedPort) : '' });
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The host ports the engine bound (inspect's NetworkSettings.Ports), as a task's PortStatus shows them. */
export function hostPortStatus(info: ContainerInspect): PortConfig[] {
  const out: PortConfig[] = [];
  for (const [key, binds] of Object.entries(info.NetworkSettings?.Ports ?? {})) {
    const [port, proto] = key.split('/');
    const protocol = proto === 'udp' || proto === 'sctp' ? proto : 'tcp';
    for (const b of binds ?? []) {
      const published = Number(b.HostPort);
      // The engine binds IPv4 and IPv6 alike: one port, shown once.
      if (!published || out.some((q) => q.PublishedPort === published && q.Protocol === protocol)) continue;
      out.push({
        Protocol: protocol,
        TargetPort: Number(port),
        PublishedPort: published,
        PublishMode: 'host',
      });
    }
  }
  return out.sort((a, b) => a.TargetPort! - b.TargetPort! || a.PublishedPort! - b.PublishedPort!);
}

/**
 * Engine create options for a task (image, command, env, mounts, limits, healthcheck, ...);
 * `net`: how it joins its overlay networks, as the data plane prepared them (the container is
 * created on the first; the others are connected before it starts).
 */
export function createOptions(
  assignment: NodeAssignment,
  nodeId: string,
  files: readonly FileMount[] = [],
  net?: ContainerNetworking,
): ContainerCreateOptions {
  // Swarm's templates ({{.Node.Hostname}}, …) in env, hostname and mounts, for this task here.
  const a = expandTask(assignment, nodeId);
  const t = a.task;
  const cs: ContainerSpec = t.Spec.ContainerSpec ?? { Image: '' };
  const name = containerName(a);
  const hc = cs.Healthcheck ?? cs.HealthCheck;
  const limits = t.Spec.Resources?.Limits ?? {};
  const labels: Record<string, string> = {
    ...(cs.Labels ?? {}),
    [LABEL.node]: nodeId,
    [LABEL.service]: t.ServiceID,
    [LABEL.serviceName]: a.serviceName,
    [LABEL.task]: '',
    [LABEL.taskId]: t.ID,
    [LABEL.taskName]: name,
  };
  const bindings = portBindings(t.HostPorts);
  const opts: ContainerCreateOptions = {
    name,
    Image: cs.Image,
    Labels: labels,
    ...(bindings ? { ExposedPorts: Object.fromEntries(Object.keys(bindings).map((k) => [k, {}])) } : {}),
    // The generic resources the scheduler gave this task, as Swarm tells a container of them.
    Env: [...(cs.Env ?? []), ...genericResourceEnv(t.GenericResources)],
    Tty: cs.TTY ?? false,
    OpenStdin: cs.OpenStdin ?? false,
    HostConfig: {
      Mounts: [
        ...mounts(cs.Mounts),
        ...files.map((f) => ({ Type: 'bind', Source: f.source, Target: f.target, ReadOnly: true })),
      ],
      Init: cs.Init ?? false,
      RestartPolicy: { Name: 'no' },
      ReadonlyRootfs: cs.ReadOnly ?? false,
      ...(limits.MemoryBytes ? { Memory: limits.MemoryBytes } : {}),
      ...(limits.NanoCPUs ? { NanoCpus: limits.NanoCPUs } : {}),
      ...(limits.Pids ? { PidsLimit: limits.Pids } : {}),
      ...(cs.CapabilityAdd ? { CapAdd: cs.CapabilityAdd } : {}),
      ...(cs.CapabilityDrop ? { CapDrop: cs.CapabilityDrop } : {}),
      ...(cs.Sysctls ? { Sysctls: cs.Sysctls } : {}),
      ...(cs.Ulimits ? { Ulimits: cs.Ulimits } : {}),
      ...(cs.Groups ? { GroupAdd: cs.Groups } : {}),
      ...(cs.Hosts
        ? {
            ExtraHosts: cs.Hosts.map((h) => {
              const [ip, ...names] = h.split(/\s+/);
              return `${names.join(' ')}:${ip}`;
            }),
          }
        : {}),
      ...(net ? { NetworkMode: net.networkMode } : {}),
      ...(bindings ? { PortBindings: bindings } : {}),
      // The service's own nameservers win over the network's resolver, as in Swarm.
      ...(cs.DNSConfig?.Nameservers
        ? { Dns: cs.DNSConfig.Nameservers }
        : net && net.dns.length > 0
          ? { Dns: net.dns }
          : {}),
      ...(cs.DNSConfig?.Search ? { DnsSearch: cs.DNSConfig.Search } : {}),
      ...(cs.DNSConfig?.Options ? { DnsOptions: cs.DNSConfig.Options } : {}),
    },
  };
  const first = net?.endpoints[net.networkMode];
  if (net && first) opts.NetworkingConfig = { EndpointsConfig: { [net.networkMode]: first } };
  if (cs.Command) opts.Entrypoint = cs.Command;
  if (cs.Args) opts.Cmd = cs.Args;
  if (cs.Dir) opts.WorkingDir = cs.Dir;
  if (cs.User) opts.User = cs.User;
  if (cs.Hostname) opts.Hostname = cs.Hostname;
  if (cs.StopSignal) opts.StopSignal = cs.StopSignal;
  opts.StopTimeout = Math.ceil((cs.StopGracePeriod ?? 10e9) / 1e9);
  if (hc) {
    opts.Healthcheck = {
      ...(hc.Test ? { Test: hc.Test } : {}),
      ...(ns(hc.Interval) !== undefined ? { Interval: hc.Interval! } : {}),
      ...(ns(hc.Timeout) !== undefined ? { Timeout: hc.Timeout! } : {}),
      ...(hc.Retries !== undefined ? { Retries: hc.Retries } : {}),
      ...(ns(hc.StartPeriod) !== undefined ? { StartPeriod: hc.StartPeriod! } : {}),
    };
  }
  return opts;
}

function hasHealthcheck(t: Task): boolean {
  const hc = t.Spec.ContainerSpec?.Healthcheck ?? t.Spec.ContainerSpec?.HealthCheck;
  return !!hc?.Test && hc.Test.length > 0 && hc.Test[0] !== 'NONE';
}

type Waiter = (e: { kind: 'die'; exitCode: number } | { kind: 'health'; status: string }) => void;

/** The HTTP status dockerd answered with (404: no such container, 409: conflict, …). */
function statusCode(e: unknown): number | undefined {
  return e instanceof HttpStatusError ? e.status : undefined;
}

export class DockerExecutor implements Executor {
  readonly engine: DockerEngine;
  #waiters = new Map<string, Set<Waiter>>();
  #events: NodeJS.ReadableStream | undefined;
  #stopped = false;
  #opts: DockerExecutorOptions;

  readonly files: TaskFiles;
  readonly networking: TaskNetworking | undefined;
  readonly #puller: ImagePuller;
  /** What templates know of this node, from the last describe(). */
  #node: TemplateNode | undefined;

  constructor(opts: DockerExecutorOptions) {
    this.#opts = opts;
    this.engine = new DockerEngine(opts.engineHost);
    this.files = new TaskFiles(opts.execRoot);
    this.networking = opts.networking;
    this.#puller = new ImagePuller(this.engine);
  }

  /** Makes sure the engine has a task's image (pulling with the service's registry credentials). */
  ensureImage(image: string, auth: string | undefined): Promise<void> {
    return this.#puller.ensure(image, {
      ...(auth ? { auth } : {}),
      ...(this.#opts.log ? { log: this.#opts.log } : {}),
      ...(this.#opts.pullTimeoutMs !== undefined ? { timeoutMs: this.#opts.pullTimeoutMs } : {}),
    });
  }

  async start(): Promise<void> {
    // Idempotent: swarm init starts the executor to describe the node before the agent does.
    if (this.#events) return;
    try {
      await this.engine.ping();
    } catch (e) {
      throw new Error(
        `cannot reach the container engine at ${this.#opts.engineHost}: ${(e as Error).message}; is dockerd running? (set it with --engine-host)`,
      );
    }
    await this.#subscribe();
    // Secrets of tasks whose containers are gone (removed while this node was down) go too.
    await this.files.sweep(new Set((await this.managedTaskIds()).keys()));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    (this.#events as { destroy?: () => void } | undefined)?.destroy?.();
  }

  async #subscribe(): Promise<void> {
    const stream = await this.engine.events({
      type: ['container'],
      label: [`${LABEL.node}=${this.#opts.nodeId}`],
    });
    this.#events = stream;
    let buf = '';
    stream.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        try {
          this.#route(JSON.parse(line) as EngineEvent);
        } catch {
          /* a malformed event line is skipped */
        }
      }
    });
    const resubscribe = (): void => {
      if (this.#stopped) return;
      setTimeout(() => {
        this.#subscribe()
          .then(() => this.#recheckWaiters())
          .catch(() => resubscribe());
      }, 500);
    };
    stream.on('error', resubscribe);
    stream.on('end', resubscribe);
  }

  /** After the event stream was interrupted, exits may have been missed: ask the engine directly. */
  async #recheckWaiters(): Promise<void> {
    for (const id of this.#waiters.keys()) {
      try {
        const info = await this.engine.inspectContainer(id);
        if (!info.State.Running) this.#notify(id, { kind: 'die', exitCode: info.State.ExitCode });
      } catch (e) {
        if (statusCode(e) === 404) this.#notify(id, { kind: 'die', exitCode: -1 });
      }
    }
  }

  #route(e: EngineEvent): void {
    this.#opts.onEngineEvent?.(e);
    const id = e.Actor?.ID ?? e.id;
    if (!id || !e.Action) return;
    if (e.Action === 'die')
      this.#notify(id, { kind: 'die', exitCode: Number(e.Actor?.Attributes?.exitCode ?? -1) });
    else if (e.Action.startsWith('health_status'))
      this.#notify(id, { kind: 'health', status: e.Action.split(':')[1]?.trim() ?? '' });
  }

  #notify(id: string, ev: Parameters<Waiter>[0]): void {
    for (const w of this.#waiters.get(id) ?? []) w(ev);
  }

  /** Registers a waiter before the caller inspects, so no event falls between the two. */
  watch(id: string, w: Waiter): () => void {
    let set = this.#waiters.get(id);
    if (!set) this.#waiters.set(id, (set = new Set()));
    set.add(w);
    return () => {
      set.delete(w);
      if (set.size === 0) this.#waiters.delete(id);
    };
  }

  async describe(): Promise<NodeDescription> {
    const info = await this.engine.info();
    const version = await this.engine.version();
    const labels: Record<string, string> = {};
    for (const l of (info.Labels as string[] | undefined) ?? []) {
      const i = l.indexOf('=');
      if (i > 0) labels[l.slice(0, i)] = l.slice(i + 1);
    }
    const plugins = info.Plugins as Record<string, string[] | null> | undefined;
    // dockerd reports its node-generic-resources in /info, as Swarm's executor reads them.
    const generic = this.#opts.genericResources ?? (info.GenericResources as GenericResource[] | null) ?? [];
    const node: TemplateNode = {
      ID: this.#opts.nodeId,
      Hostname: this.#opts.hostname ?? String(info.Name ?? 'localhost'),
      Platform: { Architecture: String(info.Architecture ?? 'x86_64'), OS: String(info.OSType ?? 'linux') },
    };
    this.#node = node;
    return {
      Hostname: node.Hostname,
      Platform: node.Platform,
      Resources: {
        NanoCPUs: Number(info.NCPU ?? 1) * 1e9,
        MemoryBytes: Number(info.MemTotal ?? 0),
        ...(generic.length > 0 ? { GenericResources: generic } : {}),
      },
      Engine: {
        EngineVersion: version.Version ?? '',
        ...(Object.keys(labels).length > 0 ? { Labels: labels } : {}),
        Plugins: [
          ...(plugins?.Log ?? []).map((Name) => ({ Type: 'Log', Name })),
          ...(plugins?.Network ?? []).map((Name) => ({ Type: 'Network', Name })),
          ...(plugins?.Volume ?? []).map((Name) => ({ Type: 'Volume', Name })),
        ],
      },
    };
  }

  async managedTaskIds(): Promise<Map<string, string>> {
    const list = await this.engine.listContainers({ label: [`${LABEL.node}=${this.#opts.nodeId}`] });
    return new Map(list.map((c) => [c.Labels[LABEL.taskId] ?? '', c.Id]));
  }

  async removeContainer(containerId: string): Promise<void> {
    let taskId: string | undefined;
    try {
      taskId = (await this.engine.inspectContainer(containerId)).Config.Labels?.[LABEL.taskId];
      await this.engine.removeContainer(containerId);
    } catch (e) {
      if (statusCode(e) !== 404 && statusCode(e) !== 409) throw e;
    }
    if (taskId) await this.files.release(taskId);
  }

  controller(a: Assignment): Controller {
    const node = this.#node;
    return new DockerController(this, node ? { ...a, node } : a, this.#opts.nodeId);
  }

  async *logs(taskId: string, opts: LogOptions): AsyncIterable<LogLine> {
    const ids = await this.managedTaskIds();
    const cid = ids.get(taskId);
    if (!cid) return;
    const info = await this.engine.inspectContainer(cid);
    const stream = await this.engine.logs(cid, {
      follow: opts.follow,
      ...(opts.tail !== undefined ? { tail: opts.tail } : {}),
      ...(opts.since !== undefined ? { since: opts.since } : {}),
    });
    opts.signal.addEventListener('abort', () => stream.destroy(), { once: true });
    yield* demux(stream, info.Config.Tty);
  }
}

/** Splits the engine's log stream (stdcopy frames unless TTY) into lines with their timestamps. */
async function* demux(stream: Readable, tty: boolean): AsyncIterable<LogLine> {
  let buf = Buffer.alloc(0);
  const partial: Record<1 | 2, string> = { 1: '', 2: '' };
  function* lines(s: 1 | 2, text: string): Generator<LogLine> {
    partial[s] += text;
    let nl: number;
    while ((nl = partial[s].indexOf('\n')) >= 0) {
      const raw = partial[s].slice(0, nl);
      partial[s] = partial[s].slice(nl + 1);
      const sp = raw.indexOf(' ');
      yield { stream: s, timestamp: sp > 0 ? raw.slice(0, sp) : '', line: sp > 0 ? raw.slice(sp + 1) : raw };
    }
  }
  try {
    for await (const chunk of stream) {
      if (tty) {
        yield* lines(1, (chunk as Buffer).toString('utf8'));
        continue;
      }
      buf = Buffer.concat([buf, chunk as Buffer]);
      while (buf.length >= 8) {
        const size = buf.readUInt32BE(4);
        if (buf.length < 8 + size) break;
        const s = buf[0] === 2 ? 2 : 1;
        yield* lines(s, buf.subarray(8, 8 + size).toString('utf8'));
        buf = buf.subarray(8 + size);
      }
    }
  } catch {
    /* the stream was closed (follow cancelled) */
  }
}

class DockerController implements Controller {
  #id: string | undefined;
  constructor(
    private readonly ex: DockerExecutor,
    private a: NodeAssignment,
    private readonly nodeId: string,
  ) {}

  /** The container's ID once known, else its name (the engine accepts either). */
  get #ref(): string {
    return this.#id ?? containerName(this.a);
  }

  pull(): Promise<void> {
    return this.ex.ensureImage(this.a.task.Spec.ContainerSpec?.Image ?? '', this.a.registryAuth);
  }

  async prepare(): Promise<string> {
    // A network this node cannot carry fails the task here, with the data plane's reason.
    const net = await this.ex.networking?.prepare(this.a.task);
    try {
      const files = await this.ex.files.prepare(this.a);
      const { name, ...config } = createOptions(this.a, this.nodeId, files, net);
      this.#id = await this.ex.engine.createContainer(name, config);
    } catch (e) {
      if (statusCode(e) === 409) {
        // Created by an earlier attempt that did not report back: reuse it.
        const info = await this.ex.engine.inspectContainer(containerName(this.a));
        this.#id = info.Id;
      } else if (statusCode(e) === 404) {
        throw new Error(`No such image: ${this.a.task.Spec.ContainerSpec?.Image ?? ''}`);
      } else throw e;
    }
    if (net) await this.#connectOthers(net);
    return this.#id;
  }

  /** The task's networks past the first, connected before it starts (skipping ones it has). */
  async #connectOthers(net: ContainerNetworking): Promise<void> {
    const others = Object.entries(net.endpoints).filter(([name]) => name !== net.networkMode);
    if (others.length === 0) return;
    const info = await this.ex.engine.inspectContainer(this.#ref);
    const joined = info.NetworkSettings?.Networks;
    for (const [name, settings] of others) {
      if (joined?.[name]) continue;
      await this.ex.engine.call('POST', `/networks/${encodeURIComponent(name)}/connect`, {
        Container: this.#ref,
        EndpointConfig: settings,
      });
    }
  }

  async start(): Promise<{ pid: number; ports?: PortConfig[] }> {
    try {
      await this.ex.engine.startContainer(this.#ref);
    } catch (e) {
      if (statusCode(e) !== 304) throw e;
    }
    const info = await this.ex.engine.inspectContainer(this.#ref);
    // What the data plane can only do once the container's namespace exists, before RUNNING.
    await this.ex.networking?.started?.(this.a.task, { id: info.Id, pid: info.State.Pid });
    if (!this.a.task.HostPorts?.length) return { pid: info.State.Pid };
    return { pid: info.State.Pid, ports: hostPortStatus(info) };
  }

  async healthy(signal: AbortSignal): Promise<ExitInfo | undefined> {
    if (!hasHealthcheck(this.a.task)) return undefined;
    const id = this.#id!;
    return new Promise((resolve) => {
      const finish = (v: ExitInfo | undefined): void => {
        stop();
        resolve(v);
      };
      const stop = this.ex.watch(id, (e) => {
        if (e.kind === 'health' && e.status === 'healthy') finish(undefined);
        else if (e.kind === 'health' && e.status === 'unhealthy')
          finish({ exitCode: 137, err: 'task: non-zero exit (137): dockerexec: unhealthy container' });
        else if (e.kind === 'die') finish({ exitCode: e.exitCode });
      });
      signal.addEventListener('abort', () => finish(undefined), { once: true });
      void this.ex.engine.inspectContainer(this.#ref).then(
        (info) => {
          const h = (info.State as { Health?: { Status?: string } }).Health?.Status;
          if (!info.State.Running) finish({ exitCode: info.State.ExitCode });
          else if (h === 'healthy') finish(undefined);
          else if (h === 'unhealthy')
            finish({ exitCode: 137, err: 'task: non-zero exit (137): dockerexec: unhealthy container' });
        },
        () => finish({ exitCode: -1, err: 'task: container disappeared' }),
      );
    });
  }

  wait(signal: AbortSignal): Promise<ExitInfo> {
    const id = this.#id!;
    const healthchecked = hasHealthcheck(this.a.task);
    return new Promise((resolve, reject) => {
      const finish = (v: ExitInfo): void => {
        stop();
        // The task has ended: its secrets leave the node now, not when its container is reaped.
        void this.ex.files.release(this.a.task.ID).finally(() => resolve(v));
      };
      const stop = this.ex.watch(id, (e) => {
        if (e.kind === 'die') finish({ exitCode: e.exitCode });
        else if (healthchecked && e.kind === 'health' && e.status === 'unhealthy') {
          finish({ exitCode: 137, err: 'task: non-zero exit (137): dockerexec: unhealthy container' });
        }
      });
      signal.addEventListener('abort', () => (stop(), reject(new Error('wait cancelled'))), { once: true });
      void this.ex.engine.inspectContainer(this.#ref).then(
        (info) => {
          if (!info.State.Running && !info.State.Restarting) finish({ exitCode: info.State.ExitCode });
        },
        () => finish({ exitCode: -1, err: 'task: container disappeared' }),
      );
    });
  }

  async shutdown(): Promise<void> {
    const grace = Math.ceil((this.a.task.Spec.ContainerSpec?.StopGracePeriod ?? 10e9) / 1e9);
    try {
      await this.ex.engine.stopContainer(this.#ref, grace);
    } catch (e) {
      if (statusCode(e) !== 304 && statusCode(e) !== 404) throw e;
    }
    await this.ex.files.release(this.a.task.ID);
  }

  async terminate(): Promise<void> {
    try {
      await this.ex.engine.killContainer(this.#ref);
    } catch (e) {
      if (statusCode(e) !== 409 && statusCode(e) !== 404) throw e;
    }
  }

  async remove(): Promise<void> {
    try {
      await this.ex.engine.removeContainer(this.#ref);
    } catch (e) {
      if (statusCode(e) !== 404 && statusCode(e) !== 409) throw e;
    }
    await this.ex.files.release(this.a.task.ID);
  }

  async recover(): Promise<Recovered> {
    try {
      const info = await this.ex.engine.inspectContainer(this.#ref);
      this.#id = info.Id;
      if (info.State.Running) return { kind: 'running', containerId: info.Id, pid: info.State.Pid };
      if (info.State.Status === 'created') return { kind: 'created', containerId: info.Id };
      return { kind: 'exited', containerId: info.Id, exit: { exitCode: info.State.ExitCode } };
    } catch (e) {
      if (statusCode(e) === 404) return { kind: 'missing' };
      throw e;
    }
  }
}
