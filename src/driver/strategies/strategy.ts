// An invalidation strategy decides which commands iommu_unmap() issues and when it waits, through
// the hooks Linux grew for exactly this (the seed's unmap_tlb_sync, 2017; struct
// iommu_iotlb_gather, 2019): one call per page as its PTE is cleared, one at the end of the unmap,
// and the decision of when the IOVA may be freed (at once, or after a deferred flush).
import type { IovaMode, Config } from '../../config/config.js';
import type { Layout, LayoutGeometry, SharedViews } from '../../hardware/layout.js';
import type { RegionDecl } from '../../hardware/region.js';
import type { CpuStats } from '../../concurrency/counters.js';
import type { LockAlgorithm } from '../../concurrency/lock.js';
import type { WaitPolicy } from '../../concurrency/wait.js';
import type { CmdqDesign, CmdqIssuer } from '../cmdq.js';

export interface StrategyContext {
  readonly cpu: number;
  readonly cmdq: CmdqIssuer;
  /** The design cmdq implements (--cmdq, or the strategy's default); absent: locked. */
  readonly design?: CmdqDesign;
  /** Returns an IOVA (first VA page of a buffer) to its domain's allocator. */
  readonly freeIova: (vaPage: number) => void;
  readonly cfg: Config;
  /** The CPU's current statistics block (swapped between warm-up and the measured window). */
  readonly stats: () => CpuStats;
  /** The run's shared memory: given by the CPU loop, needed by strategies that declare regions. */
  readonly mem?: StrategyMemory;
}

/** Where a strategy with state shared between CPUs finds it, and how it builds its locks. */
export interface StrategyMemory {
  readonly views: SharedViews;
  readonly layout: Layout;
  readonly domain: number;
  readonly asid: number;
  /** The CPUs attached to this CPU's domain, itself included, in ascending order. */
  readonly domainCpus: readonly number[];
  readonly lockAlgo: LockAlgorithm;
  readonly policy: WaitPolicy;
}

export interface InvalidationStrategy {
  /** Linux ->tlb_add_page: the PTE of vaPage has just been cleared. */
  tlbAddPage(asid: number, vaPage: number): void;
  /** Linux ->iotlb_sync / the seed's unmap_tlb_sync: end of iommu_unmap of [vaPage, vaPage + pages). */
  iotlbSync(asid: number, vaPage: number, pages: number): void;
  /** The unmap of [vaPage, ...) has returned: free its IOVA now or once it is safe. */
  releaseIova(asid: number, vaPage: number): void;
  /** Once per loop iteration (before the next allocation): deferred work such as flush timeouts. */
  tick?(): void;
  /** The run is stopping: complete deferred work so that every IOVA ends up freed. */
  drain?(): void;
}

export interface StrategyDef {
  readonly name: string;
  /** One line for --help and the report. */
  readonly summary: string;
  /** The command-queue design it runs on without --cmdq: the one of its era in Linux. */
  readonly cmdq: CmdqDesign;
  /** The IOVA allocator it runs with without --iova (default: rcache, dma-iommu's since Linux 4.7). */
  readonly iova?: IovaMode;
  /** Its name selects the design (the aliases lockfree, ecmdq): --cmdq may not change it. */
  readonly designFixed?: boolean;
  /** Its iommu_unmap issues no commands: invalidation waits for a later flush (lazy). */
  readonly deferred?: boolean;
  /** Needs the SMMU to advertise SMMUv3.2 range invalidation (IDR3.RIL). */
  readonly ril?: boolean;
  /** Names of its per-CPU counters in Cpu.STRATEGY_EXTRA0... (reported under runs[].extra). */
  readonly counters?: readonly string[];
  /** Name of the distribution it records with CpuStats.extraSample() (reported under runs[].extra). */
  readonly histogram?: string;
  /** Shared-memory regions it needs (its own format, declared in its module), if any. */
  readonly regions?: readonly RegionDecl<LayoutGeometry>[];
  /** Buffers one CPU may hold at once (mapped or waiting to be freed); default 1. */
  buffersPerCpu?(cfg: Config): number;
  create(ctx: StrategyContext): InvalidationStrategy;
}

/** Frees at once: correct for every strategy whose iotlbSync waited for its CMD_SYNC. */
export const freeAtOnce =
  (ctx: StrategyContext) =>
  (_asid: number, vaPage: number): void =>
    ctx.freeIova(vaPage);
