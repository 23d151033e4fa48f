// shoald's entry (bin/shoald.js): the node daemon's flags, after dockerd's so habits carry over;
// starts the Daemon and its Engine API listeners, and stops them on SIGTERM/SIGINT.
import { Command, Option } from 'commander';
import { Daemon, daemonApi } from './index.js';
import { listen, loadServerTls, SHOAL_VERSION } from '../httpapi/index.js';
import { addTlsOptions, normalizeTlsFlags, type TlsFlags } from '../engineclient/index.js';
import { daemonTls } from './tlsflags.js';
import { parseGenericResources } from '../api/index.js';

const LEVELS = ['debug', 'info', 'warn', 'error', 'fatal'] as const;
type Level = (typeof LEVELS)[number];

/** A commander parser for an integer flag within [min, max]. */
function intFlag(name: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`${name} must be an integer from ${min} to ${max}`);
    return n;
  };
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('shoald')
    .description('shoal node daemon: a swarm-compatible container orchestrator')
    .version(SHOAL_VERSION, '-v, --version')
    .option('--data-root <dir>', 'root directory of persistent shoal state', '/var/lib/shoal')
    .option(
      '-H, --host <addr>',
      'daemon socket(s) to listen on: unix:///path or tcp://host:port (repeatable)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--engine-host <addr>', 'container engine this node drives', 'unix:///var/run/docker.sock')
    .option('--exec-root <dir>', 'root directory of runtime state (task secrets on tmpfs)', '/var/run/shoal')
    .option('--hostname <name>', 'node hostname (defaults to the machine hostname)')
    .option(
      '--node-generic-resource <kind=value>',
      "a user-defined resource of this node, a count (gpu=2) or one named item (gpu=GPU-a) (repeatable; default: the engine's node-generic-resources)",
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .addOption(
      new Option(
        '--data-plane <mode>',
        "overlay networks on this node: auto (where it can: root, iproute2, nftables) or off (tasks on the engine's default bridge; for several shoalds sharing one engine)",
      )
        .choices(['auto', 'off'])
        .default('auto'),
    )
    .addOption(
      new Option('-l, --log-level <level>', 'log level')
        .choices(LEVELS as unknown as string[])
        .default('info'),
    )
    .option(
      '--engine-concurrency <n>',
      'container creates and starts run at once against the engine',
      (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1 || n > 256)
          throw new Error('--engine-concurrency must be an integer from 1 to 256');
        return n;
      },
      8,
    )
    .option(
      '--dispatcher-heartbeat <ms>',
      "agent heartbeat period in milliseconds (default: the swarm spec's Dispatcher.HeartbeatPeriod, 1000 unless changed)",
      (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 50)
          throw new Error('--dispatcher-heartbeat must be an integer of at least 50 (milliseconds)');
        return n;
      },
    )
    .option(
      '--raft-election-timeout <ms>',
      'managers elect a new leader after a random time in [T, 1.5T) without one (default 1000)',
      intFlag('--raft-election-timeout', 100, 60_000),
    )
    .option(
      '--raft-heartbeat <ms>',
      "the Raft leader's heartbeat period, at most half the election timeout (default 100)",
      intFlag('--raft-heartbeat', 10, 10_000),
    )
    .option(
      '--raft-snapshot-interval <entries>',
      "Raft entries applied between snapshots of a manager's state; as many (at most 1000) stay behind each (default 10000)",
      intFlag('--raft-snapshot-interval', 10, 10_000_000),
    )
    .option(
      '--raft-skip-entry <index>',
      'skip this committed Raft entry instead of applying it (repeatable): the way past an entry that fails to apply; give every manager the same list (see docs/ARCHITECTURE.md)',
      (v: string, acc: number[]) => [...acc, intFlag('--raft-skip-entry', 1, Number.MAX_SAFE_INTEGER)(v)],
      [] as number[],
    );
  addTlsOptions(program, process.env, 'daemon');
  program.parse(normalizeTlsFlags(argv, new Set()));
  const o = program.opts<
    TlsFlags & {
      dataRoot: string;
      host: string[];
      engineHost: string;
      hostname?: string;
      nodeGenericResource: string[];
      logLevel: Level;
      dispatcherHeartbeat?: number;
      engineConcurrency: number;
      execRoot: string;
      dataPlane: 'auto' | 'off';
      raftElectionTimeout?: number;
      raftHeartbeat?: number;
      raftSnapshotInterval?: number;
      raftSkipEntry: number[];
    }
  >();
  if ((o.raftHeartbeat ?? 100) * 2 > (o.raftElectionTimeout ?? 1000))
    throw new Error('--raft-heartbeat must be at most half of --raft-election-timeout');
  // Parsed before anything starts, so a malformed one stops shoald with dockerd's message.
  const genericResources = parseGenericResources(o.nodeGenericResource);
  const tlsConfig = daemonTls(o);
  // Checked before anything starts, so a bad certificate file stops shoald with its name.
  const tls = await loadServerTls(tlsConfig);
  // With TLS and no -H, dockerd serves localhost's TLS port rather than its unix socket.
  const hosts = o.host.length > 0 ? o.host : [tls ? 'tcp://localhost:2376' : 'unix:///var/run/shoal.sock'];
  const min = LEVELS.indexOf(o.logLevel);
  const log = (level: Level, msg: string): void => {
    if (LEVELS.indexOf(level) >= min)
      process.stderr.write(`${new Date().toISOString()} ${level.toUpperCase()} ${msg}\n`);
  };
  const daemon = new Daemon({
    dataRoot: o.dataRoot,
    engineHost: o.engineHost,
    log,
    ...(o.hostname ? { hostname: o.hostname } : {}),
    ...(genericResources.length > 0 ? { genericResources } : {}),
    ...(o.dispatcherHeartbeat ? { heartbeatMs: o.dispatcherHeartbeat } : {}),
    engineConcurrency: o.engineConcurrency,
    execRoot: o.execRoot,
    dataPlane: o.dataPlane,
    raft: {
      ...(o.raftElectionTimeout ? { electionTimeoutMs: o.raftElectionTimeout } : {}),
      ...(o.raftHeartbeat ? { heartbeatMs: o.raftHeartbeat } : {}),
      ...(o.raftSnapshotInterval
        ? { snapshotInterval: o.raftSnapshotInterval, snapshotKeep: Math.min(1000, o.raftSnapshotInterval) }
        : {}),
      ...(o.raftSkipEntry.length > 0 ? { skipEntries: new Set(o.raftSkipEntry) } : {}),
    },
  });
  await daemon.start();
  const app = daemonApi(daemon);
  let servers: Awaited<ReturnType<typeof listen>> = [];
  let stopping = false;
  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    log('info', `${sig}: shutting down`);
    for (const s of servers) {
      s.close();
      s.closeAllConnections();
    }
    daemon.shutdown().then(
      () => process.exit(0),
      (e: unknown) => {
        log('error', `shutdown: ${(e as Error).message}`);
        process.exit(1);
      },
    );
  };
  // Before listen: it may hold a listener back 15 s (tcpListenerNotice), and a signal then still
  // shuts the daemon down cleanly.
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  servers = await listen(app, hosts, {
    ...(tls ? { tls } : {}),
    tlsExplicit: tlsConfig.explicit,
    log,
  });
  if (stopping) for (const s of servers) s.close();
  const mode = tls
    ? tls.verify
      ? ' (tcp: TLS, client certificates verified)'
      : ' (tcp: TLS, clients not verified)'
    : '';
  log(
    'info',
    `shoald ${SHOAL_VERSION} listening on ${hosts.join(', ')}${mode} (data root ${o.dataRoot}, engine ${o.engineHost})`,
  );
}
