// Validation of request bodies: the schemas of Docker's Go types (read by schema.ts, so a wrong
// type or an out-of-range number is a 400 that names the field, and unknown fields are dropped),
// then semantic checks per object. Nothing here touches the store.
import { badParameter, invalidArgument } from './errors.js';
import { checkBody, duration, int64, uint32, uint64, type Schema } from './schema.js';
import { parseConstraints } from './constraints.js';
import { TASK_STATES } from './types.js';
import type {
  ConfigSpec,
  NodeDescription,
  TaskStatus,
  NetworkSpec,
  NodeSpec,
  SecretSpec,
  ServiceMode,
  ServiceSpec,
  SwarmSpec,
  UpdateConfig,
} from './types.js';

const RESOURCES: Schema = { obj: { NanoCPUs: int64, MemoryBytes: int64, Pids: int64 } };
const GENERIC_RESOURCES: Schema = {
  arr: {
    obj: {
      NamedResourceSpec: { obj: { Kind: 'string', Value: 'string' } },
      DiscreteResourceSpec: { obj: { Kind: 'string', Value: int64 } },
    },
  },
};
const HEALTH: Schema = {
  obj: {
    Test: 'strings',
    Interval: duration,
    Timeout: duration,
    Retries: int64,
    StartPeriod: duration,
    StartInterval: duration,
  },
};
const FILE: Schema = { obj: { Name: 'string', UID: 'string', GID: 'string', Mode: uint32 } };
const UPDATE: Schema = {
  obj: {
    Parallelism: uint64,
    Delay: duration,
    FailureAction: 'string',
    Monitor: duration,
    MaxFailureRatio: 'float32',
    Order: 'string',
  },
};
const PORT_CONFIG: Schema = {
  obj: {
    Name: 'string',
    Protocol: 'string',
    TargetPort: uint32,
    PublishedPort: uint32,
    PublishMode: 'string',
  },
};
const DRIVER: Schema = { obj: { Name: 'string', Options: 'labels' } };
const NETWORKS: Schema = { arr: { obj: { Target: 'string', Aliases: 'strings', DriverOpts: 'labels' } } };

const SERVICE_SPEC = {
  obj: {
    Name: 'string',
    Labels: 'labels',
    TaskTemplate: {
      obj: {
        PluginSpec: {
          obj: {
            Name: 'string',
            Remote: 'string',
            Disabled: 'bool',
            PluginPrivilege: { arr: { obj: { Name: 'string', Description: 'string', Value: 'strings' } } },
          },
        },
        NetworkAttachmentSpec: { obj: { ContainerID: 'string' } },
        ContainerSpec: {
          obj: {
            Image: 'string',
            Labels: 'labels',
            Command: 'strings',
            Args: 'strings',
            Hostname: 'string',
            Env: 'strings',
            Dir: 'string',
            User: 'string',
            Groups: 'strings',
            Privileges: {
              obj: {
                CredentialSpec: { obj: { Config: 'string', File: 'string', Registry: 'string' } },
                SELinuxContext: {
                  obj: { Disable: 'bool', User: 'string', Role: 'string', Type: 'string', Level: 'string' },
                },
                Seccomp: { obj: { Mode: 'string', Profile: 'string' } },
                AppArmor: { obj: { Mode: 'string' } },
                NoNewPrivileges: 'bool',
              },
            },
            TTY: 'bool',
            OpenStdin: 'bool',
            ReadOnly: 'bool',
            Mounts: {
              arr: {
                obj: {
                  Type: 'string',
                  Source: 'string',
                  Target: 'string',
                  ReadOnly: 'bool',
                  Consistency: 'string',
                  BindOptions: {
                    obj: {
                      Propagation: 'string',
                      NonRecursive: 'bool',
                      CreateMountpoint: 'bool',
                      ReadOnlyNonRecursive: 'bool',
                      ReadOnlyForceRecursive: 'bool',
                    },
                  },
                  VolumeOptions: {
                    obj: { NoCopy: 'bool', Labels: 'labels', DriverConfig: DRIVER, Subpath: 'string' },
                  },
                  TmpfsOptions: { obj: { SizeBytes: int64, Mode: uint32, Options: { arr: 'strings' } } },
                },
              },
            },
            StopSignal: 'string',
            StopGracePeriod: duration,
            Healthcheck: HEALTH,
            HealthCheck: HEALTH,
            Hosts: 'strings',
            DNSConfig: { obj: { Nameservers: 'strings', Search: 'strings', Options: 'strings' } },
            Secrets: { arr: { obj: { File: FILE, SecretID: 'string', SecretName: 'string' } } },
            Configs: {
              arr: { obj: { File: FILE, Runtime: 'empty', ConfigID: 'string', ConfigName: 'string' } },
            },
            Isolation: 'string',
            Init: 'bool',
            Sysctls: 'labels',
            CapabilityAdd: 'strings',
            CapabilityDrop: 'strings',
            Ulimits: { arr: { obj: { Name: 'string', Soft: int64, Hard: int64 } } },
            OomScoreAdj: int64,
          },
        },
        Resources: {
          obj: {
            Limits: RESOURCES,
            Reservations: {
              obj: { NanoCPUs: int64, MemoryBytes: int64, GenericResources: GENERIC_RESOURCES },
            },
          },
        },
        RestartPolicy: {
          obj: { Condition: 'string', Delay: duration, MaxAttempts: uint64, Window: duration },
        },
        Placement: {
          obj: {
            Constraints: 'strings',
            Preferences: { arr: { obj: { Spread: { obj: { SpreadDescriptor: 'string' } } } } },
            MaxReplicas: uint64,
            Platforms: { arr: { obj: { Architecture: 'string', OS: 'string' } } },
          },
        },
        ForceUpdate: uint64,
        Runtime: 'string',
        Networks: NETWORKS,
        LogDriver: DRIVER,
      },
    },
    Mode: {
      obj: {
        Replicated: { obj: { Replicas: uint64 } },
        Global: 'empty',
        ReplicatedJob: { obj: { MaxConcurrent: uint64, TotalCompletions: uint64 } },
        GlobalJob: 'empty',
      },
    },
    UpdateConfig: UPDATE,
    RollbackConfig: UPDATE,
    Networks: NETWORKS,
    EndpointSpec: {
      obj: {
        Mode: 'string',
        Ports: { arr: PORT_CONFIG },
      },
    },
  },
} satisfies Schema;

// Sane upper bounds where Docker's Go types allow absurd values that would take a cluster down
// (a billion replicas exhausts the manager's memory; a timer past 2^31 ms fires at once in Node).
/** The most replicas (or job completions) one service may ask for: the scale shoal is built for. */
export const MAX_REPLICAS = 200_000;
/** The longest delay, window, monitor period or grace period shoal runs a timer for: 7 days. */
export const MAX_TIMER_NS = 7 * 24 * 3600e9;
/** Agent heartbeat period: from 50 ms to 1 hour (a node is down after 3 periods of silence). */
export const MIN_HEARTBEAT_NS = 50e6;
export const MAX_HEARTBEAT_NS = 3600e9;
/** Node certificates live from 1 hour (Docker's minimum) to 20 years (the root CA's own life). */
export const MIN_CERT_EXPIRY_NS = 3600e9;
export const MAX_CERT_EXPIRY_NS = 20 * 365 * 24 * 3600e9;
/** Tasks kept per slot: each is a stored object, so an unbounded history is unbounded memory. */
export const MAX_TASK_HISTORY = 1000;

function atMost(v: number | undefined, max: number, what: string, shown = String(max)): void {
  if (v !== undefined && v > max) throw invalidArgument(`${what} must be at most ${shown}, got ${v}`);
}
const timer = (v: number | undefined, what: string): void =>
  atMost(v, MAX_TIMER_NS, what, '7 days (604800s)');

const NAME = /^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$/;
export function isValidName(name: string): boolean {
  return name.length <= 63 && NAME.test(name);
}

function nonNegative(v: number | undefined, what: string): void {
  if (v !== undefined && v < 0) throw invalidArgument(`${what} must be non-negative, got ${v}`);
}

function oneOf<T extends string>(v: string | undefined, allowed: readonly T[], what: string): void {
  if (v !== undefined && !(allowed as readonly string[]).includes(v)) {
    throw invalidArgument(`${what} must be one of ${allowed.join(', ')}, got "${v}"`);
  }
}

function checkMode(m: ServiceSpec['Mode'] | undefined): ServiceMode {
  const keys = Object.keys(m ?? {});
  if (keys.length > 1) throw invalidArgument(`a service has exactly one mode, got ${keys.join(' and ')}`);
  if (!m || keys.length === 0) return { Replicated: { Replicas: 1 } };
  if (m.Replicated) {
    const replicas = m.Replicated.Replicas ?? 1;
    atMost(replicas, MAX_REPLICAS, 'replicas');
    return { Replicated: { Replicas: replicas } };
  }
  if (m.ReplicatedJob) {
    const r = m.ReplicatedJob;
    atMost(r.MaxConcurrent, MAX_REPLICAS, 'MaxConcurrent');
    atMost(r.TotalCompletions, MAX_REPLICAS, 'TotalCompletions');
    const max = r.MaxConcurrent ?? 1;
    return { ReplicatedJob: { MaxConcurrent: max, TotalCompletions: r.TotalCompletions ?? max } };
  }
  if (m.Global) return { Global: {} };
  return { GlobalJob: {} };
}

function checkUpdateConfig(u: UpdateConfig | undefined, what: string): void {
  if (!u) return;
  // The docker CLI sends Order "" when the stored spec had none (its Go field is not omitempty),
  // e.g. `docker service scale` of a service created without one; Docker reads it as stop-first.
  if (u.Order === ('' as string)) delete u.Order;
  nonNegative(u.Parallelism, `${what}.Parallelism`);
  nonNegative(u.Delay, `${what}.Delay`);
  nonNegative(u.Monitor, `${what}.Monitor`);
  timer(u.Delay, `${what}.Delay`);
  timer(u.Monitor, `${what}.Monitor`);
  oneOf(u.FailureAction, ['pause', 'continue', 'rollback'] as const, `${what}.FailureAction`);
  oneOf(u.Order, ['stop-first', 'start-first'] as const, `${what}.Order`);
  if (u.MaxFailureRatio !== undefined && (u.MaxFailureRatio < 0 || u.MaxFailureRatio > 1)) {
    throw invalidArgument(`${what}.MaxFailureRatio must be between 0 and 1, got ${u.MaxFailureRatio}`);
  }
}

/** Checks a ServiceSpec body and fills the defaults a swarm manager stores at create time. */
export function normalizeServiceSpec(raw: unknown): ServiceSpec {
  const mode = (raw as { Mode?: unknown } | null)?.Mode;
  if (mode && typeof mode === 'object' && !Array.isArray(mode)) {
    const unknown = Object.keys(mode).filter((k) => !(k in SERVICE_SPEC.obj.Mode.obj));
    if (unknown.length > 0)
      throw invalidArgument(
        `unknown service mode "${unknown[0]}"; use Replicated, Global, ReplicatedJob or GlobalJob`,
      );
  }
  const spec = checkBody<ServiceSpec>(raw, SERVICE_SPEC, 'a ServiceSpec');
  spec.Mode = checkMode(spec.Mode);
  const name = spec.Name ?? '';
  if (name === '') throw invalidArgument('name must be provided');
  if (!isValidName(name)) throw invalidArgument('name must be valid as a DNS name component');
  spec.Labels ??= {};

  const tt = (spec.TaskTemplate ??= {});
  const cs = tt.ContainerSpec;
  if (!cs || !cs.Image) throw invalidArgument('ContainerSpec: image reference must be provided');
  cs.Init ??= false;
  cs.DNSConfig ??= {};
  cs.Isolation ??= 'default';
  nonNegative(cs.StopGracePeriod, 'StopGracePeriod');
  timer(cs.StopGracePeriod, 'StopGracePeriod');
  const hc = cs.Healthcheck ?? cs.HealthCheck;
  if (hc) {
    for (const k of ['Interval', 'Timeout', 'StartPeriod', 'Retries'] as const)
      nonNegative(hc[k], `Healthcheck.${k}`);
  }
  for (const m of cs.Mounts ?? []) {
    oneOf(m.Type, ['bind', 'volume', 'tmpfs', 'npipe', 'cluster'] as const, 'Mount.Type');
    if (!m.Target) throw invalidArgument('invalid mount config: Target must not be empty');
    if (m.Type === 'bind' && !m.Source) throw invalidArgument('invalid bind mount: Source must not be empty');
  }
  tt.Resources ??= {};
  tt.Resources.Limits ??= {};
  tt.Resources.Reservations ??= {};
  for (const [what, r] of [
    ['Limits', tt.Resources.Limits],
    ['Reservations', tt.Resources.Reservations],
  ] as const) {
    nonNegative(r.NanoCPUs, `Resources.${what}.NanoCPUs`);
    nonNegative(r.MemoryBytes, `Resources.${what}.MemoryBytes`);
  }
  if (tt.RestartPolicy) {
    oneOf(tt.RestartPolicy.Condition, ['none', 'on-failure', 'any'] as const, 'RestartPolicy.Condition');
    nonNegative(tt.RestartPolicy.Delay, 'RestartPolicy.Delay');
    nonNegative(tt.RestartPolicy.MaxAttempts, 'RestartPolicy.MaxAttempts');
    nonNegative(tt.RestartPolicy.Window, 'RestartPolicy.Window');
    timer(tt.RestartPolicy.Delay, 'RestartPolicy.Delay');
    timer(tt.RestartPolicy.Window, 'RestartPolicy.Window');
  }
  tt.Placement ??= {};
  // Docker answers a malformed constraint with a 500; it is the caller's mistake, so a 400 here.
  parseConstraints(tt.Placement.Constraints ?? []);
  nonNegative(tt.Placement.MaxReplicas, 'Placement.MaxReplicas');
  for (const p of tt.Placement.Preferences ?? []) {
    const d = p.Spread?.SpreadDescriptor ?? '';
    if (
      !/^(node\.labels\.|engine\.labels\.)\S+$/.test(d) &&
      !/^node\.(id|hostname|role|platform\.(os|arch))$/.test(d)
    ) {
      throw invalidArgument(`invalid placement preference "${d}": use spread=node.labels.<name>`);
    }
  }
  tt.ForceUpdate ??= 0;
  tt.Runtime ??= 'container';
  // The deprecated top-level Networks field means the same as TaskTemplate.Networks.
  if (spec.Networks && !tt.Networks) tt.Networks = spec.Networks;
  delete spec.Networks;
  for (const n of tt.Networks ?? [])
    if (!n.Target) throw invalidArgument('a network attachment must name its network (Target is empty)');

  checkUpdateConfig(spec.UpdateConfig, 'UpdateConfig');
  checkUpdateConfig(spec.RollbackConfig, 'RollbackConfig');

  const ep = (spec.EndpointSpec ??= {});
  ep.Mode ??= 'vip';
  oneOf(ep.Mode, ['vip', 'dnsrr'] as const, 'EndpointSpec.Mode');
  for (const p of ep.Ports ?? []) {
    p.Protocol ??= 'tcp';
    p.PublishMode ??= 'ingress';
    oneOf(p.Protocol, ['tcp', 'udp', 'sctp'] as const, 'port protocol');
    oneOf(p.PublishMode, ['ingress', 'host'] as const, 'port publish mode');
    if (!p.TargetPort || p.TargetPort < 1 || p.TargetPort > 65535) {
      throw invalidArgument(`target port must be between 1 and 65535, got ${p.TargetPort ?? 0}`);
    }
    if (p.PublishedPort !== undefined && (p.PublishedPort < 0 || p.PublishedPort > 65535)) {
      throw invalidArgument(`published port must be between 0 and 65535, got ${p.PublishedPort}`);
    }
  }
  if (ep.Mode === 'dnsrr' && (ep.Ports ?? []).some((p) => p.PublishMode === 'ingress')) {
    throw invalidArgument("EndpointSpec: port published with ingress mode can't be used with dnsrr mode");
  }
  return spec;
}

export function validateNodeSpec(raw: unknown): NodeSpec {
  const spec = checkBody<NodeSpec>(
    raw,
    { obj: { Name: 'string', Labels: 'labels', Role: 'string', Availability: 'string' } },
    'a NodeSpec',
  );
  oneOf(spec.Role, ['worker', 'manager'] as const, 'Role');
  oneOf(spec.Availability, ['active', 'pause', 'drain'] as const, 'Availability');
  return spec;
}

const SWARM_SPEC = {
  obj: {
    Name: 'string',
    Labels: 'labels',
    Orchestration: { obj: { TaskHistoryRetentionLimit: int64 } },
    Raft: {
      obj: {
        SnapshotInterval: uint64,
        KeepOldSnapshots: uint64,
        LogEntriesForSlowFollowers: uint64,
        ElectionTick: int64,
        HeartbeatTick: int64,
      },
    },
    Dispatcher: { obj: { HeartbeatPeriod: duration } },
    CAConfig: {
      obj: {
        NodeCertExpiry: duration,
        ExternalCAs: {
          arr: { obj: { Protocol: 'string', URL: 'string', Options: 'labels', CACert: 'string' } },
        },
        SigningCACert: 'string',
        SigningCAKey: 'string',
        ForceRotate: uint64,
      },
    },
    TaskDefaults: { obj: { LogDriver: DRIVER } },
    EncryptionConfig: { obj: { AutoLockManagers: 'bool' } },
  },
} satisfies Schema;

/** Checks a SwarmSpec (swarm init and update). */
export function validateSwarmSpec(raw: unknown): SwarmSpec {
  const spec = checkBody<SwarmSpec>(raw, SWARM_SPEC, 'a SwarmSpec');
  // Docker accepts a negative history limit and then keeps no history; we refuse it.
  const limit = spec.Orchestration?.TaskHistoryRetentionLimit;
  if (limit !== undefined && limit < 0) {
    throw invalidArgument(`task history retention limit must be non-negative, got ${limit}`);
  }
  atMost(limit, MAX_TASK_HISTORY, 'task history retention limit');
  for (const [k, v] of Object.entries(spec.Raft ?? {})) nonNegative(v as number, `Raft.${k}`);
  const hb = spec.Dispatcher?.HeartbeatPeriod;
  if (hb !== undefined && hb !== 0 && (hb < MIN_HEARTBEAT_NS || hb > MAX_HEARTBEAT_NS)) {
    throw invalidArgument(`heartbeat period must be between 50ms and 1h, got ${hb / 1e6}ms`);
  }
  const expiry = spec.CAConfig?.NodeCertExpiry;
  if (expiry !== undefined && expiry !== 0 && expiry < MIN_CERT_EXPIRY_NS) {
    throw invalidArgument('minimum certificate expiry time is 1h');
  }
  atMost(expiry, MAX_CERT_EXPIRY_NS, 'certificate expiry', '20 years (175200h)');
  const ca = spec.CAConfig;
  if (ca?.SigningCACert || ca?.SigningCAKey || ca?.ExternalCAs?.length)
    throw invalidArgument(
      'shoal generates its own root CA: --ca-cert, --ca-key and --external-ca are not supported; use "docker swarm ca --rotate" alone',
    );
  return spec;
}

export function validateNetworkSpec(
  raw: unknown,
): NetworkSpec & { Driver?: string; CheckDuplicate?: boolean } {
  const body = checkBody<
    Record<string, unknown> & { Name?: string; Driver?: string; Labels?: Record<string, string> }
  >(
    raw,
    {
      obj: {
        Name: 'string',
        CheckDuplicate: 'bool',
        Driver: 'string',
        Scope: 'string',
        Internal: 'bool',
        Attachable: 'bool',
        Ingress: 'bool',
        EnableIPv6: 'bool',
        Labels: 'labels',
        Options: 'labels',
        IPAM: {
          obj: {
            Driver: 'string',
            Options: 'labels',
            Config: { arr: { obj: { Subnet: 'string', IPRange: 'string', Gateway: 'string' } } },
          },
        },
        ConfigOnly: 'bool',
        ConfigFrom: { obj: { Network: 'string' } },
      },
    },
    'a NetworkCreateRequest',
  );
  const name = body.Name ?? '';
  if (!name) throw invalidArgument('network name must be provided');
  // Swarm-scoped networks are named as services are (swarmkit's validateAnnotations).
  if (!isValidName(name))
    throw invalidArgument('name must be valid as a DNS name component (at most 63 characters)');
  const driver = body.Driver ?? 'overlay';
  if (driver !== 'overlay') {
    throw invalidArgument(
      `network driver "${driver}" is not supported by shoal; swarm-scoped networks use "overlay"`,
    );
  }
  const ipam = body.IPAM as
    | {
        Driver?: string;
        Options?: Record<string, string>;
        Config?: { Subnet?: string; Gateway?: string; IPRange?: string }[];
      }
    | undefined;
  for (const c of ipam?.Config ?? []) {
    if (c.Subnet !== undefined && !/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(c.Subnet))
      throw invalidArgument(`invalid subnet ${c.Subnet}`);
  }
  const spec: NetworkSpec & { Driver?: string } = {
    Name: name,
    Labels: body.Labels ?? {},
    DriverConfiguration: {
      Name: 'overlay',
      ...(body.Options ? { Options: body.Options as Record<string, string> } : {}),
    },
    Scope: 'swarm',
    IPAMOptions: {
      Driver: { Name: ipam?.Driver ?? 'default' },
      ...(ipam?.Config ? { Configs: ipam.Config } : {}),
    },
  };
  if (body.Internal === true) spec.Internal = true;
  if (body.Attachable === true) spec.Attachable = true;
  if (body.Ingress === true) spec.Ingress = true;
  if (body.EnableIPv6 === true) spec.IPv6Enabled = true;
  return spec;
}

// ---- secrets and configs ----

/** swarmkit's limits: the decoded data must be shorter than these (v1.41.yaml: 500KB and 1000KB). */
export const MAX_SECRET_SIZE = 500 * 1024;
export const MAX_CONFIG_SIZE = 1000 * 1024;

const isBase64Char = (c: number): boolean =>
  (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47;
const isNewline = (c: number | undefined): boolean => c === 10 || c === 13;

/**
 * Decodes padded standard base64 as Go's encoding/json does for a []byte field (newlines are
 * skipped), failing with Go's message and offset so the CLI shows what Docker would.
 */
export function decodeBase64(s: string): Buffer {
  const bad = (at: number): never => {
    throw badParameter(`illegal base64 data at input byte ${at}`);
  };
  const done = (): Buffer => Buffer.from(s.replace(/[\r\n=]/g, ''), 'base64');
  let i = 0;
  const skipNewlines = (): void => {
    while (i < s.length && isNewline(s.charCodeAt(i))) i++;
  };
  for (;;) {
    let j = 0; // characters of the current 4-character quantum
    while (j < 4) {
      if (i === s.length) return j === 0 ? done() : bad(i - j);
      const c = s.charCodeAt(i++);
      if (isBase64Char(c)) j++;
      else if (isNewline(c)) continue;
      else if (c !== 61 || j < 2) bad(i - 1);
      else {
        if (j === 2) {
          skipNewlines();
          if (i === s.length) bad(s.length);
          if (s.charCodeAt(i) !== 61) bad(i - 1);
          i++;
        }
        skipNewlines();
        if (i < s.length) bad(i);
        return done();
      }
    }
  }
}

const OBJECT_SPEC = {
  obj: { Name: 'string', Labels: 'labels', Data: 'string', Driver: DRIVER, Templating: DRIVER },
} satisfies Schema;
const OBJECT_NAME = /^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$/;

/** A SecretSpec or ConfigSpec body as Docker's JSON decoding sees it: typed, with Data decoded. */
export interface DecodedObjectSpec {
  spec: SecretSpec;
  data: Buffer | undefined;
}

export function decodeObjectSpec(raw: unknown, kind: 'secret' | 'config'): DecodedObjectSpec {
  const spec = checkBody<Partial<SecretSpec>>(
    raw,
    OBJECT_SPEC,
    `a ${kind === 'secret' ? 'Secret' : 'Config'}Spec`,
  );
  const data = spec.Data === undefined ? undefined : decodeBase64(spec.Data);
  return { spec: { ...spec, Name: spec.Name ?? '' }, data };
}

function validateObjectSpec(raw: unknown, kind: 'secret' | 'config'): SecretSpec {
  const { spec, data } = decodeObjectSpec(raw, kind);
  if (spec.Name === '') throw invalidArgument('name must be provided');
  if (spec.Name.length > 64 || !OBJECT_NAME.test(spec.Name)) {
    throw invalidArgument(
      'invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]',
    );
  }
  // A ConfigSpec has no Driver field, so Docker's decoder drops one there.
  if (spec.Driver && kind === 'secret') {
    throw invalidArgument('secret drivers are not supported by shoal; create the secret with its data');
  }
  if (spec.Templating) {
    throw invalidArgument(
      `templated ${kind}s are not supported by shoal; create it without a template driver`,
    );
  }
  const max = kind === 'secret' ? MAX_SECRET_SIZE : MAX_CONFIG_SIZE;
  const size = data?.length ?? 0;
  if (size < 1 || size >= max) {
    throw invalidArgument(`${kind} data must be larger than 0 and less than ${max} bytes`);
  }
  return { Name: spec.Name, Labels: spec.Labels ?? {}, Data: data!.toString('base64') };
}

/** Checks a SecretSpec for create; Data comes back as canonical base64. */
export function validateSecretSpec(raw: unknown): SecretSpec {
  return validateObjectSpec(raw, 'secret');
}

/** Checks a ConfigSpec for create; Data comes back as canonical base64. */
export function validateConfigSpec(raw: unknown): ConfigSpec {
  return validateObjectSpec(raw, 'config');
}

// ---- swarm init and join ----

const ADDR = /^[A-Za-z0-9._%:[\]-]{1,255}$/;

/** An address as Docker takes it: an IP or host name or interface name, with or without a port. */
export function validateAddr(v: string, what: string): string {
  const port = /:(\d+)$/.exec(v)?.[1];
  if (!ADDR.test(v) || (port !== undefined && Number(port) > 65535))
    throw invalidArgument(
      `invalid ${what} "${v.slice(0, 64).replace(/[^\x20-\x7e]/g, '?')}": use an address or interface, with an optional :port`,
    );
  return v;
}

export interface InitRequest {
  ListenAddr?: string;
  AdvertiseAddr?: string;
  DataPathAddr?: string;
  ForceNewCluster?: boolean;
  Spec?: SwarmSpec;
}

export function validateInitRequest(raw: unknown): InitRequest {
  const body = checkBody<InitRequest & { Spec?: unknown }>(
    raw ?? {},
    {
      obj: {
        ListenAddr: 'string',
        AdvertiseAddr: 'string',
        DataPathAddr: 'string',
        DataPathPort: uint32,
        DefaultAddrPool: 'strings',
        SubnetSize: uint32,
        ForceNewCluster: 'bool',
        Availability: 'string',
        Spec: { obj: {} },
      },
    },
    'a SwarmInitRequest',
  );
  for (const k of ['ListenAddr', 'AdvertiseAddr', 'DataPathAddr'] as const) {
    if (body[k] === '') delete body[k];
    if (body[k] !== undefined) validateAddr(body[k], k);
  }
  // The schema above only checks that Spec is an object; its fields are read here, from the raw body.
  const spec = (raw as { Spec?: unknown }).Spec;
  if (spec !== undefined && spec !== null) body.Spec = validateSwarmSpec(spec);
  else delete body.Spec;
  return body;
}

export interface JoinRequest {
  ListenAddr?: string;
  AdvertiseAddr?: string;
  DataPathAddr?: string;
  RemoteAddrs: string[];
  JoinToken: string;
  Availability?: 'active' | 'pause' | 'drain';
}

export function validateJoinRequest(raw: unknown): JoinRequest {
  const body = checkBody<Partial<JoinRequest>>(
    raw ?? {},
    {
      obj: {
        ListenAddr: 'string',
        AdvertiseAddr: 'string',
        DataPathAddr: 'string',
        RemoteAddrs: 'strings',
        JoinToken: 'string',
        Availability: 'string',
      },
    },
    'a SwarmJoinRequest',
  );
  for (const k of ['ListenAddr', 'AdvertiseAddr', 'DataPathAddr', 'Availability'] as const) {
    if (body[k] === '') delete body[k];
  }
  for (const k of ['ListenAddr', 'AdvertiseAddr', 'DataPathAddr'] as const)
    if (body[k] !== undefined) validateAddr(body[k], k);
  const remote = body.RemoteAddrs ?? [];
  if (remote.length === 0 || remote.some((r) => !r))
    throw invalidArgument('at least 1 RemoteAddr is required to join');
  if (remote.length > 64) throw invalidArgument('at most 64 RemoteAddrs may be given');
  for (const r of remote) validateAddr(r, 'RemoteAddr');
  if (!body.JoinToken) throw invalidArgument('JoinToken is required');
  if (body.JoinToken.length > 256 || !/^[\x21-\x7e]+$/.test(body.JoinToken))
    throw invalidArgument('invalid join token');
  oneOf(body.Availability, ['active', 'pause', 'drain'] as const, 'Availability');
  return { ...body, RemoteAddrs: remote, JoinToken: body.JoinToken };
}

// ---- what workers send ----
// A node's description and its task status reports come from another machine and go into the
// Raft store, so they pass the same checks as API input: a worker that sends garbage gets an
// error and changes nothing.

/** Longest free-text field a worker may send (a task's status message or error). */
export const MAX_WORKER_TEXT = 16 * 1024;
const PRINTABLE = /^[^\x00-\x1f\x7f]*$/;

function text(v: string | undefined, what: string, max = MAX_WORKER_TEXT): void {
  if (v !== undefined && v.length > max) throw invalidArgument(`${what} is longer than ${max} characters`);
}

const NODE_DESCRIPTION = {
  obj: {
    Hostname: 'string',
    Platform: { obj: { Architecture: 'string', OS: 'string' } },
    Resources: { obj: { NanoCPUs: int64, MemoryBytes: int64, GenericResources: GENERIC_RESOURCES } },
    Engine: {
      obj: {
        EngineVersion: 'string',
        Labels: 'labels',
        Plugins: { arr: { obj: { Type: 'string', Name: 'string' } } },
      },
    },
    TLSInfo: { obj: { TrustRoot: 'string', CertIssuerSubject: 'string', CertIssuerPublicKey: 'string' } },
  },
} satisfies Schema;

export function validateNodeDescription(raw: unknown): NodeDescription {
  const d = checkBody<NodeDescription>(raw, NODE_DESCRIPTION, 'a NodeDescription');
  const host = d.Hostname ?? '';
  if (host === '' || host.length > 253 || !PRINTABLE.test(host))
    throw invalidArgument('node hostname must be 1 to 253 printable characters');
  for (const [k, v] of [
    ['Platform.Architecture', d.Platform?.Architecture],
    ['Platform.OS', d.Platform?.OS],
    ['Engine.EngineVersion', d.Engine?.EngineVersion],
  ] as const)
    text(v, k, 256);
  const labels = Object.entries(d.Engine?.Labels ?? {});
  if (labels.length > 1000) throw invalidArgument('a node has at most 1000 engine labels');
  for (const [k, v] of labels) text(k + v, 'an engine label', 4096);
  if ((d.Engine?.Plugins?.length ?? 0) > 1000) throw invalidArgument('a node has at most 1000 plugins');
  nonNegative(d.Resources?.NanoCPUs, 'Resources.NanoCPUs');
  nonNegative(d.Resources?.MemoryBytes, 'Resources.MemoryBytes');
  d.Platform = { Architecture: d.Platform?.Architecture ?? '', OS: d.Platform?.OS ?? '' };
  d.Resources = { NanoCPUs: d.Resources?.NanoCPUs ?? 0, MemoryBytes: d.Resources?.MemoryBytes ?? 0 };
  d.Engine = { ...d.Engine, EngineVersion: d.Engine?.EngineVersion ?? '' };
  return d;
}

const TASK_STATUS = {
  obj: {
    Timestamp: 'string',
    State: 'string',
    Message: 'string',
    Err: 'string',
    ContainerStatus: { obj: { ContainerID: 'string', PID: int64, ExitCode: int64 } },
    PortStatus: { obj: { Ports: { arr: PORT_CONFIG } } },
  },
} satisfies Schema;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** A task status report from an agent. */
export function validateTaskStatus(raw: unknown): TaskStatus {
  const s = checkBody<Partial<TaskStatus>>(raw, TASK_STATUS, 'a TaskStatus');
  if (!s.State || !(TASK_STATES as readonly string[]).includes(s.State))
    throw invalidArgument(`unknown task state "${String(s.State).slice(0, 32)}"`);
  if (!s.Timestamp || !RFC3339.test(s.Timestamp) || Number.isNaN(Date.parse(s.Timestamp)))
    throw invalidArgument('task status Timestamp must be an RFC 3339 time');
  text(s.Message, 'task status Message');
  text(s.Err, 'task status Err');
  text(s.ContainerStatus?.ContainerID, 'ContainerID', 128);
  if ((s.PortStatus?.Ports?.length ?? 0) > 65536) throw invalidArgument('too many ports in a task status');
  return {
    ...s,
    State: s.State,
    Timestamp: s.Timestamp,
    Message: s.Message ?? '',
    PortStatus: s.PortStatus ?? {},
  };
}

/** The task ID of a status report: one of ours, or nothing to update. */
export function validateTaskId(v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 64 || !/^[a-z0-9]+$/.test(v))
    throw invalidArgument('a task status report names no valid task ID');
  return v;
}
