// The SMMU worker's counters (float64 slots in shared memory), written by the SMMU thread (and,
// for the virtual engine, by its collector after the run): two blocks of SMMU_STATS_SLOTS, the
// measured window's and the warm-up's scratch block. The engine counts in the warm-up too, into
// the scratch block, so that the code it runs in the measured window is the code the JIT compiled
// in the warm-up: code reached only from the window's first command on had no type feedback, and
// the engine's loop was deoptimised and compiled again inside the window (tens of ms interpreted,
// and a compiler thread taking a core from a spinning worker).

import { LINE, REGION, type RegionDecl } from './region.js';

export const enum Smmu {
  COMMANDS_CONSUMED = 0,
  MAX_QUEUE_DEPTH,
  IOTLB_INVALIDATIONS, // IOTLB entries removed by TLBI commands
  CMDQ_ERRORS,
  BUSY_NS, // time spent modelling command latencies
  IDLE_WAITS, // times the SMMU found every queue empty and waited for the PROD doorbell
  WAKES_SENT, // Atomics.notify calls made to wake CPUs parked on CONS or the MSI word
  DOORBELL_SLEEPS, // ECMDQ runs: times the idle SMMU slept on the doorbell (hardware/ecmdq.ts)
  BY_OPCODE = 16, // 256 slots, indexed by the raw opcode byte
  /** ECMDQ runs: EcmdqStat.SLOTS slots per ECMDQ n (up to 256), at ECMDQ + n * EcmdqStat.SLOTS. */
  ECMDQ = BY_OPCODE + 256,
}

/** Per-ECMDQ counters (relative to the queue's slots in the Smmu.ECMDQ area). */
export const enum EcmdqStat {
  MAX_DEPTH = 0, // largest PROD - CONS the SMMU saw on this queue
  CONSUMED = 1, // commands consumed from this queue
  SLOTS = 2,
}

export const MAX_ECMDQS = 256;

export const SMMU_STATS_SLOTS = Smmu.ECMDQ + MAX_ECMDQS * EcmdqStat.SLOTS;

/** Bytes of the region: the measured block and the warm-up's scratch block. */
export const smmuStatsBytes = (): number => 2 * SMMU_STATS_SLOTS * 8;

export const SMMU_STATS_DECL: RegionDecl<unknown> = {
  name: REGION.SMMU_STATS,
  bytes: smmuStatsBytes,
  align: LINE,
};
