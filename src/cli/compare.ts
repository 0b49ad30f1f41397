// `tlbsync-emu compare A.json B.json [--fail-on-regression PCT]`: the comparison itself is
// src/report/compare-documents.ts. Exit 0; 1 with --fail-on-regression when a metric got worse
// beyond both the limit and the noise; 2 for bad input.
import type { Command } from 'commander';
import { UsageError } from '../config/parse.js';
import { compareDocs, formatCompare } from '../report/compare-documents.js';
import { loadResult } from '../report/result-file.js';
import { parseSubcommand, subcommandProgram, usageExit, type Out } from './subcommand.js';

function parsePct(raw: string): number {
  const s = raw.trim();
  if (!/^\d+(\.\d+)?%?$/.test(s))
    throw new UsageError(`--fail-on-regression: expected a percentage like 5 or 2.5, got "${raw}"`);
  const n = Number(s.replace(/%$/, ''));
  if (n > 1000) throw new UsageError(`--fail-on-regression: ${raw} is out of range (allowed: 0 to 1000)`);
  return n;
}

function buildCompareProgram(): Command {
  return subcommandProgram(
    'compare',
    'Compares two --json result files: for each run of A that B also has (same strategy and settings), ' +
      'each metric side by side with B/A, marked where the change exceeds the run-to-run noise of the files.',
  )
    .argument('<A.json>', 'the baseline result file')
    .argument('<B.json>', 'the result file to compare with it')
    .option(
      '--fail-on-regression <pct>',
      'exit 1 when a metric got worse (lower rate, higher wait or latency) by more than PCT percent and the noise',
    );
}

/** The compare subcommand; argv without "compare". Returns the exit code. */
export function compareMain(argv: readonly string[], stdout: Out, stderr: Out): number {
  const program = buildCompareProgram();
  const early = parseSubcommand(program, argv, stdout, stderr);
  if (early !== null) return early;
  try {
    const [pathA, pathB] = program.args;
    const raw = program.opts().failOnRegression as string | undefined;
    const pct = raw === undefined ? null : parsePct(raw);
    const a = loadResult(pathA, 'compare');
    const b = loadResult(pathB, 'compare');
    const res = compareDocs(a, b, pct);
    stdout.write(formatCompare(res, pathA, pathB, pct));
    return res.regressions.length > 0 ? 1 : 0;
  } catch (e) {
    return usageExit(e, stderr);
  }
}
