// The end of a virtual run, in the threads engine's shared-memory formats: every CPU's block
// (concurrency/counters.ts) and the SMMU's counters (hardware/smmu-stats.ts) written into the same
// slots of a real layout for the run's Config that the threads engine's workers write, so that
// report/collect.ts collectRun() turns it into a RunReport and every output works unchanged.
// Counts the virtual engine keeps as plain VCpuStats fields land in the slots the threads engine
// counts them in; the command-queue design's own counters go to the EXTRA slots by the names the
// design declares (driver/cmdq-designs.ts), which VCpuStats uses for the same counts.
import { Cpu, Lk, lockBase, LOCK_HOLD_HIST, LOCK_WAIT_HIST } from '../concurrency/counters.js';
import { HIST_BUCKETS } from '../concurrency/histogram.js';
import { FQ_COUNTERS } from '../driver/flush-queue.js';
import { cpuStatsBase, smmuStatsBase, type Layout, type SharedViews } from '../hardware/layout.js';
import { Smmu, SMMU_STATS_SLOTS } from '../hardware/smmu-stats.js';
import { IOVA_LOCK_CLASSES, type VCpuStats } from './cpu-stats.js';
import type { VLockStats } from './locks.js';
import type { VirtualEnd } from './run.js';

/**
 * Writes a run's counts into `views` (allocated for `layout`). `designCounters`: the names of the
 * design's counters in Cpu.EXTRA0... order (CMDQ_DESIGNS[design].counters).
 */
export function collectVirtual(
  end: VirtualEnd,
  layout: Layout,
  views: SharedViews,
  designCounters: readonly string[],
  /** With the driver state: the lazy strategy's counters (its stale windows are in the block), the IOTLB's
   *  invalidations in the window (the state's own counts, state.ts). */
  state: { readonly lazy: boolean; readonly iotlbInvalidations: number } | null = null,
): void {
  const f = views.f64;
  // The block's scalars and histograms, then the lock classes this layout has (a prefix of the
  // virtual block's: both follow workload/task.ts LOCK_CLASSES).
  const copy = lockBase(layout.lockClasses.length);
  end.stats.forEach((s, cpu) => {
    const b = cpuStatsBase(layout, cpu);
    f.set(s.block.subarray(0, copy), b);
    for (const [slot, v] of scalarsOf(s)) f[b + slot] = v;
    designCounters.forEach((name, i) => {
      const v = (s as unknown as Record<string, unknown>)[name];
      if (typeof v === 'number') f[b + Cpu.EXTRA0 + i] = v;
    });
    if (state === null) return;
    // The IOVA allocator's locks, in the classes this layout has (workload/task.ts LOCK_CLASSES).
    for (const cls of IOVA_LOCK_CLASSES) {
      const k = layout.lockClasses.indexOf(cls);
      if (k >= 0) writeLock(f, b + lockBase(k), s.iovaLocks[cls]);
    }
    if (state.lazy) {
      FQ_COUNTERS.forEach((name, i) => (f[b + Cpu.STRATEGY_EXTRA0 + i] = s[name]));
    }
  });
  f.set(end.smmu.subarray(0, SMMU_STATS_SLOTS), smmuStatsBase(layout));
  if (state !== null) f[smmuStatsBase(layout) + Smmu.IOTLB_INVALIDATIONS] = state.iotlbInvalidations;
}

/** One CPU's statistics of one lock class, in the threads engine's Lk slots. */
function writeLock(f: Float64Array, at: number, l: VLockStats): void {
  f[at + Lk.ACQUISITIONS] = l.acquisitions;
  f[at + Lk.CONTENTIONS] = l.contentions;
  f[at + Lk.CON_BOUNCES] = l.conBounces;
  f[at + Lk.ACQ_BOUNCES] = l.acqBounces;
  f[at + Lk.WAIT_TOTAL] = l.waitTotal;
  f[at + Lk.WAIT_MIN] = l.waitMin;
  f[at + Lk.WAIT_MAX] = l.waitMax;
  f[at + Lk.HOLD_TOTAL] = l.holdTotal;
  f[at + Lk.HOLD_MIN] = l.holdMin;
  f[at + Lk.HOLD_MAX] = l.holdMax;
  f[at + Lk.HOLD_SAMPLES] = l.holdSamples;
  f.set(l.waitHist.subarray(0, HIST_BUCKETS), at + LOCK_WAIT_HIST);
  f.set(l.holdHist.subarray(0, HIST_BUCKETS), at + LOCK_HOLD_HIST);
}

/** The block slots filled from VCpuStats' own fields (counted in the measured window). */
function scalarsOf(s: VCpuStats): [Cpu, number][] {
  const tlbi = s.issuedTlbi - s.issuedTlbiAtMeasure;
  const sync = s.issuedSync - s.issuedSyncAtMeasure;
  return [
    [Cpu.ISSUED_TLBI_NH_VA, tlbi],
    [Cpu.ISSUED_CMD_SYNC, sync],
    [Cpu.CMDS_ISSUED, tlbi + sync + s.issuedTlbiAsid],
    [Cpu.QUEUE_FULL_WAITS, s.queueFullWaits],
    [Cpu.CONS_POLL_WFES, s.consPollWfes],
    [Cpu.CONS_POLL_UDELAYS, s.consPollUdelays],
    [Cpu.TRANSLATIONS, s.translations],
    [Cpu.IOTLB_HITS, s.iotlbHits],
    [Cpu.IOTLB_MISSES, s.iotlbMisses],
    [Cpu.TRANSLATION_FAULTS, s.translationFaults],
    [Cpu.ISSUED_TLBI_NH_ASID, s.issuedTlbiAsid],
  ];
}
