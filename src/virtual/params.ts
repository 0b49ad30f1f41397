// The virtual engine's cost parameters: the defaults (the tool's own SMMU costs, a large server's
// coherence costs) and the validation set that reproduces John Garry's 2020 measurements (the
// SMMU he measured was fast; notes lesson 4). docs/virtual-time.md gives every value's source.
import { DEFAULTS, type ConsPollMode, type SyncMode } from '../config/config.js';
import type { ServicePolicy } from './coherence.js';

export interface VirtualParams {
  /** A 64-byte line moving to another core's cache (DGT SOSP 2013: ~40-60 ns on a socket,
   *  ~110-200 ns across sockets/dies on their Xeon and Opteron). */
  readonly lineTransferNs: number;
  /** A store or RMW by an agent that already holds a shared copy of the line: the other copies
   *  are invalidated and no data moves (0: a transfer like any other, lineTransferNs; calibrate:
   *  the threads engine's locked issue path beside its SMMU worker less the same path alone). */
  readonly upgradeNs: number;
  /** An atomic RMW beyond holding the line (DGT 2013: CAS/FAI on an owned line, ~10-20 ns). */
  readonly atomicNs: number;
  /** A load or store the agent's own copy serves. */
  readonly hitNs: number;
  readonly service: ServicePolicy;
  /** Uncached SMMU register accesses (--mmio-read-ns, --mmio-write-ns). */
  readonly mmioReadNs: number;
  readonly mmioWriteNs: number;
  /** How a CPU polls a CONS register (--cons-poll) and whether it may WFE (--sev). */
  readonly consPoll: ConsPollMode;
  readonly sev: boolean;
  /** ttas's backoff unit, one relax() (concurrency/locks/ttas.ts: ~ an x86 PAUSE, docs/locks.md). */
  readonly relaxNs: number;
  /** spin-park's spin phase before it parks (its 10 us under a spinning wait policy). */
  readonly lockSpinNs: number;
  /** A parked spin-park waiter runs again this long after the release's wake (futex wake-up). */
  readonly futexWakeNs: number;
  /** CPU work of one map (IOVA alloc, page-table writes: dma_map_single without the queue). */
  readonly mapNs: number;
  /** CPU work of one unmap outside the command queue and the page-table clears. */
  readonly unmapNs: number;
  /** With the driver state: clearing one page's PTE inside iommu_unmap (the walk to the leaf and
   *  the store), charged before each clear, inside the unmap window (docs/virtual-time.md). */
  readonly pteClearNs: number;
  /** Time the buffer stays mapped between map and unmap (dma_map_benchmark -x). */
  readonly dmaNs: number;
  /** The SMMU's time per TLBI_NH_VA and per CMD_SYNC (--tlbi-ns, --sync-ns). */
  readonly tlbiNs: number;
  readonly syncNs: number;
  readonly syncMode: SyncMode;
  /** log2 of the command queue's entries. */
  readonly queueShift: number;
  /** 4 KiB pages per buffer (per map and unmap). */
  readonly pages: number;
  /** With the driver state (runVirtual `state`): one rbtree insert or erase under
   *  iova_rbtree_lock (alloc_iova/free_iova; a magazine going back costs one per IOVA). */
  readonly iovaRbtreeNs: number;
  /** With the driver state: one magazine step under a cpu_rcache or the depot lock (push, pop,
   *  or a magazine swap). */
  readonly iovaMagazineNs: number;
  /** With the driver state, lazy: one flush-queue ring entry queued or freed under fq->lock. */
  readonly fqEntryNs: number;
  /** CPU work to build one command and write it into the queue, beyond the modelled accesses
   *  (0 = ideal hardware; calibrate: the threads engine's lock-free issue path per command). */
  readonly cmdNs: number;
  /** CPU work of one trip through the issue path beyond the modelled accesses: per command on
   *  the locked queue (a lock round trip each), per cmdlist on the lock-free one (0 = ideal
   *  hardware; calibrate: the threads engine's issue paths, MMIO free). */
  readonly lockedIssueNs: number;
  readonly lockfreeIssueNs: number;
  /** Host time of a costed register access beyond its modelled cost (0 = ideal hardware;
   *  calibrate: the threads engine's clock reads while it busy-waits an MMIO cost). */
  readonly mmioExtraNs: number;
  /** The SMMU's own work per command: after an idle spell it adds to tlbiNs/syncNs, while busy
   *  it overlaps them, as the threads engine carries completion times forward (0 = ideal
   *  hardware; calibrate: the threads engine's SMMU consuming with every latency 0). */
  readonly smmuCmdNs: number;
  /** Until a register write is seen on the other side: an idle SMMU waking for a PROD write, a
   *  CPU seeing CONS move (0 = ideal hardware: inside the MMIO costs; calibrate: a cross-thread
   *  wake-up in the threads engine, from its CMD_SYNC round trip). */
  readonly wakeNs: number;
  /** 1 (SMMU_FETCH_IO): the SMMU fetches each entry through the coherence model, pulling its
   *  line from the writer's cache as a coherent SMMU does; 2 (SMMU_FETCH_THREAD): as the threads
   *  engine's SMMU worker, a CPU thread, does (shared copies, PROD a coherent line; calibrate);
   *  0: free, its time inside tlbiNs/syncNs (default, as validated). */
  readonly smmuFetch: number;
}

/** params.smmuFetch 1: the SMMU fetches entries as a coherent I/O master (AMBA ReadOnce). */
export const SMMU_FETCH_IO = 1;
/** params.smmuFetch 2: the SMMU is a CPU thread, the threads engine's SMMU worker: its entry
 *  fetches and PROD reads are loads that keep shared copies, PROD a coherent line (calibrate). */
export const SMMU_FETCH_THREAD = 2;

/** Defaults: the tool's SMMU costs and workload, a large server's coherence costs. */
export const DEFAULT_VIRTUAL_PARAMS: VirtualParams = {
  lineTransferNs: 100,
  upgradeNs: 0,
  atomicNs: 10,
  hitNs: 1,
  service: 'random',
  mmioReadNs: DEFAULTS.mmioReadNs,
  mmioWriteNs: DEFAULTS.mmioWriteNs,
  consPoll: DEFAULTS.consPoll,
  sev: DEFAULTS.sev,
  relaxNs: 48,
  lockSpinNs: 10_000,
  futexWakeNs: 25_000,
  mapNs: 1100,
  unmapNs: 0,
  pteClearNs: 15,
  dmaNs: DEFAULTS.dmaNs,
  tlbiNs: DEFAULTS.tlbiNs,
  syncNs: DEFAULTS.syncNs,
  syncMode: DEFAULTS.syncMode,
  queueShift: Math.log2(DEFAULTS.queueEntries),
  pages: DEFAULTS.pages,
  iovaRbtreeNs: 150,
  iovaMagazineNs: 10,
  fqEntryNs: 10,
  cmdNs: 0,
  lockedIssueNs: 0,
  lockfreeIssueNs: 0,
  mmioExtraNs: 0,
  smmuCmdNs: 0,
  smmuFetch: 0,
  wakeNs: 0,
};

/**
 * One set for every point of the Garry 2020 reproduction (never tuned per point): a fast SMMU with
 * MSI completion (his 16 x 193K fetch_add result caps a TLBI + CMD_SYNC pair at ~324 ns), a
 * cross-die dirty-line transfer of ~100 ns, a map of ~1.1 us (Barry Song's dma_map_benchmark on
 * Kunpeng 920, 16 threads), one-page buffers (dma_map_benchmark's default granule).
 */
export const VALIDATION_PARAMS: VirtualParams = {
  ...DEFAULT_VIRTUAL_PARAMS,
  tlbiNs: 100,
  syncNs: 100,
  syncMode: 'msi',
  pages: 1,
  queueShift: 10,
};
