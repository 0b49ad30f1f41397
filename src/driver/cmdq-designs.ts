// The command-queue designs a strategy can run on, each with the shared memory it needs beyond the
// common layout and the constructor of its issuer. One entry per design; the design's own module
// owns the format of its region.
import type { Layout, LayoutGeometry, SharedViews } from '../hardware/layout.js';
import type { RegionDecl } from '../hardware/region.js';
import type { CpuStats } from '../concurrency/counters.js';
import type { InstrumentedLock } from '../concurrency/lockstat.js';
import type { LockAlgorithm } from '../concurrency/lock.js';
import type { WaitPolicy } from '../concurrency/wait.js';
import type { CmdqDesign, CmdqIssuer, SyncMode } from './cmdq.js';
import { ConsPoller, type ConsPollMode } from './cons-poll.js';
import { Mmio, type MmioCosts } from './mmio.js';
import type { SyncCoalesce } from '../config/config.js';
import { LockedCmdq } from './cmdq-locked.js';
import { ECMDQ_COUNTERS, ECMDQ_LOCKFREE_DECL, EcmdqCmdq, initEcmdqCmdq } from './cmdq-ecmdq.js';
import { ECMDQ_DECL } from '../hardware/ecmdq.js';
import {
  initLockfreeCmdq,
  LOCKFREE_DECL,
  LOCKFREE_MIN_QUEUE_ENTRIES,
  LOCKFREE_COUNTERS,
  LOCKFREE_HISTOGRAM,
  LockfreeCmdq,
} from './cmdq-lockfree.js';

export interface IssuerContext {
  readonly views: SharedViews;
  readonly layout: Layout;
  readonly cpu: number;
  readonly policy: WaitPolicy;
  readonly lockAlgo: LockAlgorithm;
  /** The instrumented global cmdq spinlock (only designs that use it take it). */
  readonly cmdqLock: InstrumentedLock;
  readonly syncMode: SyncMode;
  readonly pollCs: number;
  /** IDR0.SEV as probed: the CONS poll loop may WFE. */
  readonly sev: boolean;
  readonly consPoll: ConsPollMode;
  readonly mmio: MmioCosts;
  readonly syncCoalesce: SyncCoalesce;
  readonly syncTimeoutNs: number;
  readonly timed: boolean;
  /** The design may record its distribution (the strategy records none of its own). */
  readonly designHistogram: boolean;
  readonly stats: CpuStats;
}

export interface CmdqDesignDef {
  /** Extra shared-memory regions it needs (declared in its modules). */
  readonly regions: readonly RegionDecl<LayoutGeometry>[];
  /** Names of the per-CPU counters it keeps in Cpu.EXTRA0... (reported under runs[].extra). */
  readonly counters: readonly string[];
  /** Name of the distribution it records with CpuStats.extraSample(), if any. */
  readonly histogram?: string;
  /**
   * Initialises the design's regions from the brought-up queue: to be called once, after
   * probeSmmu() and before any CPU starts. Optional; designs must also work when it is not called.
   */
  init?(views: SharedViews, layout: Layout): void;
  /** Smallest --queue-entries the design can work with (checked before any worker starts). */
  readonly minQueueEntries?: number;
  create(ctx: IssuerContext): CmdqIssuer;
}

/** What every design's issuer needs to know about syncing, from the CPU's issuer context. */
function syncOptions(c: IssuerContext) {
  const mmio = new Mmio(c.views.i32, c.mmio);
  return {
    cpu: c.cpu,
    syncMode: c.syncMode,
    syncTimeoutNs: c.syncTimeoutNs,
    pollCs: c.pollCs,
    timed: c.timed,
    sampleOwners: c.designHistogram,
    mmio,
    poll: new ConsPoller(c.views.i32, mmio, c.policy, c.consPoll, c.sev, c.mmio.readNs > 0),
  };
}

/**
 * Does a sync piggy-back on a CMD_SYNC already queued? Linux 2018 did it for MSI-mode syncs only
 * (__arm_smmu_cmdq_issue_sync_msi); `ext-poll` extends it to poll mode (this tool's extension).
 */
export function coalesces(mode: SyncCoalesce, syncMode: SyncMode): boolean {
  return mode === 'ext-poll' || (mode === 'msi' && syncMode === 'msi');
}

export const CMDQ_DESIGNS: Record<CmdqDesign, CmdqDesignDef> = {
  locked: {
    regions: [],
    counters: [],
    create: (c) =>
      new LockedCmdq(
        c.views.i32,
        c.layout,
        c.cmdqLock,
        c.policy,
        { ...syncOptions(c), syncCoalesce: coalesces(c.syncCoalesce, c.syncMode) },
        c.stats,
      ),
  },
  lockfree: {
    regions: [LOCKFREE_DECL],
    counters: LOCKFREE_COUNTERS,
    histogram: LOCKFREE_HISTOGRAM,
    init: initLockfreeCmdq,
    minQueueEntries: LOCKFREE_MIN_QUEUE_ENTRIES,
    create: (c) => new LockfreeCmdq(c.views, c.layout, c.policy, syncOptions(c), c.stats),
  },
  ecmdq: {
    regions: [ECMDQ_DECL, ECMDQ_LOCKFREE_DECL],
    counters: ECMDQ_COUNTERS,
    histogram: LOCKFREE_HISTOGRAM,
    init: initEcmdqCmdq,
    // Each ECMDQ runs the lock-free protocol: a whole batch and its CMD_SYNC are reserved at once.
    minQueueEntries: LOCKFREE_MIN_QUEUE_ENTRIES,
    create: (c) => new EcmdqCmdq(c.views, c.layout, c.policy, syncOptions(c), c.stats),
  },
};
