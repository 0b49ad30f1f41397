// The terminal report: per strategy a lockstat-style contention table and a summary, then the
// comparison of every strategy with the first.
import type { Config, HostInfo } from '../config/config.js';
import { totalLockWaitNs } from './compare.js';
import { formatTable, int, num, ratio, us } from './table.js';
import type { Comparison, RunReport } from './types.js';

export function hostLine(cfg: Config, host: HostInfo): string {
  const over = host.oversubscribed
    ? `OVERSUBSCRIBED: ${host.threads} threads (${cfg.cpus} CPUs + SMMU) on ${host.cores} cores; ` +
      `lock holders get preempted, so absolute rates are far below what a core per thread gives`
    : `${host.threads} threads on ${host.cores} cores (a core per thread)`;
  return `host: ${host.cpuModel}, node ${host.nodeVersion}; ${over}; wait policy: ${host.waitPolicy} (--wait ${cfg.wait})`;
}

export function configLine(cfg: Config): string {
  return (
    `config: --cpus ${cfg.cpus} --pages ${cfg.pages} --queue-entries ${cfg.queueEntries} --tlbi-ns ${cfg.tlbiNs} ` +
    `--sync-ns ${cfg.syncNs} --lock ${cfg.lock} --sync-mode ${cfg.syncMode} --domains ${cfg.domains} ` +
    `--duration ${cfg.durationMs}ms --stats ${cfg.stats}`
  );
}

export function lockstatTable(r: RunReport): string {
  const headers = [
    'class name',
    'con-bounces',
    'contentions',
    'waittime-min',
    'waittime-max',
    'waittime-total',
    'waittime-avg',
    'acq-bounces',
    'acquisitions',
    'holdtime-min',
    'holdtime-max',
    'holdtime-total',
    'holdtime-avg',
  ];
  const rows = r.locks.map((l) => [
    l.name,
    int(l.conBounces),
    int(l.contentions),
    us(l.waitNs.min),
    us(l.waitNs.max),
    us(l.waitNs.total),
    us(l.waitNs.mean),
    int(l.acqBounces),
    int(l.acquisitions),
    us(l.holdNs.min),
    us(l.holdNs.max),
    us(l.holdNs.total),
    us(l.holdNs.mean),
  ]);
  return formatTable(headers, rows);
}

export function runSummary(r: RunReport): string {
  const ops = Object.entries(r.commandsPerUnmap)
    .map(([k, v]) => `${k} ${num(v)}`)
    .join(', ');
  const l = r.unmapLatencyNs;
  const lines = [
    `unmaps/s ${int(r.totals.unmapsPerSec)}   pages/s ${int(r.totals.pagesPerSec)}   unmaps ${int(r.totals.unmaps)} in ${num(r.durationMs / 1000)} s`,
    `commands per unmap: ${ops}   (syncs/unmap ${num(r.syncsPerUnmap)})`,
    `unmap latency us: mean ${us(l.mean)}  p50 ${us(l.p50)}  p99 ${us(l.p99)}  p99.9 ${us(l.p999)}  max ${us(l.max)}`,
    `CMD_SYNC wait us: mean ${us(r.syncWaitNs.mean)}  p99 ${us(r.syncWaitNs.p99)}  total ${us(r.syncWaitNs.total)}`,
    `SMMU: ${int(r.smmu.commandsConsumed)} commands consumed, max queue depth ${int(r.smmu.maxQueueDepth)}, ` +
      `${int(r.smmu.iotlbInvalidations)} IOTLB entries invalidated, ${int(r.smmu.cmdqErrors)} CMDQ errors`,
    `IOTLB: ${int(r.iotlb.translations)} translations, ${int(r.iotlb.hits)} hits, ${int(r.iotlb.misses)} misses, ${int(r.iotlb.faults)} faults`,
  ];
  const unmapsPerCpu = r.perCpu.map((c) => c.unmaps);
  lines.push(`per CPU unmaps: min ${int(Math.min(...unmapsPerCpu))}, max ${int(Math.max(...unmapsPerCpu))}`);
  if (!r.complete) lines.push(`INCOMPLETE: ${r.errors.join('; ')}`);
  return lines.join('\n');
}

export function comparisonTable(runs: readonly RunReport[], cmp: readonly Comparison[]): string {
  const base = runs[0];
  const headers = [
    'metric',
    ...runs.map((r) => r.strategy),
    ...cmp.map((c) => `${c.candidate}/${c.baseline}`),
  ];
  const row = (
    name: string,
    f: (r: RunReport) => string,
    ratios: (c: Comparison) => number | null,
  ): string[] => [name, ...runs.map(f), ...cmp.map((c) => ratio(ratios(c)))];
  const rel =
    (f: (r: RunReport) => number | null) =>
    (c: Comparison): number | null => {
      const b = f(base);
      const v = f(runs.find((r) => r.strategy === c.candidate)!);
      return b === null || v === null || b === 0 ? null : v / b;
    };
  const rows = [
    row(
      'unmaps/s',
      (r) => int(r.totals.unmapsPerSec),
      (c) => c.unmapsPerSecRatio,
    ),
    row(
      'pages/s',
      (r) => int(r.totals.pagesPerSec),
      (c) => c.pagesPerSecRatio,
    ),
    row(
      'syncs/unmap',
      (r) => num(r.syncsPerUnmap),
      rel((r) => r.syncsPerUnmap),
    ),
    row(
      'commands/unmap',
      (r) => num(r.totals.unmaps > 0 ? r.commands.total / r.totals.unmaps : 0),
      rel((r) => (r.totals.unmaps > 0 ? r.commands.total / r.totals.unmaps : 0)),
    ),
    row(
      'lock wait total us',
      (r) => us(totalLockWaitNs(r)),
      (c) => c.lockWaitTotalRatio,
    ),
    ...base.locks.map((l, i) =>
      row(
        `${l.name} wait p99 us`,
        (r) => us(r.locks[i]?.waitNs.p99 ?? null),
        rel((r) => r.locks[i]?.waitNs.p99 ?? null),
      ),
    ),
    row(
      'unmap p99 us',
      (r) => us(r.unmapLatencyNs.p99),
      (c) => c.p99UnmapLatencyRatio,
    ),
  ];
  return formatTable(headers, rows);
}

export function fullReport(
  cfg: Config,
  host: HostInfo,
  runs: readonly RunReport[],
  cmp: readonly Comparison[],
): string {
  const parts = [hostLine(cfg, host), configLine(cfg), ''];
  for (const r of runs) {
    parts.push(`== ${r.strategy} ==`, lockstatTable(r), '', runSummary(r), '');
  }
  if (runs.length > 1)
    parts.push(`== comparison (ratios against ${runs[0].strategy}) ==`, comparisonTable(runs, cmp), '');
  return parts.join('\n');
}
