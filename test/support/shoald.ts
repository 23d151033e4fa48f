// A shoald process for end-to-end tests, with the stock docker CLI pointed at its API socket.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export interface CliResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs the docker CLI against DOCKER_HOST=host; never throws on a non-zero exit. */
export async function dockerAt(
  host: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      'docker',
      args,
      { env: { ...process.env, DOCKER_HOST: host }, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ stdout, stderr, code });
      },
    );
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
  });
}

export const engine = (args: string[]): Promise<CliResult> => dockerAt('unix:///var/run/docker.sock', args);

export class Shoald {
  proc: ChildProcess | undefined;
  log = '';
  readonly sock: string;
  readonly dataRoot: string;

  constructor(
    readonly name: string,
    readonly dir: string,
    /** More shoald flags (Raft timing, snapshot interval). */
    readonly extraArgs: readonly string[] = [],
    readonly opts: {
      /** A command that runs shoald elsewhere, e.g. `nsenter -t <pid> -m -n --` for a namespace host. */
      via?: readonly string[];
      /** Default: `<dir>/run`. */
      execRoot?: string;
    } = {},
  ) {
    this.sock = join(dir, `${name}.sock`);
    this.dataRoot = join(dir, name);
  }

  get host(): string {
    return `unix://${this.sock}`;
  }

  async start(): Promise<void> {
    const [via, ...viaArgs] = this.opts.via ?? [];
    this.proc = spawn(
      via ?? process.execPath,
      [
        ...(via ? [...viaArgs, process.execPath] : []),
        'bin/shoald.js',
        '--data-root',
        this.dataRoot,
        '--exec-root',
        this.opts.execRoot ?? join(this.dir, 'run'),
        '-H',
        this.host,
        '--hostname',
        this.name,
        '--log-level',
        'debug',
        // Loopback clusters share one engine, and so one plugin socket: the data plane runs only
        // in namespace hosts (nshosts.ts), one shoald per engine.
        ...(via ? [] : ['--data-plane', 'off']),
        ...this.extraArgs,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.proc.stderr!.on('data', (b: Buffer) => (this.log += b.toString()));
    for (let i = 0; i < 100; i++) {
      if ((await this.docker(['version', '--format', '{{.Server.APIVersion}}'])).code === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`shoald ${this.name} did not come up:\n${this.log}`);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
  }

  docker(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
    return dockerAt(this.host, args, opts);
  }

  /** Runs docker against this node and returns stdout; throws with the CLI's error and the node's log. */
  async ok(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.docker(args, opts);
    if (r.code !== 0)
      throw new Error(
        `docker ${args.join(' ')} on ${this.name} failed: ${r.stderr}\n--- log ---\n${this.log.slice(-3000)}`,
      );
    return r.stdout;
  }
}

export async function waitFor(
  what: string,
  cond: () => Promise<boolean>,
  timeoutMs = 60_000,
  everyMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
