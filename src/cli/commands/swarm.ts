// `shoal swarm`: init, join, unlock, unlock-key, ca, join-token, update, leave.
import type { Command } from 'commander';
import { integer, parseDuration } from '../flags.js';
import { readStdin } from '../text.js';
import type { CommandContext } from './context.js';

function printUnlockKey(key: string): void {
  process.stdout.write(
    `To unlock a swarm manager after it restarts, run \`shoal swarm unlock\` and give it this key:\n\n    ${key}\n\nKeep it in a password manager: without it a restarted manager cannot read its state.\n`,
  );
}

export function swarmCommands(program: Command, cli: CommandContext): void {
  const { client, print } = cli;
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
                  Orchestration: {
                    TaskHistoryRetentionLimit: integer(o.taskHistoryLimit, 'task-history-limit'),
                  },
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
            TaskHistoryRetentionLimit: integer(o.taskHistoryLimit, 'task-history-limit'),
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
}
