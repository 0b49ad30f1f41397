// Per-CPU statistics block: a fixed set of float64 counters plus histograms, living in shared
// memory so that the orchestrator can read what was measured even if a worker dies. Each block is
// written by exactly one thread (its CPU) with plain stores, never shared on the hot path: no
// cache line of it is touched by another thread until the run is over.
import { HIST_BUCKETS, record } from './histogram.js';
import { nowNs } from './clock.js';
import type { Span } from './span.js';
import { Ev, type TraceRing } from '../trace/ring.js';
import { LINE, REGION, checkRegion, type RegionDecl } from '../hardware/region.js';

/** Scalar counters of a CPU, by float64 slot. */
export const enum Cpu {
  MAPS = 0,
  UNMAPS,
  PAGES_MAPPED,
  PAGES_UNMAPPED,
  SYNCS_WAITED,
  SYNC_WAIT_TOTAL,
  SYNC_WAIT_MIN,
  SYNC_WAIT_MAX,
  UNMAP_LAT_TOTAL,
  UNMAP_LAT_MIN,
  UNMAP_LAT_MAX,
  TRANSLATIONS,
  IOTLB_HITS,
  IOTLB_MISSES,
  TRANSLATION_FAULTS,
  /** Not written (its slot is kept): the report sums ISSUED_* below, one count less per command. */
  CMDS_ISSUED,
  QUEUE_FULL_WAITS,
  /** Clock at the end of this CPU's first measured unmap (0: none); in the warm-up block, of its
   *  last unmap (cpu-loop.ts writes it there every iteration, so that the code stays warm). */
  FIRST_UNMAP_NS,
  ISSUED_TLBI_NH_VA, // commands this CPU inserted, by opcode (the SMMU counts what it consumed)
  ISSUED_TLBI_NH_ASID,
  ISSUED_CMD_SYNC,
  ISSUED_OTHER,
  SYNCS_COALESCED, // --sync-coalesce: CMD_SYNCs not inserted because the last command was one
  SYNC_TIMEOUTS, // CMD_SYNC waits that passed --sync-timeout (each reported on stderr)
  MMIO_READS, // driver reads of CMDQ_CONS / ECMDQ_CONS (each costs --mmio-read-ns)
  MMIO_WRITES, // driver writes of CMDQ_PROD / ECMDQ_PROD (each costs --mmio-write-ns)
  CONS_POLL_UDELAYS, // --cons-poll linux without IDR0.SEV: udelay() back-offs between CONS reads
  CONS_POLL_WFES, // --cons-poll linux with IDR0.SEV: WFEs (waits for a CONS change)
  /** The extra histogram's scalars (see EXTRA_HIST): samples, total, min, max. */
  EXTRA_HIST_N = 36,
  EXTRA_HIST_TOTAL,
  EXTRA_HIST_MIN,
  EXTRA_HIST_MAX,
  /**
   * Slots a command-queue design (EXTRA0..EXTRA0+7) or a strategy (STRATEGY_EXTRA0..+7) may use for
   * its own counters, named in its module's `counters` list and reported under runs[].extra.
   */
  EXTRA0 = 40,
  STRATEGY_EXTRA0 = 48,
  SCALARS, // number of scalar slots
}

/** Per lock class counters, by float64 slot relative to the class's base. */
export const enum Lk {
  ACQUISITIONS = 0,
  CONTENTIONS,
  CON_BOUNCES,
  ACQ_BOUNCES,
  WAIT_TOTAL,
  WAIT_MIN,
  WAIT_MAX,
  HOLD_TOTAL,
  HOLD_MIN,
  HOLD_MAX,
  HOLD_SAMPLES,
  SCALARS,
}

const SCALARS_PADDED = 64; // Cpu.SCALARS rounded up, leaves room for new counters without churn
export const EXTRA_SLOTS = 16;
const LOCK_SCALARS_PADDED = 16;
const LOCK_STRIDE = LOCK_SCALARS_PADDED + 2 * HIST_BUCKETS;

/** Float64 slots one CPU's block needs, rounded to whole 64-byte lines. */
export function cpuStatsSlots(lockClasses: number): number {
  const slots = SCALARS_PADDED + 3 * HIST_BUCKETS + lockClasses * LOCK_STRIDE;
  return Math.ceil(slots / 8) * 8;
}

/** Two blocks per CPU: [0] the measured window, [1] warm-up scratch (same cost, never read). */
export const CPU_STATS_DECL: RegionDecl<{ readonly cpus: number; readonly lockClasses: readonly string[] }> =
  {
    name: REGION.CPU_STATS,
    bytes: (g) => 2 * g.cpus * cpuStatsSlots(g.lockClasses.length) * 8,
    align: LINE,
  };

/** Offsets (in float64 slots, relative to a CPU's block) of the parts of the block. */
export function lockBase(cls: number): number {
  return SCALARS_PADDED + 3 * HIST_BUCKETS + cls * LOCK_STRIDE;
}
export const UNMAP_HIST = SCALARS_PADDED;
export const SYNC_HIST = SCALARS_PADDED + HIST_BUCKETS;
/** One histogram a strategy or design may use for its own distribution (named in its module). */
export const EXTRA_HIST = SCALARS_PADDED + 2 * HIST_BUCKETS;
export const LOCK_WAIT_HIST = LOCK_SCALARS_PADDED;
export const LOCK_HOLD_HIST = LOCK_SCALARS_PADDED + HIST_BUCKETS;

/** Sets the min fields to +Infinity; the rest of a fresh SharedArrayBuffer is already zero. */
export function initCpuStats(f64: Float64Array, base: number, lockClasses: number): void {
  f64[base + Cpu.SYNC_WAIT_MIN] = Infinity;
  f64[base + Cpu.UNMAP_LAT_MIN] = Infinity;
  f64[base + Cpu.EXTRA_HIST_MIN] = Infinity;
  for (let c = 0; c < lockClasses; c++) {
    const b = base + lockBase(c);
    f64[b + Lk.WAIT_MIN] = Infinity;
    f64[b + Lk.HOLD_MIN] = Infinity;
  }
}

/**
 * The writer's view of one CPU block. During warm-up the CPU writes through a second instance over
 * its scratch block: counting stays in the code path (same cost) but lands where nobody reads.
 */
export class CpuStats {
  /** --trace: CMD_SYNC waits are also recorded as spans here. */
  ring: TraceRing | null = null;

  constructor(
    readonly f64: Float64Array,
    readonly base: number,
  ) {
    // Its own part of the block (the lock classes' parts are lockstat's).
    checkRegion(f64.buffer, REGION.CPU_STATS, base * 8, cpuStatsSlots(0) * 8);
  }

  add(field: Cpu, v: number): void {
    this.f64[this.base + field] += v;
  }

  /** A CMD_SYNC wait of ns, ending at endNs (when the caller read the clock; for the trace). */
  syncWait(ns: number, endNs = -1, arg = 0): void {
    const f = this.f64;
    const b = this.base;
    f[b + Cpu.SYNCS_WAITED]++;
    f[b + Cpu.SYNC_WAIT_TOTAL] += ns;
    if (ns < f[b + Cpu.SYNC_WAIT_MIN]) f[b + Cpu.SYNC_WAIT_MIN] = ns;
    if (ns > f[b + Cpu.SYNC_WAIT_MAX]) f[b + Cpu.SYNC_WAIT_MAX] = ns;
    record(f, b + SYNC_HIST, ns);
    if (this.ring !== null) this.traceSync(ns, endNs, arg);
  }

  /** --trace: the wait as a span (out of line: keeps syncWait small enough for V8 to inline). */
  private traceSync(ns: number, endNs: number, arg: number): void {
    this.ring!.record(Ev.SYNC_WAIT, (endNs < 0 ? nowNs() : endNs) - ns, ns, arg);
  }

  /** syncWait() of a span: read here, so that no double crosses a call (concurrency/span.ts). */
  syncWaitSpan(span: Span, arg: number): void {
    this.syncWait(span.end - span.start, span.end, arg);
  }

  /** A sample of the strategy's or design's own distribution (EXTRA_HIST). */
  extraSample(v: number): void {
    const f = this.f64;
    const b = this.base;
    f[b + Cpu.EXTRA_HIST_N]++;
    f[b + Cpu.EXTRA_HIST_TOTAL] += v;
    if (v < f[b + Cpu.EXTRA_HIST_MIN]) f[b + Cpu.EXTRA_HIST_MIN] = v;
    if (v > f[b + Cpu.EXTRA_HIST_MAX]) f[b + Cpu.EXTRA_HIST_MAX] = v;
    record(f, b + EXTRA_HIST, v);
  }

  unmapLatency(ns: number): void {
    const f = this.f64;
    const b = this.base;
    f[b + Cpu.UNMAP_LAT_TOTAL] += ns;
    if (ns < f[b + Cpu.UNMAP_LAT_MIN]) f[b + Cpu.UNMAP_LAT_MIN] = ns;
    if (ns > f[b + Cpu.UNMAP_LAT_MAX]) f[b + Cpu.UNMAP_LAT_MAX] = ns;
    record(f, b + UNMAP_HIST, ns);
  }

  /** unmapLatency() of a span (see syncWaitSpan). */
  unmapSpan(span: Span): void {
    this.unmapLatency(span.end - span.start);
  }

  /** `timed` false (--stats counters): contentions are counted, their (unmeasured) wait is not. */
  lockAcquired(cls: number, waitNs: number, contended: boolean, bounced: boolean, timed = true): void {
    const f = this.f64;
    const b = this.base + lockBase(cls);
    f[b + Lk.ACQUISITIONS]++;
    if (bounced) f[b + Lk.ACQ_BOUNCES]++;
    if (contended) {
      f[b + Lk.CONTENTIONS]++;
      if (bounced) f[b + Lk.CON_BOUNCES]++;
    }
    // As in lockstat, every wait statistic (total, min, max, percentiles) is over contended
    // acquisitions only: an uncontended acquisition waited 0 ns and is counted, not timed.
    if (contended && timed) this.lockWaited(cls, waitNs);
  }

  /** The wait of a contended, timed acquisition (counted by lockAcquired()). */
  lockWaited(cls: number, waitNs: number): void {
    const f = this.f64;
    const b = this.base + lockBase(cls);
    f[b + Lk.WAIT_TOTAL] += waitNs;
    if (waitNs < f[b + Lk.WAIT_MIN]) f[b + Lk.WAIT_MIN] = waitNs;
    if (waitNs > f[b + Lk.WAIT_MAX]) f[b + Lk.WAIT_MAX] = waitNs;
    record(f, b + LOCK_WAIT_HIST, waitNs);
  }

  /** lockWaited() of a span (see syncWaitSpan). */
  lockWaitSpan(cls: number, span: Span): void {
    this.lockWaited(cls, span.end - span.start);
  }

  /** lockHeld() of a span (see syncWaitSpan). */
  lockHeldSpan(cls: number, span: Span): void {
    this.lockHeld(cls, span.end - span.start);
  }

  lockHeld(cls: number, holdNs: number): void {
    const f = this.f64;
    const b = this.base + lockBase(cls);
    f[b + Lk.HOLD_SAMPLES]++;
    f[b + Lk.HOLD_TOTAL] += holdNs;
    if (holdNs < f[b + Lk.HOLD_MIN]) f[b + Lk.HOLD_MIN] = holdNs;
    if (holdNs > f[b + Lk.HOLD_MAX]) f[b + Lk.HOLD_MAX] = holdNs;
    record(f, b + LOCK_HOLD_HIST, holdNs);
  }
}
