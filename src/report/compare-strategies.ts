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

/**
 * Every figure the comparison covers, by a stable name: throughput, command mix per unmap by
 * opcode, syncs per unmap, per-lock wait total and p99, p99 unmap latency. null: not measured.
 */
export function comparisonMetrics(r: RunReport): Record<string, number | null> {
  const m: Record<string, number | null> = {
    unmapsPerSec: r.totals.unmapsPerSec,
    pagesPerSec: r.totals.pagesPerSec,
    syncsPerUnmap: r.syncsPerUnmap,
    commandsPerUnmap: r.totals.unmaps > 0 ? r.commands.total / r.totals.unmaps : 0,
  };
  for (const [op, v] of Object.entries(r.commandsPerUnmap)) m[`${op}PerUnmap`] = v;
  m.lockWaitTotalNs = totalLockWaitNs(r);
  for (const l of r.locks) {
    m[`${l.name}WaitTotalNs`] = l.waitNs.total;
    m[`${l.name}WaitP99Ns`] = l.waitNs.p99;
  }
  m.p99UnmapLatencyNs = r.unmapLatencyNs.p99;
  return m;
}

/**
 * Within each (sweep point, repetition), every strategy against the first one listed. Runs are
 * grouped by their params and repetition, in the order they appear.
 */
export function compareRuns(runs: readonly RunReport[]): Comparison[] {
  const groups = new Map<string, RunReport[]>();
  for (const r of runs) {
    const key = `${JSON.stringify(r.params)}#${r.repetition}`;
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  return [...groups.values()].flatMap(compareGroup);
}

function compareGroup(runs: readonly RunReport[]): Comparison[] {
  if (runs.length < 2) return [];
  const base = runs[0];
  return runs.slice(1).map((c) => ({
    params: { ...base.params },
    baseline: base.strategy,
    candidate: c.strategy,
    unmapsPerSecRatio: div(c.totals.unmapsPerSec, base.totals.unmapsPerSec),
    pagesPerSecRatio: div(c.totals.pagesPerSec, base.totals.pagesPerSec),
    lockWaitTotalRatio: div(totalLockWaitNs(c), totalLockWaitNs(base)),
    p99UnmapLatencyRatio: div(c.unmapLatencyNs.p99, base.unmapLatencyNs.p99),
    syncsPerUnmap: { baseline: base.syncsPerUnmap, candidate: c.syncsPerUnmap },
    metrics: metricsSideBySide(base, c),
  }));
}

function metricsSideBySide(base: RunReport, c: RunReport): Comparison['metrics'] {
  const a = comparisonMetrics(base);
  const b = comparisonMetrics(c);
  const out: Comparison['metrics'] = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[k] ?? null;
    const y = b[k] ?? null;
    out[k] = { baseline: x, candidate: y, ratio: div(y, x) };
  }
  return out;
}

/** Median of the values (mean of the middle two for an even count); null for none. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Run-to-run noise of a metric: (max - min) / median over its repetitions. null with fewer than
 * two values (unknown); Infinity when the median is 0 but the values differ.
 */
export function relativeSpread(values: readonly number[]): number | null {
  if (values.length < 2) return null;
  const min = Math.min(...values);
  const max = Math.max(...values);
  const med = median(values)!;
  if (max === min) return 0;
  return med === 0 ? Infinity : (max - min) / Math.abs(med);
}
