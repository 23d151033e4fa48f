// A manager's disk fails under it: a full disk (a real tmpfs) answers writes with the disk's own
// error and recovers without a restart; damaged or missing files refuse the start, naming them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { apiHarness } from './support/daemon.js';
import type { ApiHarness } from './support/daemon.js';
import { mountTmpfs } from './support/tmpfs.js';

const secret = (name: string, bytes = 16): { Name: string; Data: string } => ({
  Name: name,
  Data: Buffer.alloc(bytes, name).toString('base64'),
});

async function secretNames(api: ApiHarness): Promise<string[]> {
  const res = await api.call('GET', '/v1.41/secrets');
  return (res.body as { Spec: { Name: string } }[]).map((s) => s.Spec.Name).sort();
}

test('a manager on a full disk answers writes 500 with the disk error (not "no leader"), takes them again once there is room, and keeps every acknowledged one', async () => {
  const disk = await mountTmpfs(2048);
  const dataRoot = join(disk.dir, 'root');
  let api: ApiHarness | undefined;
  try {
    api = await apiHarness({ dataRoot });
    assert.equal((await api.call('POST', '/v1.41/swarm/init', { ListenAddr: '127.0.0.1:0' })).status, 200);
    const acked: string[] = [];
    for (const name of ['s0', 's1']) {
      assert.equal((await api.call('POST', '/v1.41/secrets/create', secret(name))).status, 201);
      acked.push(name);
    }
    await disk.fill();
    const wal = join(dataRoot, 'raft', 'wal.log');
    for (const name of ['full', 'full-again']) {
      const res = await api.call('POST', '/v1.41/secrets/create', secret(name, 8000));
      assert.equal(res.status, 500, res.text);
      assert.ok(
        (res.body as { message: string }).message.startsWith(
          `no space left on device writing ${wal}; the write was not acknowledged`,
        ),
        res.text,
      );
    }
    // Reads go on.
    assert.deepEqual(
      (await secretNames(api)).filter((n) => !n.startsWith('full')),
      acked,
    );

    await disk.free();
    let status = 0;
    for (let t = 0; t < 100 && status !== 201; t++) {
      status = (await api.call('POST', '/v1.41/secrets/create', secret('after'))).status;
      if (status !== 201) await sleep(50);
    }
    assert.equal(status, 201, 'a write succeeds once the disk has room, without a restart');
    acked.push('after');
    await api.close();
    api = undefined;

    api = await apiHarness({ dataRoot });
    const names = await secretNames(api);
    for (const name of acked)
      assert.ok(names.includes(name), `${name} is missing after a restart: ${names.join()}`);
  } finally {
    await api?.close();
    await disk.unmount();
  }
});

test('a damaged or missing node.json, keys.json, node key or raft log refuses the start, naming the file', async () => {
  const dataRoot = await mkdtemp(join(tmpdir(), 'shoal-damaged-'));
  try {
    const first = await apiHarness({ dataRoot });
    assert.equal((await first.call('POST', '/v1.41/swarm/init', { ListenAddr: '127.0.0.1:0' })).status, 200);
    assert.equal((await first.call('POST', '/v1.41/secrets/create', secret('kept'))).status, 201);
    await first.close();

    const nodeJson = join(dataRoot, 'node.json');
    const keysJson = join(dataRoot, 'keys.json');
    const nodeKey = join(dataRoot, 'certificates', 'swarm-node.key');
    const wal = join(dataRoot, 'raft', 'wal.log');
    const refused = async (why: string, ...parts: (string | RegExp)[]): Promise<void> => {
      await assert.rejects(
        apiHarness({ dataRoot }),
        (e: unknown) => {
          const msg = (e as Error).message;
          for (const p of parts) {
            if (typeof p === 'string' ? !msg.includes(p) : !p.test(msg)) assert.fail(`${why}: ${msg}`);
          }
          return true;
        },
        why,
      );
    };
    const damaged = async (
      file: string,
      content: string | Buffer | undefined,
      ...parts: (string | RegExp)[]
    ): Promise<void> => {
      const saved = await readFile(file);
      if (content === undefined) await unlink(file);
      else await writeFile(file, content);
      try {
        await refused(`${file} ${content === undefined ? 'missing' : 'damaged'}`, ...parts);
      } finally {
        await writeFile(file, saved);
      }
    };

    const rejoin = /join the swarm again/;
    await damaged(nodeJson, '{"nodeId": "abc", "ro', `${nodeJson} is damaged (not JSON`, rejoin);
    await damaged(nodeJson, '', `${nodeJson} is damaged (it is empty)`, rejoin);
    await damaged(
      nodeJson,
      '{"role": "manager"}',
      `${nodeJson} is damaged (bad or missing nodeId, addr`,
      rejoin,
    );
    await damaged(
      keysJson,
      '{"version": 1, "de',
      `${keysJson} is not a valid swarm key file: not JSON`,
      rejoin,
    );
    await damaged(
      keysJson,
      undefined,
      `${keysJson} is missing, but ${nodeJson} says this node is a manager`,
      rejoin,
    );
    // Another key of the right length: the node key sealed with the real one no longer opens.
    const keys = JSON.parse(await readFile(keysJson, 'utf8')) as { version: 1; dek: string };
    const dek = Buffer.from(keys.dek, 'base64');
    dek[0] = dek[0]! ^ 1;
    await damaged(
      keysJson,
      JSON.stringify({ version: 1, dek: dek.toString('base64') }),
      `${nodeKey} cannot be opened with the data key in ${keysJson}`,
      rejoin,
    );
    await damaged(
      wal,
      undefined,
      `${wal} is missing or empty`,
      `but ${nodeJson} says this node is a manager that holds Raft state`,
      /rejoin this member/,
    );
    await damaged(wal, '', `${wal} is missing or empty`);
    const log = await readFile(wal);
    const flipped = Buffer.from(log);
    flipped[flipped.length - 5] = flipped[flipped.length - 5]! ^ 0x04;
    await damaged(
      wal,
      flipped,
      new RegExp(`WAL ${wal} is corrupt at byte \\d+: checksum mismatch`),
      /rejoin/,
    );

    // Everything back in place: the manager starts with its state.
    const again = await apiHarness({ dataRoot });
    try {
      assert.deepEqual(await secretNames(again), ['kept']);
    } finally {
      await again.close();
    }

    // A manager that crashed part-way through joining has no state yet, and may start without.
    await rm(join(dataRoot, 'raft'), { recursive: true });
    const node = JSON.parse(await readFile(nodeJson, 'utf8')) as Record<string, unknown>;
    await writeFile(nodeJson, JSON.stringify({ ...node, joining: true }));
    const joining = await apiHarness({ dataRoot });
    await joining.close();
  } finally {
    await rm(dataRoot, { recursive: true, force: true });
  }
});
