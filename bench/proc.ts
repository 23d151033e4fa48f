// A shoald process for the benches: its own data root, exec root and API socket under `dir`.
// With SHOAL_BENCH_LOGS=<dir> its log goes to <dir>/<name>.log.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { EngineApiClient as Client } from '../src/engineclient/index.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(25);
  }
}

export class ShoaldProc {
  proc: ChildProcess | undefined;
  readonly api: Client;
  readonly sock: string;
  constructor(
    readonly name: string,
    readonly dir: string,
    /** Node's own flags for this shoald (--cpu-prof, which NODE_OPTIONS does not take). */
    readonly nodeFlags: readonly string[] = [],
  ) {
    this.sock = join(dir, `${name}.sock`);
    this.api = new Client({ host: `unix://${this.sock}` });
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async start(): Promise<void> {
    const logs = process.env.SHOAL_BENCH_LOGS;
    this.proc = spawn(
      process.execPath,
      [
        ...this.nodeFlags,
        'bin/shoald.js',
        '--data-plane',
        'off',
        '--data-root',
        join(this.dir, this.name),
        '--exec-root',
        join(this.dir, 'run'),
        '-H',
        `unix://${this.sock}`,
        '--hostname',
        this.name,
      ],
      { stdio: ['ignore', 'ignore', logs ? 'pipe' : 'ignore'] },
    );
    if (logs) this.proc.stderr!.pipe(createWriteStream(join(logs, `${this.name}.log`), { flags: 'a' }));
    await until(`${this.name} up`, () => this.api.call('GET', '/version').then(() => true), 20_000);
  }

  /** kill -9, and wait for the exit. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || !this.running) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }
}
