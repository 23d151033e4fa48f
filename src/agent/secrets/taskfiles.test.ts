import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TaskFiles } from './taskfiles.js';

test('release runs umount only for a task that has a files directory', async () => {
  const root = await mkdtemp(join(tmpdir(), 'shoal-taskfiles-'));
  try {
    const calls: string[] = [];
    const files = new TaskFiles(root, async (cmd, args) => {
      calls.push(`${cmd} ${args.join(' ')}`);
    });
    await files.release('nofiles1');
    assert.deepEqual(calls, [], 'a task without secrets or configs spawns nothing');

    const dir = join(root, 'secrets', 'withfiles1');
    await mkdir(dir, { recursive: true });
    await files.release('withfiles1');
    assert.deepEqual(calls, [`umount ${dir}`]);
    await assert.rejects(stat(dir), 'the directory is removed');

    await files.release('withfiles1');
    assert.equal(calls.length, 1, 'a second release is a no-op');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
