// Section 5, startup: process start to the first measured unmap at --cpus 8 (bench/startup-probe.ts
// as a child), the whole CLI invocation from outside, and peak RSS per CPU worker (from the
// scaling runs when that section ran first, else from runs of its own).
import { DEFAULTS } from '../../src/config/config.js';
import { runChild } from '../lib/child.js';
import { cliArgs, cliRun, type RunSpec } from '../lib/emulator.js';
import type { Timed } from '../lib/machine.js';
import { codeBlock, fmtMs, verdict, type Target, type TargetRow } from '../lib/markdown.js';
import { PROBE_JS } from '../lib/paths.js';
import { log } from '../lib/retry.js';
import { cell, slope, summarize, table, type Summary } from '../lib/stats.js';
import { renderTemplate } from '../lib/template.js';
import { scaling } from './scaling.js';
import type { BenchSection, RunContext } from './section.js';

interface ProbeResult {
  toMainMs: number;
  toPoolMs: number;
  toMeasureMs: number;
  toFirstUnmapMs: number | null;
  othersCores: number;
}

export interface StartupRep {
  warmup0: ProbeResult | null;
  warmupDefault: ProbeResult | null;
  cli: Timed;
}

export interface StartupResult {
  commands: string[];
  cpus: number;
  toMainMs: Summary | null;
  toPoolMs: Summary | null;
  toMeasureMs: Summary | null;
  toFirstUnmapMs: Summary | null;
  /** null in quick mode. */
  toFirstMeasuredUnmapDefaultWarmupMs: Summary | null;
  cliWallMs: Summary | null;
  target: Target;
  rss: { cpus: number; maxRssKb: Summary | null }[];
  perWorkerKb: number | null;
  reps: StartupRep[];
}

async function probeStartup(cpus: number, warmupMs: number): Promise<ProbeResult | null> {
  const c = await runChild(process.execPath, [PROBE_JS, String(cpus), String(warmupMs), '100'], {
    timeoutMs: 60_000,
  });
  const line = c.stdout.trim().split('\n').pop() ?? '';
  try {
    const p = JSON.parse(line) as {
      mainNs: number;
      poolNs: number;
      measureStartNs: number;
      firstUnmapNs: number | null;
    };
    return {
      toMainMs: (p.mainNs - c.spawnNs) / 1e6,
      toPoolMs: (p.poolNs - c.spawnNs) / 1e6,
      toMeasureMs: (p.measureStartNs - c.spawnNs) / 1e6,
      toFirstUnmapMs: p.firstUnmapNs === null ? null : (p.firstUnmapNs - c.spawnNs) / 1e6,
      othersCores: c.othersCores,
    };
  } catch {
    log(`startup probe failed: ${c.stderr.trim().slice(0, 300)}`);
    return null;
  }
}

async function run(ctx: RunContext): Promise<StartupResult> {
  const { quick, retry } = ctx;
  const cpus = 8;
  const cliSpec: RunSpec = { cpus, strategies: ['batched'], durationMs: 10, warmupMs: 0 };
  const reps: StartupRep[] = [];
  const NONE: ProbeResult = {
    toMainMs: NaN,
    toPoolMs: NaN,
    toMeasureMs: NaN,
    toFirstUnmapMs: null,
    othersCores: 9,
  };
  for (let rep = 0; rep < ctx.reps; rep++) {
    log(`startup: repetition ${rep + 1}/${ctx.reps}`);
    const warmup0 = await retry.quietest(async () => (await probeStartup(cpus, 0)) ?? NONE);
    const warmupDefault = quick
      ? null
      : await retry.quietest(async () => (await probeStartup(cpus, DEFAULTS.warmupMs)) ?? NONE);
    // From outside, with the real CLI: the whole invocation for a 10 ms window without warm-up.
    const cli = await retry.quietest(async () => {
      const r = await cliRun(cliArgs(cliSpec), 60_000);
      return { value: r.child.wallMs, othersCores: r.othersCores };
    });
    reps.push({ warmup0, warmupDefault, cli });
  }
  const pick = (k: 'warmup0' | 'warmupDefault', f: keyof ProbeResult) =>
    summarize(
      reps.map((r) => r[k]?.[f] ?? null),
      reps.map((r) => r[k]?.othersCores),
    );
  // Peak RSS by CPU count: from the scaling runs with --wait auto, or from runs of its own.
  const scalingRows = ctx.resultOf(scaling)?.rows ?? null;
  const rssCpus = [1, 2, 4, 8];
  const rss: StartupResult['rss'] = [];
  for (const c of rssCpus) {
    const fromScaling = scalingRows?.find((r) => r.cpus === c && r.wait === 'auto')?.maxRssKb;
    if (fromScaling) {
      rss.push({ cpus: c, maxRssKb: fromScaling });
      continue;
    }
    const xs: (number | null)[] = [];
    for (let rep = 0; rep < ctx.reps; rep++)
      xs.push(
        (await cliRun(cliArgs({ cpus: c, strategies: ['batched'], durationMs: 300, warmupMs: 50 }), 60_000))
          .maxRssKb,
      );
    rss.push({ cpus: c, maxRssKb: summarize(xs) });
  }
  const pts = rss.filter((r) => r.maxRssKb !== null);
  const perWorkerKb = slope(
    pts.map((r) => r.cpus),
    pts.map((r) => r.maxRssKb!.median),
  );
  return {
    commands: [
      `node dist/bench/startup-probe.js ${cpus} 0 100   # runStrategy() as runConfig() calls it; reads FIRST_UNMAP_NS`,
      ...(quick ? [] : [`node dist/bench/startup-probe.js ${cpus} ${DEFAULTS.warmupMs} 100`]),
      `node dist/run.js ${cliArgs(cliSpec).join(' ')} --json <tmp> -q   # the whole invocation, from outside`,
      `node dist/bench/rss-wrap.js dist/run.js ...   # peak RSS: process.resourceUsage().maxRSS at exit`,
    ],
    cpus,
    toMainMs: pick('warmup0', 'toMainMs'),
    toPoolMs: pick('warmup0', 'toPoolMs'),
    toMeasureMs: pick('warmup0', 'toMeasureMs'),
    toFirstUnmapMs: pick('warmup0', 'toFirstUnmapMs'),
    toFirstMeasuredUnmapDefaultWarmupMs: quick ? null : pick('warmupDefault', 'toFirstUnmapMs'),
    cliWallMs: summarize(
      reps.map((r) => r.cli.value),
      reps.map((r) => r.cli.othersCores),
    ),
    target: { what: 'process start to first measured unmap at --cpus 8 <= 500 ms (warm-up 0)', max: 500 },
    rss,
    perWorkerKb,
    reps,
  };
}

function render(su: StartupResult) {
  const v = verdict(su.toFirstUnmapMs, su.target);
  const milestones: string[][] = [
    ['probe module running (Node boot + imports)', cell(su.toMainMs, fmtMs)],
    [
      'CPU pool object made (its threads start with the first task, after the SMMU probe)',
      cell(su.toPoolMs, fmtMs),
    ],
    ['measured window opens (--warmup 0)', cell(su.toMeasureMs, fmtMs)],
    [`**first measured unmap (--warmup 0)**, target <= 500 ms: ${v}`, cell(su.toFirstUnmapMs, fmtMs)],
  ];
  if (su.toFirstMeasuredUnmapDefaultWarmupMs)
    milestones.push([
      `first measured unmap with the default --warmup ${DEFAULTS.warmupMs}ms`,
      cell(su.toFirstMeasuredUnmapDefaultWarmupMs, fmtMs),
    ]);
  milestones.push([
    'whole CLI invocation, --duration 10ms --warmup 0ms (incl. shutdown)',
    cell(su.cliWallMs, fmtMs),
  ]);
  const mib = (kb: number) => `${(kb / 1024).toFixed(1)} MiB`;
  const markdown = renderTemplate('startup', {
    commands: codeBlock(su.commands),
    cpus: su.cpus,
    milestones: table(['milestone', 'since spawn'], milestones),
    rssTable: table(
      ['--cpus', 'peak RSS (whole process)'],
      su.rss.map((r) => [String(r.cpus), cell(r.maxRssKb, mib)]),
    ),
    perWorker: su.perWorkerKb === null ? 'n/a' : mib(su.perWorkerKb),
  });
  const targets: TargetRow[] = [
    ['5. process start to first measured unmap, --cpus 8 <= 500 ms', cell(su.toFirstUnmapMs, fmtMs), v],
  ];
  return { markdown, targets };
}

export const startup: BenchSection<StartupResult> = {
  name: 'startup',
  needsC: false,
  byDefault: () => true,
  run,
  render,
};
