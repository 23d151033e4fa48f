// `shoal version` and `shoal info`.
import type { Command } from 'commander';
import { SHOAL_VERSION } from '../../api/index.js';
import type { CommandContext } from './context.js';

export function systemCommands(program: Command, cli: CommandContext): void {
  const { client, print } = cli;
  program.command('version').action(async () => {
    const v = await client().call<{ Version: string; ApiVersion: string }>('GET', '/version');
    print(`Client: shoal ${SHOAL_VERSION}\nServer: shoal ${v.Version} (API ${v.ApiVersion})`);
  });
  program.command('info').action(async () => {
    const i = await client().call<{ Swarm: Record<string, unknown>; Name: string }>('GET', '/info');
    print(JSON.stringify({ Name: i.Name, Swarm: i.Swarm }, null, 2));
  });
}
