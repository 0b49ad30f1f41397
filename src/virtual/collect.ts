// The end of a virtual run, in the threads engine's shared-memory formats: every CPU's block
// (concurrency/counters.ts) and the SMMU's counters (hardware/smmu-stats.ts) written into the same
// slots of a real layout for the run's Config that the threads engine's workers write, so that
// report/collect.ts collectRun() turns it into a RunReport and every output works unchanged.
// Counts the virtual engine keeps as plain VCpuStats fields land in the slots the threads engine
// counts them in; the command-queue design's own counters go to the EXTRA slots by the names the
// design declares (driver/cmdq-designs.ts), which VCpuStats uses for the same counts.
import { Cpu, lockBase } from '../concurrency/counters.js';
import { cpuStatsBase, smmuStatsBase, type Layout, type SharedViews } from '../hardware/layout.js';
import { SMMU_STATS_SLOTS } from '../hardware/smmu-stats.js';
import type { VCpuStats } from './cpu-stats.js';
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
  });
  f.set(end.smmu.subarray(0, SMMU_STATS_SLOTS), smmuStatsBase(layout));
}

/** The block slots filled from VCpuStats' own fields (counted in the measured window). */
function scalarsOf(s: VCpuStats): [Cpu, number][] {
  const tlbi = s.issuedTlbi - s.issuedTlbiAtMeasure;
  const sync = s.issuedSync - s.issuedSyncAtMeasure;
  return [
    [Cpu.ISSUED_TLBI_NH_VA, tlbi],
    [Cpu.ISSUED_CMD_SYNC, sync],
    [Cpu.CMDS_ISSUED, tlbi + sync],
    [Cpu.QUEUE_FULL_WAITS, s.queueFullWaits],
  ];
}
