// The flags of `service create` and `service update`, and how they change a service spec.
import { Option, type Command } from 'commander';
import type { ServiceSpec } from '../../api/index.js';
import {
  collect,
  integer,
  keyValues,
  parseBytes,
  parseCpus,
  parseDuration,
  parseFileReference,
  parseMount,
  parsePort,
} from '../flags.js';

export interface SpecFlags {
  name?: string;
  replicas?: string;
  mode?: string;
  env: string[];
  label: string[];
  containerLabel: string[];
  constraint: string[];
  placementPref: string[];
  publish: string[];
  network: string[];
  mount: string[];
  secret: string[];
  config: string[];
  restartCondition?: string;
  restartDelay?: string;
  restartMaxAttempts?: string;
  restartWindow?: string;
  updateParallelism?: string;
  updateDelay?: string;
  updateFailureAction?: string;
  updateMonitor?: string;
  updateMaxFailureRatio?: string;
  updateOrder?: string;
  rollbackParallelism?: string;
  rollbackDelay?: string;
  rollbackFailureAction?: string;
  rollbackMonitor?: string;
  rollbackMaxFailureRatio?: string;
  rollbackOrder?: string;
  limitCpu?: string;
  limitMemory?: string;
  reserveCpu?: string;
  reserveMemory?: string;
  healthCmd?: string;
  healthInterval?: string;
  healthTimeout?: string;
  healthRetries?: string;
  healthStartPeriod?: string;
  noHealthcheck?: boolean;
  stopGracePeriod?: string;
  stopSignal?: string;
  workdir?: string;
  user?: string;
  hostname?: string;
  entrypoint?: string;
  init?: boolean;
  maxConcurrent?: string;
  replicasMaxPerNode?: string;
  detach?: boolean;
}

/** List flags are `--env` on create and `--env-add` on update, as in docker. */
const LIST_FLAGS: [string, string, string][] = [
  ['env', '<KEY=VALUE>', 'set an environment variable'],
  ['label', '<KEY=VALUE>', 'service label'],
  ['container-label', '<KEY=VALUE>', 'container label'],
  ['constraint', '<expr>', 'placement constraint (node.labels.zone==a)'],
  ['placement-pref', '<pref>', 'placement preference (spread=node.labels.x)'],
  ['publish', '<port>', 'publish a port (8080:80 or published=8080,target=80)'],
  ['network', '<name>', 'attach to a network'],
  ['mount', '<spec>', 'mount (type=bind,source=/a,target=/b)'],
  ['secret', '<spec>', 'give the task a secret (name, or source=x,target=y,mode=0400)'],
  ['config', '<spec>', 'give the task a config (name, or source=x,target=/path)'],
];

function camel(s: string): string {
  return s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Maps `--env-add` and friends back onto the create-time names. */
export function normalizeListFlags(f: Record<string, unknown>): void {
  for (const [name] of LIST_FLAGS) {
    const add = f[camel(`${name}-add`)];
    if (add !== undefined) f[camel(name)] = add;
  }
}

export function specOptions(cmd: Command, update: boolean): Command {
  let o = cmd;
  for (const [name, arg, help] of LIST_FLAGS) {
    const flag = update ? `${name}-add` : name;
    const short =
      !update && name === 'env'
        ? '-e, '
        : !update && name === 'label'
          ? '-l, '
          : !update && name === 'publish'
            ? '-p, '
            : '';
    o = o.option(`${short}--${flag} ${arg}`, help, collect, []);
  }
  o = o
    .option('--replicas <n>', 'number of tasks')
    .option('--restart-condition <c>', 'restart when: none, on-failure or any')
    .option('--restart-delay <d>', 'delay between restarts')
    .option('--restart-max-attempts <n>', 'maximum restarts before giving up')
    .option('--restart-window <d>', 'window used to evaluate the restart policy')
    .option('--update-parallelism <n>', 'tasks updated at once (0 = all)')
    .option('--update-delay <d>', 'delay between update batches')
    .option('--update-failure-action <a>', 'on failure: pause, continue or rollback')
    .option('--update-monitor <d>', 'how long to watch each updated task for failure')
    .option('--update-max-failure-ratio <r>', 'failure rate to tolerate')
    .option('--update-order <o>', 'stop-first or start-first')
    .option('--rollback-parallelism <n>', 'tasks rolled back at once')
    .option('--rollback-delay <d>', 'delay between rollback batches')
    .option('--rollback-failure-action <a>', 'on rollback failure: pause or continue')
    .option('--rollback-monitor <d>', 'how long to watch each rolled-back task')
    .option('--rollback-max-failure-ratio <r>', 'failure rate to tolerate during rollback')
    .option('--rollback-order <o>', 'stop-first or start-first')
    .option('--limit-cpu <n>', 'CPU limit')
    .option('--limit-memory <bytes>', 'memory limit')
    .option('--reserve-cpu <n>', 'CPU reservation')
    .option('--reserve-memory <bytes>', 'memory reservation')
    .option('--health-cmd <cmd>', 'command to check health')
    .option('--health-interval <d>', 'time between health checks')
    .option('--health-timeout <d>', 'maximum time for one check')
    .option('--health-retries <n>', 'failures needed to report unhealthy')
    .option('--health-start-period <d>', 'start period before failures count')
    .option('--no-healthcheck', 'disable the image healthcheck')
    .option('--stop-grace-period <d>', 'time to wait before killing a container')
    .option('--stop-signal <sig>', 'signal to stop the container')
    .option('-w, --workdir <dir>', 'working directory')
    .option('-u, --user <user>', 'user')
    .option('--hostname <name>', 'container hostname')
    .option('--entrypoint <cmd>', 'override the image entrypoint')
    .option('--init', 'run an init process in the container')
    .option('--max-concurrent <n>', 'jobs: tasks to run at once')
    .option('--replicas-max-per-node <n>', 'maximum tasks per node')
    .option('-d, --detach', 'exit at once instead of waiting for the service to converge');
  o.passThroughOptions();
  if (!update)
    o.option('--name <name>', 'service name').addOption(
      new Option('--mode <mode>', 'service mode')
        .choices(['replicated', 'global', 'replicated-job', 'global-job'])
        .default('replicated'),
    );
  return o;
}

/** Applies flags onto a spec (a fresh one for create, the current one for update). */
export function applyFlags(spec: ServiceSpec, f: SpecFlags): ServiceSpec {
  const tt = (spec.TaskTemplate ??= {});
  const cs = (tt.ContainerSpec ??= { Image: '' });
  if (f.env.length)
    cs.Env = [
      ...(cs.Env ?? []).filter((e) => !f.env.some((n) => n.split('=')[0] === e.split('=')[0])),
      ...f.env,
    ];
  if (f.label.length) spec.Labels = { ...(spec.Labels ?? {}), ...keyValues(f.label) };
  if (f.containerLabel.length) cs.Labels = { ...(cs.Labels ?? {}), ...keyValues(f.containerLabel) };
  if (f.constraint.length)
    tt.Placement = {
      ...(tt.Placement ?? {}),
      Constraints: [...(tt.Placement?.Constraints ?? []), ...f.constraint],
    };
  if (f.placementPref.length) {
    tt.Placement = {
      ...(tt.Placement ?? {}),
      Preferences: f.placementPref.map((p) => ({ Spread: { SpreadDescriptor: p.replace(/^spread=/, '') } })),
    };
  }
  if (f.replicasMaxPerNode)
    tt.Placement = {
      ...(tt.Placement ?? {}),
      MaxReplicas: integer(f.replicasMaxPerNode, 'replicas-max-per-node'),
    };
  if (f.publish.length)
    spec.EndpointSpec = {
      ...(spec.EndpointSpec ?? {}),
      Ports: [...(spec.EndpointSpec?.Ports ?? []), ...(f.publish.map(parsePort) as never[])],
    };
  if (f.network.length) tt.Networks = [...(tt.Networks ?? []), ...f.network.map((n) => ({ Target: n }))];
  if (f.mount.length) cs.Mounts = [...(cs.Mounts ?? []), ...(f.mount.map(parseMount) as never[])];
  if (f.secret.length)
    cs.Secrets = [
      ...(cs.Secrets ?? []),
      ...(f.secret.map((s) => parseFileReference(s, 'secret')) as never[]),
    ];
  if (f.config.length)
    cs.Configs = [
      ...(cs.Configs ?? []),
      ...(f.config.map((s) => parseFileReference(s, 'config')) as never[]),
    ];
  if (f.replicas !== undefined) {
    const n = integer(f.replicas, 'replicas');
    if (spec.Mode?.ReplicatedJob) spec.Mode.ReplicatedJob.TotalCompletions = n;
    else spec.Mode = { Replicated: { Replicas: n } };
  }
  if (f.maxConcurrent !== undefined && spec.Mode?.ReplicatedJob)
    spec.Mode.ReplicatedJob.MaxConcurrent = integer(f.maxConcurrent, 'max-concurrent');
  const rp = { ...(tt.RestartPolicy ?? {}) };
  if (f.restartCondition) rp.Condition = f.restartCondition as 'any';
  if (f.restartDelay) rp.Delay = parseDuration(f.restartDelay);
  if (f.restartMaxAttempts) rp.MaxAttempts = integer(f.restartMaxAttempts, 'restart-max-attempts');
  if (f.restartWindow) rp.Window = parseDuration(f.restartWindow);
  if (Object.keys(rp).length) tt.RestartPolicy = rp;
  for (const [prefix, key] of [
    ['update', 'UpdateConfig'],
    ['rollback', 'RollbackConfig'],
  ] as const) {
    const g = (k: string): string | undefined =>
      (f as unknown as Record<string, string | undefined>)[`${prefix}${k}`];
    const u = { ...(spec[key] ?? {}) };
    if (g('Parallelism') !== undefined) u.Parallelism = integer(g('Parallelism')!, `${prefix}-parallelism`);
    if (g('Delay')) u.Delay = parseDuration(g('Delay')!);
    if (g('FailureAction')) u.FailureAction = g('FailureAction') as 'pause';
    if (g('Monitor')) u.Monitor = parseDuration(g('Monitor')!);
    if (g('MaxFailureRatio')) u.MaxFailureRatio = Number(g('MaxFailureRatio'));
    if (g('Order')) u.Order = g('Order') as 'stop-first';
    if (Object.keys(u).length) spec[key] = u;
  }
  // Resources change only with a resource flag, as the docker CLI's update: a manager echoes a
  // spec as sent, so adding empty ones would change the task template and restart every task.
  if (f.limitCpu || f.limitMemory || f.reserveCpu || f.reserveMemory) {
    const res = {
      Limits: { ...(tt.Resources?.Limits ?? {}) },
      Reservations: { ...(tt.Resources?.Reservations ?? {}) },
    };
    if (f.limitCpu) res.Limits.NanoCPUs = parseCpus(f.limitCpu);
    if (f.limitMemory) res.Limits.MemoryBytes = parseBytes(f.limitMemory);
    if (f.reserveCpu) res.Reservations.NanoCPUs = parseCpus(f.reserveCpu);
    if (f.reserveMemory) res.Reservations.MemoryBytes = parseBytes(f.reserveMemory);
    tt.Resources = res;
  }
  if (f.noHealthcheck === false) cs.Healthcheck = { Test: ['NONE'] };
  if (f.healthCmd || f.healthInterval || f.healthTimeout || f.healthRetries || f.healthStartPeriod) {
    const h = { ...(cs.Healthcheck ?? {}) };
    if (f.healthCmd) h.Test = ['CMD-SHELL', f.healthCmd];
    if (f.healthInterval) h.Interval = parseDuration(f.healthInterval);
    if (f.healthTimeout) h.Timeout = parseDuration(f.healthTimeout);
    if (f.healthRetries) h.Retries = integer(f.healthRetries, 'health-retries');
    if (f.healthStartPeriod) h.StartPeriod = parseDuration(f.healthStartPeriod);
    cs.Healthcheck = h;
  }
  if (f.stopGracePeriod) cs.StopGracePeriod = parseDuration(f.stopGracePeriod);
  if (f.stopSignal) cs.StopSignal = f.stopSignal;
  if (f.workdir) cs.Dir = f.workdir;
  if (f.user) cs.User = f.user;
  if (f.hostname) cs.Hostname = f.hostname;
  if (f.entrypoint) cs.Command = f.entrypoint.split(' ');
  if (f.init) cs.Init = true;
  return spec;
}
