// `shoal service`: create, update, scale, rollback, ls, ps, inspect, logs, rm, with a
// convergence display while a service settles (--detach skips it).
import type { Command } from 'commander';
import type { Node, Service, Task } from '../../api/index.js';
import type { Client } from '../client.js';
import { collect } from '../flags.js';
import { cap, table } from '../text.js';
import type { CommandContext } from './context.js';
import { applyFlags, normalizeListFlags, specOptions, type SpecFlags } from './servicespec.js';
import { taskTable } from './tasks.js';

function modeName(s: Service): string {
  const m = s.Spec.Mode ?? {};
  return m.Global ? 'global' : m.ReplicatedJob ? 'replicated-job' : m.GlobalJob ? 'global-job' : 'replicated';
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

export function serviceCommands(program: Command, cli: CommandContext): void {
  const { client, print } = cli;
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
          // Empty resources, as the docker CLI's create body has them.
          TaskTemplate: {
            ContainerSpec: { Image: image, ...(command.length ? { Args: command } : {}) },
            Resources: { Limits: {}, Reservations: {} },
          },
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
            ? `${st.RunningTasks}/${st.DesiredTasks} (${st.CompletedTasks}/${s.Spec.Mode?.ReplicatedJob?.TotalCompletions ?? st.DesiredTasks + st.CompletedTasks} completed)`
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
      const res = await c.stream(
        'GET',
        `/services/${encodeURIComponent(ref)}/logs?stdout=1&stderr=1&details=1&follow=${o.follow ? 1 : 0}&timestamps=${o.timestamps ? 1 : 0}&tail=${o.tail}`,
      );
      const names = new Map<string, string>();
      let buf = Buffer.alloc(0);
      for await (const chunk of res) {
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
}
