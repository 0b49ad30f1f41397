// The Garry 2020 reproduction and the engine's speed, until `--engine virtual` exists:
//   node dist/src/virtual/validate.js [ms of virtual time per point, default 20] [fifo]
// prints, per CPU count, the per-CPU map+unmap rate, its ratio to 8 CPUs against Garry's, the
// cmpxchg success rate, the issue-path share of CPU time, and events per second of wall time.
import { performance } from 'node:perf_hooks';
import { formatTable } from '../report/table.js';
import { VALIDATION_PARAMS } from './params.js';
import { runVirtual } from './run.js';

const GARRY: Record<number, number> = { 8: 282e3, 16: 115e3, 32: 36e3, 64: 11e3 };

if (import.meta.url === `file://${process.argv[1]}`) {
  const ms = Number(process.argv[2] ?? 20);
  const service = process.argv[3] === 'fifo' ? 'fifo' : 'random';
  let base = 0;
  const rows: string[][] = [];
  for (const cpus of [8, 16, 32, 64]) {
    const t0 = performance.now();
    const r = runVirtual({
      cpus,
      design: 'lockfree',
      strategy: 'batched',
      seed: 1,
      durationNs: ms * 1e6,
      warmupNs: 1e6,
      params: { ...VALIDATION_PARAMS, service },
    });
    const wall = (performance.now() - t0) / 1000;
    if (cpus === 8) base = r.perCpuOpsPerSec;
    const lf = r.lockfree!;
    rows.push([
      String(cpus),
      String(Math.round(r.perCpuOpsPerSec)),
      (r.perCpuOpsPerSec / base).toFixed(3),
      (GARRY[cpus] / GARRY[8]).toFixed(3),
      `1/${(1 / lf.cmpxchgSuccessRate).toFixed(1)}`,
      r.issueFraction.toFixed(3),
      String(r.events),
      String(Math.round(r.events / wall)),
      wall.toFixed(1),
    ]);
  }
  console.log(
    formatTable(
      ['cpus', 'per-CPU/s', 'ratio', 'Garry', 'cmpxchg', 'issue', 'events', 'events/s', 'wall s'],
      rows,
    ),
  );
}
