// A strategy run on the virtual-time engine (src/virtual), ending as the threads engine's runs do:
// a StrategyRun over a real layout for the same Config, its slots filled with the virtual engine's
// counts (virtual/collect.ts), so that report/collect.ts and every output read it unchanged. What
// only a virtual run has (seed, parameters, events, cmpxchg rate, line transfers) comes back beside it.
import { performance } from 'node:perf_hooks';
import type { Config } from '../config/config.js';
import { nowNs } from '../concurrency/clock.js';
import { initCpuStats } from '../concurrency/counters.js';
import { CMDQ_DESIGNS } from '../driver/cmdq-designs.js';
import { initIovaDomain } from '../driver/iova.js';
import { initIovaRcache } from '../driver/iova-rcache.js';
import { designOf, iovaOf } from '../driver/strategies/index.js';
import {
  allocate,
  computeLayout,
  cpuStatsBase,
  regionOff,
  type Layout,
  type SharedViews,
} from '../hardware/layout.js';
import type { VirtualRunReport } from '../report/types.js';
import { TRACE_REGION, TraceRing, traceCapacity, traceRingOff } from '../trace/ring.js';
import { readCalibration } from '../virtual/calibration.js';
import { virtualUnsupported } from '../virtual/capabilities.js';
import { UsageError } from '../config/parse.js';
import { collectVirtual } from '../virtual/collect.js';
import { virtualParamsFor } from '../virtual/config-params.js';
import type { VirtualStrategy } from '../virtual/cpu.js';
import type { VCpuStats } from '../virtual/cpu-stats.js';
import type { VirtualParams } from '../virtual/params.js';
import {
  runVirtualAsync,
  type VirtualDesign,
  type VirtualEnd,
  type VirtualResult,
  type VirtualRunOptions,
} from '../virtual/run.js';
import type { RunOutcome, StrategyRun } from '../workload/orchestrator.js';
import { layoutParamsFor } from '../workload/params.js';

export interface VirtualControl {
  /** The virtual time reached (ns) and the events run so far, every few ten thousand events. */
  readonly progress?: (virtualNs: number, events: number) => void;
  /** Ctrl-C: the run stops at the virtual time reached and reports what it measured. */
  readonly signal?: AbortSignal;
  /** Once an unmap begun in the measured window has completed (the CLI's "measuring" marker). */
  readonly measuring?: () => void;
}

/** The protocol the virtual engine runs for a strategy (capabilities.ts says which it has). */
const VIRTUAL_STRATEGY: Record<string, VirtualStrategy> = {
  'per-page': 'per-page',
  batched: 'batched',
  range: 'range',
  lazy: 'lazy',
  'unsafe-free-before-sync': 'unsafe-free-before-sync',
  // Aliases of batched on their designs (driver/strategies/index.ts designOf).
  lockfree: 'batched',
  ecmdq: 'batched',
};

/**
 * A virtual run, a slice at a time on this thread's event loop. Ctrl-C (control.signal) ends it
 * as `interrupted` with the part of its window it ran; an error inside the engine ends it as
 * `failed` with one line naming the run, and what its window measured until then.
 */
export async function runVirtualStrategy(
  cfg: Config,
  strategy: string,
  wantLog: boolean,
  control: VirtualControl = {},
): Promise<{ run: StrategyRun; virtual: VirtualRunReport }> {
  const design = designOf(cfg, strategy);
  // Library callers (runConfig) skip the CLI's checks: never run something else than asked.
  const why = virtualUnsupported(cfg, strategy, design);
  if (why !== null) throw new UsageError(why);
  const layout = computeLayout(layoutParamsFor(cfg, strategy));
  const views = allocate(layout);
  initMemory(cfg, strategy, layout, views);
  const calibration = cfg.calibration === null ? {} : readCalibration(cfg.calibration);
  const params = virtualParamsFor(cfg, calibration);
  const durationNs = Math.round(cfg.durationMs * 1e6);
  let end: VirtualEnd | null = null;
  const measureStartNs = nowNs();
  const t0 = performance.now();
  let r: VirtualResult | null = null;
  let failure: unknown = null;
  const options: VirtualRunOptions = {
    cpus: cfg.cpus,
    strategy: VIRTUAL_STRATEGY[strategy],
    design: design as VirtualDesign,
    seed: cfg.seed,
    durationNs,
    warmupNs: Math.round(cfg.warmupMs * 1e6),
    params,
    recordCommands: wantLog,
    lock: cfg.lock,
    // The driver's state on this run's own layout: IOVA allocator, page tables, IOTLB, devices,
    // the safety oracle (virtual/state.ts).
    state: cfg,
    world: { layout, views },
    progress: control.progress,
    signal: control.signal,
    measuring: control.measuring,
    traceRings: cfg.trace !== null ? traceRings(layout, views) : undefined,
    onEnd: (e) => (end = e),
  };
  try {
    r = await runVirtualAsync(options);
  } catch (e) {
    failure = e;
  }
  const wallSec = (performance.now() - t0) / 1e3;
  const ended = end as VirtualEnd | null;
  if (failure === null && ended === null) failure = new Error('the run did not report its end');
  // Failed before its window closed: nothing to collect, the run's counts stay zero.
  if (ended !== null)
    collectVirtual(ended, layout, views, CMDQ_DESIGNS[design].counters, {
      lazy: strategy === 'lazy',
      iotlbInvalidations: r?.state?.iotlb.invalidationsMeasured ?? 0,
    });
  const outcome: RunOutcome =
    failure !== null ? 'failed' : r?.interrupted === true ? 'interrupted' : 'complete';
  const errors =
    failure !== null
      ? [`virtual engine failed in ${strategy} (${cfg.cpus} CPUs, seed ${cfg.seed}): ${oneLine(failure)}`]
      : outcome === 'interrupted'
        ? ['interrupted (SIGINT)']
        : [];
  const words = ended === null ? null : (r?.commandWords?.slice(ended.logStart, ended.logEnd) ?? null);
  const run: StrategyRun = {
    strategy,
    cmdq: design,
    iova: iovaOf(cfg, strategy),
    layout,
    views,
    probe: null,
    measuredNs: ended?.windowNs ?? 0,
    measureStartNs,
    outcome,
    complete: outcome === 'complete',
    errors,
    // For a bug report: where in the engine it failed (the JSON only; stderr gets the one line).
    diagnostics: failure instanceof Error ? stackFrames(failure) : [],
    cmdqErrorsHandled: 0,
    // The raw 16-byte entries, little-endian words, as the threads engine's SMMU logs them.
    cmdLog: words === null ? null : [new Uint8Array(Int32Array.from(words).buffer)],
    cpuResults: new Array<null>(cfg.cpus).fill(null),
    poolBroken: false,
  };
  if (r === null) return { run, virtual: failedReport(cfg, params, ended, wallSec) };
  return {
    run,
    virtual: {
      seed: cfg.seed,
      params: { ...r.params },
      calibration: cfg.calibration,
      virtualNs: r.virtualNs,
      events: r.events,
      eventsPerSec: wallSec > 0 ? r.events / wallSec : 0,
      cmpxchgSuccessRate: r.lockfree?.cmpxchgSuccessRate ?? null,
      issueFraction: r.issueFraction,
      lineTransfers: { ...r.lineTransfers },
      commandsPerUnmap: {
        TLBI_NH_VA: r.unmaps > 0 ? r.commands.tlbiNhVa / r.unmaps : 0,
        CMD_SYNC: r.unmaps > 0 ? r.commands.cmdSync / r.unmaps : 0,
      },
    },
  };
}

/**
 * A failed run's own figures, from what its window counted until it closed (the whole-run
 * figures, cmpxchg rate and line transfers, need a result the engine never returned).
 */
function failedReport(
  cfg: Config,
  params: VirtualParams,
  ended: VirtualEnd | null,
  wallSec: number,
): VirtualRunReport {
  const events = ended?.events ?? 0;
  const sum = (f: (s: VCpuStats) => number): number => (ended?.stats ?? []).reduce((a, s) => a + f(s), 0);
  const unmaps = sum((s) => s.unmaps);
  const windowNs = ended?.windowNs ?? 0;
  return {
    seed: cfg.seed,
    params: { ...params },
    calibration: cfg.calibration,
    virtualNs: ended?.closedAt ?? 0,
    events,
    eventsPerSec: wallSec > 0 ? events / wallSec : 0,
    cmpxchgSuccessRate: null,
    issueFraction: windowNs > 0 ? sum((s) => s.issueNs) / (cfg.cpus * windowNs) : 0,
    lineTransfers: {},
    commandsPerUnmap: {
      TLBI_NH_VA: unmaps > 0 ? sum((s) => s.tlbiNhVa) / unmaps : 0,
      CMD_SYNC: unmaps > 0 ? sum((s) => s.cmdSync) / unmaps : 0,
    },
  };
}

/** An error as one line for stderr: its message's first line (never its stack). */
function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n', 1)[0].trim() || (e instanceof Error ? e.name : 'unknown error');
}

/** The stack's frames (without the message already in errors[]), for runs[].diagnostics. */
function stackFrames(e: Error): string[] {
  return (e.stack ?? '')
    .split('\n')
    .filter((l) => /^\s+at /.test(l))
    .slice(0, 12)
    .map((l) => l.trim());
}

/** The run's memory as the orchestrator starts it: min fields at +Infinity, free IOVA lists. */
function initMemory(cfg: Config, strategy: string, layout: Layout, views: SharedViews): void {
  for (let cpu = 0; cpu < cfg.cpus; cpu++)
    initCpuStats(views.f64, cpuStatsBase(layout, cpu), layout.lockClasses.length);
  for (let d = 0; d < layout.domains; d++) {
    initIovaDomain(views.i32, layout, d);
    if (iovaOf(cfg, strategy) === 'rcache') initIovaRcache(views.i32, layout, d);
  }
}

/** --trace: one ring per CPU and the SMMU's, where the threads engine's threads keep theirs. */
function traceRings(layout: Layout, views: SharedViews): TraceRing[] {
  const cap = traceCapacity(layout.cpus + 1);
  const base = regionOff(layout, TRACE_REGION);
  return Array.from(
    { length: layout.cpus + 1 },
    (_, t) => new TraceRing(views.f64, traceRingOff(base, t, cap), cap),
  );
}
