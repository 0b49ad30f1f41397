// Reading a saved --json result document back (compare, merge, report): any problem is one line
// naming the file and what is wrong with it.
import { readFileSync } from 'node:fs';
import { UsageError } from '../config/parse.js';
import { SCHEMA_VERSION, type ResultDocument } from './types.js';

/** Why a file could not be read, in a few words (Node's messages repeat the path). */
export function whyUnreadable(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT'
    ? 'no such file or directory'
    : code === 'EISDIR'
      ? 'it is a directory'
      : code === 'EACCES'
        ? 'permission denied'
        : (e as Error).message.split('\n')[0];
}

/** A --json result file, checked enough to use: any problem is a one-line UsageError prefixed by `cmd`. */
export function loadResult(path: string, cmd: string): ResultDocument {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`${cmd}: cannot read ${path}: ${whyUnreadable(e)}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${cmd}: ${path} is not JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  const d = doc as Partial<ResultDocument> | null;
  if (d === null || typeof d !== 'object' || Array.isArray(d) || !('schemaVersion' in d))
    throw new UsageError(`${cmd}: ${path} is not a tlbsync-emu result file (no schemaVersion)`);
  if (d.schemaVersion !== SCHEMA_VERSION)
    throw new UsageError(
      `${cmd}: ${path} has schemaVersion ${JSON.stringify(d.schemaVersion)}; this tlbsync-emu reads ${SCHEMA_VERSION}`,
    );
  if (!Array.isArray(d.runs) || typeof d.config !== 'object' || d.config === null)
    throw new UsageError(`${cmd}: ${path} is not a tlbsync-emu result file (no runs[] or config)`);
  d.runs.forEach((r, i) => {
    const ok =
      r !== null &&
      typeof r === 'object' &&
      typeof r.strategy === 'string' &&
      typeof r.cpus === 'number' &&
      typeof r.totals === 'object' &&
      r.totals !== null &&
      Array.isArray(r.locks) &&
      typeof r.unmapLatencyNs === 'object' &&
      r.unmapLatencyNs !== null;
    if (!ok) throw new UsageError(`${cmd}: ${path}: runs[${i}] is not a run report`);
    // Files from before --sweep and --repeat have neither field.
    r.params ??= {};
    r.repetition ??= 0;
  });
  return d as ResultDocument;
}
