// Running, as a library: one configuration (runConfig) or a plan of points and repetitions
// (runInvocation), with the document, the terminal text and the outcome as the result. The CLI
// (src/cli/main.ts) is one caller; tests, the bench and embedding programs are others.
import type { Config, HostInfo } from '../config/config.js';
import {
  paramsLabel,
  SINGLE_RUN,
  sweepPoints,
  type Params,
  type Plan,
  type SweepAxis,
} from '../config/sweep.js';
import { writeFileAtomic } from '../report/atomic-write.js';
import { compareRuns } from '../report/compare-strategies.js';
import { documentText } from '../report/document-text.js';
import { SCHEMA_VERSION, type ResultDocument, type RunReport } from '../report/types.js';
import { collectTrace, traceDocument, type StrategyTrace } from '../trace/collect.js';
import { TOOL } from '../version.js';
import type { RunOutcome } from '../workload/orchestrator.js';
import type { Shard } from '../config/shard.js';
import { checkCombinations } from './combinations.js';
import { runLine } from './progress-line.js';
import { planHost, runPlan, type PlanDeps, type RunHooks } from './run-plan.js';

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
  shard: Shard | null = null,
): ResultDocument {
  return {
    schemaVersion: SCHEMA_VERSION,
    tool: { name: TOOL.name, version: TOOL.version },
    startedAt: startedAt.toISOString(),
    host: { ...host },
    config: { ...cfg },
    sweep: sweep ? { axes: sweep.map((a) => ({ name: a.key, values: [...a.values] })) } : null,
    repeat,
    shard: shard ? { index: shard.index + 1, count: shard.count } : null,
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
  plan: Pick<Plan, 'sweep' | 'repeat' | 'shard'>,
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
    plan.shard ?? null,
  );
  const text = documentText(doc, result.points.length);
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

/**
 * A sweep: every point of `axes` (the cross product; [] or null for the one base point), each
 * repeated `repeat` times, every strategy of `cfg` at each. Validates every point first as the CLI
 * does (UsageError on a contradiction).
 */
export async function runSweep(
  cfg: Config,
  axes: readonly SweepAxis[] | null,
  opts: { repeat?: number; shard?: Shard | null; log?: (s: string) => void; signal?: AbortSignal } = {},
): Promise<Invocation> {
  const sweep = axes && axes.length > 0 ? [...axes] : null;
  for (const p of sweepPoints(cfg, sweep)) checkCombinations(p.cfg);
  const shard = opts.shard ?? null;
  const log = opts.log ?? (() => {});
  return runInvocation(
    cfg,
    { sweep, repeat: opts.repeat ?? 1, shard },
    { runStart: (info) => log(runLine(info)), warn: log },
    opts.signal,
  );
}
