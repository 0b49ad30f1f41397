// `tlbsync-emu merge A.json B.json ... [--json F] [--csv F] [--report F]`: one document from
// several (src/report/merge.ts), printed as a run would print it and written like a run's outputs.
import { loadResult } from '../report/result-file.js';
import { documentText } from '../report/document-text.js';
import { mergeDocs } from '../report/merge.js';
import { checkOutputs, writeOutputs } from './outputs.js';
import { parseSubcommand, subcommandProgram, usageExit, type Out } from './subcommand.js';

export async function mergeMain(argv: readonly string[], stdout: Out, stderr: Out): Promise<number> {
  const program = subcommandProgram(
    'merge',
    'Merges --json result files of one tool version and the same settings (e.g. the --shard slices of a ' +
      'sweep) into one document: refused with one line when versions or settings clash or runs overlap.',
  )
    .argument('<results...>', 'the --json result files, in any order')
    .option('--json <file>', 'write the merged document')
    .option('--csv <file>', 'write its runs as CSV')
    .option('--report <file>', 'write its HTML report')
    .option('-q, --quiet', 'do not print the merged report');
  const early = parseSubcommand(program, argv, stdout, stderr);
  if (early !== null) return early;
  const o = program.opts() as { json?: string; csv?: string; report?: string; quiet?: boolean };
  try {
    checkOutputs('merge', o, program.args);
    const doc = mergeDocs(program.args.map((file) => ({ file, doc: loadResult(file, 'merge') })));
    if (!o.quiet) stdout.write(documentText(doc));
    return (await writeOutputs(doc, o, stderr)) ? 0 : 3;
  } catch (e) {
    return usageExit(e, stderr);
  }
}
