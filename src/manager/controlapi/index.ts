// controlapi: the manager's operations on cluster objects. It validates, resolves references,
// enforces cross-object rules (names, ports, in-use checks) and writes through store transactions.
// Secrets and configs are read here too, so a secret's data is dropped in one place.
// Every operation either fully applies or changes nothing.
import type { Membership } from '../membership.js';
import { generateJoinToken, newUnlockKey, tlsInfoOf, type CertKey } from '../../ca/index.js';
import { newRootRotation } from '../nodeca/index.js';
import { isoTime, type Clock } from '../../platform/index.js';
import {
  badParameter,
  decodeObjectSpec,
  alreadyExists,
  failedPrecondition,
  formatCidr,
  lastOf,
  ShoalError,
  type Cidr,
  invalidArgument,
  newId,
  normalizeServiceSpec,
  notFound,
  outOfSequence,
  tryParseCidr,
  validateConfigSpec,
  validateNetworkSpec,
  validateNodeSpec,
  validateSecretSpec,
  validateSwarmSpec,
  DEFAULT_DATA_PATH_PORT,
  type Cluster,
  type ClusterNetworkConfig,
  type Config,
  type ConfigSpec,
  type Endpoint,
  type Filters,
  type Network,
  type Node,
  type PortConfig,
  type Secret,
  type SecretSpec,
  type Service,
  type ServiceSpec,
  type SwarmSpec,
} from '../../api/index.js';
import type { MemoryStore, ReadTx } from '../../state/index.js';
import { nextSubnet, gatewayOf, DEFAULT_ADDR_POOL, DEFAULT_SUBNET_SIZE } from '../../network/index.js';
import {
  hostModePorts,
  isJob,
  modeOf,
  publishesIngress,
  sameJson,
  sameTemplate,
} from '../orchestrator/index.js';
import {
  findObject,
  KIND,
  listObjects,
  redact,
  referencedIds,
  resolveObjectRefs,
  sameBytes,
  type ObjectTable,
} from './objects.js';

const INGRESS_PORT_RANGE: [number, number] = [30000, 32767];

export const DEFAULT_SWARM_SPEC: SwarmSpec = {
  Name: 'default',
  Labels: {},
  Orchestration: { TaskHistoryRetentionLimit: 5 },
  Raft: {
    SnapshotInterval: 10000,
    KeepOldSnapshots: 0,
    LogEntriesForSlowFollowers: 500,
    ElectionTick: 10,
    HeartbeatTick: 1,
  },
  // 1 s, not Swarm's 5 s: with three periods of grace a dead node is down in about 3 s.
  Dispatcher: { HeartbeatPeriod: 1e9 },
  CAConfig: { NodeCertExpiry: 7776000e9 },
  TaskDefaults: {},
  EncryptionConfig: { AutoLockManagers: false },
};

function resolve<T extends 'services' | 'nodes' | 'networks'>(
  tx: ReadTx,
  table: T,
  ref: string,
  kind: string,
) {
  const o = tx.lookup(table, ref);
  if (!o) throw notFound(`${kind} ${ref} not found`);
  return o;
}

/**
 * The registry credentials that go with an updated service, as Docker chooses them: the ones sent
 * with the request, else those of the current spec (or of the previous one with
 * `registryAuthFrom=previous-spec`); a rollback takes the previous spec's with the spec.
 */
function setRegistryAuth(
  next: Service,
  cur: Service,
  opts: { rollback: boolean; registryAuth?: string; registryAuthFrom?: 'spec' | 'previous-spec' },
): void {
  let auth: string | undefined;
  if (opts.rollback) auth = cur.PreviousRegistryAuth;
  else if (opts.registryAuth) auth = opts.registryAuth;
  else if (opts.registryAuthFrom === 'previous-spec') {
    if (!cur.PreviousSpec) throw failedPrecondition('service does not have a previous spec');
    auth = cur.PreviousRegistryAuth;
  } else auth = cur.RegistryAuth;
  delete next.RegistryAuth;
  delete next.PreviousRegistryAuth;
  if (auth) next.RegistryAuth = auth;
  if (cur.RegistryAuth) next.PreviousRegistryAuth = cur.RegistryAuth;
}

export interface ControlOptions {
  /**
   * Why this manager refuses an encrypted network (`-o encrypted`), or undefined when it can
   * create one: the daemon passes the kernel check (network/kernel.ts), tests a fake. Without it
   * encrypted networks are taken (the simulation has no kernel).
   */
  encryption?: () => Promise<string | undefined>;
}

/** VXLAN IDs: 4096 is the ingress network's (as Docker's), others take the lowest free above. */
const INGRESS_VNI = 4096;
const MAX_VNI = (1 << 24) - 1;
const VNI_OPTION = 'com.docker.network.driver.overlay.vxlanid_list';

/** The VXLAN IDs networks hold (Docker's option is a comma-separated list). */
function usedVnis(tx: ReadTx): Set<number> {
  const used = new Set<number>();
  for (const n of tx.all('networks'))
    for (const v of (n.DriverState.Options?.[VNI_OPTION] ?? '').split(','))
      if (/^\d+$/.test(v.trim())) used.add(Number(v.trim()));
  return used;
}

/** The lowest VXLAN ID no network holds, from 4097 up (4096 for an ingress network when free). */
function freeVni(tx: ReadTx, ingress: boolean): number {
  const used = usedVnis(tx);
  if (ingress && !used.has(INGRESS_VNI)) return INGRESS_VNI;
  // At most used.size + 1 candidates are looked at.
  for (let v = INGRESS_VNI + 1; v <= MAX_VNI; v++) if (!used.has(v)) return v;
  throw failedPrecondition('no free VXLAN ID is left for a new overlay network');
}

/** A task still holds its addresses until its container is gone (an observed state past running). */
const RELEASED = new Set(['complete', 'shutdown', 'failed', 'rejected', 'remove', 'orphaned']);

/** The engine's own networks, which no service can use (dockerd's IsPreDefinedNetwork). */
const PREDEFINED_NETWORKS = new Set(['bridge', 'host', 'none']);

export class ControlAPI {
  constructor(
    private readonly store: MemoryStore,
    private readonly clock: Clock,
    /** The leader's Raft membership, to refuse a demotion or removal that would lose quorum. */
    private readonly membership: () => Pick<Membership, 'checkRemoval'> | undefined = () => undefined,
    private readonly opts: ControlOptions = {},
  ) {}

  #now(): string {
    return isoTime(this.clock.now());
  }

  // ---- cluster ----

  async initCluster(opts: {
    nodeId: string;
    hostname: string;
    addr: string;
    listenAddr: string;
    spec?: SwarmSpec;
    /** Address pools and VXLAN port from `swarm init` (Docker's defaults without). */
    network?: ClusterNetworkConfig;
    description: Node['Description'];
    clusterId: string;
    rootCA: CertKey;
    /** The manager's member ID in the Raft group. */
    raftId?: number;
  }): Promise<Cluster> {
    const now = this.#now();
    const id = opts.clusterId;
    const net = opts.network ?? { SubnetSize: DEFAULT_SUBNET_SIZE, DataPathPort: DEFAULT_DATA_PATH_PORT };
    // The ingress network takes the first subnet of the pools, as Docker's does.
    const ingressSubnet = nextSubnet([], net.DefaultAddrPool ?? DEFAULT_ADDR_POOL, net.SubnetSize)!;
    const ingressIpam = { Subnet: ingressSubnet, Gateway: gatewayOf(ingressSubnet) };
    const rootPem = opts.rootCA.certPem;
    // At init, the CLI sends zeros for what the user left unset; zero means "the default" there.
    const spec = mergeSwarmSpec(DEFAULT_SWARM_SPEC, dropZeros(opts.spec ?? {}) as SwarmSpec);
    const cluster: Cluster = {
      ID: id,
      Version: { Index: 0 },
      CreatedAt: now,
      UpdatedAt: now,
      Spec: spec,
      TLSInfo: {},
      RootRotationInProgress: false,
      // As Docker: no pool shows as null (the default, 10.0.0.0/8 in /24s, is used).
      DefaultAddrPool: net.DefaultAddrPool ?? null,
      SubnetSize: net.SubnetSize,
      DataPathPort: net.DataPathPort,
      JoinTokens: { Worker: generateJoinToken(rootPem), Manager: generateJoinToken(rootPem) },
      RootCA: { CACert: rootPem, CAKey: opts.rootCA.keyPem },
      ...(spec.EncryptionConfig?.AutoLockManagers === true ? { UnlockKey: newUnlockKey() } : {}),
    };
    const node: Node = {
      ID: opts.nodeId,
      Version: { Index: 0 },
      CreatedAt: now,
      UpdatedAt: now,
      Spec: { Labels: {}, Role: 'manager', Availability: 'active' },
      Description: { ...opts.description, TLSInfo: tlsInfoOf(rootPem) },
      Status: { State: 'ready', Addr: opts.addr },
      ManagerStatus: {
        Reachability: 'reachable',
        Addr: opts.listenAddr,
        ...(opts.raftId !== undefined ? { RaftID: opts.raftId } : {}),
      },
    };
    const ingress: Network = {
      ID: newId(),
      Version: { Index: 0 },
      CreatedAt: now,
      UpdatedAt: now,
      Spec: {
        Name: 'ingress',
        Labels: {},
        DriverConfiguration: { Name: 'overlay' },
        Ingress: true,
        IPAMOptions: { Driver: { Name: 'default' }, Configs: [{ ...ingressIpam }] },
        Scope: 'swarm',
      },
      DriverState: { Name: 'overlay', Options: { 'com.docker.network.driver.overlay.vxlanid_list': '4096' } },
      IPAMOptions: { Driver: { Name: 'default' }, Configs: [{ ...ingressIpam }] },
    };
    await this.store.update((tx) => {
      tx.create('clusters', cluster);
      tx.create('nodes', node);
      tx.create('networks', ingress);
    });
    return this.store.view((tx) => tx.cluster()!);
  }

  async updateSwarm(
    version: number,
    raw: unknown,
    rotate: { worker: boolean; manager: boolean; unlockKey: boolean },
  ): Promise<void> {
    const spec = validateSwarmSpec(raw);
    // A changed ForceRotate starts a root rotation: the new root is made before the transaction.
    const current = this.store.view((tx) => tx.cluster());
    const rotation =
      current?.RootCA && (spec.CAConfig?.ForceRotate ?? 0) !== (current.Spec.CAConfig?.ForceRotate ?? 0)
        ? await newRootRotation(current.RootCA, this.clock.now())
        : undefined;
    await this.store.update((tx) => {
      const c = tx.cluster();
      if (!c) throw failedPrecondition('this node is not part of a swarm');
      if (c.Version.Index !== version) throw outOfSequence();
      const next = structuredClone(c) as Cluster;
      next.Spec = mergeSwarmSpec(DEFAULT_SWARM_SPEC, spec);
      if (rotation && next.RootCA) {
        next.RootCA.Rotation = rotation;
        next.RootRotationInProgress = true;
      }
      const rootPem = c.RootCA?.CACert ?? '';
      if (rotate.worker) next.JoinTokens.Worker = generateJoinToken(rootPem);
      if (rotate.manager) next.JoinTokens.Manager = generateJoinToken(rootPem);
      // Every manager wraps its data key with this one key (see daemon/, syncKeys).
      if (next.Spec.EncryptionConfig?.AutoLockManagers !== true) delete next.UnlockKey;
      else if (!c.UnlockKey || rotate.unlockKey) next.UnlockKey = newUnlockKey();
      next.UpdatedAt = this.#now();
      tx.update('clusters', next);
    });
  }

  // ---- services ----

  #endpoint(tx: ReadTx, spec: ServiceSpec, serviceId: string, previous?: Endpoint): Endpoint {
    const ep = spec.EndpointSpec ?? {};
    const ports: PortConfig[] = [];
    const taken = new Map<string, Service>();
    const takenHost = new Map<string, Service>();
    for (const s of tx.all('services')) {
      if (s.ID === serviceId) continue;
      for (const p of s.Endpoint.Ports ?? [])
        if (p.PublishedPort)
          (p.PublishMode === 'host' ? takenHost : taken).set(`${p.Protocol}/${p.PublishedPort}`, s);
    }
    const inUse = (published: number, owner: Service, as: string): ShoalError =>
      invalidArgument(
        `port '${published}' is already in use by service '${owner.Spec.Name}' (${owner.ID}) as ${as}`,
      );
    for (const p of ep.Ports ?? []) {
      if (p.PublishMode === 'host') {
        // swarmkit's checkPortConflicts: services may share a host-mode port (the scheduler keeps
        // their tasks apart), not one another service publishes through the mesh.
        const owner = p.PublishedPort ? taken.get(`${p.Protocol}/${p.PublishedPort}`) : undefined;
        if (owner) throw inUse(p.PublishedPort!, owner, 'an ingress port');
        ports.push({ ...p });
        continue;
      }
      let published = p.PublishedPort ?? 0;
      if (published === 0) {
        const kept = previous?.Ports?.find(
          (q) => q.TargetPort === p.TargetPort && q.Protocol === p.Protocol && q.PublishMode === 'ingress',
        );
        published = kept?.PublishedPort ?? 0;
      }
      if (published === 0) {
        for (let port = INGRESS_PORT_RANGE[0]; port <= INGRESS_PORT_RANGE[1]; port++) {
          const key = `${p.Protocol}/${port}`;
          if (!taken.has(key) && !ports.some((q) => q.PublishedPort === port && q.Protocol === p.Protocol)) {
            published = port;
            break;
          }
        }
        if (published === 0) throw invalidArgument('no free port left in the ingress port range 30000-32767');
      }
      const owner = taken.get(`${p.Protocol}/${published}`);
      if (owner) throw inUse(published, owner, 'an ingress port');
      const hostOwner = takenHost.get(`${p.Protocol}/${published}`);
      if (hostOwner) throw inUse(published, hostOwner, 'a host-published port');
      if (ports.some((q) => q.PublishedPort === published && q.Protocol === p.Protocol)) {
        throw invalidArgument('EndpointSpec: duplicate published ports provided');
      }
      ports.push({ ...p, PublishedPort: published });
    }
    if (ports.some((p) => p.PublishMode === 'ingress') && !tx.all('networks').some((n) => n.Spec.Ingress))
      throw failedPrecondition('service needs ingress network, but no ingress network is present');
    // As swarmkit's allocator: the endpoint takes a copy of the spec's only for a service it
    // allocates (one with networks or ports); any other shows an empty one, as Docker does.
    const allocated = ports.length > 0 || (spec.TaskTemplate?.Networks ?? []).length > 0;
    const out: Endpoint = { Spec: allocated ? structuredClone(ep) : {} };
    if (ports.length > 0) out.Ports = ports;
    if (previous?.VirtualIPs) out.VirtualIPs = previous.VirtualIPs;
    return out;
  }

  #checkReferences(tx: ReadTx, spec: ServiceSpec): void {
    for (const n of spec.TaskTemplate?.Networks ?? []) {
      const net = tx.lookup('networks', n.Target);
      if (!net) {
        // dockerd resolves each target before swarmkit sees it (populateNetworkID): an engine's
        // own network is a 403, anything else its getNetwork's 404 (no rpc prefix: dockerd's own).
        if (PREDEFINED_NETWORKS.has(n.Target))
          throw new ShoalError(
            'PermissionDenied',
            `The network ${n.Target} cannot be used with services. Only networks scoped to the swarm can be used, such as those created with the overlay driver.`,
          );
        throw notFound(`network ${n.Target} not found`);
      }
      // swarmkit's validateNetworks (InvalidArgument, 400).
      if (net.Spec.Ingress)
        throw invalidArgument(
          `Service cannot be explicitly attached to the ingress network "${net.Spec.Name}"`,
        );
      n.Target = net.ID;
    }
  }

  /** `registryAuth`: the client's X-Registry-Auth (`--with-registry-auth`), kept for the nodes' pulls. */
  async createService(raw: unknown, opts: { registryAuth?: string } = {}): Promise<string> {
    const spec = normalizeServiceSpec(raw);
    const now = this.#now();
    const id = newId();
    await this.store.update((tx) => {
      if (!tx.cluster()) throw failedPrecondition('this node is not a swarm manager');
      this.#checkReferences(tx, spec);
      resolveObjectRefs(tx, spec);
      const service: Service = {
        ID: id,
        Version: { Index: 0 },
        CreatedAt: now,
        UpdatedAt: now,
        Spec: spec,
        Endpoint: this.#endpoint(tx, spec, id),
      };
      if (spec.Mode?.ReplicatedJob || spec.Mode?.GlobalJob) service.JobStatus = { JobIteration: {} };
      if (opts.registryAuth) service.RegistryAuth = opts.registryAuth;
      tx.create('services', service);
    });
    return id;
  }

  async updateService(
    ref: string,
    version: number,
    raw: unknown,
    opts: { rollback: boolean; registryAuth?: string; registryAuthFrom?: 'spec' | 'previous-spec' },
  ): Promise<void> {
    const incoming = opts.rollback ? undefined : normalizeServiceSpec(raw);
    await this.store.update((tx) => {
      const cur = resolve(tx, 'services', ref, 'service');
      if (cur.Version.Index !== version) throw outOfSequence();
      let spec: ServiceSpec;
      if (opts.rollback) {
        if (!cur.PreviousSpec) throw failedPrecondition(`service ${cur.ID} does not have a previous spec`);
        spec = structuredClone(cur.PreviousSpec);
      } else {
        spec = incoming!;
        if (spec.Name !== cur.Spec.Name) throw invalidArgument('renaming services is not supported');
        this.#checkReferences(tx, spec);
      }
      // A rollback too: the previous spec may name a secret or config removed since.
      resolveObjectRefs(tx, spec);
      const kindOf = (s: ServiceSpec): string => modeOf({ Spec: s } as Service);
      if (kindOf(spec) !== kindOf(cur.Spec)) throw invalidArgument('service mode change is not allowed');
      const next = structuredClone(cur) as Service;
      next.Spec = spec;
      next.PreviousSpec = structuredClone(cur.Spec);
      setRegistryAuth(next, cur, opts);
      next.Endpoint = this.#endpoint(tx, spec, cur.ID, cur.Endpoint);
      next.UpdatedAt = this.#now();
      // Published ports its tasks hold (host-mode bindings, joining ingress) change them too.
      const templateChanged =
        !sameTemplate(spec.TaskTemplate, cur.Spec.TaskTemplate) ||
        !sameJson(hostModePorts(next), hostModePorts(cur)) ||
        publishesIngress(next) !== publishesIngress(cur);
      if (isJob(cur)) {
        // Any change to a job runs it again as a new iteration.
        const { TaskTemplate: _a, ...rest } = spec;
        const { TaskTemplate: _b, ...curRest } = cur.Spec;
        if (templateChanged || !sameJson(rest, curRest)) {
          next.JobStatus = { JobIteration: { Index: (cur.JobStatus?.JobIteration.Index ?? 0) + 1 } };
        }
      } else if (opts.rollback) {
        next.UpdateStatus = {
          State: 'rollback_started',
          StartedAt: this.#now(),
          Message: 'manually requested rollback',
        };
      } else if (templateChanged) {
        next.UpdateStatus = { State: 'updating', StartedAt: this.#now(), Message: 'update in progress' };
      }
      tx.update('services', next);
    });
  }

  async removeService(ref: string): Promise<void> {
    await this.store.update((tx) => {
      const s = resolve(tx, 'services', ref, 'service');
      tx.remove('services', s.ID);
    });
  }

  // ---- nodes ----

  async updateNode(ref: string, version: number, raw: unknown): Promise<void> {
    const spec = validateNodeSpec(raw);
    await this.store.update((tx) => {
      const node = resolve(tx, 'nodes', ref, 'node');
      if (node.Version.Index !== version) throw outOfSequence();
      const role = spec.Role ?? node.Spec.Role;
      if (node.Spec.Role === 'manager' && role === 'worker') {
        const managers = tx.all('nodes').filter((n) => n.Spec.Role === 'manager');
        if (managers.length <= 1)
          throw failedPrecondition('attempting to demote the last manager of the swarm');
        this.membership()?.checkRemoval(node);
      }
      const next = structuredClone(node) as Node;
      next.Spec = {
        ...spec,
        Labels: spec.Labels ?? {},
        Role: role ?? 'worker',
        Availability: spec.Availability ?? 'active',
      };
      next.UpdatedAt = this.#now();
      tx.update('nodes', next);
    });
  }

  async removeNode(ref: string, force: boolean): Promise<void> {
    await this.store.update((tx) => {
      const node = resolve(tx, 'nodes', ref, 'node');
      const manager = node.Spec.Role === 'manager' || node.ManagerStatus !== undefined;
      // Better than Swarm, which insists on a demotion first: a dead manager can be removed with
      // --force (its Raft membership goes with it), as long as the rest keep a quorum.
      if (manager && force && node.Status.State === 'down') {
        this.membership()?.checkRemoval(node);
      } else if (manager) {
        throw failedPrecondition(
          `node ${node.ID} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal`,
        );
      }
      if (!force && node.Status.State !== 'down')
        throw failedPrecondition(`node ${node.ID} is not down and can't be removed`);
      // Its standalone containers' network attachments (and their addresses) go with it.
      for (const t of tx.tasksByNode(node.ID))
        if (t.ServiceID === '' && t.Spec.NetworkAttachmentSpec) tx.remove('tasks', t.ID);
      tx.remove('nodes', node.ID);
    });
  }

  // ---- networks ----

  async createNetwork(raw: unknown): Promise<string> {
    const spec = validateNetworkSpec(raw);
    // Docker's overlay driver reads the option's presence, whatever its value.
    if (spec.DriverConfiguration?.Options && 'encrypted' in spec.DriverConfiguration.Options) {
      const refusal = await this.opts.encryption?.();
      // dockerd has no such refusal (its manager takes the network, the nodes then fail to carry
      // it); the caller can do nothing about the kernel, so it is a plain 400 without rpc prefix.
      if (refusal) throw badParameter(refusal);
    }
    const now = this.#now();
    const id = newId();
    await this.store.update((tx) => {
      if (!tx.cluster()) throw failedPrecondition('this node is not a swarm manager');
      const ingress = spec.Ingress ? tx.all('networks').find((n) => n.Spec.Ingress) : undefined;
      if (ingress) throw alreadyExists(`ingress network (${ingress.ID}) is already present`);
      const configs = structuredClone(spec.IPAMOptions?.Configs ?? []);
      // Without a subnet of its own, an IPv4 one comes from the swarm's address pools.
      if (!configs.some((c) => c.Subnet && tryParseCidr(c.Subnet)?.family === 4)) {
        const subnet = this.#poolSubnet(tx);
        configs.unshift({ Subnet: subnet, Gateway: gatewayOf(subnet) });
      }
      for (const c of configs) c.Gateway ??= gatewayOf(c.Subnet!);
      checkOverlaps(tx, configs);
      // Derived from the store in this transaction, so two creates never share one.
      const vxlan = freeVni(tx, spec.Ingress === true);
      delete (spec as { Driver?: string }).Driver;
      const ipamDriver = spec.IPAMOptions?.Driver;
      const network: Network = {
        ID: id,
        Version: { Index: 0 },
        CreatedAt: now,
        UpdatedAt: now,
        Spec: spec,
        // The driver's state keeps the options it was created with (`-o`), as swarmkit's does.
        DriverState: {
          Name: 'overlay',
          Options: {
            ...spec.DriverConfiguration?.Options,
            'com.docker.network.driver.overlay.vxlanid_list': String(vxlan),
          },
        },
        IPAMOptions: {
          Driver: {
            Name: ipamDriver?.Name ?? 'default',
            ...(ipamDriver?.Options ? { Options: ipamDriver.Options } : {}),
          },
          Configs: configs,
        },
      };
      // A duplicate name is refused by the store (409), as Docker does for swarm networks.
      tx.create('networks', network);
    });
    return id;
  }

  /** The first free subnet of the swarm's address pools, at its subnet size, as Docker allocates. */
  #poolSubnet(tx: ReadTx): string {
    const cluster = tx.cluster();
    const pools = cluster?.DefaultAddrPool?.length ? cluster.DefaultAddrPool : DEFAULT_ADDR_POOL;
    const size = cluster?.DefaultAddrPool?.length ? cluster.SubnetSize : DEFAULT_SUBNET_SIZE;
    const used = tx.all('networks').flatMap((n) => n.IPAMOptions.Configs.map((c) => c.Subnet ?? ''));
    const subnet = nextSubnet(used, pools, size);
    if (!subnet)
      throw failedPrecondition(
        `the swarm's address pool ${pools.join(', ')} has no free /${size} subnet left; remove a network or give this one a --subnet`,
      );
    return subnet;
  }

  async removeNetwork(ref: string): Promise<void> {
    await this.store.update((tx) => {
      const n = resolve(tx, 'networks', ref, 'network');
      if (n.Spec.Ingress) {
        const user = tx
          .all('services')
          .find((s) => (s.Endpoint.Ports ?? []).some((p) => p.PublishMode === 'ingress'));
        if (user)
          throw failedPrecondition(
            `ingress network cannot be removed because service ${user.ID} depends on it`,
          );
      }
      const user = tx
        .all('services')
        .find((s) => (s.Spec.TaskTemplate?.Networks ?? []).some((a) => a.Target === n.ID));
      if (user) throw failedPrecondition(`network ${n.ID} is in use by service ${user.ID}`);
      // As swarmkit: refused while a task still wanted running holds an address on it (a standalone
      // container's attachment among them). A removed service's tasks do not hold it up, even
      // before the orchestrator has marked them for removal: `docker stack rm` removes the
      // services and then their networks at once.
      const task = tx
        .all('tasks')
        .find(
          (t) =>
            !RELEASED.has(t.Status.State) &&
            !RELEASED.has(t.DesiredState) &&
            (t.ServiceID === '' || tx.get('services', t.ServiceID) !== undefined) &&
            (t.NetworksAttachments ?? []).some((a) => a.Network.ID === n.ID),
        );
      if (task) throw failedPrecondition(`network ${n.ID} is in use by task ${task.ID}`);
      tx.remove('networks', n.ID);
    });
  }

  // ---- secrets and configs ----

  createSecret(raw: unknown): Promise<string> {
    return this.#createObject('secrets', validateSecretSpec(raw));
  }

  createConfig(raw: unknown): Promise<string> {
    return this.#createObject('configs', validateConfigSpec(raw));
  }

  /** Inspect by ID, name or unique ID prefix; never includes the secret's data. */
  getSecret(ref: string): Secret {
    return this.store.view((tx) => redact(findObject(tx, 'secrets', ref)));
  }

  getConfig(ref: string): Config {
    return this.store.view((tx) => findObject(tx, 'configs', ref));
  }

  listSecrets(f: Filters): Secret[] {
    return this.store.view((tx) => listObjects(tx, 'secrets', f).map(redact));
  }

  listConfigs(f: Filters): Config[] {
    return this.store.view((tx) => listObjects(tx, 'configs', f));
  }

  /** Only the labels may change; the body re-sends Name (and Data), which must match. */
  updateSecret(ref: string, version: number, raw: unknown): Promise<void> {
    return this.#updateObject('secrets', ref, version, raw);
  }

  updateConfig(ref: string, version: number, raw: unknown): Promise<void> {
    return this.#updateObject('configs', ref, version, raw);
  }

  removeSecret(ref: string): Promise<void> {
    return this.#removeObject('secrets', ref);
  }

  removeConfig(ref: string): Promise<void> {
    return this.#removeObject('configs', ref);
  }

  async #createObject(table: ObjectTable, spec: SecretSpec | ConfigSpec): Promise<string> {
    const now = this.#now();
    const id = newId();
    await this.store.update((tx) => {
      if (!tx.cluster()) throw failedPrecondition('this node is not a swarm manager');
      // A duplicate name is refused by the store: "secret x already exists" (409).
      tx.create(table, { ID: id, Version: { Index: 0 }, CreatedAt: now, UpdatedAt: now, Spec: spec });
    });
    return id;
  }

  async #updateObject(table: ObjectTable, ref: string, version: number, raw: unknown): Promise<void> {
    const { spec, data } = decodeObjectSpec(raw, KIND[table]);
    await this.store.update((tx) => {
      const cur = findObject(tx, table, ref);
      const stored = Buffer.from(cur.Spec.Data ?? '', 'base64');
      if (spec.Name !== cur.Spec.Name || (data !== undefined && !sameBytes(data, stored))) {
        throw invalidArgument('only updates to Labels are allowed');
      }
      if (cur.Version.Index !== version) throw outOfSequence();
      tx.update(table, {
        ...cur,
        Spec: { ...cur.Spec, Labels: spec.Labels ?? {} },
        UpdatedAt: this.#now(),
      });
    });
  }

  async #removeObject(table: ObjectTable, ref: string): Promise<void> {
    await this.store.update((tx) => {
      const o = findObject(tx, table, ref);
      const users = tx.all('services').filter((s) => referencedIds(s.Spec, table).includes(o.ID));
      if (users.length > 0) {
        throw invalidArgument(
          `${KIND[table]} '${o.Spec.Name}' is in use by the following service${users.length > 1 ? 's' : ''}: ${users.map((s) => s.Spec.Name ?? s.ID).join(', ')}`,
        );
      }
      tx.remove(table, o.ID);
    });
  }
}

/**
 * Refuses a subnet that overlaps another swarm network's, or another of the request's own.
 * swarmkit takes such a network and its allocator then fails on it for good (libnetwork's
 * ErrPoolOverlap, only logged); shoal refuses it at once with that message, as InvalidArgument
 * (400, the caller's mistake).
 */
function checkOverlaps(tx: ReadTx, configs: readonly { Subnet?: string }[]): void {
  const mine = configs.map((c) => tryParseCidr(c.Subnet ?? '')).filter((c) => c !== undefined);
  const overlap = (a: Cidr, b: Cidr): boolean =>
    a.family === b.family && a.base <= lastOf(b) && b.base <= lastOf(a);
  mine.forEach((c, i) => {
    const twin = mine.slice(0, i).find((o) => overlap(c, o));
    if (twin)
      throw invalidArgument(
        `Pool overlaps with other one on this address space: ${formatCidr(c)} overlaps ${formatCidr(twin)} of the same request`,
      );
    for (const n of tx.all('networks'))
      for (const other of n.IPAMOptions.Configs) {
        const o = tryParseCidr(other.Subnet ?? '');
        if (o && overlap(c, o))
          throw invalidArgument(
            `Pool overlaps with other one on this address space: ${formatCidr(c)} overlaps ${formatCidr(o)} of network ${n.Spec.Name} (${n.ID})`,
          );
      }
  });
}

function dropZeros(v: unknown): unknown {
  if (Array.isArray(v) || v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === 0 || x === undefined) continue;
    out[k] = dropZeros(x);
  }
  return out;
}

export function mergeSwarmSpec(base: SwarmSpec, over: SwarmSpec): SwarmSpec {
  const out = structuredClone(base) as Record<string, unknown>;
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const b = out[k];
    out[k] =
      b &&
      typeof b === 'object' &&
      !Array.isArray(b) &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      k !== 'Labels'
        ? { ...b, ...v }
        : v;
  }
  return out as SwarmSpec;
}
