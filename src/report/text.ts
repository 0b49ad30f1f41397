// The terminal report: per strategy a lockstat-style contention table and a summary, then the
// comparison of every strategy with the first.
import type { Config, HostInfo } from '../config/config.js';
import { comparisonMetrics } from './compare-strategies.js';
import { formatTable, int, num, ratio, us } from './table.js';
import type { UnmapOverhead } from './overhead.js';
import type { Comparison, RunReport, VirtualRunReport } from './types.js';

export function hostLine(cfg: Config, host: HostInfo): string {
  if (cfg.engine === 'virtual')
    return (
      `host: ${host.cpuModel}, node ${host.nodeVersion}; virtual time: ${cfg.cpus} CPUs and the SMMU simulated ` +
      `in one thread (the host's ${host.cores} cores do not matter), seed ${cfg.seed}`
    );
  const over = host.oversubscribed
    ? `OVERSUBSCRIBED: ${host.threads} threads (${cfg.cpus} CPUs + SMMU) on ${host.cores} cores; ` +
      `lock holders get preempted, so absolute rates are far below what a core per thread gives`
    : `${host.threads} threads on ${host.cores} cores (a core per thread)`;
  return `host: ${host.cpuModel}, node ${host.nodeVersion}; ${over}; wait policy: ${host.waitPolicy} (--wait ${cfg.wait})`;
}

export function configLine(cfg: Config): string {
  return (
    `config: --strategy ${cfg.strategies.join(',')}${cfg.cmdq === null ? '' : ` --cmdq ${cfg.cmdq}`} --cpus ${cfg.cpus} --pages ${cfg.pages} ` +
    `--queue-entries ${cfg.queueEntries} --tlbi-ns ${cfg.tlbiNs} --sync-ns ${cfg.syncNs} --lock ${cfg.lock} ` +
    `--mmio-read-ns ${cfg.mmioReadNs} --mmio-write-ns ${cfg.mmioWriteNs} --sev ${cfg.sev ? 'on' : 'off'} --cons-poll ${cfg.consPoll} ` +
    `--sync-mode ${cfg.syncMode}${cfg.syncCoalesce !== 'off' ? ` --sync-coalesce ${cfg.syncCoalesce}` : ''} --domains ${cfg.domains}${cfg.iova === null ? '' : ` --iova ${cfg.iova}`} ` +
    `--iotlb-entries ${cfg.iotlbEntries} --duration ${cfg.durationMs}ms --warmup ${cfg.warmupMs}ms ` +
    `--spin-ns ${cfg.spinNs} --stats ${cfg.stats} --dma-ns ${cfg.dmaNs}` +
    (cfg.engine === 'virtual'
      ? ` --engine virtual --seed ${cfg.seed}${cfg.calibration === null ? '' : ` --calibration ${cfg.calibration}`}`
      : '')
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

/**
 * The measured window: seconds from 100 ms up (as always), ms below, where two decimals of a second
 * would lose it (a virtual run's default 20 ms is not "0.02 s", its 0.2 ms not "0.00 s").
 */
export function windowText(ms: number): string {
  return ms >= 100 || ms === 0 ? `${num(ms / 1000)} s` : `${num(ms, ms < 10 ? 3 : 2)} ms`;
}

export function runSummary(r: RunReport): string {
  const ops = Object.entries(r.commandsPerUnmap)
    .map(([k, v]) => `${k} ${num(v)}`)
    .join(', ');
  const l = r.unmapLatencyNs;
  const perUnmap = (n: number): number => (r.totals.unmaps > 0 ? n / r.totals.unmaps : 0);
  const unmapEff = r.overhead?.unmapEfficiency ?? null;
  const lines = [
    `unmaps/s ${int(r.totals.unmapsPerSec)}   pages/s ${int(r.totals.pagesPerSec)}   unmaps ${int(r.totals.unmaps)} in ${windowText(r.durationMs)}`,
    `commands per unmap: ${ops}   (syncs/unmap ${num(r.syncsPerUnmap)})`,
    `command queue: ${r.cmdq}; IOVA allocator: ${r.iova ?? 'rbtree'}`,
    r.modelBound.unmapsPerSec === null
      ? // The bound divides by the modelled time per unmap: none without an unmap to average over.
        `model bound: none (${r.totals.unmaps === 0 ? 'no unmap in the measured window' : 'every modelled latency is 0'})`
      : `model bound: ${int(r.modelBound.unmapsPerSec)} unmaps/s if the modelled SMMU were the only cost; ` +
        `efficiency ${num(100 * (r.modelBound.efficiency ?? 0), 1)}%` +
        (unmapEff === null
          ? ''
          : `, unmap path ${num(100 * unmapEff, 1)}%\n` +
            '  (efficiency: whole cycles (alloc, map, DMA, unmap, free) per second over the bound; ' +
            'unmap path: modelled SMMU time of an unmap over its mean time inside iommu_unmap)'),
    // Absent from results saved before it was reported (`report`, `merge` of old files).
    ...(r.overhead ? [overheadLine(r.overhead, r.engine === 'virtual')] : []),
    ...(r.virtual ? [virtualLine(r.virtual)] : []),
    `unmap latency us: mean ${us(l.mean)}  p50 ${us(l.p50)}  p99 ${us(l.p99)}  p99.9 ${us(l.p999)}  max ${us(l.max)}`,
    `CMD_SYNC wait us: mean ${us(r.syncWaitNs.mean)}  p50 ${us(r.syncWaitNs.p50)}  p99 ${us(r.syncWaitNs.p99)}  total ${us(r.syncWaitNs.total)}`,
    `registers per unmap: CONS reads ${num(perUnmap(r.driver.mmioReads))}, PROD writes ${num(perUnmap(r.driver.mmioWrites))}; ` +
      `CONS poll: ${int(r.driver.consPollUdelays)} udelays, ${int(r.driver.consPollWfes)} WFEs`,
    `SMMU: ${int(r.smmu.commandsConsumed)} commands consumed, max queue depth ${int(r.smmu.maxQueueDepth)}, ` +
      `${int(r.smmu.iotlbInvalidations)} IOTLB entries invalidated, ${int(r.smmu.cmdqErrors)} CMDQ errors`,
    `IOTLB: ${int(r.iotlb.translations)} translations, ${int(r.iotlb.hits)} hits, ${int(r.iotlb.misses)} misses, ${int(r.iotlb.faults)} faults`,
  ];
  for (const l of r.locks)
    lines.push(
      `fairness ${l.name}: acquisitions per CPU min ${int(l.fairness.minAcquisitionsPerCpu)} max ` +
        `${int(l.fairness.maxAcquisitionsPerCpu)}, longest wait ${us(l.fairness.longestWaitNs)} us`,
    );
  if (r.extra.histogram || Object.keys(r.extra.counters).length > 0) {
    const c = Object.entries(r.extra.counters)
      .map(([k, v]) => `${k} ${int(v)}`)
      .join(', ');
    const h = r.extra.histogram;
    lines.push(
      `${r.cmdq === 'locked' ? r.strategy : r.cmdq}: ${c}` +
        (h
          ? `${c ? '; ' : ''}${h.name} p50 ${num(h.p50)} p99 ${num(h.p99)} max ${num(h.max)} (n=${int(h.count)})`
          : ''),
    );
  }
  if (r.ecmdq) {
    const qs = r.ecmdq.queues
      .map(
        (q) =>
          `q${q.queue} depth ${int(q.maxDepth)} cmds ${int(q.commandsConsumed)} sync p99 ${us(q.syncWaitP99Ns)}`,
      )
      .join('; ');
    lines.push(`ECMDQ per queue (max depth, commands consumed, CMD_SYNC wait p99 us): ${qs}`);
  }
  const sf = r.safety;
  lines.push(
    `safety: ${int(sf.staleTranslationUses)} stale translation uses in ${int(sf.checkedTranslations)} checked ` +
      `(${int(sf.deferredWindowUses)} uses inside an unmap window, ${int(sf.peerReads)} peer device reads, ` +
      `${int(sf.deviceFaults)} faulted)`,
  );
  if (sf.firstViolation) {
    const v = sf.firstViolation;
    lines.push(
      `  FIRST VIOLATION: cpu ${v.cpu} device ${v.device < 0 ? 'own DMA' : v.device} ASID ${v.asid} IOVA ${v.iova} ` +
        `reached PPN 0x${v.ppn.toString(16)} through an entry of mapping ${v.entryGeneration} (now ${v.currentGeneration})` +
        (v.nsAfterUnmap !== null ? `, ${us(v.nsAfterUnmap)} us after the unmap` : ''),
    );
  }
  if (r.faults.syncTimeouts > 0 || r.faults.cmdqErrorsHandled > 0)
    lines.push(
      `faults: ${int(r.faults.syncTimeouts)} CMD_SYNC timeouts, ${int(r.faults.cmdqErrorsHandled)} CMDQ errors handled`,
    );
  const unmapsPerCpu = r.perCpu.map((c) => c.unmaps);
  lines.push(`per CPU unmaps: min ${int(Math.min(...unmapsPerCpu))}, max ${int(Math.max(...unmapsPerCpu))}`);
  if (!r.complete) lines.push(`INCOMPLETE: ${r.errors.join('; ')}`);
  return lines.join('\n');
}

/** The emulator's own time per command inside iommu_unmap (runs[].overhead). */
/** `virtual`: the time beyond the SMMU's is the model's (coherence, MMIO), not the emulator's. */
export function overheadLine(o: UnmapOverhead, virtual = false): string {
  const what =
    `unmap mean ${us(o.measuredUnmapNs)} us - modelled SMMU ${us(o.modelledUnmapNs)} us, ` +
    `${num(o.commandsPerUnmap)} commands per unmap`;
  const label = virtual ? 'modelled CPU-side time (coherence, MMIO, queue waits)' : 'emulator overhead';
  return o.nsPerCommand === null
    ? `${label}: n/a, ${o.note} (${what})`
    : `${label}: ${int(o.nsPerCommand)} ns per command (${what})`;
}

/** A virtual run's own figures (RunReport.virtual), one line. */
export function virtualLine(v: VirtualRunReport): string {
  const lines = Object.entries(v.lineTransfers)
    .map(([k, n]) => `${k} ${int(n)}`)
    .join(', ');
  return (
    `virtual: seed ${v.seed}, ${int(v.events)} events in ${num(v.virtualNs / 1e6)} ms of virtual time ` +
    `(${int(v.eventsPerSec)} events/s on this host); issue path ${num(100 * v.issueFraction, 1)}% of CPU time` +
    (v.cmpxchgSuccessRate === null
      ? ''
      : `; cmpxchg success ${v.cmpxchgSuccessRate > 0 ? `1 in ${num(1 / v.cmpxchgSuccessRate, 1)}` : 'none'}`) +
    (lines === '' ? '' : `; line transfers: ${lines}`) +
    (v.calibration === null ? '' : `; calibration ${v.calibration}`)
  );
}

/** Human label and formatting of a comparison metric (see comparisonMetrics). */
function metricLabel(name: string): { label: string; fmt: (v: number | null) => string } {
  if (name.endsWith('Ns')) {
    const base = name
      .slice(0, -2)
      .replace(/WaitTotal$/, ' wait total')
      .replace(/WaitP99$/, ' wait p99');
    return {
      label: `${base.replace(/^p99UnmapLatency$/, 'unmap p99').replace(/^lock wait total$/, 'all locks wait total')} us`,
      fmt: us,
    };
  }
  if (name.endsWith('PerSec'))
    return { label: name.replace('PerSec', '/s'), fmt: (v) => (v === null ? '-' : int(v)) };
  // Lazy mode issues a few commands per thousand unmaps: keep them visible.
  const perUnmap = (v: number | null): string => (v === null ? '-' : num(v, v > 0 && v < 0.1 ? 4 : 2));
  return { label: name.replace(/PerUnmap$/, '/unmap'), fmt: perUnmap };
}

export function comparisonTable(runs: readonly RunReport[], _cmp: readonly Comparison[]): string {
  const metrics = runs.map(comparisonMetrics);
  const names = [...new Set(metrics.flatMap((m) => Object.keys(m)))];
  const base = metrics[0];
  const headers = [
    'metric',
    ...runs.map((r) => r.strategy),
    ...runs.slice(1).map((r) => `${r.strategy}/${runs[0].strategy}`),
  ];
  const rows = names.map((n) => {
    const { label, fmt } = metricLabel(n);
    const b = base[n] ?? null;
    return [
      label,
      ...metrics.map((m) => fmt(m[n] ?? null)),
      ...metrics.slice(1).map((m) => {
        const v = m[n] ?? null;
        return ratio(b === null || v === null || b === 0 ? null : v / b);
      }),
    ];
  });
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
