// Start-up probe, run by the bench as a child process: what `node dist/run.js --cpus N --strategy
// batched` does for one strategy (runConfig in src/run/invocation.ts: a CPU pool, then runStrategy), after
// which it reads the CPUs' FIRST_UNMAP_NS counters (the clock at the end of each CPU's first measured
// unmap, src/concurrency/counters.ts), which the JSON report does not carry yet. Prints one JSON line:
// monotonic clock readings (process.hrtime ns, the same clock in every process) of this module's
// start, the pool's creation, the measured window's opening and the first measured unmap.
//
//   node dist/bench/startup-probe.js <cpus> <warmupMs> <durationMs>
import { DEFAULTS, hostInfo, type Config } from '../src/config/config.js';
import { cpuStatsBase } from '../src/hardware/layout.js';
import { nowNs } from '../src/concurrency/clock.js';
import { Cpu } from '../src/concurrency/counters.js';
import { runStrategy } from '../src/workload/orchestrator.js';
import { CpuPool } from '../src/workload/pool.js';

const mainNs = nowNs();
const cpus = Number(process.argv[2] ?? 8);
const cfg: Config = {
  ...DEFAULTS,
  cpus,
  strategies: ['batched'],
  warmupMs: Number(process.argv[3] ?? 0),
  durationMs: Number(process.argv[4] ?? 100),
  quiet: true,
};
const host = hostInfo(cfg);
const pool = new CpuPool(cfg.cpus);
const poolNs = nowNs();
let firstUnmapNs = Infinity;
let outcome = 'failed';
try {
  const run = await runStrategy(cfg, host, 'batched', pool, false, { warn: () => {} });
  outcome = run.outcome;
  for (let cpu = 0; cpu < cfg.cpus; cpu++) {
    const t = run.views.f64[cpuStatsBase(run.layout, cpu, false) + Cpu.FIRST_UNMAP_NS];
    if (t > 0 && t < firstUnmapNs) firstUnmapNs = t;
  }
  process.stdout.write(
    `${JSON.stringify({ cpus, mainNs, poolNs, measureStartNs: run.measureStartNs, firstUnmapNs, outcome })}\n`,
  );
} finally {
  await pool.destroy();
}
