// The invocation: parse, run the plan (every point of a --sweep, every repetition, every strategy,
// one run at a time; src/run/), report, write files. `compare` is src/cli/compare.ts,
// `replay` src/cli/replay.ts, `calibrate` src/cli/calibrate.ts.
// Exit codes: 0 done, 2 bad input, 3 a worker crashed or failed (or --report could not be
// rendered), 4 the watchdog ended a hung run, 5 the safety oracle saw a stale translation used
// (the runs otherwise completed), 130 interrupted by Ctrl-C. Whatever ended a run, what was
// measured is printed and written, marked incomplete. compare: 0, or 1 on a regression. merge and
// report (src/cli/merge.ts, report.ts) work on saved result files: 0, or 2 for bad input.
import { runInvocation, type Invocation } from '../run/invocation.js';
import type { RunOutcome } from '../workload/orchestrator.js';
import { parseArgs } from './args.js';
import { calibrateMain } from './calibrate.js';
import { compareMain } from './compare.js';
import { mergeMain } from './merge.js';
import { writeOutputs } from './outputs.js';
import { replayMain } from './replay.js';
import { reportMain } from './report.js';
import { Progress, progressMode } from './progress.js';

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

export async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'compare') return compareMain(argv.slice(1), process.stdout, process.stderr);
  if (argv[0] === 'merge') return mergeMain(argv.slice(1), process.stdout, process.stderr);
  if (argv[0] === 'report') return reportMain(argv.slice(1), process.stdout, process.stderr);
  if (argv[0] === 'replay') return replayMain(argv.slice(1), process.stdout, process.stderr);
  if (argv[0] === 'calibrate') return calibrateMain(argv.slice(1), process.stdout, process.stderr);
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
    let code = EXIT_FOR[outcome];
    const written = await writeOutputs(
      doc,
      { json: cfg.json, csv: plan.csv, report: plan.report },
      process.stderr,
    );
    if (!written && code === EXIT_OK) code = EXIT_RUN_FAILED;
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
