#!/usr/bin/env node
import { main } from '../dist/src/cli/shoald.js';

main(process.argv).catch((e) => {
  process.stderr.write(`shoald: ${e?.message ?? e}\n`);
  process.exit(1);
});
