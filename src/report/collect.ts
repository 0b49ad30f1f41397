// Reads what a strategy run measured out of its shared memory and shapes it into the report
// contract (types.ts). Runs on the orchestrator after the workers have stopped.
import { OPCODE_NAMES, OP, opcodeName } from '../hardware/commands.js';
import { Iotlb } from '../hardware/iotlb.js';
import { cpuStatsBase, smmuStatsBase } from '../hardware/layout.js';
import { EcmdqStat, Smmu } from '../hardware/smmu-stats.js';
import { IovaDomain } from '../driver/iova.js';
import { IOVA_RCACHE_REGION, rcacheCachedCount } from '../driver/iova-rcache.js';
import {
  Cpu,
  EXTRA_HIST,
  Lk,
  lockBase,
  LOCK_HOLD_HIST,
  LOCK_WAIT_HIST,
  SYNC_HIST,
  UNMAP_HIST,
} from '../concurrency/counters.js';
import { getStrategy } from '../driver/strategies/index.js';
import { CMDQ_DESIGNS } from '../driver/cmdq-designs.js';
import { bucketLow, HIST_BUCKETS, mergeInto, quantile } from '../concurrency/histogram.js';
import { SPIN } from '../concurrency/wait.js';
import { nowNs } from '../concurrency/clock.js';
import { performance } from 'node:perf_hooks';
import { readSafety } from '../safety/oracle.js';
import { modelledNs, unmapOverhead } from './overhead.js';
import type { StrategyRun } from '../workload/orchestrator.js';
import type { Dist, EcmdqReport, LockReport, PerCpuReport, RunReport, VirtualRunReport } from './types.js';

/** Opcodes that always appear in byOpcode (0 when unused), so consumers need no existence checks. */
const ALWAYS = [OP.TLBI_NH_VA, OP.TLBI_NH_ASID, OP.CMD_SYNC];

function dist(
  timed: boolean,
  n: number,
  total: number,
  min: number,
  max: number,
  h: Float64Array,
  hb: number,
  mean = n > 0 ? total / n : 0,
): Dist {
  if (!timed) return { total: null, mean: null, min: null, max: null, p50: null, p99: null };
  if (n === 0) return { total: 0, mean: 0, min: 0, max: 0, p50: 0, p99: 0 };
  return {
    total,
    mean,
    min,
    max,
    p50: quantile(h, hb, 0.5, min, max),
    p99: quantile(h, hb, 0.99, min, max),
  };
}

function extraStats(
  run: StrategyRun,
  sum: (f: Cpu) => number,
  minOf: (f: Cpu) => number,
  maxOf: (f: Cpu) => number,
  scratch: Float64Array,
): RunReport['extra'] {
  const { layout, views } = run;
  const def = getStrategy(run.strategy);
  const design = CMDQ_DESIGNS[run.cmdq];
  const counters: Record<string, number> = {};
  design.counters.forEach((name, i) => (counters[name] = sum((Cpu.EXTRA0 + i) as Cpu)));
  (def.counters ?? []).forEach((name, i) => (counters[name] = sum((Cpu.STRATEGY_EXTRA0 + i) as Cpu)));
  const name = def.histogram ?? design.histogram;
  if (!name) return { counters, histogram: null };
  const n = sum(Cpu.EXTRA_HIST_N);
  scratch.fill(0, 0, HIST_BUCKETS);
  for (let c = 0; c < layout.cpus; c++)
    mergeInto(scratch, 0, views.f64, cpuStatsBase(layout, c) + EXTRA_HIST);
  const min = minOf(Cpu.EXTRA_HIST_MIN);
  const max = maxOf(Cpu.EXTRA_HIST_MAX);
  return {
    counters,
    histogram: {
      name,
      count: n,
      mean: n > 0 ? sum(Cpu.EXTRA_HIST_TOTAL) / n : 0,
      p50: n > 0 ? quantile(scratch, 0, 0.5, min, max) : 0,
      p99: n > 0 ? quantile(scratch, 0, 0.99, min, max) : 0,
      max: n > 0 ? max : 0,
    },
  };
}

/** Per-ECMDQ counters of the SMMU, with the CMD_SYNC wait p99 of the queue's CPU. */
function ecmdqReport(run: StrategyRun, timed: boolean): EcmdqReport {
  const { layout, views } = run;
  const f = views.f64;
  const s = smmuStatsBase(layout);
  const queues: EcmdqReport['queues'] = [];
  for (let n = 0; n < layout.cpus; n++) {
    const q = s + Smmu.ECMDQ + n * EcmdqStat.SLOTS;
    const b = cpuStatsBase(layout, n);
    const syncs = f[b + Cpu.SYNCS_WAITED];
    queues.push({
      queue: n,
      maxDepth: f[q + EcmdqStat.MAX_DEPTH],
      commandsConsumed: f[q + EcmdqStat.CONSUMED],
      syncWaitP99Ns: !timed
        ? null
        : syncs > 0
          ? quantile(f, b + SYNC_HIST, 0.99, f[b + Cpu.SYNC_WAIT_MIN], f[b + Cpu.SYNC_WAIT_MAX])
          : 0,
    });
  }
  return { queues, doorbellSleeps: f[s + Smmu.DOORBELL_SLEEPS] };
}

/** The process started performance.now() ms before now, on the orchestrator's thread. */
const PROCESS_START_NS = nowNs() - performance.now() * 1e6;

function startupOf(run: StrategyRun, firstUnmapNs: number): RunReport['startup'] {
  return {
    processToMeasureMs: (run.measureStartNs - PROCESS_START_NS) / 1e6,
    processToFirstUnmapMs:
      Number.isFinite(firstUnmapNs) && firstUnmapNs > 0 ? (firstUnmapNs - PROCESS_START_NS) / 1e6 : null,
  };
}

/** The modelled SMMU's ceiling for this command mix (see RunReport.modelBound). */
function modelBound(
  issuedPerUnmap: Record<string, number>,
  tlbiNs: number,
  syncNs: number,
  unmapsPerSec: number,
): RunReport['modelBound'] {
  const ns = modelledNs(issuedPerUnmap, tlbiNs, syncNs);
  if (ns <= 0) return { unmapsPerSec: null, efficiency: null };
  const bound = 1e9 / ns;
  return { unmapsPerSec: bound, efficiency: unmapsPerSec / bound };
}

export interface RunContext {
  readonly timed: boolean;
  readonly tlbiNs: number;
  readonly syncNs: number;
  readonly oversubscribed: boolean;
  readonly params?: Record<string, string | number>;
  readonly repetition?: number;
  /** The virtual engine's own figures (a virtual run); absent: a threads run. */
  readonly virtual?: VirtualRunReport;
}

export function collectRun(run: StrategyRun, ctx: RunContext): RunReport {
  const timed = ctx.timed;
  const { layout, views } = run;
  const f = views.f64;
  const cpus = layout.cpus;
  const sum = (field: Cpu): number => {
    let s = 0;
    for (let c = 0; c < cpus; c++) s += f[cpuStatsBase(layout, c) + field];
    return s;
  };
  const minOf = (field: Cpu): number => {
    let m = Infinity;
    for (let c = 0; c < cpus; c++) m = Math.min(m, f[cpuStatsBase(layout, c) + field]);
    return m;
  };
  const maxOf = (field: Cpu): number => {
    let m = 0;
    for (let c = 0; c < cpus; c++) m = Math.max(m, f[cpuStatsBase(layout, c) + field]);
    return m;
  };
  // Scratch space for merged histograms: [unmap, sync, lock wait, lock hold].
  const merged = new Float64Array(4 * HIST_BUCKETS);
  const mergeHist = (slot: number, off: (c: number) => number): void => {
    merged.fill(0, slot * HIST_BUCKETS, (slot + 1) * HIST_BUCKETS);
    for (let c = 0; c < cpus; c++) mergeInto(merged, slot * HIST_BUCKETS, f, off(c));
  };

  const seconds = run.measuredNs / 1e9;
  let firstUnmapNs = Infinity; // CPUs that completed no unmap keep 0 there
  for (let c = 0; c < cpus; c++) {
    const t = f[cpuStatsBase(layout, c) + Cpu.FIRST_UNMAP_NS];
    if (t > 0) firstUnmapNs = Math.min(firstUnmapNs, t);
  }
  const unmaps = sum(Cpu.UNMAPS);
  const pagesUnmapped = sum(Cpu.PAGES_UNMAPPED);

  mergeHist(0, (c) => cpuStatsBase(layout, c) + UNMAP_HIST);
  const latMin = minOf(Cpu.UNMAP_LAT_MIN);
  const latMax = maxOf(Cpu.UNMAP_LAT_MAX);
  const q = (p: number): number | null =>
    timed && unmaps > 0 ? quantile(merged, 0, p, latMin, latMax) : timed ? 0 : null;
  const unmapLatencyNs = {
    mean: timed ? (unmaps > 0 ? sum(Cpu.UNMAP_LAT_TOTAL) / unmaps : 0) : null,
    p50: q(0.5),
    p99: q(0.99),
    p999: q(0.999),
    max: timed ? (unmaps > 0 ? latMax : 0) : null,
  };

  mergeHist(1, (c) => cpuStatsBase(layout, c) + SYNC_HIST);
  const syncs = sum(Cpu.SYNCS_WAITED);
  const syncWaitNs = {
    count: syncs,
    ...dist(
      timed,
      syncs,
      sum(Cpu.SYNC_WAIT_TOTAL),
      minOf(Cpu.SYNC_WAIT_MIN),
      maxOf(Cpu.SYNC_WAIT_MAX),
      merged,
      HIST_BUCKETS,
    ),
  };

  const locks: LockReport[] = layout.lockClasses.map((name, cls) => {
    const at = (c: number): number => cpuStatsBase(layout, c) + lockBase(cls);
    const lsum = (k: Lk): number => {
      let s = 0;
      for (let c = 0; c < cpus; c++) s += f[at(c) + k];
      return s;
    };
    const lmin = (k: Lk): number => {
      let m = Infinity;
      for (let c = 0; c < cpus; c++) m = Math.min(m, f[at(c) + k]);
      return m;
    };
    const lmax = (k: Lk): number => {
      let m = 0;
      for (let c = 0; c < cpus; c++) m = Math.max(m, f[at(c) + k]);
      return m;
    };
    mergeHist(2, (c) => at(c) + LOCK_WAIT_HIST);
    mergeHist(3, (c) => at(c) + LOCK_HOLD_HIST);
    const contentions = lsum(Lk.CONTENTIONS);
    const holds = lsum(Lk.HOLD_SAMPLES);
    const waitHistogram: { lowNs: number[]; count: number[] } = { lowNs: [], count: [] };
    for (let b = 0; b < HIST_BUCKETS; b++) {
      const n = merged[2 * HIST_BUCKETS + b];
      if (n > 0) {
        waitHistogram.lowNs.push(bucketLow(b));
        waitHistogram.count.push(n);
      }
    }
    return {
      name,
      waitHistogram,
      acquisitions: lsum(Lk.ACQUISITIONS),
      contentions,
      conBounces: lsum(Lk.CON_BOUNCES),
      acqBounces: lsum(Lk.ACQ_BOUNCES),
      waitNs: dist(
        timed,
        contentions,
        lsum(Lk.WAIT_TOTAL),
        lmin(Lk.WAIT_MIN),
        lmax(Lk.WAIT_MAX),
        merged,
        2 * HIST_BUCKETS,
      ),
      // Holds are timed for 1 acquisition in --hold-sample: total is the sampled mean times the
      // acquisitions (an estimate when sampled); mean, min, max and percentiles are the samples'.
      holdNs: dist(
        timed,
        holds,
        holds > 0 ? (lsum(Lk.HOLD_TOTAL) * lsum(Lk.ACQUISITIONS)) / holds : 0,
        lmin(Lk.HOLD_MIN),
        lmax(Lk.HOLD_MAX),
        merged,
        3 * HIST_BUCKETS,
        lsum(Lk.HOLD_TOTAL) / Math.max(1, holds),
      ),
      holdSamples: holds,
      fairness: {
        minAcquisitionsPerCpu: lmin(Lk.ACQUISITIONS),
        maxAcquisitionsPerCpu: lmax(Lk.ACQUISITIONS),
        longestWaitNs: timed ? (contentions > 0 ? lmax(Lk.WAIT_MAX) : 0) : null,
      },
    };
  });

  const perCpu: PerCpuReport[] = [];
  for (let c = 0; c < cpus; c++) {
    const b = cpuStatsBase(layout, c);
    let acquisitions = 0;
    let lockWait = 0;
    for (let cls = 0; cls < layout.lockClasses.length; cls++) {
      acquisitions += f[b + lockBase(cls) + Lk.ACQUISITIONS];
      lockWait += f[b + lockBase(cls) + Lk.WAIT_TOTAL];
    }
    perCpu.push({
      cpu: c,
      unmaps: f[b + Cpu.UNMAPS],
      acquisitions,
      lockWaitNs: timed ? lockWait : null,
      syncWaitNs: timed ? f[b + Cpu.SYNC_WAIT_TOTAL] : null,
    });
  }

  const s = smmuStatsBase(layout);
  const byOpcode: Record<string, number> = {};
  for (const op of ALWAYS) byOpcode[OPCODE_NAMES[op]] = 0;
  for (let op = 0; op < 256; op++) {
    const n = f[s + Smmu.BY_OPCODE + op];
    if (n > 0) byOpcode[opcodeName(op)] = n;
  }
  const consumed = f[s + Smmu.COMMANDS_CONSUMED];
  const commandsPerUnmap: Record<string, number> = {};
  for (const [k, v] of Object.entries(byOpcode)) commandsPerUnmap[k] = unmaps > 0 ? v / unmaps : 0;

  // An IOVA in an rcache magazine is free (free_iova_fast returned), just not back in the rbtree.
  const rcache = layout.regionOffs[IOVA_RCACHE_REGION] !== undefined;
  let iovasOutstanding = 0;
  for (let d = 0; d < layout.domains; d++)
    iovasOutstanding +=
      layout.iovaSlotsPerDomain -
      IovaDomain.freeCount(views.i32, layout, d) -
      (rcache ? rcacheCachedCount(views.i32, layout, d) : 0);

  const issued = {
    TLBI_NH_VA: sum(Cpu.ISSUED_TLBI_NH_VA),
    TLBI_NH_ASID: sum(Cpu.ISSUED_TLBI_NH_ASID),
    CMD_SYNC: sum(Cpu.ISSUED_CMD_SYNC),
    other: sum(Cpu.ISSUED_OTHER),
  };
  const issuedPerUnmap: Record<string, number> = {};
  for (const [k, v] of Object.entries(issued)) issuedPerUnmap[k] = unmaps > 0 ? v / unmaps : 0;
  const unmapsPerSec = seconds > 0 ? unmaps / seconds : 0;

  return {
    engine: ctx.virtual ? 'virtual' : 'threads',
    virtual: ctx.virtual ?? null,
    strategy: run.strategy,
    params: { ...(ctx.params ?? {}) },
    repetition: ctx.repetition ?? 0,
    cpus,
    oversubscribed: ctx.oversubscribed,
    durationMs: run.measuredNs / 1e6,
    complete: run.complete,
    errors: [...run.errors],
    totals: {
      maps: sum(Cpu.MAPS),
      unmaps,
      pagesMapped: sum(Cpu.PAGES_MAPPED),
      pagesUnmapped,
      unmapsPerSec,
      pagesPerSec: seconds > 0 ? pagesUnmapped / seconds : 0,
    },
    commands: { total: consumed, byOpcode },
    syncsPerUnmap: unmaps > 0 ? byOpcode.CMD_SYNC / unmaps : 0,
    modelBound: modelBound(issuedPerUnmap, ctx.tlbiNs, ctx.syncNs, unmapsPerSec),
    overhead: unmapOverhead(
      issuedPerUnmap,
      getStrategy(run.strategy).deferred === true,
      unmapLatencyNs.mean,
      ctx.tlbiNs,
      ctx.syncNs,
    ),
    commandsPerUnmap,
    unmapLatencyNs,
    syncWaitNs,
    locks,
    perCpu,
    smmu: {
      commandsConsumed: consumed,
      maxQueueDepth: f[s + Smmu.MAX_QUEUE_DEPTH],
      iotlbInvalidations: f[s + Smmu.IOTLB_INVALIDATIONS],
      cmdqErrors: f[s + Smmu.CMDQ_ERRORS],
      busyNs: f[s + Smmu.BUSY_NS],
      wakesSent: f[s + Smmu.WAKES_SENT],
      idleWaits: f[s + Smmu.IDLE_WAITS],
    },
    iotlb: {
      translations: sum(Cpu.TRANSLATIONS),
      hits: sum(Cpu.IOTLB_HITS),
      misses: sum(Cpu.IOTLB_MISSES),
      faults: sum(Cpu.TRANSLATION_FAULTS),
    },
    driver: {
      queueFullWaits: sum(Cpu.QUEUE_FULL_WAITS),
      syncsCoalesced: sum(Cpu.SYNCS_COALESCED),
      mmioReads: sum(Cpu.MMIO_READS),
      mmioWrites: sum(Cpu.MMIO_WRITES),
      consPollUdelays: sum(Cpu.CONS_POLL_UDELAYS),
      consPollWfes: sum(Cpu.CONS_POLL_WFES),
      commandsIssued: {
        // Every inserted command is counted once, by opcode: their sum is the total.
        total: issued.TLBI_NH_VA + issued.TLBI_NH_ASID + issued.CMD_SYNC + issued.other,
        byOpcode: issued,
      },
    },
    safety: readSafety(views.i32, views.f64, layout.safetyOff, {
      cpus,
      domains: layout.domains,
      slotsPerDomain: layout.iovaSlotsPerDomain,
    }),
    outcome: run.outcome,
    diagnostics: [...run.diagnostics],
    faults: { syncTimeouts: sum(Cpu.SYNC_TIMEOUTS), cmdqErrorsHandled: run.cmdqErrorsHandled },
    cmdq: run.cmdq,
    iova: run.iova,
    extra: extraStats(run, sum, minOf, maxOf, merged),
    startup: startupOf(run, firstUnmapNs),
    endState: { iotlbEntries: new Iotlb(views.i32, layout, SPIN).entries().length, iovasOutstanding },
    ecmdq: run.cmdq === 'ecmdq' ? ecmdqReport(run, timed) : null,
  };
}
