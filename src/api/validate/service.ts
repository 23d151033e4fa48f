// A service's spec (create and update): the schema of Docker's ServiceSpec, then the manager's
// rules and the defaults it stores.
import { invalidArgument } from '../errors.js';
import { checkBody, duration, fieldFor, int64, uint32, uint64, type Schema } from '../schema.js';
import { parseConstraints } from '../constraints.js';
import { checkSpecTemplates } from '../template/index.js';
import type { ServiceMode, ServiceSpec, UpdateConfig } from '../types.js';
import {
  atMost,
  DRIVER,
  isValidName,
  GENERIC_RESOURCES,
  MAX_REPLICAS,
  nonNegative,
  oneOf,
  PORT_CONFIG,
  timer,
} from './common.js';

const RESOURCES: Schema = { obj: { NanoCPUs: int64, MemoryBytes: int64, Pids: int64 } };
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
  // Go's fields without omitempty: a config sent without them is stored with their zero, and a
  // Parallelism of 0 updates every task at once (swarmkit's proto zero). The orchestrator reads a
  // stored config that lacks it (one kept from before) as one at a time, as it always did.
  u.Parallelism ??= 0;
  u.MaxFailureRatio ??= 0;
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

/**
 * Checks a ServiceSpec body and gives it the shape a swarm manager echoes: what was sent, plus only
 * what Docker's round trip through swarmkit adds (Labels, Isolation, ForceUpdate, the endpoint
 * mode and port enums, Runtime). Defaults such as Init, DNSConfig, Resources or Placement are not
 * stored: they belong to `insertDefaults` (httpapi/present.ts) and to the code that reads the spec.
 */
export function normalizeServiceSpec(raw: unknown): ServiceSpec {
  const mode = (raw as { Mode?: unknown } | null)?.Mode;
  if (mode && typeof mode === 'object' && !Array.isArray(mode)) {
    const unknown = Object.keys(mode).filter((k) => fieldFor(SERVICE_SPEC.obj.Mode.obj, k) === undefined);
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
  checkSpecTemplates(cs);
  // Docker shows the isolation enum whether or not it was sent ("default" is its zero).
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
  for (const what of ['Limits', 'Reservations'] as const) {
    const r = tt.Resources?.[what];
    nonNegative(r?.NanoCPUs, `Resources.${what}.NanoCPUs`);
    nonNegative(r?.MemoryBytes, `Resources.${what}.MemoryBytes`);
  }
  // A task asks for counts of generic resources; Docker keeps a request for a named item too (it
  // never fits a node, so the task stays pending), and a negative count is the caller's mistake.
  for (const g of tt.Resources?.Reservations?.GenericResources ?? [])
    nonNegative(g.DiscreteResourceSpec?.Value, 'Resources.Reservations.GenericResources count');
  if (tt.RestartPolicy) {
    oneOf(tt.RestartPolicy.Condition, ['none', 'on-failure', 'any'] as const, 'RestartPolicy.Condition');
    nonNegative(tt.RestartPolicy.Delay, 'RestartPolicy.Delay');
    nonNegative(tt.RestartPolicy.MaxAttempts, 'RestartPolicy.MaxAttempts');
    nonNegative(tt.RestartPolicy.Window, 'RestartPolicy.Window');
    timer(tt.RestartPolicy.Delay, 'RestartPolicy.Delay');
    timer(tt.RestartPolicy.Window, 'RestartPolicy.Window');
  }
  const sentPlacement = tt.Placement !== undefined;
  tt.Placement ??= {};
  // Docker answers a malformed constraint with a 500; it is the caller's mistake, so a 400 here.
  parseConstraints(tt.Placement.Constraints ?? []);
  nonNegative(tt.Placement.MaxReplicas, 'Placement.MaxReplicas');
  // Docker keeps every spread descriptor as given (its scheduler spreads over node and engine
  // labels and ignores the rest) and drops a preference that names no strategy.
  if (tt.Placement.Preferences) {
    tt.Placement.Preferences = tt.Placement.Preferences.filter((p) => p.Spread !== undefined);
    for (const p of tt.Placement.Preferences) p.Spread!.SpreadDescriptor ??= '';
  }
  // Placement is echoed only when it was sent (insertDefaults shows an empty one).
  if (!sentPlacement && Object.keys(tt.Placement).length === 0) delete tt.Placement;
  tt.ForceUpdate ??= 0;
  // Stored for every container service, as Docker shows it on a service (its "" means the same);
  // a task's spec does not show it (present.ts publicTask).
  if (!tt.Runtime) tt.Runtime = 'container';
  // The deprecated top-level Networks field means the same as TaskTemplate.Networks.
  if (spec.Networks && !tt.Networks) tt.Networks = spec.Networks;
  delete spec.Networks;
  for (const n of tt.Networks ?? [])
    if (!n.Target) throw invalidArgument('a network attachment must name its network (Target is empty)');

  checkUpdateConfig(spec.UpdateConfig, 'UpdateConfig');
  checkUpdateConfig(spec.RollbackConfig, 'RollbackConfig');

  // An endpoint spec is echoed only when one was sent, with its mode enum filled in.
  const ep = spec.EndpointSpec ?? {};
  if (spec.EndpointSpec) ep.Mode ??= 'vip';
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
  // swarmkit's validateEndpointSpec: one protocol's published port once, whatever its mode.
  const published = new Set<string>();
  for (const p of ep.Ports ?? []) {
    if (!p.PublishedPort) continue;
    const key = `${p.Protocol}/${p.PublishedPort}`;
    if (published.has(key)) throw invalidArgument('EndpointSpec: duplicate published ports provided');
    published.add(key);
  }
  return spec;
}
