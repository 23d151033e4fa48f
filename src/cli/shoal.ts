// `shoal`: the command-line client. A thin client of the Engine-compatible API, with docker's
// verbs and flag names, plus a convergence display while a service settles (--detach skips it).
import { Command, Option } from 'commander';
import { SHOAL_VERSION, type Node, type Service, type ServiceSpec, type Task } from '../api/index.js';
import { ApiError, Client } from './client.js';
import {
  keyValues,
  parseBytes,
  parseCpus,
  parseDuration,
  parseFileReference,
  parseMount,
  parsePort,
} from './flags.js';
import { secretCommands } from './secrets.js';
import { addTlsOptions, clientTlsMode, loadClientTls, normalizeTlsFlags, type TlsFlags } from './tlsflags.js';
import { ago, readStdin, table } from './text.js';

const collect = (v: string, acc: string[]): string[] => [...acc, v];

const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

function modeName(s: Service): string {
  const m = s.Spec.Mode ?? {};
  return m.Global ? 'global' : m.ReplicatedJob ? 'replicated-job' : m.GlobalJob ? 'global-job' : 'replicated';
}

interface SpecFlags {
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
function normalizeListFlags(f: Record<string, unknown>): void {
  for (const [name] of LIST_FLAGS) {
    const add = f[camel(`${name}-add`)];
    if (add !== undefined) f[camel(name)] = add;
  }
}

function printUnlockKey(key: string): void {
  process.stdout.write(
    `To unlock a swarm manager after it restarts, run \`shoal swarm unlock\` and give it this key:\n\n    ${key}\n\nKeep it in a password manager: without it a restarted manager cannot read its state.\n`,
  );
}

function specOptions(cmd: Command, update: boolean): Command {
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

function int(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`invalid ${what} "${v}": must be an integer`);
  return n;
}

/** Applies flags onto a spec (a fresh one for create, the current one for update). */
function applyFlags(spec: ServiceSpec, f: SpecFlags): ServiceSpec {
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
      MaxReplicas: int(f.replicasMaxPerNode, 'replicas-max-per-node'),
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
    const n = int(f.replicas, 'replicas');
    if (spec.Mode?.ReplicatedJob) spec.Mode.ReplicatedJob.TotalCompletions = n;
    else spec.Mode = { Replicated: { Replicas: n } };
  }
  if (f.maxConcurrent !== undefined && spec.Mode?.ReplicatedJob)
    spec.Mode.ReplicatedJob.MaxConcurrent = int(f.maxConcurrent, 'max-concurrent');
  const rp = { ...(tt.RestartPolicy ?? {}) };
  if (f.restartCondition) rp.Condition = f.restartCondition as 'any';
  if (f.restartDelay) rp.Delay = parseDuration(f.restartDelay);
  if (f.restartMaxAttempts) rp.MaxAttempts = int(f.restartMaxAttempts, 'restart-max-attempts');
  if (f.restartWindow) rp.Window = parseDuration(f.restartWindow);
  if (Object.keys(rp).length) tt.RestartPolicy = rp;
  for (const [prefix, key] of [
    ['update', 'UpdateConfig'],
    ['rollback', 'RollbackConfig'],
  ] as const) {
    const g = (k: string): string | undefined =>
      (f as unknown as Record<string, string | undefined>)[`${prefix}${k}`];
    const u = { ...(spec[key] ?? {}) };
    if (g('Parallelism') !== undefined) u.Parallelism = int(g('Parallelism')!, `${prefix}-parallelism`);
    if (g('Delay')) u.Delay = parseDuration(g('Delay')!);
    if (g('FailureAction')) u.FailureAction = g('FailureAction') as 'pause';
    if (g('Monitor')) u.Monitor = parseDuration(g('Monitor')!);
    if (g('MaxFailureRatio')) u.MaxFailureRatio = Number(g('MaxFailureRatio'));
    if (g('Order')) u.Order = g('Order') as 'stop-first';
    if (Object.keys(u).length) spec[key] = u;
  }
  const res = {
    Limits: { ...(tt.Resources?.Limits ?? {}) },
    Reservations: { ...(tt.Resources?.Reservations ?? {}) },
  };
  if (f.limitCpu) res.Limits.NanoCPUs = parseCpus(f.limitCpu);
  if (f.limitMemory) res.Limits.MemoryBytes = parseBytes(f.limitMemory);
  if (f.reserveCpu) res.Reservations.NanoCPUs = parseCpus(f.reserveCpu);
  if (f.reserveMemory) res.Reservations.MemoryBytes = parseBytes(f.reserveMemory);
  tt.Resources = res;
  if (f.noHealthcheck === false) cs.Healthcheck = { Test: ['NONE'] };
  if (f.healthCmd || f.healthInterval || f.healthTimeout || f.healthRetries || f.healthStartPeriod) {
    const h = { ...(cs.Healthcheck ?? {}) };
    if (f.healthCmd) h.Test = ['CMD-SHELL', f.healthCmd];
    if (f.healthInterval) h.Interval = parseDuration(f.healthInterval);
    if (f.healthTimeout) h.Timeout = parseDuration(f.healthTimeout);
    if (f.healthRetries) h.Retries = int(f.healthRetries, 'health-retries');
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

/** Shows convergence until every task is up to date and running (or the job is complete). */
async function converge(c: Client, id: string, out: NodeJS.WriteStream): Promise<void> {
  const tty = out.isTTY;
  let last = '';
  const deadline = Date.now() + 30 * 60_000;
  let stableSince: number | undefined;
  while (Date.now() < deadline) {
    const s = await c.call<Service>('GET', `/services/${id}`);
    const f = encodeURIComponent(JSON.stringify({ service: { [id]: true }, '_up-to-date': { true: true } }));
    const tasks = await c.call<Task[]>('GET', `/tasks?filters=${f}`);
    const nodes = await c.call<Node[]>('GET', '/nodes');
    const down = new Set(nodes.filter((n) => n.Status.State === 'down').map((n) => n.ID));
    const live = tasks.filter((t) => t.DesiredState === 'running' || t.DesiredState === 'complete');
    const mode = modeName(s);
    const job = mode.endsWith('job');
    const done = (t: Task): boolean =>
      (job ? t.Status.State === 'complete' : t.Status.State === 'running') && !down.has(t.NodeID ?? '');
    const want =
      mode === 'replicated'
        ? (s.Spec.Mode?.Replicated?.Replicas ?? 1)
        : mode === 'replicated-job'
          ? (s.Spec.Mode?.ReplicatedJob?.TotalCompletions ?? 1)
          : live.length;
    const ok = live.filter(done).length;
    const us = s.UpdateStatus?.State;
    if (us === 'paused' || us === 'rollback_paused')
      throw new Error(
        `service ${us === 'paused' ? 'update' : 'rollback'} paused: ${s.UpdateStatus?.Message ?? ''}`,
      );
    const pending = live.filter((t) => !done(t) && t.Status.Err).map((t) => t.Status.Err)[0];
    const line = `${s.Spec.Name}: ${ok}/${want} ${job ? 'completed' : 'running'}${us && us !== 'completed' && us !== 'rollback_completed' ? ` (${us.replace('_', ' ')})` : ''}${pending ? ` — ${pending}` : ''}`;
    if (line !== last) {
      out.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
      last = line;
    }
    const settled =
      ok >= want &&
      (!us || us === 'completed' || us === 'rollback_completed') &&
      (want > 0 || live.length === 0);
    if (settled) {
      stableSince ??= Date.now();
      if (job || Date.now() - stableSince >= 1000) {
        out.write(tty ? `\r\x1b[K${line}\n${s.Spec.Name}: converged\n` : `${s.Spec.Name}: converged\n`);
        if (us === 'rollback_completed' && s.UpdateStatus?.Message?.startsWith('update rolled back'))
          throw new Error(`service rolled back: ${s.UpdateStatus.Message}`);
        return;
      }
    } else stableSince = undefined;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('gave up waiting for the service to converge after 30 minutes');
}

export async function main(argv: string[]): Promise<number> {
  const env = process.env;
  const program = new Command('shoal')
    .description('command-line client for shoal, a swarm-compatible container orchestrator')
    .version(SHOAL_VERSION, '-v, --version')
    .option(
      '-H, --host <addr>',
      'shoald socket (default: $SHOAL_HOST, $DOCKER_HOST or unix:///var/run/shoal.sock)',
    )
    .enablePositionalOptions();
  addTlsOptions(program, env, 'client');
  const client = (): Client => {
    const o = program.opts<TlsFlags & { host?: string }>();
    const { on, verify } = clientTlsMode(o, env);
    // With TLS on and no address, the docker CLI goes to localhost's TLS port.
    const host =
      o.host ||
      env.SHOAL_HOST ||
      env.DOCKER_HOST ||
      (on ? 'tcp://localhost:2376' : 'unix:///var/run/shoal.sock');
    if (!on || host.startsWith('unix://')) return new Client({ host });
    return new Client({
      host,
      tls: loadClientTls(o, verify, (flag) => program.getOptionValueSource(flag) === 'cli'),
    });
  };
  const print = (s: string): void => void process.stdout.write(`${s}\n`);

  program.command('version').action(async () => {
    const v = await client().call<{ Version: string; ApiVersion: string }>('GET', '/version');
    print(`Client: shoal ${SHOAL_VERSION}\nServer: shoal ${v.Version} (API ${v.ApiVersion})`);
  });
  program.command('info').action(async () => {
    const i = await client().call<{ Swarm: Record<string, unknown>; Name: string }>('GET', '/info');
    print(JSON.stringify({ Name: i.Name, Swarm: i.Swarm }, null, 2));
  });

  const swarm = program.command('swarm').description('manage the swarm');
  swarm
    .command('init')
    .option('--advertise-addr <addr>', 'advertised address')
    .option('--listen-addr <addr>', 'listen address', '0.0.0.0:2377')
    .option('--task-history-limit <n>', 'task history retention limit')
    .option('--autolock', "encrypt the managers' state with a key that a restarted manager needs")
    .action(
      async (o: {
        advertiseAddr?: string;
        listenAddr: string;
        taskHistoryLimit?: string;
        autolock?: boolean;
      }) => {
        const c = client();
        const id = await c.call<string>('POST', '/swarm/init', {
          ListenAddr: o.listenAddr,
          AdvertiseAddr: o.advertiseAddr ?? '',
          Spec: {
            ...(o.taskHistoryLimit
              ? {
                  Orchestration: { TaskHistoryRetentionLimit: int(o.taskHistoryLimit, 'task-history-limit') },
                }
              : {}),
            ...(o.autolock ? { EncryptionConfig: { AutoLockManagers: true } } : {}),
          },
        });
        print(`Swarm initialized: current node (${id}) is now a manager.`);
        if (o.autolock)
          printUnlockKey((await c.call<{ UnlockKey: string }>('GET', '/swarm/unlockkey')).UnlockKey);
      },
    );
  swarm
    .command('join <manager>')
    .requiredOption('--token <token>', 'the worker join token')
    .option('--advertise-addr <addr>', 'advertised address')
    .option('--listen-addr <addr>', 'listen address')
    .option('--availability <a>', 'active, pause or drain', 'active')
    .action(
      async (
        manager: string,
        o: { token: string; advertiseAddr?: string; listenAddr?: string; availability: string },
      ) => {
        await client().call('POST', '/swarm/join', {
          RemoteAddrs: [manager],
          JoinToken: o.token,
          AdvertiseAddr: o.advertiseAddr ?? '',
          ListenAddr: o.listenAddr ?? '0.0.0.0:2377',
          Availability: o.availability,
        });
        print('This node joined a swarm as a worker.');
      },
    );
  swarm
    .command('unlock')
    .description('unlock a locked manager (the key is read from standard input)')
    .action(async () => {
      await client().call('POST', '/swarm/unlock', {
        UnlockKey: (await readStdin()).toString('utf8').trim(),
      });
    });
  swarm
    .command('unlock-key')
    .option('-q, --quiet', 'only the key')
    .option('--rotate', 'rotate the key')
    .action(async (o: { quiet?: boolean; rotate?: boolean }) => {
      const c = client();
      if (o.rotate) {
        const sw = await c.call<{ Version: { Index: number }; Spec: unknown }>('GET', '/swarm');
        await c.call(
          'POST',
          `/swarm/update?version=${sw.Version.Index}&rotateManagerUnlockKey=true`,
          sw.Spec,
        );
      }
      const key = (await c.call<{ UnlockKey: string }>('GET', '/swarm/unlockkey')).UnlockKey;
      if (!key) throw new Error('no unlock key is set');
      if (o.quiet) print(key);
      else printUnlockKey(key);
    });
  swarm
    .command('ca')
    .option('--rotate', 'rotate the root CA (nodes move over to the new root)')
    .option('-d, --detach', 'do not wait for every node to move over')
    .action(async (o: { rotate?: boolean; detach?: boolean }) => {
      const c = client();
      type Sw = {
        Version: { Index: number };
        Spec: { CAConfig?: { ForceRotate?: number } };
        TLSInfo: TLSView;
        RootRotationInProgress: boolean;
      };
      type TLSView = { TrustRoot: string; CertIssuerPublicKey: string };
      if (o.rotate) {
        const sw = await c.call<Sw>('GET', '/swarm');
        const spec = {
          ...sw.Spec,
          CAConfig: { ...sw.Spec.CAConfig, ForceRotate: (sw.Spec.CAConfig?.ForceRotate ?? 0) + 1 },
        };
        await c.call('POST', `/swarm/update?version=${sw.Version.Index}`, spec);
        for (let i = 0; !o.detach; i++) {
          const now = await c.call<Sw>('GET', '/swarm');
          const nodes = await c.call<{ Description: { TLSInfo?: TLSView } }[]>('GET', '/nodes');
          const moved = nodes.filter(
            (n) => n.Description.TLSInfo?.TrustRoot === now.TLSInfo.TrustRoot,
          ).length;
          process.stdout.write(`\rrotating the root CA: ${moved}/${nodes.length} nodes moved over`);
          if (!now.RootRotationInProgress && moved === nodes.length) {
            process.stdout.write('\n');
            break;
          }
          if (i > 3000)
            throw new Error('the rotation has not converged in 10 minutes; it goes on in the background');
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      print((await c.call<Sw>('GET', '/swarm')).TLSInfo.TrustRoot.trimEnd());
    });
  swarm
    .command('join-token <role>')
    .option('-q, --quiet', 'only the token')
    .option('--rotate', 'rotate the token')
    .action(async (role: string, o: { quiet?: boolean; rotate?: boolean }) => {
      if (role !== 'worker' && role !== 'manager') throw new Error('unknown role: use worker or manager');
      const c = client();
      if (o.rotate) {
        const sw = await c.call<{ Version: { Index: number }; Spec: unknown }>('GET', '/swarm');
        await c.call(
          'POST',
          `/swarm/update?version=${sw.Version.Index}&rotateWorkerToken=${role === 'worker'}&rotateManagerToken=${role === 'manager'}`,
          sw.Spec,
        );
      }
      const sw = await c.call<{ JoinTokens: { Worker: string; Manager: string } }>('GET', '/swarm');
      const token = role === 'worker' ? sw.JoinTokens.Worker : sw.JoinTokens.Manager;
      const info = await c.call<{ Swarm: { RemoteManagers: { Addr: string }[] } }>('GET', '/info');
      print(
        o.quiet
          ? token
          : `To add a ${role} to this swarm, run the following command:\n\n    shoal swarm join --token ${token} ${info.Swarm.RemoteManagers[0]?.Addr ?? ''}\n`,
      );
    });
  swarm
    .command('update')
    .option('--task-history-limit <n>', 'task history retention limit')
    .option('--dispatcher-heartbeat <d>', 'heartbeat period')
    .option('--cert-expiry <d>', 'validity of node certificates')
    .option('--autolock <bool>', 'true or false: require the unlock key when a manager restarts')
    .action(
      async (o: {
        taskHistoryLimit?: string;
        dispatcherHeartbeat?: string;
        certExpiry?: string;
        autolock?: string;
      }) => {
        const c = client();
        const sw = await c.call<{
          Version: { Index: number };
          Spec: Record<string, Record<string, unknown>>;
        }>('GET', '/swarm');
        const spec = sw.Spec;
        if (o.taskHistoryLimit !== undefined)
          spec.Orchestration = {
            ...spec.Orchestration,
            TaskHistoryRetentionLimit: int(o.taskHistoryLimit, 'task-history-limit'),
          };
        if (o.dispatcherHeartbeat)
          spec.Dispatcher = { ...spec.Dispatcher, HeartbeatPeriod: parseDuration(o.dispatcherHeartbeat) };
        if (o.certExpiry) spec.CAConfig = { ...spec.CAConfig, NodeCertExpiry: parseDuration(o.certExpiry) };
        if (o.autolock !== undefined) {
          if (o.autolock !== 'true' && o.autolock !== 'false')
            throw new Error('--autolock takes true or false');
          spec.EncryptionConfig = { ...spec.EncryptionConfig, AutoLockManagers: o.autolock === 'true' };
        }
        await c.call('POST', `/swarm/update?version=${sw.Version.Index}`, spec);
        print('Swarm updated.');
        if (o.autolock === 'true')
          printUnlockKey((await c.call<{ UnlockKey: string }>('GET', '/swarm/unlockkey')).UnlockKey);
      },
    );
  swarm
    .command('leave')
    .option('-f, --force', 'leave even as the last manager')
    .action(async (o: { force?: boolean }) => {
      await client().call('POST', `/swarm/leave?force=${o.force ? 'true' : 'false'}`);
      print('Node left the swarm.');
    });

  const node = program.command('node').description('manage nodes');
  node.command('ls').action(async () => {
    const c = client();
    const nodes = await c.call<Node[]>('GET', '/nodes');
    const info = await c.call<{ Swarm: { NodeID: string } }>('GET', '/info');
    const rows = [['ID', 'HOSTNAME', 'STATUS', 'AVAILABILITY', 'MANAGER STATUS', 'ENGINE VERSION']];
    for (const n of nodes) {
      rows.push([
        `${n.ID}${n.ID === info.Swarm.NodeID ? ' *' : ''}`,
        n.Description.Hostname,
        cap(n.Status.State),
        cap(n.Spec.Availability ?? 'active'),
        n.ManagerStatus ? (n.ManagerStatus.Leader ? 'Leader' : cap(n.ManagerStatus.Reachability)) : '',
        n.Description.Engine.EngineVersion,
      ]);
    }
    print(table(rows));
  });
  node.command('inspect <node...>').action(async (refs: string[]) => {
    const c = client();
    print(
      JSON.stringify(
        await Promise.all(refs.map((r) => c.call('GET', `/nodes/${encodeURIComponent(r)}`))),
        null,
        4,
      ),
    );
  });
  node
    .command('update <node>')
    .option('--availability <a>', 'active, pause or drain')
    .option('--label-add <KEY=VALUE>', 'add a label', collect, [])
    .option('--label-rm <KEY>', 'remove a label', collect, [])
    .option('--role <role>', 'worker or manager')
    .action(
      async (
        ref: string,
        o: { availability?: string; labelAdd: string[]; labelRm: string[]; role?: string },
      ) => {
        const c = client();
        const n = await c.call<Node>('GET', `/nodes/${encodeURIComponent(ref)}`);
        const spec = { ...n.Spec, Labels: { ...(n.Spec.Labels ?? {}), ...keyValues(o.labelAdd) } };
        for (const k of o.labelRm) delete spec.Labels[k];
        if (o.availability) spec.Availability = o.availability as 'active';
        if (o.role) spec.Role = o.role as 'worker';
        await c.call('POST', `/nodes/${n.ID}/update?version=${n.Version.Index}`, spec);
        print(ref);
      },
    );
  node
    .command('rm <node...>')
    .option('-f, --force', 'remove even if the node is up')
    .action(async (refs: string[], o: { force?: boolean }) => {
      for (const r of refs)
        await client().call('DELETE', `/nodes/${encodeURIComponent(r)}?force=${o.force ? 'true' : 'false'}`);
    });
  node.command('ps [node]').action(async (ref?: string) => {
    const c = client();
    const info = await c.call<{ Swarm: { NodeID: string } }>('GET', '/info');
    const f = encodeURIComponent(JSON.stringify({ node: { [ref ?? info.Swarm.NodeID]: true } }));
    print(await taskTable(c, await c.call<Task[]>('GET', `/tasks?filters=${f}`)));
  });

  async function taskTable(c: Client, tasks: Task[]): Promise<string> {
    const services = new Map<string, string>();
    const nodes = new Map((await c.call<Node[]>('GET', '/nodes')).map((n) => [n.ID, n.Description.Hostname]));
    for (const t of tasks)
      if (!services.has(t.ServiceID))
        services.set(
          t.ServiceID,
          (await c.call<Service>('GET', `/services/${t.ServiceID}`).catch(() => undefined))?.Spec.Name ??
            t.ServiceID,
        );
    const rows = [['ID', 'NAME', 'IMAGE', 'NODE', 'DESIRED STATE', 'CURRENT STATE', 'ERROR']];
    const sorted = [...tasks].sort(
      (a, b) => (a.Slot ?? 0) - (b.Slot ?? 0) || b.CreatedAt.localeCompare(a.CreatedAt),
    );
    let prevKey = '';
    for (const t of sorted) {
      const key = `${t.ServiceID}.${t.Slot ?? t.NodeID}`;
      const name = `${services.get(t.ServiceID)}.${t.Slot ?? t.NodeID}`;
      rows.push([
        t.ID.slice(0, 12),
        key === prevKey ? ` \\_ ${name}` : name,
        t.Spec.ContainerSpec?.Image ?? '',
        nodes.get(t.NodeID ?? '') ?? '',
        cap(t.DesiredState),
        `${cap(t.Status.State)} ${ago(t.Status.Timestamp)}`,
        t.Status.Err ? `"${t.Status.Err}"` : '',
      ]);
      prevKey = key;
    }
    return table(rows);
  }

  const service = program.command('service').description('manage services').enablePositionalOptions();
  specOptions(service.command('create <image> [command...]'), false).action(
    async (image: string, command: string[], f: SpecFlags) => {
      normalizeListFlags(f as unknown as Record<string, unknown>);
      const c = client();
      const mode =
        f.mode === 'global'
          ? { Global: {} }
          : f.mode === 'replicated-job'
            ? { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } }
            : f.mode === 'global-job'
              ? { GlobalJob: {} }
              : { Replicated: { Replicas: 1 } };
      const spec = applyFlags(
        {
          ...(f.name ? { Name: f.name } : {}),
          Mode: mode,
          TaskTemplate: { ContainerSpec: { Image: image, ...(command.length ? { Args: command } : {}) } },
        },
        f,
      );
      if (f.mode === 'replicated-job' && f.maxConcurrent === undefined)
        spec.Mode!.ReplicatedJob!.MaxConcurrent = Math.min(
          spec.Mode!.ReplicatedJob!.TotalCompletions ?? 1,
          1,
        );
      const { ID } = await c.call<{ ID: string }>('POST', '/services/create', spec);
      print(ID);
      if (!f.detach) await converge(c, ID, process.stdout);
    },
  );
  specOptions(service.command('update <service>'), true)
    .option('--image <image>', 'new image')
    .option('--args <args>', 'new command arguments')
    .option('--env-rm <KEY>', 'remove an environment variable', collect, [])
    .option('--label-rm <KEY>', 'remove a service label', collect, [])
    .option('--constraint-rm <expr>', 'remove a constraint', collect, [])
    .option('--secret-rm <name>', 'take a secret away from the tasks', collect, [])
    .option('--config-rm <name>', 'take a config away from the tasks', collect, [])
    .option('--force', 'redeploy tasks even if nothing changed')
    .action(
      async (
        ref: string,
        f: SpecFlags & {
          image?: string;
          args?: string;
          envRm: string[];
          labelRm: string[];
          constraintRm: string[];
          secretRm: string[];
          configRm: string[];
          force?: boolean;
        },
      ) => {
        normalizeListFlags(f as unknown as Record<string, unknown>);
        const c = client();
        const s = await c.call<Service>('GET', `/services/${encodeURIComponent(ref)}`);
        const spec = applyFlags(structuredClone(s.Spec), f);
        const cs = spec.TaskTemplate!.ContainerSpec!;
        if (f.image) cs.Image = f.image;
        if (f.args !== undefined)
          cs.Args = f.args.match(/"[^"]*"|'[^']*'|\S+/g)?.map((a) => a.replace(/^["']|["']$/g, '')) ?? [];
        if (f.envRm.length) cs.Env = (cs.Env ?? []).filter((e) => !f.envRm.includes(e.split('=')[0]!));
        for (const k of f.labelRm) delete spec.Labels?.[k];
        if (f.constraintRm.length && spec.TaskTemplate!.Placement?.Constraints) {
          spec.TaskTemplate!.Placement.Constraints = spec.TaskTemplate!.Placement.Constraints.filter(
            (x) => !f.constraintRm.includes(x),
          );
        }
        if (f.secretRm.length)
          cs.Secrets = (cs.Secrets ?? []).filter(
            (r) => !f.secretRm.includes(r.SecretName) && !f.secretRm.includes(r.SecretID),
          );
        if (f.configRm.length)
          cs.Configs = (cs.Configs ?? []).filter(
            (r) => !f.configRm.includes(r.ConfigName) && !f.configRm.includes(r.ConfigID),
          );
        if (f.force) spec.TaskTemplate!.ForceUpdate = (spec.TaskTemplate!.ForceUpdate ?? 0) + 1;
        await c.call('POST', `/services/${s.ID}/update?version=${s.Version.Index}`, spec);
        print(s.Spec.Name ?? s.ID);
        if (!f.detach) await converge(c, s.ID, process.stdout);
      },
    );
  service
    .command('scale <service=replicas...>')
    .option('-d, --detach', 'do not wait for convergence')
    .action(async (pairs: string[], o: { detach?: boolean }) => {
      const c = client();
      for (const p of pairs) {
        const [ref, n] = p.split('=');
        const replicas = Number(n);
        if (!ref || !Number.isInteger(replicas) || replicas < 0)
          throw new Error(`${p}: use <service>=<replicas> with replicas a whole number`);
        const s = await c.call<Service>('GET', `/services/${encodeURIComponent(ref)}`);
        const spec = structuredClone(s.Spec);
        if (spec.Mode?.Replicated) spec.Mode.Replicated.Replicas = replicas;
        else if (spec.Mode?.ReplicatedJob) spec.Mode.ReplicatedJob.TotalCompletions = replicas;
        else throw new Error(`${ref}: scale can only be used with replicated or replicated-job mode`);
        await c.call('POST', `/services/${s.ID}/update?version=${s.Version.Index}`, spec);
        print(`${ref} scaled to ${replicas}`);
        if (!o.detach) await converge(c, s.ID, process.stdout);
      }
    });
  service
    .command('rollback <service>')
    .option('-d, --detach', 'do not wait for convergence')
    .action(async (ref: string, o: { detach?: boolean }) => {
      const c = client();
      const s = await c.call<Service>('GET', `/services/${encodeURIComponent(ref)}`);
      await c.call('POST', `/services/${s.ID}/update?version=${s.Version.Index}&rollback=previous`, s.Spec);
      print(s.Spec.Name ?? s.ID);
      if (!o.detach) await converge(c, s.ID, process.stdout);
    });
  service
    .command('ls')
    .option('-q, --quiet', 'only IDs')
    .action(async (o: { quiet?: boolean }) => {
      const list = await client().call<Service[]>('GET', '/services?status=true');
      if (o.quiet) return print(list.map((s) => s.ID).join('\n'));
      const rows = [['ID', 'NAME', 'MODE', 'REPLICAS', 'IMAGE', 'PORTS']];
      for (const s of list) {
        const st = s.ServiceStatus!;
        const job = modeName(s).endsWith('job');
        rows.push([
          s.ID.slice(0, 12),
          s.Spec.Name ?? '',
          modeName(s),
          job
            ? `${st.RunningTasks}/${st.DesiredTasks} (${st.CompletedTasks}/${s.Spec.Mode?.ReplicatedJob?.TotalCompletions ?? st.DesiredTasks} completed)`
            : `${st.RunningTasks}/${st.DesiredTasks}`,
          s.Spec.TaskTemplate?.ContainerSpec?.Image ?? '',
          (s.Endpoint.Ports ?? [])
            .map((p) => `*:${p.PublishedPort}->${p.TargetPort}/${p.Protocol}`)
            .join(', '),
        ]);
      }
      print(table(rows));
    });
  service.command('ps <service...>').action(async (refs: string[]) => {
    const c = client();
    const ids = await Promise.all(
      refs.map(async (r) => (await c.call<Service>('GET', `/services/${encodeURIComponent(r)}`)).ID),
    );
    const f = encodeURIComponent(JSON.stringify({ service: Object.fromEntries(ids.map((i) => [i, true])) }));
    print(await taskTable(c, await c.call<Task[]>('GET', `/tasks?filters=${f}`)));
  });
  service
    .command('inspect <service...>')
    .option('--pretty', 'human-readable output')
    .action(async (refs: string[], o: { pretty?: boolean }) => {
      const c = client();
      const list = await Promise.all(
        refs.map((r) => c.call<Service>('GET', `/services/${encodeURIComponent(r)}?insertDefaults=true`)),
      );
      if (!o.pretty) return print(JSON.stringify(list, null, 4));
      for (const s of list) {
        const cs = s.Spec.TaskTemplate?.ContainerSpec;
        print(
          [
            `ID:\t\t${s.ID}`,
            `Name:\t\t${s.Spec.Name}`,
            `Service Mode:\t${cap(modeName(s))}`,
            ...(s.Spec.Mode?.Replicated ? [` Replicas:\t${s.Spec.Mode.Replicated.Replicas}`] : []),
            ...(s.UpdateStatus
              ? [
                  `UpdateStatus:`,
                  ` State:\t\t${s.UpdateStatus.State}`,
                  ` Message:\t${s.UpdateStatus.Message ?? ''}`,
                ]
              : []),
            `ContainerSpec:`,
            ` Image:\t\t${cs?.Image ?? ''}`,
            ...(cs?.Args ? [` Args:\t\t${cs.Args.join(' ')}`] : []),
            ...(cs?.Env ? [` Env:\t\t${cs.Env.join(' ')}`] : []),
          ].join('\n'),
        );
      }
    });
  service
    .command('logs <service>')
    .option('-f, --follow', 'follow log output')
    .option('-t, --timestamps', 'show timestamps')
    .option('-n, --tail <n>', 'lines from the end of each task', 'all')
    .action(async (ref: string, o: { follow?: boolean; timestamps?: boolean; tail: string }) => {
      const c = client();
      const res = await c.raw(
        'GET',
        `/services/${encodeURIComponent(ref)}/logs?stdout=1&stderr=1&details=1&follow=${o.follow ? 1 : 0}&timestamps=${o.timestamps ? 1 : 0}&tail=${o.tail}`,
      );
      if (res.status >= 400) {
        const chunks: Buffer[] = [];
        for await (const ch of res.stream) chunks.push(ch as Buffer);
        throw new ApiError(
          res.status,
          (JSON.parse(Buffer.concat(chunks).toString()) as { message: string }).message,
        );
      }
      const names = new Map<string, string>();
      let buf = Buffer.alloc(0);
      for await (const chunk of res.stream) {
        buf = Buffer.concat([buf, chunk as Buffer]);
        while (buf.length >= 8 && buf.length >= 8 + buf.readUInt32BE(4)) {
          const size = buf.readUInt32BE(4);
          const line = buf.subarray(8, 8 + size).toString('utf8');
          const stream = buf[0] === 2 ? process.stderr : process.stdout;
          buf = buf.subarray(8 + size);
          const m =
            /^(\S+ )?com\.docker\.swarm\.node\.id=([^,]*),com\.docker\.swarm\.service\.id=([^,]*),com\.docker\.swarm\.task\.id=(\S*) (.*)$/s.exec(
              line,
            );
          if (!m) {
            stream.write(line);
            continue;
          }
          const [, ts = '', , , taskId, msg] = m;
          if (!names.has(taskId!)) {
            const t = await c.call<Task>('GET', `/tasks/${taskId}`).catch(() => undefined);
            const s = t
              ? await c.call<Service>('GET', `/services/${t.ServiceID}`).catch(() => undefined)
              : undefined;
            names.set(
              taskId!,
              `${s?.Spec.Name ?? '?'}.${t?.Slot ?? t?.NodeID ?? '?'}.${taskId!.slice(0, 12)}`,
            );
          }
          stream.write(`${ts}${names.get(taskId!)}    | ${msg}`);
        }
      }
    });
  service.command('rm <service...>').action(async (refs: string[]) => {
    for (const r of refs) {
      await client().call('DELETE', `/services/${encodeURIComponent(r)}`);
      print(r);
    }
  });

  secretCommands(program, client, print);

  program.exitOverride();
  try {
    await program.parseAsync(normalizeTlsFlags(argv, new Set(program.commands.map((c) => c.name()))));
    return 0;
  } catch (e) {
    const code = (e as { exitCode?: number }).exitCode;
    if (code !== undefined && (e as { code?: string }).code?.startsWith('commander.')) return code;
    process.stderr.write(
      `${e instanceof ApiError ? 'Error response from daemon: ' : ''}${(e as Error).message}\n`,
    );
    return 1;
  }
}
