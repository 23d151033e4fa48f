// `shoal`: the command-line client. A thin client of the Engine-compatible API, with docker's
// verbs and flag names. This file holds the global flags and the connection; each command group
// registers itself from commands/. It loads nothing of the daemon (lint: layer('cli')).
import { Command } from 'commander';
import { HttpStatusError, SHOAL_VERSION } from '../api/index.js';
import { shoaldClient, type Client } from './client.js';
import type { CommandContext } from './commands/context.js';
import { nodeCommands } from './commands/node.js';
import { secretCommands } from './commands/secrets.js';
import { serviceCommands } from './commands/service.js';
import { swarmCommands } from './commands/swarm.js';
import { systemCommands } from './commands/system.js';
import {
  addTlsOptions,
  clientTlsMode,
  loadClientTls,
  normalizeTlsFlags,
  type TlsFlags,
} from '../engineclient/index.js';

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
  // One client per run, made on first use (after the flags are parsed), so one version ping.
  let made: Client | undefined;
  const client = (): Client => (made ??= connect());
  const connect = (): Client => {
    const o = program.opts<TlsFlags & { host?: string }>();
    const { on, verify } = clientTlsMode(o, env);
    // With TLS on and no address, the docker CLI goes to localhost's TLS port.
    const host =
      o.host ||
      env.SHOAL_HOST ||
      env.DOCKER_HOST ||
      (on ? 'tcp://localhost:2376' : 'unix:///var/run/shoal.sock');
    if (!on || host.startsWith('unix://')) return shoaldClient(host);
    return shoaldClient(
      host,
      loadClientTls(o, verify, (flag) => program.getOptionValueSource(flag) === 'cli'),
    );
  };
  const cli: CommandContext = { client, print: (s) => void process.stdout.write(`${s}\n`) };

  // In this order in --help.
  systemCommands(program, cli);
  swarmCommands(program, cli);
  nodeCommands(program, cli);
  serviceCommands(program, cli);
  secretCommands(program, cli);

  program.exitOverride();
  try {
    await program.parseAsync(normalizeTlsFlags(argv, new Set(program.commands.map((c) => c.name()))));
    return 0;
  } catch (e) {
    const code = (e as { exitCode?: number }).exitCode;
    if (code !== undefined && (e as { code?: string }).code?.startsWith('commander.')) return code;
    process.stderr.write(
      `${e instanceof HttpStatusError ? 'Error response from daemon: ' : ''}${(e as Error).message}\n`,
    );
    return 1;
  }
}
