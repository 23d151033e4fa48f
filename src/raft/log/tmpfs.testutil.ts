// A small tmpfs for disk-full tests (tests run as root, in CI too). Always unmount in a finally.
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tmpfs {
  dir: string;
  /** Takes every free byte with a filler file. */
  fill(): Promise<void>;
  /** Removes the filler. */
  free(): Promise<void>;
  unmount(): Promise<void>;
}

export async function mountTmpfs(sizeKiB: number): Promise<Tmpfs> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0700`, 'tmpfs', dir]);
  const filler = join(dir, 'filler');
  return {
    dir,
    async fill() {
      const fh = await open(filler, 'a');
      try {
        // tmpfs allocates whole pages, so page-sized writes take every free byte.
        const page = Buffer.alloc(4096, 0xaa);
        for (;;) {
          try {
            const { bytesWritten } = await fh.write(page);
            if (bytesWritten < page.length) break;
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
            throw e;
          }
        }
      } finally {
        await fh.close();
      }
    },
    async free() {
      await rm(filler, { force: true });
    },
    async unmount() {
      try {
        execFileSync('umount', [dir], { stdio: 'ignore' });
      } catch {
        // Busy (a test failed with a file still open): detach it anyway, never leave it mounted.
        execFileSync('umount', ['-l', dir]);
      }
      await rmdir(dir);
    },
  };
}
