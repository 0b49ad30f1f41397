// Section 8, virtual: the virtual-time engine against the threads engine on this host, and its
// speed and scale. (a) `calibrate` runs first (src/run/calibrate/, the same code as `node dist/run.js
// calibrate`), then at every CPU count the host runs without oversubscription (1 to cores - 1)
// the threads engine and the calibrated virtual engine run per-page, batched and lockfree with the
// tool's defaults: unmaps/s and mean unmap time, virtual/threads per repetition (target 0.8-1.2).
// The virtual engine is deterministic, so it runs once per point; the threads engine once per
// repetition. The virtual points run as `node dist/run.js --engine virtual --seed 1 --calibration
// FILE` does (bench/lib/virtual.ts): runConfig in-process, the driver state and reporting included.
// (b) 64 CPUs x 100 ms and 256 CPUs x 20 ms of virtual time, lockfree, default parameters, each a
// child of the real CLI: wall time, simulated events per second, peak RSS.
import type { CalibrationDocument } from '../../src/run/calibrate/calibrate.js';
import { cliArgs, inProcess } from '../lib/emulator.js';
import { codeBlock, verdict, type Target, type TargetRow } from '../lib/markdown.js';
import { CALIBRATE_URL } from '../lib/paths.js';
import { log } from '../lib/retry.js';
import { cell, fmtCount, fmtNs, fmtRatio, summarize, table, type Summary } from '../lib/stats.js';
import { renderTemplate } from '../lib/template.js';
import {
  virtualPoint,
  virtualPointInChild,
  type VirtualPoint,
  virtualSpec,
  writeCalibration,
  type VirtualStrategyName,
} from '../lib/virtual.js';
import type { BenchSection, RunContext } from './section.js';

const STRATEGIES: readonly VirtualStrategyName[] = ['per-page', 'batched', 'lockfree'];
const SEED = 1;
const WITHIN: Target = { what: 'virtual/threads 0.8-1.2', min: 0.8, max: 1.2 };
const SCALE = [
  { cpus: 64, durationMs: 100, maxWallMs: 30_000 },
  { cpus: 256, durationMs: 20, maxWallMs: null },
] as const;
const MAX_RSS_KB = 1024 * 1024;
const scaleSpec = (p: (typeof SCALE)[number]) => ({
  cpus: p.cpus,
  strategy: 'lockfree' as const,
  durationMs: p.durationMs,
  warmupMs: 0,
  seed: SEED,
});

export interface VirtualCompareRow {
  cpus: number;
  strategy: string;
  threadsRate: Summary | null;
  virtualRate: number;
  rateRatio: Summary | null;
  threadsMeanNs: Summary | null;
  threadsP50Ns: Summary | null;
  virtualMeanNs: number;
  meanRatio: Summary | null;
  /** Virtual mean / threads p50: what the ratio is without the host's preemptions. */
  p50Ratio: Summary | null;
}

export interface VirtualScaleRow {
  cpus: number;
  durationMs: number;
  strategy: string;
  /** Spawn to exit of the child, ms. */
  wallMs: number;
  /** The simulation alone (events / runs[].virtual.eventsPerSec), ms; null when it failed. */
  runMs: number | null;
  events: number | null;
  eventsPerSec: number | null;
  maxRssKb: number | null;
  error: string | null;
  maxWallMs: number | null;
}

export interface VirtualSectionResult {
  commands: string[];
  calibration: CalibrationDocument;
  virtualDurationMs: number;
  rows: VirtualCompareRow[];
  scale: VirtualScaleRow[];
}

async function run(ctx: RunContext): Promise<VirtualSectionResult> {
  const t = ctx.timings;
  const { calibrate } = (await import(
    CALIBRATE_URL
  )) as typeof import('../../src/run/calibrate/calibrate.js');
  log('virtual: calibrate');
  const calibration = await calibrate({ rounds: ctx.quick ? 3 : 5, log });
  const calFile = writeCalibration(calibration);
  const maxCpus = Math.max(1, ctx.host.cores - 1);
  const counts = Array.from({ length: maxCpus }, (_, i) => i + 1);
  const durationMs = Math.max(20, Math.round(t.efficiencyMs / 5));
  const warmupMs = Math.max(5, Math.round(t.efficiencyWarmupMs / 5));
  const rows: VirtualCompareRow[] = [];
  const spec = (cpus: number) => ({
    cpus,
    strategies: STRATEGIES,
    durationMs: t.efficiencyMs,
    warmupMs: t.efficiencyWarmupMs,
  });
  for (const cpus of counts) {
    const virt = new Map<string, VirtualPoint>();
    for (const s of STRATEGIES)
      virt.set(
        s,
        await virtualPoint({
          cpus,
          strategy: s,
          durationMs,
          warmupMs,
          seed: SEED,
          calibration: calFile,
        }),
      );
    const reps: {
      rate: Map<string, number>;
      mean: Map<string, number>;
      p50: Map<string, number>;
      others: number;
    }[] = [];
    for (let rep = 0; rep < ctx.reps; rep++) {
      log(`virtual: ${cpus} CPU(s), threads engine, repetition ${rep + 1}/${ctx.reps}`);
      const { doc, othersCores } = await ctx.retry.quietest(() => inProcess(spec(cpus)));
      const r = { rate: new Map(), mean: new Map(), p50: new Map(), others: othersCores };
      for (const x of doc.runs) {
        if (x.totals.unmaps === 0) continue;
        r.rate.set(x.strategy, x.totals.unmapsPerSec);
        r.mean.set(x.strategy, x.unmapLatencyNs.mean);
        r.p50.set(x.strategy, x.unmapLatencyNs.p50);
      }
      reps.push(r);
    }
    const others = reps.map((r) => r.others);
    for (const s of STRATEGIES) {
      const v = virt.get(s)!;
      const col = (f: (r: (typeof reps)[number]) => number | undefined) => summarize(reps.map(f), others);
      rows.push({
        cpus,
        strategy: s,
        threadsRate: col((r) => r.rate.get(s)),
        virtualRate: v.unmapsPerSec,
        rateRatio: col((r) => v.unmapsPerSec / (r.rate.get(s) ?? NaN)),
        threadsMeanNs: col((r) => r.mean.get(s)),
        threadsP50Ns: col((r) => r.p50.get(s)),
        virtualMeanNs: v.meanUnmapNs,
        meanRatio: col((r) => v.meanUnmapNs / (r.mean.get(s) ?? NaN)),
        p50Ratio: col((r) => v.meanUnmapNs / (r.p50.get(s) ?? NaN)),
      });
    }
  }
  const scale: VirtualScaleRow[] = [];
  for (const p of SCALE) {
    log(`virtual: ${p.cpus} CPUs x ${p.durationMs} ms of virtual time, lockfree`);
    const budget = (p.maxWallMs ?? 120_000) * 4;
    const c = await virtualPointInChild({ ...scaleSpec(p), calibration: null }, budget);
    scale.push({
      cpus: p.cpus,
      durationMs: p.durationMs,
      strategy: 'lockfree',
      wallMs: c.childWallMs,
      runMs: c.probe?.runMs ?? null,
      events: c.probe?.events ?? null,
      eventsPerSec: c.probe && c.probe.runMs > 0 ? c.probe.events / (c.probe.runMs / 1000) : null,
      maxRssKb: c.probe?.maxRssKb ?? null,
      error: c.error,
      maxWallMs: p.maxWallMs,
    });
  }
  return {
    commands: [
      'node dist/run.js calibrate   # in-process: calibrate()',
      ...counts.map((c) => `node dist/run.js ${cliArgs(spec(c)).join(' ')}   # in-process: runConfig()`),
      `node dist/run.js --engine virtual --seed ${SEED} --calibration FILE --cpus N --strategy S --duration ${durationMs}ms --warmup ${warmupMs}ms   # in-process: runConfig(), every N and S above`,
      ...SCALE.map(
        (p) =>
          `node dist/run.js ${cliArgs(virtualSpec({ ...scaleSpec(p), calibration: null })).join(' ')} --json F -q`,
      ),
    ],
    calibration,
    virtualDurationMs: durationMs,
    rows,
    scale,
  };
}

function render(r: VirtualSectionResult) {
  const targets: TargetRow[] = [];
  const calTable = table(
    ['parameter', 'calibrated', 'from'],
    Object.entries(r.calibration.params).map(([k, v]) => [
      k,
      k.endsWith('Ns') ? fmtNs(v) : String(v),
      FROM[k] ?? '',
    ]),
    'lrl',
  );
  const mainTable = table(
    [
      'CPUs',
      'strategy',
      'threads unmaps/s',
      'virtual unmaps/s',
      'virtual/threads',
      'threads mean unmap',
      'virtual mean unmap',
      'virtual/threads',
      'threads p50 unmap',
      'virtual mean / threads p50',
    ],
    r.rows.map((x) => {
      for (const [what, s] of [
        ['unmaps/s', x.rateRatio],
        ['mean unmap time', x.meanRatio],
      ] as const)
        targets.push([
          `8. ${x.strategy} at ${x.cpus} CPU(s): virtual/threads ${what} within ±20 %`,
          cell(s, fmtRatio),
          verdict(s, WITHIN),
        ]);
      return [
        String(x.cpus),
        x.strategy,
        cell(x.threadsRate, fmtCount),
        fmtCount(x.virtualRate),
        `${cell(x.rateRatio, fmtRatio)}: ${verdict(x.rateRatio, WITHIN)}`,
        cell(x.threadsMeanNs, fmtNs),
        fmtNs(x.virtualMeanNs),
        `${cell(x.meanRatio, fmtRatio)}: ${verdict(x.meanRatio, WITHIN)}`,
        cell(x.threadsP50Ns, fmtNs),
        cell(x.p50Ratio, fmtRatio),
      ];
    }),
    'llrrlrrlrr',
  );
  const scaleTable = table(
    [
      'CPUs',
      'virtual time',
      'strategy',
      'wall (child)',
      'run alone',
      'events',
      'events/s',
      'peak RSS',
      'target',
    ],
    r.scale.map((x) => {
      const mib = x.maxRssKb !== null ? x.maxRssKb / 1024 : null;
      const okWall = x.error === null && (x.maxWallMs === null || x.wallMs <= x.maxWallMs);
      const okRss = mib !== null && x.maxRssKb! <= MAX_RSS_KB;
      const wallTarget = x.maxWallMs === null ? 'finishes' : `<= ${x.maxWallMs / 1000} s wall`;
      targets.push([
        `8. ${x.cpus} CPUs x ${x.durationMs} ms virtual, ${x.strategy}: ${wallTarget}`,
        x.error ?? `${(x.wallMs / 1000).toFixed(1)} s`,
        okWall ? 'met' : 'MISSED',
      ]);
      if (x.cpus === 256)
        targets.push([
          `8. peak RSS at ${x.cpus} CPUs <= 1 GiB`,
          mib === null ? 'n/a' : `${mib.toFixed(0)} MiB`,
          okRss ? 'met' : 'MISSED',
        ]);
      return [
        String(x.cpus),
        `${x.durationMs} ms`,
        x.strategy,
        `${(x.wallMs / 1000).toFixed(2)} s`,
        x.runMs === null ? 'n/a' : `${(x.runMs / 1000).toFixed(2)} s`,
        fmtCount(x.events),
        fmtCount(x.eventsPerSec),
        mib === null ? 'n/a' : `${mib.toFixed(0)} MiB`,
        `${wallTarget}: ${okWall ? 'met' : `MISSED${x.error ? ` (${x.error})` : ''}`}`,
      ];
    }),
    'lrlrrrrrl',
  );
  const markdown = renderTemplate('virtual', {
    commands: codeBlock(r.commands),
    virtualMs: r.virtualDurationMs,
    calTable,
    table: mainTable,
    scaleTable,
  });
  return { markdown, targets };
}

/** What each calibrated parameter is taken from (src/run/calibrate/calibrate.ts). */
const FROM: Record<string, string> = {
  lineTransferNs: 'two-thread Atomics ping-pong, half a round trip',
  upgradeNs:
    'locked issue path per command beside the SMMU worker - the same path alone: stores into lines the worker holds shared (entry, PROD)',
  hitNs: 'Atomics.load, line held',
  atomicNs: 'Atomics.compareExchange - Atomics.load, line held',
  cmdNs: 'lock-free issue path, per command (cmdlists of 16 and of 1), MMIO free',
  lockedIssueNs: 'locked issue path per command - cmdNs, MMIO free',
  lockfreeIssueNs: 'lock-free issue path per cmdlist of 1 - cmdNs',
  mmioExtraNs: 'busy-wait of a costed MMIO access - its cost',
  smmuCmdNs:
    'SMMU engine per command, latencies 1 ns, - 1 ns; + the cross-core part of a TLBI (IOTLB filled by another thread - by its own)',
  wakeNs: "(CMD_SYNC round trip p50 - the SMMU engine per command - the entry's fetch, a line transfer) / 2",
  mapNs:
    "alloc + map + DMA reads + free per cycle, real objects, the real SMMU worker beside it applying each cycle's TLBIs",
  unmapNs: 'PTE clears per unmap, real objects, the real SMMU worker beside it',
  smmuFetch:
    '2: the SMMU worker is a CPU thread: its loads of entries and PROD keep shared copies (the CPU stores back through transfers)',
};

export const virtual: BenchSection<VirtualSectionResult> = {
  name: 'virtual',
  needsC: false,
  byDefault: () => true,
  run,
  render,
};
