// Section 1, efficiency: one CPU, no contention. Measured unmaps/s against the model bound, the
// "machine floor" bound (model + one bare ping-pong per CMD_SYNC waited on), the serial bound
// (model + the emulator's own cost per unmap at zero latency) and the hand-off bound (model + the
// bare queue protocol's cost, C and JS); the CMD_SYNC round trip at zero latency against a bare
// Atomics ping-pong between two threads (JS and C).
import { DEFAULTS } from '../../src/config/config.js';
import { cliArgs, inProcess, LIKE_C, type RunSpec } from '../lib/emulator.js';
import { startNoiseProbe } from '../lib/host.js';
import { cHandoff, cPingPong, jsHandoff, jsPingPong, type Timed } from '../lib/machine.js';
import { codeBlock, verdict, type Target, type TargetRow } from '../lib/markdown.js';
import { SYNC_RTT_URL } from '../lib/paths.js';
import { log } from '../lib/retry.js';
import { cell, fmtCount, fmtNs, fmtRatio, summarize, table, type Summary } from '../lib/stats.js';
import { renderTemplate } from '../lib/template.js';
import type { BenchSection, RunContext } from './section.js';

const LATENCIES = [
  { key: '100/1000', tlbiNs: 100, syncNs: 1000 },
  { key: '10/100', tlbiNs: 10, syncNs: 100 },
  { key: '0/0', tlbiNs: 0, syncNs: 0 },
] as const;
const EFF_STRATEGIES = ['per-page', 'batched'];
/** Pages per unmap in the efficiency runs (the default --pages). */
const P = DEFAULTS.pages;

interface EffRun {
  unmapsPerSec: number;
  modelBound: number | null;
  syncsPerUnmap: number;
  syncWaitMean: number | null;
  syncWaitP50: number | null;
  /** Mean time inside iommu_unmap (null under --stats counters). */
  unmapMeanNs: number | null;
  othersCores: number;
}

type HandoffKey = 'cStream' | 'cSync' | 'jsStream' | 'jsSync';

interface SyncRtSample {
  waitMeanNs: number;
  waitP50Ns: number;
  cycleNs: number;
  othersCores: number;
}

export interface EfficiencyRep {
  pingJs: Timed;
  pingC: Timed;
  /** A CMD_SYNC alone through the real locked queue and SMMU engine, latencies 0. */
  pureSync: SyncRtSample;
  handoffs: Record<HandoffKey, Timed>;
  /** By latency setting ("100/1000", "10/100", "0/0") and strategy. */
  runs: Record<string, Record<string, EffRun>>;
}

export interface EfficiencyRow {
  latencies: string;
  strategy: string;
  measured: Summary | null;
  modelBound: Summary | null;
  floorBound: Summary | null;
  serialBound: Summary | null;
  vsModel: Summary | null;
  vsFloor: Summary | null;
  vsSerial: Summary | null;
  /** These four are absent in results written before they were measured (as in quick.json). */
  handoffCVsFloor?: Summary | null;
  handoffJsVsFloor?: Summary | null;
  unmapPath?: Summary | null;
  unmapPathVsFloor?: Summary | null;
  syncsPerUnmap: Summary | null;
  target: Target | null;
}

export interface SyncRtRow {
  strategy: string;
  meanNs: Summary | null;
  p50Ns: Summary | null;
  meanVsPingJs: Summary | null;
  p50VsPingJs: Summary | null;
  unmapsPerSec: Summary | null;
}

export interface PureSyncResult {
  syncs: number;
  meanNs: Summary | null;
  p50Ns: Summary | null;
  cycleNs: Summary | null;
  meanVsPingJs: Summary | null;
  p50VsPingJs: Summary | null;
  cycleVsPingJs: Summary | null;
  target: Target;
}

export interface EfficiencyResult {
  commands: string[];
  pingJsNs: Summary | null;
  pingCNs: Summary | null;
  pingJsVsC: Summary | null;
  /** Absent in results written before the hand-off measurement existed. */
  handoffs?: Record<HandoffKey, Summary | null>;
  handoffCommands?: number;
  rows: EfficiencyRow[];
  syncRt: SyncRtRow[];
  /** Absent in results written before the pure round trip existed. */
  pureSync?: PureSyncResult;
  reps: EfficiencyRep[];
}

/** The pure CMD_SYNC round trip (src/run/calibrate/sync-rtt.ts), from the snapshot of dist/. */
async function pureSyncRoundTrip(syncs: number): Promise<SyncRtSample> {
  const { measureSyncRoundTrip } = (await import(
    SYNC_RTT_URL
  )) as typeof import('../../src/run/calibrate/sync-rtt.js');
  const noise = startNoiseProbe();
  const r = await measureSyncRoundTrip(syncs, Math.floor(syncs / 2));
  return { ...r, othersCores: noise.stop().othersCores };
}

async function run(ctx: RunContext): Promise<EfficiencyResult> {
  const { timings: t, retry } = ctx;
  const spec = (l: (typeof LATENCIES)[number]): RunSpec => ({
    cpus: 1,
    strategies: EFF_STRATEGIES,
    tlbiNs: l.tlbiNs,
    syncNs: l.syncNs,
    // The bounds are the bare protocol's (ping-pong, hand-off: no MMIO cost, no poll loop), the
    // C twin's (section 7): the emulator runs the same protocol as they do.
    ...LIKE_C,
    durationMs: t.efficiencyMs,
    warmupMs: t.efficiencyWarmupMs,
  });
  const reps: EfficiencyRep[] = [];
  for (let rep = 0; rep < ctx.reps; rep++) {
    log(`efficiency: repetition ${rep + 1}/${ctx.reps}`);
    const pingJs = await retry.quietest(() => jsPingPong(t.pingRoundTrips));
    const pingC = await retry.quietest(() => cPingPong(t.pingRoundTrips));
    const pureSync = await retry.quietest(() => pureSyncRoundTrip(t.pureSyncs));
    const handoffs: EfficiencyRep['handoffs'] = {
      jsStream: await retry.quietest(() => jsHandoff(t.handoffCommands, 'stream')),
      jsSync: await retry.quietest(() => jsHandoff(t.handoffCommands / 2, 'sync')),
      cStream: await retry.quietest(() => cHandoff(t.handoffCommands, 'stream')),
      cSync: await retry.quietest(() => cHandoff(t.handoffCommands / 2, 'sync')),
    };
    const runs: EfficiencyRep['runs'] = {};
    for (const l of LATENCIES) {
      const { doc, othersCores } = await retry.quietest(() => inProcess(spec(l)));
      runs[l.key] = {};
      for (const run of doc.runs)
        runs[l.key][run.strategy] = {
          unmapsPerSec: run.totals.unmapsPerSec,
          modelBound: run.modelBound.unmapsPerSec,
          syncsPerUnmap: run.totals.unmaps > 0 ? run.syncWaitNs.count / run.totals.unmaps : NaN,
          syncWaitMean: run.syncWaitNs.mean,
          syncWaitP50: run.syncWaitNs.p50,
          unmapMeanNs: run.unmapLatencyNs.mean,
          othersCores,
        };
    }
    reps.push({ pingJs, pingC, pureSync, handoffs, runs });
  }
  // Per repetition: ratios against the bounds computed from that repetition's ping-pong and
  // zero-latency run; a ratio is as noisy as the noisiest of the samples it is made of.
  const rows: EfficiencyRow[] = [];
  for (const l of LATENCIES.filter((x) => x.syncNs > 0)) {
    for (const s of EFF_STRATEGIES) {
      const per = reps.map((r) => {
        const x = r.runs[l.key]?.[s];
        const zero = r.runs['0/0']?.[s];
        if (!x || x.modelBound === null) return null;
        const modelNs = 1e9 / x.modelBound;
        const floor = 1e9 / (modelNs + x.syncsPerUnmap * r.pingJs.value);
        const serial = zero ? 1e9 / (modelNs + 1e9 / zero.unmapsPerSec) : NaN;
        // What any program could reach with this queue protocol on this host: the modelled
        // latencies plus the bare hand-off costs, every other cost (map, device reads, the IOTLB,
        // the emulator's code) taken as zero: a TLBI costs its hand-off or its modelled time,
        // whichever is longer (they overlap), a CMD_SYNC its modelled time plus a full round trip.
        const h = r.handoffs;
        const handoffNs = (stream: number, sync: number): number =>
          s === 'per-page'
            ? P * (Math.max(l.tlbiNs, stream) + l.syncNs + sync)
            : P * Math.max(l.tlbiNs, stream) + l.syncNs + sync;
        const handoffC = 1e9 / handoffNs(h.cStream.value, h.cSync.value);
        const handoffJs = 1e9 / handoffNs(h.jsStream.value, h.jsSync.value);
        return {
          measured: x.unmapsPerSec,
          model: x.modelBound,
          floor,
          serial,
          vsModel: x.unmapsPerSec / x.modelBound,
          vsFloor: x.unmapsPerSec / floor,
          vsSerial: x.unmapsPerSec / serial,
          handoffCVsFloor: handoffC / floor,
          handoffJsVsFloor: handoffJs / floor,
          othersHandoff: Math.max(
            r.pingJs.othersCores,
            h.cStream.othersCores,
            h.cSync.othersCores,
            h.jsStream.othersCores,
            h.jsSync.othersCores,
          ),
          // The unmap path alone: the rate one CPU would reach if it did nothing but iommu_unmap
          // (no IOVA allocation, map or device reads, which no bound counts).
          unmapPath: x.unmapMeanNs ? 1e9 / x.unmapMeanNs : NaN,
          unmapPathVsFloor: x.unmapMeanNs ? 1e9 / x.unmapMeanNs / floor : NaN,
          syncsPerUnmap: x.syncsPerUnmap,
          others: x.othersCores,
          othersFloor: Math.max(x.othersCores, r.pingJs.othersCores),
          othersSerial: Math.max(x.othersCores, zero?.othersCores ?? 0),
        };
      });
      const ok = per.filter((p): p is NonNullable<typeof p> => p !== null);
      type Point = (typeof ok)[number];
      type OthersKey = 'others' | 'othersFloor' | 'othersSerial' | 'othersHandoff';
      // A column of the row: its per-repetition values, noisy where the samples it came from were.
      const col = (k: keyof Point, others: OthersKey | null = 'others') =>
        summarize(
          ok.map((p) => p[k]),
          others === null ? undefined : ok.map((p) => p[others]),
        );
      rows.push({
        latencies: l.key,
        strategy: s,
        measured: col('measured'),
        modelBound: col('model', null),
        floorBound: col('floor', 'othersFloor'),
        serialBound: col('serial', 'othersSerial'),
        vsModel: col('vsModel'),
        vsFloor: col('vsFloor', 'othersFloor'),
        vsSerial: col('vsSerial', 'othersSerial'),
        handoffCVsFloor: col('handoffCVsFloor', 'othersHandoff'),
        handoffJsVsFloor: col('handoffJsVsFloor', 'othersHandoff'),
        unmapPath: col('unmapPath'),
        unmapPathVsFloor: col('unmapPathVsFloor', 'othersFloor'),
        syncsPerUnmap: col('syncsPerUnmap', null),
        target: l.key === '100/1000' ? { what: 'measured >= 0.85x floor bound', min: 0.85 } : null,
      });
    }
  }
  const zero = (r: EfficiencyRep, s: string) => r.runs['0/0']?.[s];
  const syncRt = EFF_STRATEGIES.map((s) => {
    const oth = reps.map((r) => Math.max(zero(r, s)?.othersCores ?? 0, r.pingJs.othersCores));
    return {
      strategy: s,
      meanNs: summarize(
        reps.map((r) => zero(r, s)?.syncWaitMean),
        reps.map((r) => zero(r, s)?.othersCores),
      ),
      p50Ns: summarize(
        reps.map((r) => zero(r, s)?.syncWaitP50),
        reps.map((r) => zero(r, s)?.othersCores),
      ),
      meanVsPingJs: summarize(
        reps.map((r) => (zero(r, s)?.syncWaitMean ?? NaN) / r.pingJs.value),
        oth,
      ),
      p50VsPingJs: summarize(
        reps.map((r) => (zero(r, s)?.syncWaitP50 ?? NaN) / r.pingJs.value),
        oth,
      ),
      unmapsPerSec: summarize(
        reps.map((r) => zero(r, s)?.unmapsPerSec),
        reps.map((r) => zero(r, s)?.othersCores),
      ),
    };
  });
  const pureOthers = reps.map((r) => r.pureSync.othersCores);
  const vsPingOthers = reps.map((r) => Math.max(r.pureSync.othersCores, r.pingJs.othersCores));
  // Each figure as measured, and as a ratio to the same repetition's JS ping-pong.
  const pure = (k: 'waitMeanNs' | 'waitP50Ns' | 'cycleNs') =>
    summarize(
      reps.map((r) => r.pureSync[k]),
      pureOthers,
    );
  const pureVsPing = (k: 'waitMeanNs' | 'waitP50Ns' | 'cycleNs') =>
    summarize(
      reps.map((r) => r.pureSync[k] / r.pingJs.value),
      vsPingOthers,
    );
  const pureSync: PureSyncResult = {
    syncs: t.pureSyncs,
    meanNs: pure('waitMeanNs'),
    p50Ns: pure('waitP50Ns'),
    cycleNs: pure('cycleNs'),
    meanVsPingJs: pureVsPing('waitMeanNs'),
    p50VsPingJs: pureVsPing('waitP50Ns'),
    cycleVsPingJs: pureVsPing('cycleNs'),
    target: { what: 'mean CMD_SYNC wait <= 1.5x JS ping-pong', max: 1.5 },
  };
  return {
    commands: [
      ...LATENCIES.map((l) => `node dist/run.js ${cliArgs(spec(l)).join(' ')}   # in-process: runConfig()`),
      `bench/build/locks pingpong ${t.pingRoundTrips}   # C; JS: the same between two worker threads`,
    ],
    pingJsNs: summarize(
      reps.map((r) => r.pingJs.value),
      reps.map((r) => r.pingJs.othersCores),
    ),
    pingCNs: summarize(
      reps.map((r) => r.pingC.value),
      reps.map((r) => r.pingC.othersCores),
    ),
    pingJsVsC: summarize(
      reps.map((r) => r.pingJs.value / r.pingC.value),
      reps.map((r) => Math.max(r.pingJs.othersCores, r.pingC.othersCores)),
    ),
    handoffs: {
      cStream: summarizeHandoff(reps, 'cStream'),
      cSync: summarizeHandoff(reps, 'cSync'),
      jsStream: summarizeHandoff(reps, 'jsStream'),
      jsSync: summarizeHandoff(reps, 'jsSync'),
    },
    handoffCommands: t.handoffCommands,
    rows,
    syncRt,
    pureSync,
    reps,
  };
}

const summarizeHandoff = (reps: readonly EfficiencyRep[], k: HandoffKey) =>
  summarize(
    reps.map((r) => r.handoffs[k].value),
    reps.map((r) => r.handoffs[k].othersCores),
  );

// ---- rendering -----------------------------------------------------------------------------------

function renderHandoff(ho: Record<HandoffKey, Summary | null>, rows: readonly EfficiencyRow[]): string {
  return renderTemplate('efficiency-handoff', {
    cStream: cell(ho.cStream, fmtNs),
    cSync: cell(ho.cSync, fmtNs),
    jsStream: cell(ho.jsStream, fmtNs),
    jsSync: cell(ho.jsSync, fmtNs),
    table: table(
      [
        'tlbi/sync ns',
        'strategy',
        'C hand-off bound / floor',
        'JS hand-off bound / floor',
        'measured / floor',
      ],
      rows.map((r) => [
        r.latencies,
        r.strategy,
        cell(r.handoffCVsFloor, fmtRatio),
        cell(r.handoffJsVsFloor, fmtRatio),
        cell(r.vsFloor, fmtRatio),
      ]),
      'llrrr',
    ),
  });
}

function renderPureSync(ps: PureSyncResult, v: string): string {
  return renderTemplate('efficiency-pure-sync', {
    syncs: fmtCount(ps.syncs),
    table: table(
      [
        'mean wait',
        'p50 wait',
        'cycle',
        'mean wait / JS ping-pong',
        'p50 / JS ping-pong',
        'cycle / JS ping-pong',
        'target',
      ],
      [
        [
          cell(ps.meanNs, fmtNs),
          cell(ps.p50Ns, fmtNs),
          cell(ps.cycleNs, fmtNs),
          cell(ps.meanVsPingJs, fmtRatio),
          cell(ps.p50VsPingJs, fmtRatio),
          cell(ps.cycleVsPingJs, fmtRatio),
          `<= 1.5x: ${v}`,
        ],
      ],
      'rrrrrrl',
    ),
  });
}

function render(eff: EfficiencyResult) {
  const targets: TargetRow[] = [];
  const boundsTable = table(
    [
      'tlbi/sync ns',
      'strategy',
      'unmaps/s',
      'model bound',
      'measured/model',
      'floor bound',
      'measured/floor',
      'serial bound',
      'measured/serial',
      'unmap path',
      'unmap path/floor',
      'target',
    ],
    eff.rows.map((r) => {
      const v = verdict(r.vsFloor, r.target);
      if (r.target)
        targets.push([
          `1. ${r.strategy} at 100/1000: measured >= 0.85x floor bound`,
          cell(r.vsFloor, fmtRatio),
          v === 'MISSED' && r.handoffJsVsFloor
            ? `${v} (the bare queue protocol reaches ${fmtRatio(r.handoffJsVsFloor.median)} in JS, ` +
              `${fmtRatio(r.handoffCVsFloor?.median ?? NaN)} in C: see 1.)`
            : v,
        ]);
      return [
        r.latencies,
        r.strategy,
        cell(r.measured, fmtCount),
        cell(r.modelBound, fmtCount),
        cell(r.vsModel, fmtRatio),
        cell(r.floorBound, fmtCount),
        cell(r.vsFloor, fmtRatio),
        cell(r.serialBound, fmtCount),
        cell(r.vsSerial, fmtRatio),
        cell(r.unmapPath, fmtCount),
        cell(r.unmapPathVsFloor, fmtRatio),
        r.target ? `>= 0.85x: ${v}` : '',
      ];
    }),
    'llrrrrrrrrrl',
  );
  let pureSync = '';
  if (eff.pureSync) {
    const v = verdict(eff.pureSync.meanVsPingJs, eff.pureSync.target);
    targets.push([
      '1. CMD_SYNC round trip (mean, latencies 0) <= 1.5x ping-pong',
      cell(eff.pureSync.meanVsPingJs, fmtRatio),
      v,
    ]);
    pureSync = renderPureSync(eff.pureSync, v);
  }
  const markdown = renderTemplate('efficiency', {
    commands: codeBlock(eff.commands),
    pingJs: cell(eff.pingJsNs, fmtNs),
    pingC: cell(eff.pingCNs, fmtNs),
    pingJsVsC: cell(eff.pingJsVsC, fmtRatio),
    boundsTable,
    handoff: eff.handoffs ? renderHandoff(eff.handoffs, eff.rows) : '',
    pureSync,
    syncRtTable: table(
      ['strategy', 'mean CMD_SYNC wait', 'p50', 'mean / JS ping-pong', 'p50 / JS ping-pong', 'unmaps/s'],
      eff.syncRt.map((r) => [
        r.strategy,
        cell(r.meanNs, fmtNs),
        cell(r.p50Ns, fmtNs),
        cell(r.meanVsPingJs, fmtRatio),
        cell(r.p50VsPingJs, fmtRatio),
        cell(r.unmapsPerSec, fmtCount),
      ]),
      'lrrrrr',
    ),
  });
  return { markdown, targets };
}

export const efficiency: BenchSection<EfficiencyResult> = {
  name: 'efficiency',
  needsC: true,
  byDefault: () => true,
  run,
  render,
};
