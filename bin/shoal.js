#!/usr/bin/env node
import { main } from '../dist/src/cli/shoal.js';

main(process.argv).then(
  (code) => process.exit(code ?? 0),
  (e) => {
    process.stderr.write(`${e?.message ?? e}\n`);
    process.exit(1);
  },
);
