// Section 7, twin: the emulator at one CPU against a C program of the same 2017 protocol
// (bench/twin.c: a TTAS lock, entry and CMDQ_PROD per command, CONS polled under the lock for a
// CMD_SYNC, PTE clears, an SMMU thread spending the same modelled latencies), side by side and
// interleaved in each repetition: C/emulator for the mean time inside iommu_unmap, and the
// per-page/batched ratio of those times on each side (what a user reads as the seed's benefit).
import { DEFAULTS } from '../../src/config/config.js';
import { unmapOverhead } from '../../src/report/overhead.js';
import { cliArgs, inProcess, LIKE_C, type RunSpec } from '../lib/emulator.js';
import { codeBlock, verdict, type Target, type TargetRow } from '../lib/markdown.js';
import { startNoiseProbe } from '../lib/host.js';
import { log } from '../lib/retry.js';
import { cell, fmtNs, fmtPct, fmtRatio, summarize, table, type Summary } from '../lib/stats.js';
import { renderTemplate } from '../lib/template.js';
import { cFloor, FLOOR_TRIALS, jsFloor, type Floor } from '../lib/floor.js';
import { buildTwin, cTwin, twinArgs, type TwinSpec } from '../lib/twin.js';
import type { BenchSection, RunContext } from './section.js';

const LATENCIES = [
  { key: '100/1000', tlbiNs: 100, syncNs: 1000 },
  { key: '10/100', tlbiNs: 10, syncNs: 100 },
] as const;
const STRATEGIES = ['per-page', 'batched'] as const;
type Strategy = (typeof STRATEGIES)[number];
/** Pages per unmap (the default --pages). */
const P = DEFAULTS.pages;

/** One side's figures for one strategy at one latency setting. */
export interface TwinSide {
  meanUnmapNs: number | null;
  /** The median: on a loaded host a spinner preempted for a time slice drags the mean, not it. */
  p50UnmapNs: number | null;
  /** (mean unmap time - modelled SMMU time) / commands per unmap, as runs[].overhead. */
  nsPerCommand: number | null;
  othersCores: number;
}

export interface TwinRep {
  /** By latency setting: whether the C twin ran before the emulator there (it alternates). */
  cFirst: Record<string, boolean>;
  /** By latency setting and strategy. */
  c: Record<string, Record<string, TwinSide>>;
  emu: Record<string, Record<string, TwinSide>>;
  /** Each side's own code alone, in one thread (bench/lib/floor.ts); measured in the order of the
   *  repetition's first latency setting. */
  floor: { c: ProbedFloor; emu: ProbedFloor };
}

export interface TwinRow {
  latencies: string;
  strategy: string;
  /** The modelled SMMU time of one unmap, ns. */
  modelledNs: number;
  cUnmapNs: Summary | null;
  emuUnmapNs: Summary | null;
  /** C mean unmap time / emulator mean unmap time, per repetition. */
  cOverEmu: Summary | null;
  cP50Ns: Summary | null;
  emuP50Ns: Summary | null;
  /** The same ratio of the medians. */
  cOverEmuP50: Summary | null;
  cNsPerCommand: Summary | null;
  emuNsPerCommand: Summary | null;
  target: Target | null;
}

export interface TwinRatioRow {
  latencies: string;
  /** Mean unmap time, per-page / batched. */
  cRatio: Summary | null;
  emuRatio: Summary | null;
  /** emuRatio / cRatio. */
  emuOverC: Summary | null;
  target: Target | null;
}

/** A floor, and the cores other processes kept busy while it was measured. */
type ProbedFloor = Floor & { othersCores: number };

function probed(measure: () => Floor): ProbedFloor {
  const noise = startNoiseProbe();
  const f = measure();
  return { ...f, othersCores: noise.stop().othersCores };
}

/** One figure of the floor: C, the emulator, and emulator/C (how many times slower). */
export interface TwinFloorRow {
  what: string;
  c: Summary | null;
  emu: Summary | null;
  emuOverC: Summary | null;
}

export interface TwinResult {
  gcc: string;
  commands: string[];
  /** How the floor was measured (both sides' commands). */
  floorCommands: string[];
  floors: TwinFloorRow[];
  pages: number;
  rows: TwinRow[];
  ratios: TwinRatioRow[];
  reps: TwinRep[];
}

const modelledNs = (s: Strategy, tlbiNs: number, syncNs: number): number =>
  s === 'per-page' ? P * (tlbiNs + syncNs) : P * tlbiNs + syncNs;

function side(
  s: Strategy,
  tlbiNs: number,
  syncNs: number,
  mean: number | null,
  p50: number | null,
  others: number,
): TwinSide {
  const issued = { TLBI_NH_VA: P, CMD_SYNC: s === 'per-page' ? P : 1 };
  // A window without a completed unmap (a descheduled thread on a loaded host) has no figures.
  if (!(mean !== null && mean > 0)) mean = p50 = null;
  return {
    meanUnmapNs: mean,
    p50UnmapNs: p50,
    nsPerCommand: unmapOverhead(issued, false, mean, tlbiNs, syncNs).nsPerCommand,
    othersCores: others,
  };
}

async function run(ctx: RunContext): Promise<TwinResult> {
  const { timings: t, retry } = ctx;
  const gcc = buildTwin();
  const emuSpec = (l: (typeof LATENCIES)[number]): RunSpec => ({
    cpus: 1,
    strategies: STRATEGIES,
    pages: P,
    tlbiNs: l.tlbiNs,
    syncNs: l.syncNs,
    // The twin's protocol: its registers are plain memory, it re-reads CONS until it changes.
    ...LIKE_C,
    durationMs: t.efficiencyMs,
    warmupMs: t.efficiencyWarmupMs,
  });
  const cSpec = (l: (typeof LATENCIES)[number], strategy: Strategy): TwinSpec => ({
    strategy,
    pages: P,
    tlbiNs: l.tlbiNs,
    syncNs: l.syncNs,
    warmupMs: t.efficiencyWarmupMs,
    durationMs: t.efficiencyMs,
  });
  const reps: TwinRep[] = [];
  for (let rep = 0; rep < ctx.reps; rep++) {
    log(`twin: repetition ${rep + 1}/${ctx.reps}`);
    // The floor first, in the order of this repetition's first latency setting (C first on even
    // ones), each side taken again while another process kept the host busy (retry.quietest).
    const cSide = () => retry.quietest(() => probed(cFloor));
    const emuSide = () => retry.quietest(() => probed(jsFloor));
    let floor: TwinRep['floor'];
    if (rep % 2 === 0) {
      const c = await cSide();
      floor = { c, emu: await emuSide() };
    } else {
      const emu = await emuSide();
      floor = { c: await cSide(), emu };
    }
    const r: TwinRep = { cFirst: {}, c: {}, emu: {}, floor };
    for (const [li, l] of LATENCIES.entries()) {
      const runC = async () => {
        r.c[l.key] = {};
        for (const s of STRATEGIES) {
          const x = await retry.quietest(() => cTwin(cSpec(l, s)));
          r.c[l.key][s] = side(s, l.tlbiNs, l.syncNs, x.meanUnmapNs, x.p50UnmapNs, x.othersCores);
        }
      };
      const runEmu = async () => {
        const { doc, othersCores } = await retry.quietest(() => inProcess(emuSpec(l)));
        r.emu[l.key] = {};
        for (const x of doc.runs) {
          const none = x.totals.unmaps === 0;
          r.emu[l.key][x.strategy] = {
            meanUnmapNs: none ? null : x.unmapLatencyNs.mean,
            p50UnmapNs: none ? null : x.unmapLatencyNs.p50,
            nsPerCommand: none ? null : (x.overhead?.nsPerCommand ?? null),
            othersCores,
          };
        }
      };
      // The order alternates, so that a drift of the host's load hits both sides alike.
      r.cFirst[l.key] = (rep + li) % 2 === 0;
      for (const f of r.cFirst[l.key] ? [runC, runEmu] : [runEmu, runC]) await f();
    }
    reps.push(r);
  }
  const rows: TwinRow[] = [];
  const ratios: TwinRatioRow[] = [];
  const at100 = (l: string) => l === '100/1000';
  for (const l of LATENCIES) {
    const c = (r: TwinRep, s: string) => r.c[l.key]?.[s];
    const e = (r: TwinRep, s: string) => r.emu[l.key]?.[s];
    const others = (s: string) =>
      reps.map((r) => Math.max(c(r, s)?.othersCores ?? 0, e(r, s)?.othersCores ?? 0));
    for (const s of STRATEGIES) {
      const col = (f: (r: TwinRep) => number | null | undefined, o = others(s)) => summarize(reps.map(f), o);
      rows.push({
        latencies: l.key,
        strategy: s,
        modelledNs: modelledNs(s, l.tlbiNs, l.syncNs),
        cUnmapNs: col((r) => c(r, s)?.meanUnmapNs),
        emuUnmapNs: col((r) => e(r, s)?.meanUnmapNs),
        cOverEmu: col((r) => (c(r, s)?.meanUnmapNs ?? NaN) / (e(r, s)?.meanUnmapNs ?? NaN)),
        cP50Ns: col((r) => c(r, s)?.p50UnmapNs),
        emuP50Ns: col((r) => e(r, s)?.p50UnmapNs),
        cOverEmuP50: col((r) => (c(r, s)?.p50UnmapNs ?? NaN) / (e(r, s)?.p50UnmapNs ?? NaN)),
        cNsPerCommand: col((r) => c(r, s)?.nsPerCommand),
        emuNsPerCommand: col((r) => e(r, s)?.nsPerCommand),
        target: at100(l.key) ? { what: 'C/emulator mean unmap time >= 0.9', min: 0.9 } : null,
      });
    }
    const ratio = (side: 'c' | 'emu', r: TwinRep) =>
      (r[side][l.key]?.['per-page']?.meanUnmapNs ?? NaN) / (r[side][l.key]?.batched?.meanUnmapNs ?? NaN);
    const allOthers = reps.map((r, i) => Math.max(others('per-page')[i], others('batched')[i]));
    ratios.push({
      latencies: l.key,
      cRatio: summarize(
        reps.map((r) => ratio('c', r)),
        allOthers,
      ),
      emuRatio: summarize(
        reps.map((r) => ratio('emu', r)),
        allOthers,
      ),
      emuOverC: summarize(
        reps.map((r) => ratio('emu', r) / ratio('c', r)),
        allOthers,
      ),
      target: at100(l.key)
        ? {
            what: "per-page/batched within 15 % of the C twin's (emulator/C 0.85-1.15)",
            min: 0.85,
            max: 1.15,
          }
        : null,
    });
  }
  const floorOthers = (side: 'c' | 'emu') => reps.map((r) => r.floor[side].othersCores);
  const floorFigure = (what: string, f: (x: Floor) => number): TwinFloorRow => ({
    what,
    c: summarize(
      reps.map((r) => f(r.floor.c)),
      floorOthers('c'),
    ),
    emu: summarize(
      reps.map((r) => f(r.floor.emu)),
      floorOthers('emu'),
    ),
    emuOverC: summarize(
      reps.map((r) => f(r.floor.emu) / f(r.floor.c)),
      reps.map((r) => Math.max(r.floor.c.othersCores, r.floor.emu.othersCores)),
    ),
  });
  return {
    gcc,
    floorCommands: [
      `bench/build/twin floor ${FLOOR_TRIALS}`,
      `jsFloor()   # bench/lib/floor.ts: src/run/calibrate/rigs.ts cpuRig(), smmuRig() and nowNs(), ${FLOOR_TRIALS} trials each`,
    ],
    floors: [
      floorFigure('the locked issue path, per command (16 TLBI_NH_VA a round)', (x) => x.issueNsPerCommand),
      floorFigure(
        'the SMMU loop, per command, every latency 0 (16 TLBI_NH_VA + CMD_SYNC a round)',
        (x) => x.consumeNsPerCommand,
      ),
      floorFigure('one clock read', (x) => x.clockNs),
    ],
    commands: LATENCIES.flatMap((l) => [
      `node dist/run.js ${cliArgs(emuSpec(l)).join(' ')}   # in-process: runConfig()`,
      ...STRATEGIES.map((s) => `bench/build/twin ${twinArgs(cSpec(l, s)).join(' ')}`),
    ]),
    pages: P,
    rows,
    ratios,
    reps,
  };
}

/** emulator/C as a signed difference: 0.80 -> "-20 %". */
const fmtDifference = (x: number): string => `${x > 1 ? '+' : ''}${fmtPct(x - 1)}`;

function render(tw: TwinResult) {
  const targets: TargetRow[] = [];
  const mainTable = table(
    [
      'tlbi/sync ns',
      'strategy',
      'modelled SMMU',
      'C twin, mean in unmap',
      'emulator, mean in unmap',
      'C/emulator',
      'C p50',
      'emulator p50',
      'C/emulator p50',
      'C ns/command',
      'emulator ns/command',
      'target',
    ],
    tw.rows.map((r) => {
      const v = verdict(r.cOverEmu, r.target);
      if (r.target)
        targets.push([
          `7. ${r.strategy} at 100/1000: C twin / emulator, mean time in iommu_unmap >= 0.9`,
          cell(r.cOverEmu, fmtRatio),
          v,
        ]);
      return [
        r.latencies,
        r.strategy,
        fmtNs(r.modelledNs),
        cell(r.cUnmapNs, fmtNs),
        cell(r.emuUnmapNs, fmtNs),
        cell(r.cOverEmu, fmtRatio),
        cell(r.cP50Ns, fmtNs),
        cell(r.emuP50Ns, fmtNs),
        cell(r.cOverEmuP50, fmtRatio),
        cell(r.cNsPerCommand, fmtNs),
        cell(r.emuNsPerCommand, fmtNs),
        r.target ? `>= 0.9x: ${v}` : '',
      ];
    }),
    'llrrrrrrrrrl',
  );
  const ratioTable = table(
    [
      'tlbi/sync ns',
      'C twin per-page/batched',
      'emulator per-page/batched',
      'emulator/C',
      'difference',
      'target',
    ],
    tw.ratios.map((r) => {
      const v = verdict(r.emuOverC, r.target);
      if (r.target)
        targets.push([
          "7. per-page/batched unmap time at 100/1000 within 15 % of the C twin's (emulator/C 0.85-1.15)",
          cell(r.emuOverC, fmtRatio),
          v,
        ]);
      return [
        r.latencies,
        cell(r.cRatio, fmtRatio),
        cell(r.emuRatio, fmtRatio),
        cell(r.emuOverC, fmtRatio),
        cell(r.emuOverC, fmtDifference),
        r.target ? `0.85x-1.15x: ${v}` : '',
      ];
    }),
    'lrrrrl',
  );
  // Results files written before the floor existed (npm run bench -- --render-only) have none.
  const floorTable =
    tw.floors === undefined
      ? '_Not measured in this results file (the floor was added in session 10)._'
      : table(
          ['alone, in one thread', 'C twin', 'emulator', 'emulator/C'],
          tw.floors.map((f) => [f.what, cell(f.c, fmtNs), cell(f.emu, fmtNs), cell(f.emuOverC, fmtRatio)]),
          'lrrr',
        );
  const markdown = renderTemplate('twin', {
    commands: codeBlock([tw.gcc, ...tw.commands]),
    pages: tw.pages,
    table: mainTable,
    ratioTable,
    floorCommands: tw.floorCommands === undefined ? '' : codeBlock(tw.floorCommands),
    floorTable,
  });
  return { markdown, targets };
}

export const twin: BenchSection<TwinResult> = {
  name: 'twin',
  // It builds its own program (bench/twin.c), not bench/build/locks.
  needsC: false,
  byDefault: () => true,
  run,
  render,
};
