// The CPU side of a whole strict unmap, alone in the calling thread: per-page (TLBI_NH_VA +
// CMD_SYNC for each page) or batched (16 TLBI_NH_VA, one CMD_SYNC) through the real LockedCmdq,
// InstrumentedLock and SyncWaiter, with an instant SMMU: the CMDQ_PROD doorbell also sets
// CMDQ_CONS to it, so every CMD_SYNC is complete at its first CONS read. What it measures is the
// emulator's own work between doorbells and around the wait, including --stats full's clock reads
// and records (bench/hotpath.ts --side per-page|batched; docs/performance.md, "Issue 12, CPU side").
import { DEFAULTS, type Config } from '../../src/config/config.js';
import { Mmio } from '../../src/driver/mmio.js';
import { onePerIssue } from '../../src/driver/strategies/gather.js';
import { allocate, computeLayout, cpuStatsBase, regIdx, VA_BASE_PAGE } from '../../src/hardware/layout.js';
import { CS_SEV } from '../../src/hardware/commands.js';
import { Span } from '../../src/concurrency/span.js';
import { CpuStats, initCpuStats, type Cpu } from '../../src/concurrency/counters.js';
import { layoutParamsFor } from '../../src/workload/params.js';
import { bareLockedCmdq, RIG_PAGES } from '../../src/run/calibrate/rigs.js';

/** A doorbell that the SMMU consumes at once. */
class InstantSmmuMmio extends Mmio {
  constructor(
    private readonly regs: Int32Array,
    private readonly prodIdx: number,
    private readonly consIdx: number,
  ) {
    super(regs, { readNs: 0, writeNs: 0 });
  }

  override doorbell(idx: number, v: number, stats: CpuStats): void {
    super.doorbell(idx, v, stats);
    if (idx === this.prodIdx) Atomics.store(this.regs, this.consIdx, v);
  }
}

export interface SyncRig {
  /** Runs `unmaps` unmaps of RIG_PAGES pages (timed as the CPU loop times them); returns unmaps. */
  unmap(unmaps: number): number;
  /** Commands one unmap issues (for ns per command). */
  readonly commandsPerUnmap: number;
  /** The CPU's counters so far. */
  readonly count: (f: Cpu) => number;
}

export function syncRig(perPage: boolean, timed: boolean): SyncRig {
  const cfg: Config = { ...DEFAULTS, cpus: 1 } as Config;
  const layout = computeLayout(layoutParamsFor(cfg, perPage ? 'per-page' : 'batched'));
  const { i32, f64 } = allocate(layout);
  const stats = new CpuStats(f64, cpuStatsBase(layout, 0, false));
  initCpuStats(f64, stats.base, layout.lockClasses.length);
  const mmio = new InstantSmmuMmio(i32, regIdx(layout, 'CMDQ_PROD'), regIdx(layout, 'CMDQ_CONS'));
  const { cmdq } = bareLockedCmdq(i32, layout, stats, 'ttas', timed, CS_SEV, 1e9, mmio);
  const strategy = onePerIssue({ cpu: 0, cmdq, freeIova: () => {}, cfg, stats: () => stats }, perPage);
  const span = new Span();
  return {
    unmap(unmaps) {
      for (let u = 0; u < unmaps; u++) {
        if (timed) span.begin();
        for (let p = 0; p < RIG_PAGES; p++) strategy.tlbAddPage(1, VA_BASE_PAGE + p);
        strategy.iotlbSync(1, VA_BASE_PAGE, RIG_PAGES);
        if (timed) span.stop();
        stats.unmapSpan(span);
      }
      return unmaps;
    },
    commandsPerUnmap: perPage ? 2 * RIG_PAGES : RIG_PAGES + 1,
    count: (f) => f64[stats.base + f],
  };
}
