// The SMMU worker's counters (float64 slots in shared memory), written only by the SMMU thread and
// only while the run is in its measured phase.

export const enum Smmu {
  COMMANDS_CONSUMED = 0,
  MAX_QUEUE_DEPTH,
  IOTLB_INVALIDATIONS, // IOTLB entries removed by TLBI commands
  CMDQ_ERRORS,
  BUSY_NS, // time spent modelling command latencies
  PARKS, // times the SMMU went to sleep waiting for the PROD doorbell
  WAKES_SENT, // Atomics.notify calls made to wake CPUs parked on CONS or the MSI word
  BY_OPCODE = 16, // 256 slots, indexed by the raw opcode byte
}

export const SMMU_STATS_SLOTS = Smmu.BY_OPCODE + 256;
