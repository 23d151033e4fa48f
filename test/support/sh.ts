// Running a command in a test: its stdout, bounded in time; `shOk` for clean-ups that may fail.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** Runs argv (no shell) with a 10 s bound; rejects on a non-zero exit. */
export async function sh(...argv: string[]): Promise<string> {
  const [file, ...args] = argv;
  const { stdout } = await exec(file!, args, { timeout: 10_000 });
  return stdout;
}

/** sh(), ignoring failure: for removing what may not be there. */
export async function shOk(...argv: string[]): Promise<void> {
  await sh(...argv).catch(() => {});
}
