// Side-by-side comparison of every run with the first (the baseline), as ratios candidate/baseline.
import type { Comparison, RunReport } from './types.js';

const div = (a: number | null, b: number | null): number | null =>
  a === null || b === null || b === 0 ? null : a / b;

export function totalLockWaitNs(r: RunReport): number | null {
  let t = 0;
  for (const l of r.locks) {
    if (l.waitNs.total === null) return null;
    t += l.waitNs.total;
  }
  return t;
}

export function compareRuns(runs: readonly RunReport[]): Comparison[] {
  if (runs.length < 2) return [];
  const base = runs[0];
  return runs.slice(1).map((c) => ({
    baseline: base.strategy,
    candidate: c.strategy,
    unmapsPerSecRatio: div(c.totals.unmapsPerSec, base.totals.unmapsPerSec),
    pagesPerSecRatio: div(c.totals.pagesPerSec, base.totals.pagesPerSec),
    lockWaitTotalRatio: div(totalLockWaitNs(c), totalLockWaitNs(base)),
    p99UnmapLatencyRatio: div(c.unmapLatencyNs.p99, base.unmapLatencyNs.p99),
    syncsPerUnmap: { baseline: base.syncsPerUnmap, candidate: c.syncsPerUnmap },
  }));
}
