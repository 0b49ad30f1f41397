// One emulated CPU's counts in the virtual engine: the threads engine's names (concurrency/counters.ts,
// LOCKFREE_COUNTERS) for what both engines count.
import { VLockStats } from './locks.js';

/** The IOVA allocator's lock classes, by the report's names (workload/task.ts LOCK_CLASSES). */
export const IOVA_LOCK_CLASSES = ['iova', 'rcache', 'depot'] as const;
export type IovaLockClass = (typeof IOVA_LOCK_CLASSES)[number];
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
  /** Register accesses of the issue path (Cpu.MMIO_READS, Cpu.MMIO_WRITES; free reads not counted). */
  mmioReads = 0;
  mmioWrites = 0;
  /** The CONS poll loop's WFEs and udelays (Cpu.CONS_POLL_WFES, Cpu.CONS_POLL_UDELAYS). */
  consPollWfes = 0;
  consPollUdelays = 0;
  /** The global cmdq lock (the locked design), lockstat's counts (Lk, lock class 0 'cmdq'). */
  cmdqLock = new VLockStats();
  /** With the driver state (src/virtual/state.ts), the threads engine's Cpu.* counters: */
  translations = 0;
  iotlbHits = 0;
  iotlbMisses = 0;
  translationFaults = 0;
  /** TLBI_NH_ASID inserted (lazy flushes; Cpu.ISSUED_TLBI_NH_ASID); not in issuedTlbi. */
  issuedTlbiAsid = 0;
  /** Lazy (driver/flush-queue.ts FQ_COUNTERS). */
  flushes = 0;
  flushesFull = 0;
  flushesTimeout = 0;
  iovasFlushed = 0;
  iovasFreedOthersFlush = 0;
  iovasFreedPeerRings = 0;
  fullRingWaits = 0;
  /** The IOVA allocator's locks (concurrency/counters.ts Lk), by lockstat class. */
  readonly iovaLocks: Record<IovaLockClass, VLockStats> = {
    iova: new VLockStats(),
    rcache: new VLockStats(),
    depot: new VLockStats(),
  };
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
