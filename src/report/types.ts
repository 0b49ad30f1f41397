// The JSON output contract (docs/cli.md documents every field). schemaVersion changes when a field
// changes meaning or goes away; new fields may be added without a bump.

export const SCHEMA_VERSION = 1;

export interface Dist {
  /** Sum of all samples, ns (null under --stats counters: nothing was timed). */
  total: number | null;
  mean: number | null;
  min: number | null;
  max: number | null;
  p50: number | null;
  p99: number | null;
}

export interface LockReport {
  name: string;
  acquisitions: number;
  contentions: number;
  /** Contended acquisitions whose previous holder was another CPU (lockstat con-bounces). */
  conBounces: number;
  /** Acquisitions whose previous holder was another CPU (lockstat acq-bounces). */
  acqBounces: number;
  /** Over contended acquisitions only, as lockstat. */
  waitNs: Dist;
  holdNs: Dist;
  fairness: { minAcquisitionsPerCpu: number; maxAcquisitionsPerCpu: number; longestWaitNs: number | null };
}

export interface PerCpuReport {
  cpu: number;
  unmaps: number;
  acquisitions: number;
  lockWaitNs: number | null;
  syncWaitNs: number | null;
}

export interface RunReport {
  strategy: string;
  cpus: number;
  durationMs: number;
  complete: boolean;
  errors: string[];
  totals: {
    maps: number;
    unmaps: number;
    pagesMapped: number;
    pagesUnmapped: number;
    unmapsPerSec: number;
    pagesPerSec: number;
  };
  commands: { total: number; byOpcode: Record<string, number> };
  syncsPerUnmap: number;
  commandsPerUnmap: Record<string, number>;
  unmapLatencyNs: {
    mean: number | null;
    p50: number | null;
    p99: number | null;
    p999: number | null;
    max: number | null;
  };
  syncWaitNs: Dist & { count: number };
  locks: LockReport[];
  perCpu: PerCpuReport[];
  smmu: {
    commandsConsumed: number;
    maxQueueDepth: number;
    iotlbInvalidations: number;
    cmdqErrors: number;
    busyNs: number;
    wakesSent: number;
  };
  iotlb: { translations: number; hits: number; misses: number; faults: number };
  /** What the CPUs inserted during the measured window (commands{} is what the SMMU consumed). */
  driver: {
    queueFullWaits: number;
    syncsCoalesced: number;
    commandsIssued: { total: number; byOpcode: Record<string, number> };
  };
  /** The command-queue design the strategy ran on. */
  cmdq: string;
  /**
   * Counters and one distribution that only some strategies or command-queue designs keep, by the
   * names their modules give (docs/cli.md lists them).
   */
  extra: {
    counters: Record<string, number>;
    histogram: { name: string; count: number; mean: number; p50: number; p99: number; max: number } | null;
  };
  /** End-of-run checks: nothing left mapped, every IOVA back on its free list. */
  endState: { iotlbEntries: number; iovasOutstanding: number };
}

export interface Comparison {
  baseline: string;
  candidate: string;
  unmapsPerSecRatio: number | null;
  pagesPerSecRatio: number | null;
  lockWaitTotalRatio: number | null;
  p99UnmapLatencyRatio: number | null;
  syncsPerUnmap: { baseline: number; candidate: number };
}

export interface ResultDocument {
  schemaVersion: number;
  tool: { name: string; version: string };
  startedAt: string;
  host: {
    cores: number;
    nodeVersion: string;
    platform: string;
    arch: string;
    cpuModel: string;
    threads: number;
    oversubscribed: boolean;
    waitPolicy: string;
  };
  config: Record<string, unknown>;
  complete: boolean;
  runs: RunReport[];
  comparison: Comparison[];
}
