// Virtual-engine probe, run by the bench as a child process so that its peak RSS is its own: one
// runVirtual() point with the default parameters, then one JSON line with the rate, the events
// simulated, the host time of the run and the process's peak resident set size.
//
//   node dist/bench/virtual-probe.js <cpus> <per-page|batched|lockfree> <durationMs> <warmupMs> <seed>
import { runVirtual } from '../src/virtual/run.js';
import { runPoint, VIRTUAL_STRATEGIES, type VirtualStrategyName } from './lib/virtual.js';

const [cpus, strategy, durationMs, warmupMs, seed] = process.argv.slice(2);
if (!(strategy in VIRTUAL_STRATEGIES)) {
  process.stderr.write(`virtual-probe: unknown strategy ${strategy}\n`);
  process.exit(2);
}
const p = runPoint(runVirtual, {
  cpus: Number(cpus),
  strategy: strategy as VirtualStrategyName,
  durationMs: Number(durationMs),
  warmupMs: Number(warmupMs),
  seed: Number(seed),
  params: {},
});
process.stdout.write(`${JSON.stringify({ ...p, maxRssKb: process.resourceUsage().maxRSS })}\n`);
