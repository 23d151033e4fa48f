// The layering of docs/ARCHITECTURE.md is enforced by lint: an import that points up the layers
// fails `npm run lint`. Probe files are written where such imports would live, linted with the
// project's own config, and removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ESLint } from 'eslint';

const PROBES: { file: string; source: string; refused: boolean }[] = [
  // Upward: the store knows no manager; an agent never imports the manager; the core imports nothing of ours.
  {
    file: 'src/state/lint-probe-up.ts',
    source: "export { Manager } from '../manager/index.js';\n",
    refused: true,
  },
  {
    file: 'src/agent/lint-probe-up.ts',
    source: "export { Dispatcher } from '../manager/index.js';\n",
    refused: true,
  },
  {
    file: 'src/raft/core/lint-probe-up.ts',
    source: "export { RaftNode } from '../node/index.js';\n",
    refused: true,
  },
  { file: 'src/manager/lint-probe-up.ts', source: "export { default } from 'fastify';\n", refused: true },
  // The CLI loads nothing of the daemon, from its own folder or a command group's.
  {
    file: 'src/cli/lint-probe-up.ts',
    source: "export { Daemon } from '../daemon/index.js';\n",
    refused: true,
  },
  {
    file: 'src/cli/commands/lint-probe-up.ts',
    source: "export { buildApp } from '../../httpapi/index.js';\n",
    refused: true,
  },
  // The Engine API client sits under the agent that uses it.
  {
    file: 'src/engineclient/lint-probe-up.ts',
    source: "export { DockerExecutor } from '../agent/index.js';\n",
    refused: true,
  },
  // The CLI may use the Engine API client.
  {
    file: 'src/cli/commands/lint-probe-down.ts',
    source: "export { EngineApiClient } from '../../engineclient/index.js';\n",
    refused: false,
  },
  // The API knows the daemon only through ApiBackend: the node builds
  // the API, never the reverse.
  {
    file: 'src/httpapi/lint-probe-up.ts',
    source: "export { Daemon } from '../daemon/index.js';\n",
    refused: true,
  },
  {
    file: 'src/httpapi/routes/lint-probe-up.ts',
    source: "export { Daemon } from '../../daemon/index.js';\n",
    refused: true,
  },
  // The daemon (src/daemon/, shoald) sits above the manager.
  {
    file: 'src/manager/lint-probe-daemon.ts',
    source: "export { Daemon } from '../daemon/index.js';\n",
    refused: true,
  },
  // shoald's daemon sits under the CLI: it shares only engineclient's flags with it.
  { file: 'src/daemon/lint-probe-up.ts', source: "export {} from '../cli/index.js';\n", refused: true },
  // Downward is the rule's other side: the manager may import the store.
  {
    file: 'src/manager/lint-probe-down.ts',
    source: "export { MemoryStore } from '../state/index.js';\n",
    refused: false,
  },
];

test(
  'an import that points up the layers fails lint; one that points down passes',
  { timeout: 180_000 },
  async () => {
    const root = process.cwd();
    try {
      for (const p of PROBES) await writeFile(join(root, p.file), p.source);
      const results = await new ESLint({ cwd: root }).lintFiles(PROBES.map((p) => p.file));
      for (const p of PROBES) {
        const r = results.find((x) => x.filePath === join(root, p.file));
        assert.ok(r, p.file);
        const layering = r.messages.filter((m) => m.ruleId === 'no-restricted-imports');
        if (p.refused) {
          assert.equal(layering.length, 1, `${p.file}: ${JSON.stringify(r.messages)}`);
          assert.match(layering[0]!.message, /dependencies point one way|knows no fastify/);
        } else assert.deepEqual(r.messages, [], p.file);
      }
    } finally {
      for (const p of PROBES) await rm(join(root, p.file), { force: true });
    }
  },
);
