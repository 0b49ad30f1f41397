// `tlbsync-emu report RESULTS.json [--report F] [--csv F]`: the terminal report, the HTML report and
// the CSV of a saved result, without running anything (for a merged sweep, or after an upgrade of
// the report itself).
import { loadResult } from '../report/result-file.js';
import { documentText } from '../report/document-text.js';
import { checkOutputs, writeOutputs } from './outputs.js';
import { parseSubcommand, subcommandProgram, usageExit, type Out } from './subcommand.js';

export async function reportMain(argv: readonly string[], stdout: Out, stderr: Out): Promise<number> {
  const program = subcommandProgram(
    'report',
    'Prints the report of a saved --json result file and renders its HTML report and CSV, running nothing.',
  )
    .argument('<RESULTS.json>', 'a --json result file (of a run or of merge)')
    .option('--report <file>', 'write the HTML report')
    .option('--csv <file>', 'write the runs as CSV')
    .option('-q, --quiet', 'do not print the report');
  const early = parseSubcommand(program, argv, stdout, stderr);
  if (early !== null) return early;
  const o = program.opts() as { csv?: string; report?: string; quiet?: boolean };
  try {
    checkOutputs('report', o, program.args);
    const doc = loadResult(program.args[0], 'report');
    if (!o.quiet) stdout.write(documentText(doc));
    return (await writeOutputs(doc, o, stderr)) ? 0 : 3;
  } catch (e) {
    return usageExit(e, stderr);
  }
}
