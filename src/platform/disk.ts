import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/** What an errno means, in the words an operator needs. */
const ERRNO_TEXT: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EIO: 'I/O error',
  EROFS: 'read-only file system',
  EFBIG: 'file too large',
};

/**
 * A write to local disk failed (full disk, I/O error, ...): nothing of it counts as written, so
 * whatever waited on it was not acknowledged. `code` is the errno name (ENOSPC, EIO, ...).
 */
export class DiskWriteError extends Error {
  readonly code: string;
  readonly path: string;
  override readonly cause: unknown;
  constructor(path: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? 'EIO';
    const what = ERRNO_TEXT[code] ?? (cause instanceof Error ? cause.message : String(cause));
    super(`${what} writing ${path}; the write was not acknowledged`);
    this.name = 'DiskWriteError';
    this.code = code;
    this.path = path;
    this.cause = cause;
  }
}

/** Wraps a system error from writing `path` in a DiskWriteError; anything else (a bug) is returned as is. */
export function diskWriteError(path: string, e: unknown): unknown {
  if (e instanceof DiskWriteError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? new DiskWriteError(path, e) : e;
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

let tmpSeq = 0;

/**
 * Writes a file so that after a crash it holds either the old or the new content, never a mix.
 * An array is written piece by piece, in order (no copy into one buffer). A failure throws a
 * DiskWriteError naming `path` and removes the temp file (on a full disk it holds the space).
 */
export async function writeFileDurable(
  path: string,
  data: string | Uint8Array | readonly Uint8Array[],
): Promise<void> {
  // Its own temporary name: two writers of one path (a snapshot taken beside the Raft loop and
  // one installed from the leader at the same index) must not share a half-written file.
  const tmp = `${path}.${process.pid}.${++tmpSeq}.tmp`;
  try {
    const fh = await open(tmp, 'w', 0o600);
    try {
      if (typeof data === 'string' || data instanceof Uint8Array) await fh.writeFile(data);
      else for (const piece of data) await fh.writeFile(piece);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw diskWriteError(path, e);
  }
  await fsyncDir(dirname(path)).catch((e: unknown) => {
    throw diskWriteError(path, e);
  });
}
