// The JSON output contract (docs/cli.md documents every field). schemaVersion changes when a field
// changes meaning or goes away; new fields may be added without a bump.

import type { SafetySummary } from '../safety/oracle.js';
import type { UnmapOverhead } from './overhead.js';

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
  /**
   * Holds are timed for one acquisition in --hold-sample (default 16): total = sampled mean x
   * acquisitions (an estimate unless --hold-sample 1); the other fields are over the samples.
   */
  holdNs: Dist;
  holdSamples: number;
  fairness: { minAcquisitionsPerCpu: number; maxAcquisitionsPerCpu: number; longestWaitNs: number | null };
  /** Contended waits by histogram bucket (non-empty buckets; lowNs is each bucket's lower bound). */
  waitHistogram: { lowNs: number[]; count: number[] };
}

export interface PerCpuReport {
  cpu: number;
  unmaps: number;
  acquisitions: number;
  lockWaitNs: number | null;
  syncWaitNs: number | null;
}

/** What only a run of the virtual-time engine has (RunReport.virtual; docs/virtual-time.md). */
export interface VirtualRunReport {
  seed: number;
  /** Every parameter the run used (src/virtual/params.ts VirtualParams), by name. */
  params: Record<string, number | string | boolean>;
  /** The --calibration file whose parameters it used, or null (the engine's defaults). */
  calibration: string | null;
  /** Virtual time simulated, warm-up included (ns). */
  virtualNs: number;
  /** Events the engine executed. */
  events: number;
  /** Events per second of wall-clock time: the host's speed, the one field that is not simulated. */
  eventsPerSec: number;
  /** Lock-free design: cmpxchg on {prod, cons} that won, per attempt (Linux at 64 CPUs: ~1/12); null otherwise. */
  cmpxchgSuccessRate: number | null;
  /** Share of the CPUs' measured time spent in the command-queue issue path. */
  issueFraction: number;
  /** Transfers of the hot words' cache lines over the whole run, by line. */
  lineTransfers: Record<string, number>;
  /**
   * Commands issued by the unmaps completed in the measured window, per unmap: exact (16
   * TLBI_NH_VA + 1 CMD_SYNC for batched at 16 pages), unlike commandsPerUnmap, which divides what
   * the SMMU consumed in the window by the unmaps completed in it.
   */
  commandsPerUnmap: { TLBI_NH_VA: number; CMD_SYNC: number };
}

export interface RunReport {
  /** What ran it (absent in files written before --engine: threads). */
  engine?: 'threads' | 'virtual';
  /** --engine virtual runs: the simulation's own figures; null for threads runs. */
  virtual?: VirtualRunReport | null;
  strategy: string;
  /** Values of the swept parameters at this run's sweep point ({} without --sweep). */
  params: Record<string, string | number>;
  /** 0-based repetition of this (point, strategy) (--repeat). */
  repetition: number;
  cpus: number;
  /** More threads (CPUs + SMMU) than cores for this run. */
  oversubscribed: boolean;
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
  /**
   * What the modelled SMMU alone allows: it serves one command at a time, so unmaps/s cannot exceed
   * 1e9 / (sum over opcodes of commands issued per unmap x modelled latency). efficiency is the
   * measured rate over that bound (null when every latency is 0).
   */
  modelBound: { unmapsPerSec: number | null; efficiency: number | null };
  /**
   * The emulator's own time per command inside iommu_unmap: mean unmap time minus the modelled SMMU
   * time of the commands the unmap issued, per command (overhead.ts). Absent in files written before it.
   */
  overhead?: UnmapOverhead;
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
    /** Times the SMMU found nothing to consume and waited for the doorbell (parked if idle long). */
    idleWaits: number;
  };
  iotlb: { translations: number; hits: number; misses: number; faults: number };
  /** What the CPUs inserted during the measured window (commands{} is what the SMMU consumed). */
  driver: {
    queueFullWaits: number;
    syncsCoalesced: number;
    /** Driver reads of CMDQ_CONS / ECMDQ_CONS and writes of CMDQ_PROD / ECMDQ_PROD (costed MMIO). */
    mmioReads: number;
    mmioWrites: number;
    /** --cons-poll linux: udelay() back-offs (no IDR0.SEV) and WFEs (IDR0.SEV) between CONS reads. */
    consPollUdelays: number;
    consPollWfes: number;
    commandsIssued: { total: number; byOpcode: Record<string, number> };
  };
  /**
   * The safety oracle, over the whole run (warm-up included): translations served from an IOTLB
   * entry older than the page's current mapping (must be 0 for every safe strategy), all
   * translations checked, hits on a page while it was unmapped (inside an unmap or lazy window),
   * device reads that faulted because the page was unmapped under them, and the first violation.
   */
  safety: SafetySummary;
  /** How the run ended and the faults it met. */
  outcome: string;
  /** When the watchdog fired: each CPU's state, each lock's holder, the SMMU's state. */
  diagnostics: string[];
  faults: { syncTimeouts: number; cmdqErrorsHandled: number };
  /** The command-queue design the strategy ran on. */
  cmdq: string;
  /** The IOVA allocator it ran with (--iova, or the strategy's default); absent before --iova. */
  iova?: string;
  /**
   * Counters and one distribution that only some strategies or command-queue designs keep, by the
   * names their modules give (docs/cli.md lists them).
   */
  extra: {
    counters: Record<string, number>;
    histogram: { name: string; count: number; mean: number; p50: number; p99: number; max: number } | null;
  };
  /**
   * Time from the process's start to the opening of this run's measured window and to the first
   * unmap completed in it (ms; null if none completed). The first run of an invocation shows the
   * tool's start-up cost (worker boot, bring-up, warm-up).
   */
  startup: { processToMeasureMs: number; processToFirstUnmapMs: number | null };
  /** End-of-run checks: nothing left mapped, every IOVA back on its free list. */
  endState: { iotlbEntries: number; iovasOutstanding: number };
  /** SMMUv3.3 ECMDQ runs only (null or absent otherwise). */
  ecmdq?: EcmdqReport | null;
}

/** Per-queue view of an ECMDQ run: ECMDQ n is CPU n's queue. */
export interface EcmdqReport {
  queues: {
    queue: number;
    /** Largest PROD - CONS the SMMU saw on the queue in the measured window. */
    maxDepth: number;
    commandsConsumed: number;
    /** p99 of CPU n's CMD_SYNC waits (null under --stats counters). */
    syncWaitP99Ns: number | null;
  }[];
  /** Times the idle SMMU slept on the doorbell (each producer ring is in extra.counters). */
  doorbellSleeps: number;
}

export interface Comparison {
  /** The sweep point both runs belong to ({} without --sweep). */
  params: Record<string, string | number>;
  baseline: string;
  candidate: string;
  unmapsPerSecRatio: number | null;
  pagesPerSecRatio: number | null;
  lockWaitTotalRatio: number | null;
  p99UnmapLatencyRatio: number | null;
  syncsPerUnmap: { baseline: number; candidate: number };
  /** Every compared figure (see comparisonMetrics in compare.ts): both values and candidate/baseline. */
  metrics: Record<string, { baseline: number | null; candidate: number | null; ratio: number | null }>;
}

/** One input of a merged document: where it came from and what ran it. */
export interface MergeSource {
  file: string;
  startedAt: string;
  host: ResultDocument['host'];
  shard: { index: number; count: number } | null;
  complete: boolean;
  runs: number;
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
  /** --sweep axes in the order given (their cross product is the list of points), null without. */
  sweep: { axes: { name: string; values: (string | number)[] }[] } | null;
  /** --repeat: runs per (point, strategy). */
  repeat: number;
  /**
   * --shard K/N: this document holds only slice K (1-based) of N of the sweep's points; null (or
   * absent, in files from before --shard) for the whole sweep, and in a merged document.
   */
  shard?: { index: number; count: number } | null;
  /** `tlbsync-emu merge`: the documents this one was made from, in the order given. */
  merged?: { sources: MergeSource[] } | null;
  complete: boolean;
  runs: RunReport[];
  comparison: Comparison[];
}
