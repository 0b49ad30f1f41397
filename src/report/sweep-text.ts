// The terminal report of a sweep or of --repeat: one compact row per (point, strategy), not a
// lockstat table per run (the JSON and CSV have every figure of every run).
import type { Config, HostInfo } from '../config/config.js';
import { median, relativeSpread } from './compare-strategies.js';
import { configLine } from '../report/text.js';
import { formatTable, int, num, us } from '../report/table.js';
import type { RunReport } from '../report/types.js';
import { AXES, axisName, paramsLabel, type AxisKey, type Plan } from '../config/sweep.js';

function med(runs: readonly RunReport[], f: (r: RunReport) => number | null | undefined): number | null {
  const vs = runs.map(f).filter((v): v is number => typeof v === 'number');
  return vs.length === runs.length ? median(vs) : null;
}

/** Runs grouped by (point, strategy), in run order. */
export function groupRuns(runs: readonly RunReport[]): RunReport[][] {
  const groups = new Map<string, RunReport[]>();
  for (const r of runs) {
    const k = `${JSON.stringify(r.params)}|${r.strategy}`;
    const g = groups.get(k);
    if (g) g.push(r);
    else groups.set(k, [r]);
  }
  return [...groups.values()];
}

export function planLine(base: Config, plan: Pick<Plan, 'sweep' | 'repeat'>, points: number): string {
  const n = points * base.strategies.length * plan.repeat;
  const axes = plan.sweep?.map((a) => `${axisName(a.key)}=${a.values.join(',')}`).join(' x ');
  const parts = [
    `${points} point${points === 1 ? '' : 's'}`,
    `${base.strategies.length} strateg${base.strategies.length === 1 ? 'y' : 'ies'}`,
    `${plan.repeat} repetition${plan.repeat === 1 ? '' : 's'}`,
  ];
  return `${axes ? `sweep: ${axes}: ` : ''}${parts.join(' x ')} = ${n} run${n === 1 ? '' : 's'}`;
}

export function sweepReport(
  base: Config,
  host: HostInfo,
  plan: Pick<Plan, 'sweep' | 'repeat'>,
  points: number,
  runs: readonly RunReport[],
): string {
  const axes = (plan.sweep ?? []).map((a) => a.key);
  let config = configLine(base);
  for (const a of plan.sweep ?? [])
    config = config.replace(
      new RegExp(`${AXES[a.key].flag} \\S+`),
      `${AXES[a.key].flag} {${a.values.join(',')}}`,
    );
  const reps = plan.repeat > 1;
  const headers = [
    ...axes.map((k) => axisName(k)),
    'strategy',
    'unmaps/s',
    ...(reps ? ['spread'] : []),
    'x base',
    'pages/s',
    'syncs/unmap',
    'cmdq wait p99 us',
    'unmap p99 us',
    'over',
  ];
  const groups = groupRuns(runs);
  const baseline = new Map<string, number | null>();
  const rows = groups.map((g) => {
    const r0 = g[0];
    const pk = JSON.stringify(r0.params);
    const ups = med(g, (r) => r.totals.unmapsPerSec);
    if (!baseline.has(pk)) baseline.set(pk, ups);
    const b = baseline.get(pk);
    const spread = relativeSpread(g.map((r) => r.totals.unmapsPerSec));
    const cmdqP99 = med(g, (r) => r.locks.find((l) => l.name === 'cmdq')?.waitNs.p99);
    return [
      ...axes.map((k: AxisKey) => String(r0.params[k])),
      r0.strategy,
      ups === null ? '-' : int(ups),
      ...(reps
        ? [spread === null ? '?' : Number.isFinite(spread) ? `±${(100 * spread).toFixed(1)}%` : 'inf']
        : []),
      ups === null || !b ? '-' : `${(ups / b).toFixed(2)}x`,
      ((v) => (v === null ? '-' : int(v)))(med(g, (r) => r.totals.pagesPerSec)),
      ((v) => (v === null ? '-' : num(v)))(med(g, (r) => r.syncsPerUnmap)),
      us(cmdqP99),
      us(med(g, (r) => r.unmapLatencyNs.p99)),
      g.some((r) => r.oversubscribed) ? '*' : '',
    ];
  });
  const notes: string[] = [];
  for (const r of runs) {
    const where = [paramsLabel(r.params), r.strategy, reps ? `rep ${r.repetition + 1}` : '']
      .filter((s) => s !== '')
      .join(' ');
    if (!r.complete) notes.push(`INCOMPLETE: ${where}: ${r.errors.join('; ')}`);
    if (r.safety.staleTranslationUses > 0)
      notes.push(`UNSAFE: ${where}: ${int(r.safety.staleTranslationUses)} stale translation uses`);
  }
  const over = runs.some((r) => r.oversubscribed);
  const lines = [
    `host: ${host.cpuModel}, node ${host.nodeVersion}; ${host.cores} cores; ` +
      // --wait means nothing to the virtual engine: named only where a threads run used it.
      (runs.length > 0 && runs.every((r) => r.engine === 'virtual')
        ? '--engine virtual: every run in virtual time (one thread)'
        : `--wait ${base.wait} (resolved per point)` +
          (runs.some((r) => r.engine === 'virtual')
            ? '; --engine virtual runs in virtual time (one thread)'
            : '')),
    config,
    planLine(base, plan, points),
    '',
    formatTable(headers, rows),
    '',
    `${reps ? `values are medians of ${plan.repeat} repetitions; spread = (max - min) / median of unmaps/s. ` : ''}` +
      `x base = unmaps/s against ${base.strategies[0]} at the same point.`,
  ];
  if (over)
    lines.push(
      '* oversubscribed: more threads (CPUs + SMMU) than cores; lock holders get preempted, so absolute rates are far below what a core per thread gives',
    );
  lines.push(...notes, '');
  return lines.join('\n');
}
