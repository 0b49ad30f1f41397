// One emulated CPU's counts in the virtual engine: the threads engine's names (concurrency/counters.ts,
// LOCKFREE_COUNTERS) for what both engines count.
import { CpuStats, cpuStatsSlots, initCpuStats } from '../concurrency/counters.js';

/**
 * The lock classes a virtual CPU's block keeps, in the threads engine's order (workload/task.ts
 * LOCK_CLASSES: cmdq, iova, rcache, depot), so that a run's layout holds a prefix of them.
 */
export const VCPU_LOCK_CLASSES = 4;
/** The cmdq lock's class (workload/task.ts CLS_CMDQ). */
export const VCLS_CMDQ = 0;

export class VCpuStats {
  maps = 0;
  unmaps = 0;
  /** Commands the issuer put in the queue over the whole run (warm-up included), by kind. */
  issuedTlbi = 0;
  issuedSync = 0;
  /** issuedTlbi / issuedSync when the measured window opened (what the window issued is the rest). */
  issuedTlbiAtMeasure = 0;
  issuedSyncAtMeasure = 0;
  /** Commands issued by unmaps completed in the measured window, by kind. */
  tlbiNhVa = 0;
  cmdSync = 0;
  /** Sum of unmap latencies (iommu_unmap entry to return), ns. */
  unmapNs = 0;
  /** Time spent in the command-queue issue path (arm_smmu_cmdq_issue_cmdlist or its 2017 loop), ns. */
  issueNs = 0;
  cmpxchgAttempts = 0;
  cmpxchgSuccesses = 0;
  ownerElections = 0;
  ownerPublishedCmds = 0;
  consRefreshes = 0;
  lastReaderConsUpdates = 0;
  queueFullWaits = 0;
  /**
   * The threads engine's per-CPU block (concurrency/counters.ts: Cpu scalars, the unmap, CMD_SYNC
   * and extra histograms, lockstat per class), written through its own CpuStats with virtual ns:
   * unmap latencies, CMD_SYNC waits, MMIO accesses, lock acquisitions and holds, pages, the
   * lock-free owner's batch sizes. src/virtual/collect.ts copies it into a run's layout.
   */
  readonly block = newBlock();
  readonly counters = new CpuStats(this.block, 0);
}

function newBlock(): Float64Array {
  const f = new Float64Array(cpuStatsSlots(VCPU_LOCK_CLASSES));
  initCpuStats(f, 0, VCPU_LOCK_CLASSES);
  return f;
}
