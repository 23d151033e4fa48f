// Secrets and configs of a task, as files its container sees. Each task that references any
// gets its own tmpfs under the exec root (outside the data root, never on disk); its files are
// bind-mounted read-only into the container: secrets under /run/secrets/, configs at their
// target. The tmpfs is unmounted when the task's container is removed. A templated one (template
// driver golang) is expanded for its task first; only its expanded value reaches the file.
import { execFile } from 'node:child_process';
import { chown, lstat, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, posix } from 'node:path';
import { promisify } from 'node:util';
import type { FileTarget, NodeAssignment, Payload } from '../../api/index.js';
import { expandedPayload } from './templated.js';

/** Runs a command (mount, umount); tests pass their own. */
export type CommandRunner = (cmd: string, args: string[]) => Promise<unknown>;
const runCommand: CommandRunner = promisify(execFile);

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/** The size of each task's tmpfs: Docker's limit is 500 KiB per secret; this holds many. */
const TMPFS_SIZE = '16m';

export interface FileMount {
  source: string;
  target: string;
}

export class TaskFiles {
  constructor(
    private readonly execRoot: string,
    private readonly run: CommandRunner = runCommand,
  ) {}

  #dir(taskId: string): string {
    if (!/^[a-z0-9]+$/i.test(taskId)) throw new Error(`invalid task id ${JSON.stringify(taskId)}`);
    return join(this.execRoot, 'secrets', taskId);
  }

  /** Writes the task's secrets and configs to a fresh tmpfs; returns what to bind-mount where. */
  async prepare(a: NodeAssignment): Promise<FileMount[]> {
    const cs = a.task.Spec.ContainerSpec;
    const refs = [
      ...(cs?.Secrets ?? []).map((r) => ({
        kind: 'secret' as const,
        id: r.SecretID,
        name: r.SecretName,
        file: r.File,
      })),
      ...(cs?.Configs ?? []).flatMap((r) =>
        r.File ? [{ kind: 'config' as const, id: r.ConfigID, name: r.ConfigName, file: r.File }] : [],
      ),
    ];
    if (refs.length === 0) return [];
    const dir = this.#dir(a.task.ID);
    await this.release(a.task.ID);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    try {
      await this.run('mount', [
        '-t',
        'tmpfs',
        '-o',
        `size=${TMPFS_SIZE},mode=0755,nosuid,nodev,noexec`,
        'tmpfs',
        dir,
      ]);
    } catch (e) {
      throw new Error(
        `cannot mount a tmpfs for the task's secrets at ${dir}: ${(e as Error).message.trim()}`,
      );
    }
    const payloads = new Map<string, Payload>();
    for (const p of [...a.secrets, ...a.configs]) payloads.set(p.id, p);
    const mounts: FileMount[] = [];
    for (const [i, r] of refs.entries()) {
      const p = payloads.get(r.id);
      if (!p) throw new Error(`${r.kind} ${r.name} (${r.id}) was not delivered to this node`);
      const source = join(dir, String(i));
      const f: FileTarget = r.file ?? { Name: r.name, UID: '0', GID: '0', Mode: 0o444 };
      await writeFile(source, expandedPayload(a, r.kind, p, payloads), { mode: f.Mode & 0o777 });
      await chown(source, Number(f.UID) || 0, Number(f.GID) || 0);
      const target =
        r.kind === 'secret'
          ? isAbsolute(f.Name)
            ? f.Name
            : posix.join('/run/secrets', f.Name)
          : isAbsolute(f.Name)
            ? f.Name
            : posix.join('/', f.Name);
      mounts.push({ source, target });
    }
    return mounts;
  }

  /** Unmounts and removes the task's tmpfs, if it has one. */
  async release(taskId: string): Promise<void> {
    const dir = this.#dir(taskId);
    // Most tasks have no files. Spawning umount for them blocked the event loop for about 27 ms
    // each (fork of a large process), on every task's exit and removal.
    if (!(await exists(dir))) return;
    await this.run('umount', [dir]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }

  /** Releases the tmpfs of every task not in keep (after a restart, for tasks that are gone). */
  async sweep(keep: ReadonlySet<string>): Promise<void> {
    let names: string[];
    try {
      names = await readdir(join(this.execRoot, 'secrets'));
    } catch {
      return;
    }
    for (const n of names) if (!keep.has(n)) await this.release(n);
  }
}
