#!/usr/bin/env node
import { main } from '../dist/src/daemon/main.js';

main(process.argv).catch((e) => {
  process.stderr.write(`shoald: ${e?.message ?? e}\n`);
  process.exit(1);
});
