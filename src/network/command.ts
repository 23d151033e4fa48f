// The data plane changes the kernel through `ip`, `bridge`, `sysctl` and `nft`. They run behind a
// small injectable runner, so the planning is testable without root and a test can run the whole
// data plane inside a namespace "host" by prefixing every command.
import { execFile } from 'node:child_process';
import { ShoalError } from '../api/index.js';
import { datapathTrace } from '../platform/index.js';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CommandRunner {
  run(argv: readonly string[], opts?: { input?: string }): Promise<CommandResult>;
}

/** No kernel command should take this long; one that does is stuck (a wedged netns, a lock). */
export const COMMAND_TIMEOUT_MS = 10_000;
/** `ip -j` of a sandbox with thousands of peers stays well under this. */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

/** Runs commands with execFile, bounded in time and output. `prefix` wraps every command (tests). */
export function execRunner(opts: { prefix?: readonly string[]; timeoutMs?: number } = {}): CommandRunner {
  const prefix = opts.prefix ?? [];
  return {
    run(argv, runOpts = {}) {
      const full = [...prefix, ...argv];
      const [file, ...args] = full;
      if (file === undefined) throw new Error('empty command');
      const t0 = performance.now();
      return new Promise((resolve) => {
        const child = execFile(
          file,
          args,
          { timeout: opts.timeoutMs ?? COMMAND_TIMEOUT_MS, maxBuffer: MAX_OUTPUT_BYTES, encoding: 'utf8' },
          (err, stdout, stderr) => {
            let code = 0;
            if (err) {
              const c = (err as { code?: unknown }).code;
              code = typeof c === 'number' ? c : 127;
              if (err.killed) stderr = `${stderr}\n(killed after ${opts.timeoutMs ?? COMMAND_TIMEOUT_MS} ms)`;
              else if (typeof c !== 'number') stderr = `${stderr}\n${err.message}`;
            }
            if (datapathTrace.on)
              datapathTrace('cmd', `ms=${(performance.now() - t0).toFixed(1)} ${argv.slice(0, 6).join(' ')}`);
            resolve({ code, stdout, stderr });
          },
        );
        // A command that never reads its input (it failed early) must not crash us with EPIPE.
        child.stdin?.on('error', () => {});
        child.stdin?.end(runOpts.input ?? '');
      });
    },
  };
}

/** Runs a command that must succeed; a failure is a ShoalError naming the command and its stderr. */
export async function mustRun(
  runner: CommandRunner,
  argv: readonly string[],
  input?: string,
): Promise<CommandResult> {
  const res = await runner.run(argv, input !== undefined ? { input } : {});
  if (res.code !== 0) throw commandFailed(argv, res);
  return res;
}

export function commandFailed(argv: readonly string[], res: CommandResult): ShoalError {
  const err = res.stderr.trim().split('\n').slice(0, 5).join('; ');
  return new ShoalError('Internal', `data plane: \`${argv.join(' ')}\` failed (exit ${res.code}): ${err}`);
}
