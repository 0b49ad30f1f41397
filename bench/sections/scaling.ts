// Section 4, scaling: --cpus 1..64 x --wait spin|park|auto as child processes: unmaps/s, cmdq p99
// lock wait, wall time per run against its duration + 2 s, peak RSS; and Node's own start-up of
// as many idle workers as the largest runs have threads.
import { cliArgs, cliRun, cmdqLock, type RunSpec } from '../lib/emulator.js';
import { bareWorkersMs, type Timed } from '../lib/machine.js';
import { codeBlock, fmtMs, fmtSeconds, type TargetRow } from '../lib/markdown.js';
import { log } from '../lib/retry.js';
import { cell, fmtCount, fmtNs, fmtPct, summarize, table, type Summary } from '../lib/stats.js';
import { renderTemplate } from '../lib/template.js';
import type { BenchSection, RenderContext, RunContext } from './section.js';

const SCALING_CPUS = [1, 2, 4, 8, 16, 32, 64];
const WAITS = ['spin', 'park', 'auto'] as const;
/** Thread counts whose bare start-up the scaling section measures (the largest runs). */
const BARE_WORKERS = [SCALING_CPUS[SCALING_CPUS.length - 2] + 1, SCALING_CPUS[SCALING_CPUS.length - 1] + 1];

export interface ScalingSample {
  wallMs: number;
  metBudget: boolean;
  exit: string;
  outcome: string;
  unmapsPerSec: number | null;
  cmdqP99Ns: number | null;
  cmdqContention: number | null;
  maxRssKb: number | null;
  /** Process start to the measured window, minus the warm-up (null without JSON). */
  startMs: number | null;
  /** End of the window to process exit: the last iterations, shutdown, report, JSON. */
  afterMs: number | null;
  othersCores: number;
}

export interface ScalingRow {
  cpus: number;
  wait: string;
  oversubscribed: boolean;
  unmapsPerSec: Summary | null;
  cmdqP99Ns: Summary | null;
  cmdqContention: Summary | null;
  wallMs: Summary | null;
  /** Absent in results written before they were measured. */
  startMs?: Summary | null;
  afterMs?: Summary | null;
  /** Runs within budget, of `runs`. */
  met: number;
  runs: number;
  failures: string[];
  maxRssKb: Summary | null;
  othersCores: Summary | null;
}

export interface ScalingResult {
  commands: string[];
  budgetMs: number;
  rows: ScalingRow[];
  /** Absent in results written before this measurement existed. */
  bareWorkers?: { threads: number; ms: Summary | null }[];
  /** By "cpus/wait". */
  samples: Record<string, ScalingSample[]>;
}

async function run(ctx: RunContext): Promise<ScalingResult> {
  const t = ctx.timings;
  const cores = ctx.host.cores;
  const budgetMs = t.scalingWarmupMs + t.scalingMs + 2000;
  const key = (cpus: number, wait: string) => `${cpus}/${wait}`;
  const samples = new Map<string, ScalingSample[]>();
  const spec = (cpus: number, wait: (typeof WAITS)[number]): RunSpec => ({
    cpus,
    wait,
    strategies: ['batched'],
    durationMs: t.scalingMs,
    warmupMs: t.scalingWarmupMs,
  });
  const bare = new Map<number, Timed[]>(BARE_WORKERS.map((n) => [n, []]));
  // Not retried when noisy: these runs oversubscribe the host by design, and a retry of the
  // largest ones costs more than the whole rest of a quick bench.
  for (let rep = 0; rep < ctx.reps; rep++) {
    for (const n of BARE_WORKERS) bare.get(n)!.push(await bareWorkersMs(n));
    for (const cpus of SCALING_CPUS) {
      log(`scaling: repetition ${rep + 1}/${ctx.reps}, --cpus ${cpus}`);
      for (const wait of WAITS) {
        const run = await cliRun(cliArgs(spec(cpus, wait)), budgetMs + t.scalingKillAfterBudgetMs);
        const r = run.doc?.runs[0];
        const l = r ? cmdqLock(r) : null;
        const c = run.child;
        const stderrError = c.stderr
          .split('\n')
          .find((x) => /error|Error/.test(x))
          ?.trim();
        const s: ScalingSample = {
          wallMs: c.wallMs,
          metBudget: !c.timedOut && c.code === 0 && c.wallMs <= budgetMs,
          exit: c.timedOut
            ? `killed ${((budgetMs + t.scalingKillAfterBudgetMs) / 1000).toFixed(2)} s after spawn`
            : c.signal
              ? `signal ${c.signal}`
              : `exit ${c.code}`,
          outcome: (r
            ? `${r.outcome}${r.errors[0] ? `: ${r.errors[0]}` : ''}`
            : (stderrError ?? 'no JSON')
          ).slice(0, 240),
          unmapsPerSec: r?.totals.unmapsPerSec ?? null,
          cmdqP99Ns: l?.waitNs.p99 ?? null,
          cmdqContention: l && l.acquisitions > 0 ? l.contentions / l.acquisitions : null,
          maxRssKb: run.maxRssKb,
          startMs: r ? r.startup.processToMeasureMs - t.scalingWarmupMs : null,
          afterMs: r ? c.wallMs - r.startup.processToMeasureMs - t.scalingMs : null,
          othersCores: c.othersCores,
        };
        if (!samples.has(key(cpus, wait))) samples.set(key(cpus, wait), []);
        samples.get(key(cpus, wait))!.push(s);
      }
    }
  }
  const rows = SCALING_CPUS.flatMap((cpus) =>
    WAITS.map((wait): ScalingRow => {
      const ss = samples.get(key(cpus, wait)) ?? [];
      const oth = ss.map((s) => s.othersCores);
      const of = (k: 'unmapsPerSec' | 'cmdqP99Ns' | 'cmdqContention' | 'wallMs' | 'startMs' | 'afterMs') =>
        summarize(
          ss.map((s) => s[k]),
          oth,
        );
      return {
        cpus,
        wait,
        oversubscribed: cpus + 1 > cores,
        unmapsPerSec: of('unmapsPerSec'),
        cmdqP99Ns: of('cmdqP99Ns'),
        cmdqContention: of('cmdqContention'),
        wallMs: of('wallMs'),
        startMs: of('startMs'),
        afterMs: of('afterMs'),
        met: ss.filter((s) => s.metBudget).length,
        runs: ss.length,
        failures: ss
          .filter((s) => !s.metBudget)
          .map((s) => `${(s.wallMs / 1000).toFixed(1)} s, ${s.exit}, ${s.outcome}`),
        maxRssKb: summarize(ss.map((s) => s.maxRssKb)),
        othersCores: summarize(oth),
      };
    }),
  );
  return {
    commands: [
      `node dist/run.js ${cliArgs(spec(0, 'spin')).join(' ').replace('--cpus 0', '--cpus N').replace('--wait spin', '--wait W')} --json <tmp> -q`,
    ],
    budgetMs,
    rows,
    bareWorkers: BARE_WORKERS.map((n) => ({
      threads: n,
      ms: summarize(
        bare.get(n)!.map((x) => x.value),
        bare.get(n)!.map((x) => x.othersCores),
      ),
    })),
    samples: Object.fromEntries(samples),
  };
}

function render(sc: ScalingResult, ctx: RenderContext) {
  const met = sc.rows.reduce((a, r) => a + r.met, 0);
  const all = sc.rows.reduce((a, r) => a + r.runs, 0);
  const failures = sc.rows.flatMap((r) => r.failures.map((f) => `- --cpus ${r.cpus} --wait ${r.wait}: ${f}`));
  const bareWorkers = sc.bareWorkers
    ? renderTemplate('scaling-bare-workers', {
        list: sc.bareWorkers
          .map((b) => renderTemplate('scaling-bare-worker', { threads: b.threads, ms: cell(b.ms, fmtMs) }))
          .join('; '),
      })
    : '';
  const markdown = renderTemplate('scaling', {
    commands: codeBlock(sc.commands),
    budget: fmtSeconds(sc.budgetMs),
    cores: ctx.host.cores,
    bareWorkers,
    table: table(
      [
        'cpus',
        'threads',
        'wait',
        'unmaps/s',
        'cmdq p99 wait',
        'contention',
        'wall',
        'start-up',
        'after window',
        'within budget',
        'others',
      ],
      sc.rows.map((r) => [
        String(r.cpus),
        `${r.cpus + 1}${r.oversubscribed ? ' OVER' : ''}`,
        r.wait,
        cell(r.unmapsPerSec, fmtCount),
        cell(r.cmdqP99Ns, fmtNs),
        cell(r.cmdqContention, fmtPct),
        cell(r.wallMs, fmtSeconds),
        cell(r.startMs, fmtSeconds),
        cell(r.afterMs, fmtSeconds),
        `${r.met}/${r.runs}`,
        cell(r.othersCores, (x) => x.toFixed(2)),
      ]),
      'lrlrrrrrrrr',
    ),
    failures: failures.length > 0 ? renderTemplate('scaling-failures', { list: failures.join('\n') }) : '',
  });
  const targets: TargetRow[] = [
    [
      '4. every scaling run completes within duration + 2 s',
      `${met}/${all} runs`,
      met === all ? 'met' : 'MISSED',
    ],
  ];
  return { markdown, targets };
}

export const scaling: BenchSection<ScalingResult> = {
  name: 'scaling',
  needsC: false,
  byDefault: () => true,
  run,
  render,
};
