// The command-queue designs a strategy can run on, each with the shared memory it needs beyond the
// common layout and the constructor of its issuer. One entry per design; the design's own module
// owns the format of its region.
import type { Layout, LayoutParams, SharedViews } from '../hardware/layout.js';
import type { CpuStats } from '../sync/counters.js';
import type { InstrumentedLock } from '../sync/lockstat.js';
import type { LockAlgorithm } from '../sync/lock.js';
import type { WaitPolicy } from '../sync/wait.js';
import type { CmdqDesign, CmdqIssuer, SyncMode } from './cmdq.js';
import { LockedCmdq } from './cmdq-locked.js';

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
  readonly syncCoalesce: boolean;
  readonly timed: boolean;
  readonly stats: CpuStats;
}

export interface CmdqDesignDef {
  /** Extra shared-memory regions (name, bytes) for a run with these parameters. */
  regions(lp: Omit<LayoutParams, 'regions'>): { name: string; bytes: number }[];
  /** Names of the per-CPU counters it keeps in Cpu.EXTRA0... (reported under runs[].extra). */
  readonly counters: readonly string[];
  /** Name of the distribution it records with CpuStats.extraSample(), if any. */
  readonly histogram?: string;
  create(ctx: IssuerContext): CmdqIssuer;
}

export const CMDQ_DESIGNS: Record<CmdqDesign, CmdqDesignDef> = {
  locked: {
    regions: () => [],
    counters: [],
    create: (c) =>
      new LockedCmdq(
        c.views.i32,
        c.layout,
        c.cmdqLock,
        c.policy,
        { syncMode: c.syncMode, pollCs: c.pollCs, syncCoalesce: c.syncCoalesce, timed: c.timed },
        c.stats,
      ),
  },
  lockfree: {
    regions: () => [],
    counters: [],
    create: () => {
      throw new Error('the lock-free command queue is not built yet');
    },
  },
  ecmdq: {
    regions: () => [],
    counters: [],
    create: () => {
      throw new Error('ECMDQ is not built yet');
    },
  },
};
