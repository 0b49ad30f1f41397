// `tlbsync-emu compare A.json B.json [--fail-on-regression PCT]`: the comparison itself is
// src/report/compare-documents.ts. Exit 0; 1 with --fail-on-regression when a metric got worse
// beyond both the limit and the noise; 2 for bad input.
import { Command, CommanderError } from 'commander';
import { UsageError } from '../config/parse.js';
import { compareDocs, formatCompare } from '../report/compare-documents.js';
import { loadResult } from '../report/result-file.js';
import { commanderMessage } from './args.js';

function parsePct(raw: string): number {
  const s = raw.trim();
  if (!/^\d+(\.\d+)?%?$/.test(s))
    throw new UsageError(`--fail-on-regression: expected a percentage like 5 or 2.5, got "${raw}"`);
  const n = Number(s.replace(/%$/, ''));
  if (n > 1000) throw new UsageError(`--fail-on-regression: ${raw} is out of range (allowed: 0 to 1000)`);
  return n;
}

function buildCompareProgram(): Command {
  return new Command()
    .name('tlbsync-emu compare')
    .description(
      'Compares two --json result files: for each run of A that B also has (same strategy and settings), ' +
        'each metric side by side with B/A, marked where the change exceeds the run-to-run noise of the files.',
    )
    .argument('<A.json>', 'the baseline result file')
    .argument('<B.json>', 'the result file to compare with it')
    .option(
      '--fail-on-regression <pct>',
      'exit 1 when a metric got worse (lower rate, higher wait or latency) by more than PCT percent and the noise',
    )
    .helpOption('-h, --help', 'show this help')
    .exitOverride()
    .configureHelp({ helpWidth: 120 })
    .allowExcessArguments(false);
}

export interface Out {
  write(s: string): unknown;
}

/** The compare subcommand; argv without "compare". Returns the exit code. */
export function compareMain(argv: readonly string[], stdout: Out, stderr: Out): number {
  const program = buildCompareProgram();
  let printed = '';
  program.configureOutput({ writeOut: (s) => (printed += s), writeErr: () => {} });
  try {
    program.parse([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed') {
        stdout.write(printed);
        return 0;
      }
      stderr.write(`tlbsync-emu: compare: ${commanderMessage(e)} (see tlbsync-emu compare --help)\n`);
      return 2;
    }
    throw e;
  }
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
    if (e instanceof UsageError) {
      stderr.write(`tlbsync-emu: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
