// `shoal node`: ls, inspect, update, rm, ps.
import type { Command } from 'commander';
import type { Node, Task } from '../../api/index.js';
import { collect, keyValues } from '../flags.js';
import { cap, table } from '../text.js';
import type { CommandContext } from './context.js';
import { taskTable } from './tasks.js';

export function nodeCommands(program: Command, cli: CommandContext): void {
  const { client, print } = cli;
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
}
