// The bench runs a child `node dist/bench/rss-wrap.js <dist/run.js> <its arguments>` where a user
// would run `node dist/run.js <arguments>`: this file becomes the main module, arms an exit hook,
// and imports run.js with the arguments it expects. When the process exits, the hook writes its
// peak resident set size (all threads: the main thread, the SMMU worker and every CPU worker) and
// the clock at start to the file named by TLBSYNC_BENCH_PROBE. It changes nothing else in the run.
//
// Not `node --import <hook>`: worker threads inherit the parent's execArgv, so every CPU worker
// would load the hook too (measured: +0.3-0.35 s of start-up at --cpus 64 on 2 cores).
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const startNs = Number(process.hrtime.bigint());
const [runJs, ...args] = process.argv.slice(2);
if (!runJs) {
  process.stderr.write('usage: node dist/bench/rss-wrap.js <dist/run.js> [arguments...]\n');
  process.exit(2);
}
const out = process.env.TLBSYNC_BENCH_PROBE;
if (out) {
  process.on('exit', () => {
    writeFileSync(out, JSON.stringify({ preloadNs: startNs, maxRssKb: process.resourceUsage().maxRSS }));
  });
}
process.argv = [process.argv[0], runJs, ...args];
await import(pathToFileURL(runJs).href);
