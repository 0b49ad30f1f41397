// The one place that decides where everything lives in the run's SharedArrayBuffer. Every other
// module asks a Layout for an offset; nobody else adds numbers to a base address. Regions are
// 64-byte aligned; each region's internal format is declared next to its owner (locks in
// sync/locks/*, the IOTLB in hardware/iotlb.ts, statistics in sync/counters.ts) with its size.
//
// "Physical addresses" that the driver gives the SMMU (CMDQ_BASE.ADDR, CMD_SYNC.MSIADDR) are byte
// offsets into this buffer, so the SMMU finds its queue and its MSI target by decoding registers
// and commands exactly as hardware would.
import { REG, REG_IMAGE_BYTES, type RegName } from './registers.js';
import { CMD_BYTES } from './commands.js';
import { cpuStatsSlots } from '../sync/counters.js';
import { IOTLB_SET_BYTES } from './iotlb.js';
import { SMMU_STATS_SLOTS } from './smmu-stats.js';

export const LINE = 64;

/** 4 KiB translation granule. */
export const PAGE_SHIFT = 12;
/**
 * Each domain's translation table covers VA pages [VA_BASE_PAGE, VA_BASE_PAGE + pagesPerDomain):
 * IOVAs start at 2 GiB so that commands carry realistic, non-zero addresses.
 */
export const VA_BASE_PAGE = 0x80000;
const align = (n: number, a = LINE): number => Math.ceil(n / a) * a;

export interface LayoutParams {
  readonly cpus: number;
  /** log2 of the command queue's entries. */
  readonly queueShift: number;
  /** Number of translation domains (ASIDs 1..domains). */
  readonly domains: number;
  /** IOVA slots per domain; a slot holds one buffer. */
  readonly iovaSlotsPerDomain: number;
  /** Pages per slot (a power of two >= the buffer's pages: Linux size-aligns IOVAs). */
  readonly slotPages: number;
  readonly iotlbSets: number;
  readonly lockBytes: number;
  /** Lock classes that statistics are kept for (lockstat "class name"), e.g. ['cmdq', 'iova']. */
  readonly lockClasses: readonly string[];
  /**
   * Extra regions a command-queue design or strategy needs (its own format, declared in its
   * module with its size), each 64-byte aligned, found again with regionOff(layout, name).
   */
  readonly regions: readonly { readonly name: string; readonly bytes: number }[];
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
  WORDS = 80,
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
  WORDS = 16,
}

export interface Layout extends LayoutParams {
  readonly totalBytes: number;
  readonly queueEntries: number;
  /** Byte offsets of the regions. */
  readonly controlOff: number;
  readonly regImageOff: number;
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
  readonly regionOffs: Readonly<Record<string, number>>;
}

export function computeLayout(p: LayoutParams): Layout {
  if (p.lockBytes % LINE !== 0) throw new RangeError(`lockBytes ${p.lockBytes} is not a multiple of ${LINE}`);
  let off = 0;
  const take = (bytes: number): number => {
    const at = off;
    off = align(off + bytes);
    return at;
  };
  const queueEntries = 1 << p.queueShift;
  const controlOff = take(Ctl.WORDS * 4);
  const regImageOff = take(REG_IMAGE_BYTES);
  const cmdqProdLineOff = take(LINE);
  const cmdqConsLineOff = take(LINE);
  const cmdqOff = take(queueEntries * CMD_BYTES);
  const lockCount = 1 + p.domains; // cmdq + one iova lock per domain
  const locksOff = take(lockCount * p.lockBytes);
  const cpuStateOff = take(p.cpus * CpuState.WORDS * 4);
  const iovaBytesPerDomain = align(4 * (1 + p.iovaSlotsPerDomain));
  const iovaOff = take(p.domains * iovaBytesPerDomain);
  const pagesPerDomain = p.iovaSlotsPerDomain * p.slotPages;
  const pteOff = take(p.domains * pagesPerDomain * 4);
  const pteGenOff = take(p.domains * pagesPerDomain * 4);
  const iotlbOff = take(p.iotlbSets * IOTLB_SET_BYTES);
  const smmuStatsOff = take(SMMU_STATS_SLOTS * 8);
  const slots = cpuStatsSlots(p.lockClasses.length);
  // Two blocks per CPU: [0] the measured window, [1] warm-up scratch (same cost, never read).
  const cpuStatsOff = take(2 * p.cpus * slots * 8);
  const regionOffs: Record<string, number> = {};
  for (const r of p.regions) regionOffs[r.name] = take(r.bytes);
  return {
    ...p,
    totalBytes: off,
    queueEntries,
    controlOff,
    regImageOff,
    cmdqProdLineOff,
    cmdqConsLineOff,
    cmdqOff,
    locksOff,
    cpuStateOff,
    iovaOff,
    iovaBytesPerDomain,
    pagesPerDomain,
    pteOff,
    pteGenOff,
    iotlbOff,
    smmuStatsOff,
    cpuStatsOff,
    cpuStatsSlots: slots,
    regionOffs,
  };
}

/** Byte offset (64-byte aligned) of an extra region declared in LayoutParams.regions. */
export function regionOff(l: Layout, name: string): number {
  const off = l.regionOffs[name];
  if (off === undefined) throw new Error(`layout has no region "${name}"`);
  return off;
}

// ---- Lookups: every index another module needs comes from one of these. -----------------------

/** Int32 index of a control word. */
export const ctlIdx = (l: Layout, w: Ctl): number => (l.controlOff >> 2) + w;

/**
 * Int32 index of a register (its low word for 64-bit registers). Cold registers sit in a page-0
 * image at their architectural offsets; hot ones (CMDQ_PROD, CMDQ_CONS) each get a line of their
 * own, with their waiter count in the next word, so a CPU writing PROD never steals the line the
 * SMMU writes CONS to. Their slots in the image stay unused; regfile.ts reads through this map.
 */
export function regIdx(l: Layout, name: RegName): number {
  if (name === 'CMDQ_PROD') return l.cmdqProdLineOff >> 2;
  if (name === 'CMDQ_CONS') return l.cmdqConsLineOff >> 2;
  return (l.regImageOff + REG[name].offset) >> 2;
}

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

export const iotlbSetIdx = (l: Layout, set: number): number => (l.iotlbOff + set * IOTLB_SET_BYTES) >> 2;

/** Float64 index of the SMMU statistics block. */
export const smmuStatsBase = (l: Layout): number => l.smmuStatsOff >> 3;

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

export function allocate(l: Layout): SharedViews {
  return viewsOf(new SharedArrayBuffer(l.totalBytes));
}
