// One emulated CPU's counts in the virtual engine: the threads engine's names (concurrency/counters.ts,
// LOCKFREE_COUNTERS) for what both engines count.
import { VLockStats } from './locks.js';

export class VCpuStats {
  maps = 0;
  unmaps = 0;
  /** Commands the issuer put in the queue over the whole run (warm-up included), by kind. */
  issuedTlbi = 0;
  issuedSync = 0;
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
}
