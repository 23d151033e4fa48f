// Runs the compiled test files with node's test runner. Node 20 does not expand globs, so the
// list is built here; zero test files is a failure, never a silent pass.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const unitOnly = process.argv.includes('--unit');
const e2eOnly = process.argv.includes('--e2e');
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js')) files.push(p);
  }
}
walk('dist/src');
walk('dist/test');
const selected = files
  .filter((f) => (unitOnly ? !f.includes('/e2e/') : e2eOnly ? f.includes('/e2e/') : true))
  .sort((a, b) => Number(a.includes('/e2e/')) - Number(b.includes('/e2e/')) || a.localeCompare(b));
if (selected.length === 0) {
  console.error('no test files found: refusing to report success');
  process.exit(1);
}
console.log(`running ${selected.length} test files`);
// --test-force-exit: a file whose tests have all finished exits even if something still holds the
// event loop. Twice a test file's process stayed up after its last test with one timer that no
// live Timeout object owned, and the run hung until CI's limit.
const r = spawnSync(
  process.execPath,
  ['--test', '--test-force-exit', '--test-concurrency=1', '--test-reporter=spec', ...selected],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
