// The invocation: parse, run the plan (every point of a --sweep, every repetition, every strategy,
// one run at a time; src/cli/sweep.ts), report, write files. `compare` is src/cli/compare.ts,
// `replay` src/cli/replay.ts.
// Exit codes: 0 done, 2 bad input, 3 a worker crashed or failed (or --report could not be
// rendered), 4 the watchdog ended a hung run, 5 the safety oracle saw a stale translation used
// (the runs otherwise completed), 130 interrupted by Ctrl-C. Whatever ended a run, what was
// measured is printed and written, marked incomplete. compare: 0, or 1 on a regression.
import type { Config, HostInfo } from '../config/config.js';
import { writeFileAtomic } from '../report/atomic-write.js';
import { compareRuns } from '../report/compare.js';
import { toCsv } from '../report/csv.js';
import { renderHtmlReport } from '../report/html.js';
import { fullReport } from '../report/text.js';
import { SCHEMA_VERSION, type ResultDocument, type RunReport } from '../report/types.js';
import { collectTrace, traceDocument, type StrategyTrace } from '../trace/collect.js';
import type { RunOutcome } from '../workload/orchestrator.js';
import { parseArgs } from './args.js';
import { compareMain } from './compare.js';
import { replayMain } from './replay.js';
import { Progress, progressMode, runLine } from './progress.js';
import { planHost, runPlan, type PlanDeps, type RunHooks } from './sweep.js';
import { paramsLabel, SINGLE_RUN, type Params, type Plan, type SweepAxis } from './sweep-spec.js';
import { sweepReport } from './sweep-report.js';
import { TOOL } from './version.js';

export const EXIT_OK = 0;
/** compare --fail-on-regression: a metric got worse beyond the limit and the noise. */
export const EXIT_REGRESSION = 1;
export const EXIT_USAGE = 2;
export const EXIT_RUN_FAILED = 3;
export const EXIT_HUNG = 4;
export const EXIT_INTERRUPTED = 130;
/** The safety oracle saw a stale translation used after its IOVA was reused. */
export const EXIT_UNSAFE = 5;

const EXIT_FOR: Record<RunOutcome, number> = {
  complete: EXIT_OK,
  crashed: EXIT_RUN_FAILED,
  failed: EXIT_RUN_FAILED,
  hung: EXIT_HUNG,
  interrupted: EXIT_INTERRUPTED,
};

/**
 * A run's command log: FILE.<strategy>.bin; in a sweep FILE.<point>.<strategy>.bin with the point
 * as in --sweep (FILE.cpus=2,pages=16.batched.bin); with --repeat N > 1, .rep<i> before .bin.
 */
export function cmdLogPath(
  base: string,
  strategy: string,
  params: Params = {},
  repetition = 0,
  repeat = 1,
): string {
  const point = Object.keys(params).length > 0 ? `.${paramsLabel(params, ',')}` : '';
  return `${base}${point}.${strategy}${repeat > 1 ? `.rep${repetition}` : ''}.bin`;
}

export function buildDocument(
  cfg: Config,
  host: HostInfo,
  startedAt: Date,
  runs: RunReport[],
  complete: boolean,
  sweep: readonly SweepAxis[] | null = null,
  repeat = 1,
): ResultDocument {
  return {
    schemaVersion: SCHEMA_VERSION,
    tool: { name: TOOL.name, version: TOOL.version },
    startedAt: startedAt.toISOString(),
    host: { ...host },
    config: { ...cfg },
    sweep: sweep ? { axes: sweep.map((a) => ({ name: a.key, values: [...a.values] })) } : null,
    repeat,
    complete,
    runs,
    comparison: compareRuns(runs),
  };
}

export interface Invocation {
  readonly doc: ResultDocument;
  readonly text: string;
  /** The first outcome that was not 'complete' (later runs are not made after it). */
  readonly outcome: RunOutcome;
}

/** Runs a plan and writes what belongs to each run (command logs) and to all of them (trace). */
export async function runInvocation(
  cfg: Config,
  plan: Pick<Plan, 'sweep' | 'repeat'>,
  hooks: RunHooks,
  signal?: AbortSignal,
  deps?: PlanDeps,
): Promise<Invocation> {
  const traces: StrategyTrace[] = [];
  const result = await runPlan(
    cfg,
    plan,
    {
      ...hooks,
      runEnd: (info, run, report) => {
        const c = info.cfg;
        if (c.cmdLog !== null && run.cmdLog)
          writeFileAtomic(
            cmdLogPath(c.cmdLog, info.strategy, info.params, info.repetition, info.repeat),
            run.cmdLog,
          );
        if (c.trace !== null) traces.push(collectTrace(run, c.traceWindowMs, traces.length + 1));
        hooks.runEnd?.(info, run, report);
      },
    },
    signal,
    deps,
  );
  const host = planHost(cfg, result.points);
  if (cfg.trace !== null && traces.length > 0)
    writeFileAtomic(cfg.trace, JSON.stringify(traceDocument(traces, { tool: TOOL, config: cfg, host })));
  const doc = buildDocument(
    cfg,
    host,
    result.startedAt,
    result.runs,
    result.outcome === 'complete' && result.runs.length === result.expected,
    plan.sweep,
    plan.repeat,
  );
  const text =
    plan.sweep !== null || plan.repeat > 1
      ? sweepReport(cfg, host, plan, result.points.length, result.runs)
      : fullReport(cfg, host, result.runs, doc.comparison);
  return { doc, text, outcome: result.outcome };
}

/** One configuration, every strategy once (what the tests and benchmarks call). */
export async function runConfig(
  cfg: Config,
  log: (s: string) => void,
  signal?: AbortSignal,
): Promise<Invocation> {
  return runInvocation(cfg, SINGLE_RUN, { runStart: (info) => log(runLine(info)), warn: log }, signal);
}

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

export async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'compare') return compareMain(argv.slice(1), process.stdout, process.stderr);
  if (argv[0] === 'replay') return replayMain(argv.slice(1), process.stdout, process.stderr);
  const parsed = parseArgs(argv);
  if (parsed.kind === 'exit') {
    (parsed.code === 0 ? process.stdout : process.stderr).write(parsed.output);
    return parsed.code;
  }
  const { config: cfg, plan } = parsed;
  const progress = new Progress(progressMode(cfg.quiet, process.stderr), process.stderr);
  // Ctrl-C: stop the run in progress, report and write what was measured, exit 130. A second
  // Ctrl-C leaves at once.
  const abort = new AbortController();
  const onSigint = (): void => {
    if (abort.signal.aborted) process.exit(EXIT_INTERRUPTED);
    progress.warn('tlbsync-emu: interrupted: stopping (Ctrl-C again to quit at once)');
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    let inv: Invocation;
    try {
      inv = await runInvocation(cfg, plan, progress, abort.signal);
    } finally {
      progress.done();
    }
    const { doc, text, outcome } = inv;
    if (!cfg.quiet) process.stdout.write(text);
    if (cfg.json !== null) writeFileAtomic(cfg.json, `${JSON.stringify(doc, null, 2)}\n`);
    if (plan.csv !== null) writeFileAtomic(plan.csv, toCsv(doc));
    let code = EXIT_FOR[outcome];
    if (plan.report !== null) {
      try {
        writeFileAtomic(plan.report, await renderHtmlReport(doc));
      } catch (e) {
        process.stderr.write(`tlbsync-emu: --report: ${plan.report} not written: ${oneLine(e)}\n`);
        if (code === EXIT_OK) code = EXIT_RUN_FAILED;
      }
    }
    if (outcome !== 'complete') {
      const errs = doc.runs.flatMap((r) => r.errors);
      process.stderr.write(`tlbsync-emu: run ${outcome}: ${errs[0] ?? outcome}\n`);
    }
    // An unsafe ordering is a result, not a failure of the tool, but it must not pass unnoticed
    // in a script: its own exit code, after any failure's.
    const unsafe = doc.runs.filter((r) => r.safety.staleTranslationUses > 0);
    if (unsafe.length > 0) {
      const v = unsafe[0].safety.firstViolation;
      process.stderr.write(
        `tlbsync-emu: SAFETY: stale translation uses in ${[...new Set(unsafe.map((r) => r.strategy))].join(', ')}` +
          (v ? ` (first: cpu ${v.cpu}, ASID ${v.asid}, IOVA ${v.iova})` : '') +
          '\n',
      );
      if (code === EXIT_OK) code = EXIT_UNSAFE;
    }
    return code;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
