// Validation of request bodies. A small schema walker checks JSON types (so a wrong type is a 400
// that names the field, not a crash later) and drops unknown fields, as Docker's Go decoder does.
// Semantic checks follow per object. Nothing here touches the store.
import { badParameter, invalidArgument } from './errors.js';
import { parseConstraints } from './constraints.js';
import type {
  ConfigSpec,
  NetworkSpec,
  NodeSpec,
  SecretSpec,
  ServiceMode,
  ServiceSpec,
  SwarmSpec,
  UpdateConfig,
} from './types.js';

type Schema =
  | 'string'
  | 'int'
  | 'number'
  | 'bool'
  | 'any'
  | 'strings'
  | 'labels'
  | { obj: Record<string, Schema> }
  | { arr: Schema };

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function check(v: unknown, s: Schema, path: string): unknown {
  const bad = (want: string): never => {
    throw invalidArgument(`json: cannot unmarshal ${typeName(v)} into field ${path} of type ${want}`);
  };
  if (v === null || v === undefined) return undefined;
  if (s === 'any') return v;
  if (s === 'string') return typeof v === 'string' ? v : bad('string');
  if (s === 'bool') return typeof v === 'boolean' ? v : bad('bool');
  if (s === 'int') return typeof v === 'number' && Number.isInteger(v) ? v : bad('integer');
  if (s === 'number') return typeof v === 'number' && Number.isFinite(v) ? v : bad('number');
  if (s === 'strings') return check(v, { arr: 'string' }, path);
  if (s === 'labels') {
    if (typeof v !== 'object' || Array.isArray(v)) return bad('map[string]string');
    const out: Record<string, string> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (typeof x !== 'string') throw invalidArgument(`json: label ${path}.${k} must be a string`);
      out[k] = x;
    }
    return out;
  }
  if ('arr' in s) {
    if (!Array.isArray(v)) return bad('array');
    return v.map((x, i) => check(x, s.arr, `${path}[${i}]`));
  }
  if (typeof v !== 'object' || Array.isArray(v)) return bad('object');
  const out: Record<string, unknown> = {};
  for (const [k, sub] of Object.entries(s.obj)) {
    const x = check((v as Record<string, unknown>)[k], sub, path ? `${path}.${k}` : k);
    if (x !== undefined) out[k] = x;
  }
  return out;
}

const RESOURCES: Schema = {
  obj: { NanoCPUs: 'int', MemoryBytes: 'int', Pids: 'int', GenericResources: 'any' },
};
const HEALTH: Schema = {
  obj: { Test: 'strings', Interval: 'int', Timeout: 'int', Retries: 'int', StartPeriod: 'int' },
};
const FILE: Schema = { obj: { Name: 'string', UID: 'string', GID: 'string', Mode: 'int' } };
const UPDATE: Schema = {
  obj: {
    Parallelism: 'int',
    Delay: 'int',
    FailureAction: 'string',
    Monitor: 'int',
    MaxFailureRatio: 'number',
    Order: 'string',
  },
};
const NETWORKS: Schema = { arr: { obj: { Target: 'string', Aliases: 'strings', DriverOpts: 'labels' } } };

const SERVICE_SPEC: Schema = {
  obj: {
    Name: 'string',
    Labels: 'labels',
    TaskTemplate: {
      obj: {
        PluginSpec: 'any',
        NetworkAttachmentSpec: 'any',
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
            Privileges: 'any',
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
                  BindOptions: 'any',
                  VolumeOptions: 'any',
                  TmpfsOptions: { obj: { SizeBytes: 'int', Mode: 'int' } },
                },
              },
            },
            StopSignal: 'string',
            StopGracePeriod: 'int',
            Healthcheck: HEALTH,
            HealthCheck: HEALTH,
            Hosts: 'strings',
            DNSConfig: { obj: { Nameservers: 'strings', Search: 'strings', Options: 'strings' } },
            Secrets: { arr: { obj: { File: FILE, SecretID: 'string', SecretName: 'string' } } },
            Configs: {
              arr: { obj: { File: FILE, Runtime: 'any', ConfigID: 'string', ConfigName: 'string' } },
            },
            Isolation: 'string',
            Init: 'bool',
            Sysctls: 'labels',
            CapabilityAdd: 'strings',
            CapabilityDrop: 'strings',
            Ulimits: { arr: { obj: { Name: 'string', Soft: 'int', Hard: 'int' } } },
          },
        },
        Resources: { obj: { Limits: RESOURCES, Reservations: RESOURCES } },
        RestartPolicy: { obj: { Condition: 'string', Delay: 'int', MaxAttempts: 'int', Window: 'int' } },
        Placement: {
          obj: {
            Constraints: 'strings',
            Preferences: { arr: { obj: { Spread: { obj: { SpreadDescriptor: 'string' } } } } },
            MaxReplicas: 'int',
            Platforms: { arr: { obj: { Architecture: 'string', OS: 'string' } } },
          },
        },
        ForceUpdate: 'int',
        Runtime: 'string',
        Networks: NETWORKS,
        LogDriver: { obj: { Name: 'string', Options: 'labels' } },
      },
    },
    Mode: 'any', // checked by hand below: exactly one known key
    UpdateConfig: UPDATE,
    RollbackConfig: UPDATE,
    Networks: NETWORKS,
    EndpointSpec: {
      obj: {
        Mode: 'string',
        Ports: {
          arr: {
            obj: {
              Name: 'string',
              Protocol: 'string',
              TargetPort: 'int',
              PublishedPort: 'int',
              PublishMode: 'string',
            },
          },
        },
      },
    },
  },
};

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

function checkMode(raw: unknown): ServiceMode {
  if (raw === undefined || raw === null) return { Replicated: { Replicas: 1 } };
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalidArgument('Mode must be an object');
  const keys = Object.keys(raw);
  const known = ['Replicated', 'Global', 'ReplicatedJob', 'GlobalJob'];
  const unknown = keys.filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw invalidArgument(
      `unknown service mode "${unknown[0]}"; use Replicated, Global, ReplicatedJob or GlobalJob`,
    );
  }
  if (keys.length > 1) throw invalidArgument(`a service has exactly one mode, got ${keys.join(' and ')}`);
  if (keys.length === 0) return { Replicated: { Replicas: 1 } };
  const m = raw as Record<string, unknown>;
  if ('Replicated' in m) {
    const r = check(m.Replicated, { obj: { Replicas: 'int' } }, 'Mode.Replicated') as
      { Replicas?: number } | undefined;
    const replicas = r?.Replicas ?? 1;
    if (replicas < 0) throw invalidArgument(`replicas must be non-negative, got ${replicas}`);
    return { Replicated: { Replicas: replicas } };
  }
  if ('ReplicatedJob' in m) {
    const r = (check(
      m.ReplicatedJob,
      { obj: { MaxConcurrent: 'int', TotalCompletions: 'int' } },
      'Mode.ReplicatedJob',
    ) ?? {}) as { MaxConcurrent?: number; TotalCompletions?: number };
    nonNegative(r.MaxConcurrent, 'MaxConcurrent');
    nonNegative(r.TotalCompletions, 'TotalCompletions');
    const max = r.MaxConcurrent ?? 1;
    return { ReplicatedJob: { MaxConcurrent: max, TotalCompletions: r.TotalCompletions ?? max } };
  }
  if ('Global' in m) return { Global: {} };
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
  oneOf(u.FailureAction, ['pause', 'continue', 'rollback'] as const, `${what}.FailureAction`);
  oneOf(u.Order, ['stop-first', 'start-first'] as const, `${what}.Order`);
  if (u.MaxFailureRatio !== undefined && (u.MaxFailureRatio < 0 || u.MaxFailureRatio > 1)) {
    throw invalidArgument(`${what}.MaxFailureRatio must be between 0 and 1, got ${u.MaxFailureRatio}`);
  }
}

/** Checks a ServiceSpec body and fills the defaults a swarm manager stores at create time. */
export function normalizeServiceSpec(raw: unknown): ServiceSpec {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalidArgument('the request body must be a JSON object (a ServiceSpec)');
  }
  const spec = check(raw, SERVICE_SPEC, '') as ServiceSpec;
  spec.Mode = checkMode((raw as Record<string, unknown>).Mode);
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
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw invalidArgument('the request body must be a NodeSpec object');
  const spec = check(
    raw,
    { obj: { Name: 'string', Labels: 'labels', Role: 'string', Availability: 'string' } },
    '',
  ) as NodeSpec;
  oneOf(spec.Role, ['worker', 'manager'] as const, 'Role');
  oneOf(spec.Availability, ['active', 'pause', 'drain'] as const, 'Availability');
  return spec;
}

export function validateSwarmSpec(raw: unknown): SwarmSpec {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw invalidArgument('the request body must be a SwarmSpec object');
  const spec = check(
    raw,
    {
      obj: {
        Name: 'string',
        Labels: 'labels',
        Orchestration: { obj: { TaskHistoryRetentionLimit: 'int' } },
        Raft: {
          obj: {
            SnapshotInterval: 'int',
            KeepOldSnapshots: 'int',
            LogEntriesForSlowFollowers: 'int',
            ElectionTick: 'int',
            HeartbeatTick: 'int',
          },
        },
        Dispatcher: { obj: { HeartbeatPeriod: 'int' } },
        CAConfig: {
          obj: {
            NodeCertExpiry: 'int',
            ExternalCAs: 'any',
            SigningCACert: 'string',
            SigningCAKey: 'string',
            ForceRotate: 'int',
          },
        },
        TaskDefaults: { obj: { LogDriver: { obj: { Name: 'string', Options: 'labels' } } } },
        EncryptionConfig: { obj: { AutoLockManagers: 'bool' } },
      },
    },
    '',
  ) as SwarmSpec;
  // Docker accepts a negative history limit and then keeps no history; we refuse it.
  const limit = spec.Orchestration?.TaskHistoryRetentionLimit;
  if (limit !== undefined && limit < 0) {
    throw invalidArgument(`task history retention limit must be non-negative, got ${limit}`);
  }
  const hb = spec.Dispatcher?.HeartbeatPeriod;
  if (hb !== undefined && hb < 0) throw invalidArgument(`heartbeat period must be non-negative, got ${hb}`);
  const expiry = spec.CAConfig?.NodeCertExpiry;
  if (expiry !== undefined && expiry !== 0 && expiry < 3600e9) {
    throw invalidArgument('minimum certificate expiry time is 1h');
  }
  return spec;
}

export function validateNetworkSpec(
  raw: unknown,
): NetworkSpec & { Driver?: string; CheckDuplicate?: boolean } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw invalidArgument('the request body must be a JSON object');
  const body = check(
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
        ConfigFrom: 'any',
      },
    },
    '',
  ) as Record<string, unknown> & { Name?: string; Driver?: string; Labels?: Record<string, string> };
  const name = body.Name ?? '';
  if (!name) throw invalidArgument('network name must be provided');
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

const DRIVER: Schema = { obj: { Name: 'string', Options: 'labels' } };
const OBJECT_SPEC: Schema = {
  obj: { Name: 'string', Labels: 'labels', Data: 'string', Driver: DRIVER, Templating: DRIVER },
};
const OBJECT_NAME = /^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$/;

/** A SecretSpec or ConfigSpec body as Docker's JSON decoding sees it: typed, with Data decoded. */
export interface DecodedObjectSpec {
  spec: SecretSpec;
  data: Buffer | undefined;
}

export function decodeObjectSpec(raw: unknown, kind: 'secret' | 'config'): DecodedObjectSpec {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalidArgument(
      `the request body must be a JSON object (a ${kind === 'secret' ? 'Secret' : 'Config'}Spec)`,
    );
  }
  const spec = check(raw, OBJECT_SPEC, '') as Partial<SecretSpec>;
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
