#!/usr/bin/env node
// tlbsync-emu entry point (dist/run.js): the thin CLI over src/cli/main.ts.
import { main } from './src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`tlbsync-emu: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
