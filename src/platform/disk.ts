import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

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
 * An array is written piece by piece, in order (no copy into one buffer).
 */
export async function writeFileDurable(
  path: string,
  data: string | Uint8Array | readonly Uint8Array[],
): Promise<void> {
  // Its own temporary name: two writers of one path (a snapshot taken beside the Raft loop and
  // one installed from the leader at the same index) must not share a half-written file.
  const tmp = `${path}.${process.pid}.${++tmpSeq}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    if (typeof data === 'string' || data instanceof Uint8Array) await fh.writeFile(data);
    else for (const piece of data) await fh.writeFile(piece);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}
