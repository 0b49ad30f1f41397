// The one place that decides where everything lives in the run's SharedArrayBuffer. Every other
// module asks a Layout for an offset; nobody else adds numbers to a base address. Each region's
// owner declares its name, size and alignment next to the code that reads its format
// (hardware/region.ts); the caller that knows the run hands computeLayout() the evaluated list in
// a fixed order (workload/regions.ts), and this module only places the regions, padding each to
// its alignment, and answers the indices of the common ones.
//
// "Physical addresses" that the driver gives the SMMU (CMDQ_BASE.ADDR, CMD_SYNC.MSIADDR) are byte
// offsets into this buffer, so the SMMU finds its queue and its MSI target by decoding registers
// and commands exactly as hardware would.
import {
  CONTROL_PAGE0_OFFSET,
  CONTROL_PAGE_CMDQGS_64K,
  CONTROL_PAGE_CMDQGS_SHIFT,
  CONTROL_PAGE_EN,
  CONTROL_PAGE_PRESET,
  CONTROL_PAGE_REGS,
  IDR6_LOG2NUMQ_SHIFT,
  REG,
  type EcmdqRegName,
  type RegName,
} from './registers.js';
import { ECMDQ_REGION, EcmdqBlock, ecmdqLog2NumQ, ecmdqQueueBytes } from './ecmdq.js';
import { alignUp, LINE, REGION, type LayoutGeometry, type RegionDecl, type RegionSpec } from './region.js';
import { sharedBuffer } from './shared-memory.js';
import { SMMU_STATS_SLOTS } from './smmu-stats.js';

export { LINE };

/**
 * Each domain's translation table covers VA pages [VA_BASE_PAGE, VA_BASE_PAGE + pagesPerDomain):
 * IOVAs start at 2 GiB so that commands carry realistic, non-zero addresses.
 */
export const VA_BASE_PAGE = 0x80000;

/**
 * Part of the layout fingerprint: bump it when a region's internal format changes without its
 * size changing, so that workers built before the change refuse to run against the new one.
 */
export const LAYOUT_VERSION = 2;

export type { LayoutGeometry };

export interface LayoutParams extends LayoutGeometry {
  /**
   * Every region of the run, evaluated from its owner's RegionDecl, in placement order: the
   * common ones (REGION in hardware/region.ts), then those of the command-queue design, the
   * strategy, the rcache and the trace, found again with regionOff(layout, name).
   */
  readonly regions: readonly RegionSpec[];
}

/** Control words (int32 index relative to the control region). Each on its own line. */
export const enum Ctl {
  PHASE = 0, // Phase below; waiters at +1
  SYNC_COUNT = 16, // MSI target word the SMMU writes CMD_SYNC.MSIDATA to; waiters at +1
  LLQ_PROD = 32, // driver's shadow of the queue (Linux q->prod/q->cons), under the cmdq lock
  LLQ_CONS = 33,
  SYNC_NR = 34, // driver's MSI sync sequence number (Linux smmu->sync_nr), under the cmdq lock
  PREV_OP = 35, // opcode of the last command inserted (Linux smmu->prev_cmd_opcode), under the lock
  SMMU_STATE = 48, // what the SMMU worker is doing (for diagnostics)
  READY = 64, // CPU workers that have started and are waiting for the warm-up
  SMMU_STALL = 80, // fault injection: nonzero while the SMMU must not consume; waiters at +1
  MEASURE_START = 96, // float64 at int32 index 96 (8-byte aligned): nowNs() when MEASURE began
  WORDS = 112,
}

export const enum Phase {
  BRINGUP = 0,
  WARMUP = 1,
  MEASURE = 2,
  STOP = 3,
}

/** Per-CPU state line (int32 index relative to the CPU's line). Written only by that CPU. */
export const enum CpuState {
  ACTIVITY = 0, // Activity code (what the CPU is doing now)
  UNMAPS = 1, // unmaps completed (any phase): the watchdog's progress counter
  WAITING = 2, // Waiting code (concurrency/lockstat.ts, driver): what the CPU is blocked on, 0 = nothing
  WAIT_ARG = 3, // lock class, or the queue index / sync number being waited for
  WORDS = 16,
}

export interface Layout extends LayoutParams {
  readonly totalBytes: number;
  readonly queueEntries: number;
  /** Byte offsets of the regions. */
  readonly controlOff: number;
  readonly regImageOff: number;
  /** The command queue control page registers (page-0 offsets CONTROL_PAGE_REGS and up). */
  readonly controlPageRegsOff: number;
  readonly cmdqProdLineOff: number;
  readonly cmdqConsLineOff: number;
  readonly cmdqOff: number;
  readonly locksOff: number;
  readonly cpuStateOff: number;
  readonly iovaOff: number;
  readonly iovaBytesPerDomain: number;
  readonly pagesPerDomain: number;
  readonly pteOff: number;
  readonly pteGenOff: number;
  readonly iotlbOff: number;
  readonly smmuStatsOff: number;
  readonly cpuStatsOff: number;
  readonly cpuStatsSlots: number;
  /** Byte offset and size of every region, by name. */
  readonly regionOffs: Readonly<Record<string, number>>;
  readonly regionBytes: Readonly<Record<string, number>>;
  /** The safety oracle's region (safety/oracle.ts owns its format). */
  readonly safetyOff: number;
}

/** The control words: Ctl above (waiter counts inside, MEASURE_START a float64). */
export const CONTROL_DECL: RegionDecl<LayoutGeometry> = {
  name: REGION.CONTROL,
  bytes: () => Ctl.WORDS * 4,
  align: LINE,
};

/** One line per CPU: CpuState above, written only by that CPU, read by the monitor. */
export const CPU_STATE_DECL: RegionDecl<LayoutGeometry> = {
  name: REGION.CPU_STATE,
  bytes: (g) => g.cpus * CpuState.WORDS * 4,
  align: LINE,
};

export function computeLayout(p: LayoutParams): Layout {
  if (p.lockBytes % LINE !== 0) throw new RangeError(`lockBytes ${p.lockBytes} is not a multiple of ${LINE}`);
  let off = 0;
  const regionOffs: Record<string, number> = {};
  const regionBytes: Record<string, number> = {};
  for (const r of p.regions) {
    if (regionOffs[r.name] !== undefined) throw new Error(`layout: region "${r.name}" declared twice`);
    if (r.align < LINE || (r.align & (r.align - 1)) !== 0)
      throw new RangeError(
        `layout: region "${r.name}" alignment ${r.align} is not a power of two >= ${LINE}`,
      );
    regionOffs[r.name] = alignUp(off, r.align);
    regionBytes[r.name] = r.bytes;
    off = alignUp(regionOffs[r.name] + r.bytes);
  }
  const at = (name: string): number => {
    const o = regionOffs[name];
    if (o === undefined) throw new Error(`layout: the common region "${name}" was not declared`);
    return o;
  };
  const cpuStatsOff = at(REGION.CPU_STATS);
  const iovaOff = at(REGION.IOVA);
  return {
    ...p,
    totalBytes: off,
    queueEntries: 1 << p.queueShift,
    controlOff: at(REGION.CONTROL),
    regImageOff: at(REGION.REG_IMAGE),
    controlPageRegsOff: at(REGION.CONTROL_PAGE_REGS),
    cmdqProdLineOff: at(REGION.CMDQ_PROD),
    cmdqConsLineOff: at(REGION.CMDQ_CONS),
    cmdqOff: at(REGION.CMDQ),
    locksOff: at(REGION.LOCKS),
    cpuStateOff: at(REGION.CPU_STATE),
    iovaOff,
    // From the owner's size: the iova region is one equal part per domain.
    iovaBytesPerDomain: regionBytes[REGION.IOVA] / p.domains,
    pagesPerDomain: p.iovaSlotsPerDomain * p.slotPages,
    pteOff: at(REGION.PTE),
    pteGenOff: at(REGION.PTE_GEN),
    iotlbOff: at(REGION.IOTLB),
    smmuStatsOff: at(REGION.SMMU_STATS),
    cpuStatsOff,
    // From the owner's size: the statistics are two equal blocks per CPU.
    cpuStatsSlots: regionBytes[REGION.CPU_STATS] / (2 * p.cpus * 8),
    safetyOff: at(REGION.SAFETY),
    regionOffs,
    regionBytes,
  };
}

/**
 * A digest of where every region is, and LAYOUT_VERSION: the orchestrator sends it to every worker,
 * which recomputes it with its own code (workload/regions.ts), so a worker bundle built from other
 * sources (a stale dist/) refuses to run instead of disagreeing on offsets. FNV-1a, 32 bits.
 */
export function layoutFingerprint(l: Layout): string {
  let text = `v${LAYOUT_VERSION} ${l.totalBytes}`;
  for (const r of l.regions) text += ` ${r.name}@${l.regionOffs[r.name]}+${r.bytes}/${r.align}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** Byte offset of a region declared in LayoutParams.regions. */
export function regionOff(l: Layout, name: string): number {
  const off = l.regionOffs[name];
  if (off === undefined) throw new Error(`layout has no region "${name}"`);
  return off;
}

// ---- Lookups: every index another module needs comes from one of these. -----------------------

/** Int32 index of a control word. */
export const ctlIdx = (l: Layout, w: Ctl): number => (l.controlOff >> 2) + w;

/** Float64 index of the MEASURE_START control word. */
export const measureStartF64 = (l: Layout): number => (l.controlOff + Ctl.MEASURE_START * 4) >> 3;

/**
 * Int32 index of a register (its low word for 64-bit registers). Cold registers sit in a page-0
 * image at their architectural offsets; hot ones (CMDQ_PROD, CMDQ_CONS) each get a line of their
 * own, with their waiter count in the next word, so a CPU writing PROD never steals the line the
 * SMMU writes CONS to. Their slots in the image stay unused; regfile.ts reads through this map.
 */
export function regIdx(l: Layout, name: RegName): number {
  if (name === 'CMDQ_PROD') return l.cmdqProdLineOff >> 2;
  if (name === 'CMDQ_CONS') return l.cmdqConsLineOff >> 2;
  const off = REG[name].offset;
  if (off >= CONTROL_PAGE_REGS) return (l.controlPageRegsOff + off - CONTROL_PAGE_REGS) >> 2;
  return (l.regImageOff + off) >> 2;
}

// ---- SMMUv3.3 ECMDQs (hardware/ecmdq.ts declares the region's format) -------------------------
// Architecturally ECMDQ n's registers sit at CMDQ_CONTROL_PAGE_BASE0.ADDR + n * (64 KB >>
// IDR6.LOG2NUMQ) + their offset; here, as with regIdx(), PROD and CONS each get a line of their
// own (waiter count in the next word) and BASE a cold line, in the queue's block of the region.

/** ECMDQs the implementation has: 0 unless the run's design placed the ECMDQ region. */
export function ecmdqCount(l: Layout): number {
  return l.regionOffs[ECMDQ_REGION] === undefined ? 0 : 1 << ecmdqLog2NumQ(l.cpus);
}

/** Byte offset of ECMDQ n's block of registers. */
function ecmdqBlockOff(l: Layout, n: number): number {
  return regionOff(l, ECMDQ_REGION) + LINE + n * EcmdqBlock.BYTES;
}

/** Int32 index of ECMDQ n's register (its low word for ECMDQ_BASE). */
export function ecmdqRegIdx(l: Layout, n: number, name: EcmdqRegName): number {
  const at =
    name === 'ECMDQ_PROD' ? EcmdqBlock.PROD : name === 'ECMDQ_CONS' ? EcmdqBlock.CONS : EcmdqBlock.BASE;
  return (ecmdqBlockOff(l, n) + at) >> 2;
}

/** Int32 index of the doorbell word the SMMU parks on when every queue is empty (waiters at +1). */
export const ecmdqDoorbellIdx = (l: Layout): number => regionOff(l, ECMDQ_REGION) >> 2;

/** Int32 index of the CMD_SYNC completion word of ECMDQ n's CPU (its MSI target; waiters at +1). */
export const ecmdqMsiIdx = (l: Layout, n: number): number => (ecmdqBlockOff(l, n) + EcmdqBlock.MSI) >> 2;

/** Byte offset ("physical address") of ECMDQ n's entries, aligned to their size: ECMDQ_BASE.ADDR. */
export function ecmdqQueueOff(l: Layout, n: number): number {
  const q = ecmdqQueueBytes(l.queueShift);
  return alignUp(ecmdqBlockOff(l, ecmdqCount(l)), q) + n * q;
}

/** Int32 index of the first word of ECMDQ n's entry i. */
export const ecmdqEntryIdx = (l: Layout, n: number, i: number): number => (ecmdqQueueOff(l, n) >> 2) + i * 4;

/** Int32 index of the first word of command queue entry i. */
export const cmdqEntryIdx = (l: Layout, i: number): number => (l.cmdqOff >> 2) + i * 4;

/** Byte offset of lock instance: 0 = cmdq, 1 + d = iova lock of domain d. */
export const cmdqLockOff = (l: Layout): number => l.locksOff;
export const iovaLockOff = (l: Layout, domain: number): number => l.locksOff + (1 + domain) * l.lockBytes;

export const cpuStateIdx = (l: Layout, cpu: number, w: CpuState): number =>
  (l.cpuStateOff >> 2) + cpu * CpuState.WORDS + w;

/** Int32 index of domain d's IOVA allocator: [top, slot stack...]. */
export const iovaAllocIdx = (l: Layout, domain: number): number =>
  (l.iovaOff + domain * l.iovaBytesPerDomain) >> 2;

/** Int32 index of the PTE (ppn + 1, 0 = invalid) / mapping generation of a domain's table page
 *  (VA page - VA_BASE_PAGE). */
export const pteIdx = (l: Layout, domain: number, page: number): number =>
  (l.pteOff >> 2) + domain * l.pagesPerDomain + page;
export const pteGenIdx = (l: Layout, domain: number, page: number): number =>
  (l.pteGenOff >> 2) + domain * l.pagesPerDomain + page;

/** Float64 index of the SMMU statistics block; warmup selects its scratch block (smmu-stats.ts). */
export const smmuStatsBase = (l: Layout, warmup = false): number =>
  (l.smmuStatsOff >> 3) + (warmup ? SMMU_STATS_SLOTS : 0);

/** Float64 index of a CPU's statistics block; warmup selects its scratch block. */
export const cpuStatsBase = (l: Layout, cpu: number, warmup = false): number =>
  (l.cpuStatsOff >> 3) + ((warmup ? l.cpus : 0) + cpu) * l.cpuStatsSlots;

export interface SharedViews {
  readonly sab: SharedArrayBuffer;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  /** For 64-bit atomics (the lock-free queue's combined {prod, cons} word). */
  readonly i64: BigInt64Array;
}

export function viewsOf(sab: SharedArrayBuffer): SharedViews {
  return { sab, i32: new Int32Array(sab), f64: new Float64Array(sab), i64: new BigInt64Array(sab) };
}

/**
 * A zeroed buffer for the run, with the registers that describe how the implementation was built
 * hardwired: when the run's design placed ECMDQs, IDR6 (one control page of 2^LOG2NUMQ queues) and
 * control page 0's BASE (its placement: register mode, 64 KB, at CONTROL_PAGE0_OFFSET), CFG.EN and
 * STATUS.ENACK (RES1). The reset derives IDR1.ECMDQ from them; no other design sees any of it.
 */
export function allocate(l: Layout): SharedViews {
  const views = viewsOf(sharedBuffer(l.totalBytes));
  if (ecmdqCount(l) > 0) {
    const i32 = views.i32;
    i32[regIdx(l, 'IDR6')] = ecmdqLog2NumQ(l.cpus) << IDR6_LOG2NUMQ_SHIFT; // LOG2NUMP = 0
    i32[regIdx(l, 'CMDQ_CONTROL_PAGE_BASE0')] =
      CONTROL_PAGE0_OFFSET | (CONTROL_PAGE_CMDQGS_64K << CONTROL_PAGE_CMDQGS_SHIFT) | CONTROL_PAGE_PRESET;
    i32[regIdx(l, 'CMDQ_CONTROL_PAGE_CFG0')] = CONTROL_PAGE_EN;
    i32[regIdx(l, 'CMDQ_CONTROL_PAGE_STATUS0')] = CONTROL_PAGE_EN;
  }
  return views;
}
