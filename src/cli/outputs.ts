// Writing a result document's files (--json, --csv, --report): the same for a run, a merge and a
// re-render. Each file is written whole or not at all (atomic rename).
import { resolve } from 'node:path';
import { UsageError } from '../config/parse.js';
import { checkWritable, writeFileAtomic } from '../report/atomic-write.js';
import { toCsv } from '../report/csv.js';
import { renderHtmlReport } from '../report/html.js';
import type { ResultDocument } from '../report/types.js';
import type { Out } from './subcommand.js';

export interface OutputPaths {
  readonly json?: string | null;
  readonly csv?: string | null;
  readonly report?: string | null;
}

/**
 * Checks now, before any work, that each output can be written, that no two share a file and that
 * none would overwrite one of the `inputs`.
 */
export function checkOutputs(cmd: string, paths: OutputPaths, inputs: readonly string[] = []): void {
  const given = Object.entries(paths).filter((e): e is [string, string] => typeof e[1] === 'string');
  for (const [flag, path] of given) {
    try {
      checkWritable(path);
    } catch (e) {
      const msg = (e as Error).message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
      throw new UsageError(`${cmd}: --${flag}: cannot write ${path}: ${msg}`);
    }
  }
  for (const [flag, path] of given)
    if (inputs.some((f) => resolve(f) === resolve(path)))
      throw new UsageError(`${cmd}: --${flag}: ${path} is an input file; give the output its own file`);
  for (const [i, [a, pa]] of given.entries())
    for (const [b, pb] of given.slice(i + 1))
      if (resolve(pa) === resolve(pb))
        throw new UsageError(`${cmd}: --${b}: ${pb} is also the --${a} file; give each output its own file`);
}

/**
 * Writes every output asked for. The HTML report can fail to render (a chart library error): that
 * is said on stderr and returned as false; the other files are written regardless.
 */
export async function writeOutputs(doc: ResultDocument, paths: OutputPaths, stderr: Out): Promise<boolean> {
  if (paths.json) writeFileAtomic(paths.json, `${JSON.stringify(doc, null, 2)}\n`);
  if (paths.csv) writeFileAtomic(paths.csv, toCsv(doc));
  if (!paths.report) return true;
  try {
    writeFileAtomic(paths.report, await renderHtmlReport(doc));
    return true;
  } catch (e) {
    const why = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    stderr.write(`tlbsync-emu: --report: ${paths.report} not written: ${why}\n`);
    return false;
  }
}
