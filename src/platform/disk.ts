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

/**
 * Writes a file so that after a crash it holds either the old or the new content, never a mix.
 * An array is written piece by piece, in order (no copy into one buffer).
 */
export async function writeFileDurable(
  path: string,
  data: string | Uint8Array | readonly Uint8Array[],
): Promise<void> {
  const tmp = `${path}.tmp`;
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
