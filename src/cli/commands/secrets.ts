// `shoal secret` and `shoal config`: create, ls, inspect, rm, with docker's arguments and output.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Config, Secret } from '../../api/index.js';
import { collect, keyValues } from '../flags.js';
import { ago, readStdin, table } from '../text.js';
import type { CommandContext } from './context.js';

async function readData(file: string): Promise<Buffer> {
  return file === '-' ? readStdin() : readFile(file);
}

/** `--filter key=value` flags as the Engine API's filters parameter. */
function filterQuery(flags: readonly string[]): string {
  if (flags.length === 0) return '';
  const f: Record<string, Record<string, boolean>> = {};
  for (const kv of flags) {
    const i = kv.indexOf('=');
    if (i < 0) throw new Error(`bad format of filter (expected name=value): ${kv}`);
    (f[kv.slice(0, i)] ??= {})[kv.slice(i + 1)] = true;
  }
  return `?filters=${encodeURIComponent(JSON.stringify(f))}`;
}

function pretty(o: Secret | Config, kind: 'secret' | 'config'): string {
  const labels = Object.entries(o.Spec.Labels ?? {}).map(([k, v]) => ` - ${k}=${v}`);
  return [
    `ID:\t\t${o.ID}`,
    `Name:\t\t${o.Spec.Name}`,
    ...(labels.length ? ['Labels:', ...labels] : []),
    ...(kind === 'secret' ? [`Driver:\t\t${(o as Secret).Spec.Driver?.Name ?? ''}`] : []),
    `Created at:\t${o.CreatedAt}`,
    `Updated at:\t${o.UpdatedAt}`,
    ...(kind === 'config' ? ['Data:', Buffer.from(o.Spec.Data ?? '', 'base64').toString('utf8')] : []),
  ].join('\n');
}

/** Registers `secret` and `config` on the program. */
export function secretCommands(program: Command, cli: CommandContext): void {
  const { client, print } = cli;
  for (const kind of ['secret', 'config'] as const) {
    const cmd = program.command(kind).description(`manage swarm ${kind}s`);
    cmd
      .command('create <name> <file>')
      .description(`create a ${kind} from a file, or from standard input with "-"`)
      .option('-l, --label <KEY=VALUE>', `${kind} label`, collect, [])
      .action(async (name: string, file: string, o: { label: string[] }) => {
        const data = await readData(file);
        const { ID } = await client().call<{ ID: string }>('POST', `/${kind}s/create`, {
          Name: name,
          Labels: keyValues(o.label),
          Data: data.toString('base64'),
        });
        print(ID);
      });
    cmd
      .command('ls')
      .alias('list')
      .option('-q, --quiet', 'only IDs')
      .option('-f, --filter <key=value>', 'filter: id, name, names or label', collect, [])
      .action(async (o: { quiet?: boolean; filter: string[] }) => {
        const list = await client().call<(Secret | Config)[]>('GET', `/${kind}s${filterQuery(o.filter)}`);
        if (o.quiet) return print(list.map((x) => x.ID).join('\n'));
        const head =
          kind === 'secret'
            ? ['ID', 'NAME', 'DRIVER', 'CREATED', 'UPDATED']
            : ['ID', 'NAME', 'CREATED', 'UPDATED'];
        const rows = [...list]
          .sort((a, b) => a.Spec.Name.localeCompare(b.Spec.Name))
          .map((x) => [
            x.ID,
            x.Spec.Name,
            ...(kind === 'secret' ? [(x as Secret).Spec.Driver?.Name ?? ''] : []),
            ago(x.CreatedAt),
            ago(x.UpdatedAt),
          ]);
        print(table([head, ...rows]));
      });
    cmd
      .command('inspect <ref...>')
      .option('--pretty', 'human-readable output')
      .action(async (refs: string[], o: { pretty?: boolean }) => {
        const c = client();
        const list = await Promise.all(
          refs.map((r) => c.call<Secret | Config>('GET', `/${kind}s/${encodeURIComponent(r)}`)),
        );
        print(o.pretty ? list.map((x) => pretty(x, kind)).join('\n\n') : JSON.stringify(list, null, 4));
      });
    cmd
      .command('rm <ref...>')
      .alias('remove')
      .action(async (refs: string[]) => {
        for (const r of refs) {
          await client().call('DELETE', `/${kind}s/${encodeURIComponent(r)}`);
          print(r);
        }
      });
  }
}
