// What a virtual run with the driver state reports of it: the safety oracle's verdict, the end
// state, the IOTLB's and the IOVA locks' counts over the measured window, and lazy's flush counts.
// The threads engine's report (report/collect.ts) has the same quantities; a collector may instead
// write `cpuStats` into the views' Cpu/Lk slots and let collectRun build the report.
import { Cpu } from '../concurrency/counters.js';
import type { IovaMode } from '../config/config.js';
import type { SafetySummary } from '../safety/oracle.js';
import { IOVA_LOCK_CLASSES, type IovaLockClass, type VCpuStats } from './cpu-stats.js';
import { VLockStats } from './locks.js';
import type { VirtualEndState, VirtualState } from './state.js';

export interface VirtualStateResult {
  readonly iova: IovaMode;
  readonly safety: SafetySummary;
  /** After every CPU finished its last iteration and drained. */
  readonly endState: VirtualEndState;
  /** Virtual ns from the end of the window until every CPU had stopped. */
  readonly drainNs: number;
  readonly iotlb: {
    readonly translations: number;
    readonly hits: number;
    readonly misses: number;
    readonly faults: number;
    /** Entries the SMMU's TLBIs removed: whole run, and in the measured window. */
    readonly invalidations: number;
    readonly invalidationsMeasured: number;
  };
  /** Whole run (warm-up and drain included): loop iterations, and lock acquisitions by class. */
  readonly totals: {
    readonly iterations: number;
    readonly lockAcquisitions: Record<string, number>;
    /** Locks whose acquisitions and releases differ or that are still held (none, once drained). */
    readonly unpairedLocks: readonly string[];
  };
  /** The IOVA allocator's locks by lockstat class, summed over CPUs (measured window). */
  readonly locks: Record<IovaLockClass, VLockStats>;
  /** TLBI_NH_ASID inserted in the window (lazy's flushes). */
  readonly issuedTlbiAsid: number;
  readonly lazy: {
    readonly flushes: number;
    readonly flushesFull: number;
    readonly flushesTimeout: number;
    readonly iovasFlushed: number;
    readonly iovasFreedOthersFlush: number;
    readonly iovasFreedPeerRings: number;
    readonly fullRingWaits: number;
    readonly staleWindowMeanNs: number;
    readonly staleWindowMaxNs: number;
  } | null;
}

function sumLocks(all: readonly VLockStats[]): VLockStats {
  const t = new VLockStats();
  for (const s of all) {
    t.acquisitions += s.acquisitions;
    t.contentions += s.contentions;
    t.conBounces += s.conBounces;
    t.acqBounces += s.acqBounces;
    t.waitTotal += s.waitTotal;
    t.waitMin = Math.min(t.waitMin, s.waitMin);
    t.waitMax = Math.max(t.waitMax, s.waitMax);
    t.holdTotal += s.holdTotal;
    t.holdMin = Math.min(t.holdMin, s.holdMin);
    t.holdMax = Math.max(t.holdMax, s.holdMax);
    t.holdSamples += s.holdSamples;
  }
  return t;
}

export function stateResult(
  state: VirtualState,
  stats: readonly VCpuStats[],
  drainNs: number,
): VirtualStateResult {
  const sum = (f: (s: VCpuStats) => number): number => stats.reduce((a, s) => a + f(s), 0);
  const locks = {} as Record<IovaLockClass, VLockStats>;
  for (const k of IOVA_LOCK_CLASSES) locks[k] = sumLocks(stats.map((s) => s.iovaLocks[k]));
  // Lazy's stale windows are its extra histogram (driver/strategies/lazy.ts), in the CPU's block.
  const n = sum((s) => s.block[Cpu.EXTRA_HIST_N]);
  return {
    iova: state.iova,
    safety: state.safety(),
    endState: state.endState(),
    drainNs,
    iotlb: {
      translations: sum((s) => s.translations),
      hits: sum((s) => s.iotlbHits),
      misses: sum((s) => s.iotlbMisses),
      faults: sum((s) => s.translationFaults),
      invalidations: state.iotlbInvalidations,
      invalidationsMeasured: state.iotlbInvalidationsMeasured,
    },
    totals: {
      iterations: state.iterations,
      lockAcquisitions: state.lockTotals(),
      unpairedLocks: state.unpairedLocks(),
    },
    locks,
    issuedTlbiAsid: sum((s) => s.issuedTlbiAsid),
    lazy:
      state.strategy === 'lazy'
        ? {
            flushes: sum((s) => s.flushes),
            flushesFull: sum((s) => s.flushesFull),
            flushesTimeout: sum((s) => s.flushesTimeout),
            iovasFlushed: sum((s) => s.iovasFlushed),
            iovasFreedOthersFlush: sum((s) => s.iovasFreedOthersFlush),
            iovasFreedPeerRings: sum((s) => s.iovasFreedPeerRings),
            fullRingWaits: sum((s) => s.fullRingWaits),
            staleWindowMeanNs: n > 0 ? sum((s) => s.block[Cpu.EXTRA_HIST_TOTAL]) / n : 0,
            staleWindowMaxNs: stats.reduce((a, s) => Math.max(a, s.block[Cpu.EXTRA_HIST_MAX]), 0),
          }
        : null,
  };
}
