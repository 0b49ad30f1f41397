// --csv: the runs of a result document as one tidy table, one row per (point, strategy,
// repetition), for pandas (pd.read_csv) and R (read.csv). RFC 4180: a header row, CRLF line ends,
// fields quoted when they hold a comma, a double quote or a line break (quotes doubled). A value
// that was not measured (--stats counters, a lock the run does not have) is an empty field, which
// both read as missing (NaN / NA). Booleans are true / false. Numbers are written in full precision.
import { SWEEP_KEYS } from '../config/config.js';
import type { ResultDocument, RunReport } from './types.js';

/**
 * The settings a sweep can vary: always present, so files from different sweeps stack. The value
 * is the run's point value when swept, otherwise the document's config.
 */
export const CSV_PARAM_COLUMNS = SWEEP_KEYS;

type Cell = string | number | boolean | null | undefined;

export function csvField(v: Cell): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(cells: readonly Cell[]): string {
  return cells.map(csvField).join(',');
}

/** Lock classes in order of first appearance over all runs. */
function lockNames(runs: readonly RunReport[]): string[] {
  const names: string[] = [];
  for (const r of runs) for (const l of r.locks) if (!names.includes(l.name)) names.push(l.name);
  return names;
}

export function csvColumns(doc: ResultDocument): string[] {
  return [
    ...CSV_PARAM_COLUMNS,
    'strategy',
    'repetition',
    'unmapsPerSec',
    'pagesPerSec',
    'syncsPerUnmap',
    ...lockNames(doc.runs).flatMap((n) => [`${n}WaitTotalNs`, `${n}WaitP99Ns`]),
    'p99UnmapLatencyNs',
    'overheadNsPerCommand',
    'oversubscribed',
    'complete',
    'virtualParams',
  ];
}

/** A run's value of a sweepable setting: its point's value, or the document's config. */
export function runParam(doc: ResultDocument, r: RunReport, key: string): string | number | undefined {
  if (key === 'cpus') return r.cpus;
  // Files from before --engine ran threads; the seed means something only to the virtual engine.
  if (key === 'engine') return r.engine ?? 'threads';
  if (key === 'seed') return r.virtual?.seed;
  // The design the run used, whether swept, set by --cmdq or the strategy's default.
  if (key === 'cmdq') return r.cmdq;
  // Likewise the IOVA allocator (files from before --iova ran the rbtree).
  if (key === 'iova') return r.iova ?? 'rbtree';
  if (r.params && key in r.params) return r.params[key];
  const v = doc.config[key];
  return typeof v === 'string' || typeof v === 'number' ? v : undefined;
}

export function toCsv(doc: ResultDocument): string {
  const locks = lockNames(doc.runs);
  const rows = doc.runs.map((r) => {
    const lock = (n: string) => r.locks.find((l) => l.name === n);
    return [
      ...CSV_PARAM_COLUMNS.map((k) => runParam(doc, r, k)),
      r.strategy,
      r.repetition ?? 0,
      r.totals.unmapsPerSec,
      r.totals.pagesPerSec,
      r.syncsPerUnmap,
      ...locks.flatMap((n) => [lock(n)?.waitNs.total, lock(n)?.waitNs.p99]),
      r.unmapLatencyNs.p99,
      r.overhead?.nsPerCommand,
      r.oversubscribed,
      r.complete,
      // Every parameter of a virtual run, as compact JSON (json.loads / jsonlite::fromJSON).
      r.virtual ? JSON.stringify(r.virtual.params) : null,
    ];
  });
  return [csvLine(csvColumns(doc)), ...rows.map(csvLine)].map((l) => `${l}\r\n`).join('');
}
