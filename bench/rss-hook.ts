// Preloaded into a child `node dist/run.js ...` by the bench (node --import <this file>): when the
// process exits, writes its peak resident set size (all threads: the main thread, the SMMU worker
// and every CPU worker) and the clock at preload to the file named by TLBSYNC_BENCH_PROBE. It
// changes nothing else in the run.
import { writeFileSync } from 'node:fs';

const out = process.env.TLBSYNC_BENCH_PROBE;
if (out) {
  const preloadNs = Number(process.hrtime.bigint());
  process.on('exit', () => {
    writeFileSync(out, JSON.stringify({ preloadNs, maxRssKb: process.resourceUsage().maxRSS }));
  });
}
