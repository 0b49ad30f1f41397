// Two --json result documents side by side (`tlbsync-emu compare`, src/cli/compare.ts). Runs are matched on strategy and the effective settings that change results (IDENTITY_KEYS,
// with each run's sweep point applied), so a sweep matches a sweep point by point. Per matched run
// and metric: the median over repetitions in A and in B, the ratio B/A, and the run-to-run noise the
// files themselves show; a change beyond that noise is marked.
import { DEFAULTS } from '../config/config.js';
import { UsageError } from '../config/parse.js';
import { median, relativeSpread } from './compare-strategies.js';
import { formatTable, int, num, us } from './table.js';
import type { ResultDocument, RunReport } from './types.js';
import { paramsLabel } from '../config/sweep.js';

/** Settings two runs must share to be compared (besides the strategy). */
export const IDENTITY_KEYS = [
  // A virtual run is never matched with a threads run (files from before --engine ran threads).
  'engine',
  'cpus',
  'pages',
  'queueEntries',
  'tlbiNs',
  'syncNs',
  'mmioReadNs',
  'mmioWriteNs',
  'sev',
  'consPoll',
  'lock',
  'syncMode',
  'syncCoalesce',
  'wait',
  'domains',
  'iova',
  'cmdq',
  'iotlbEntries',
  'fqSize',
  'fqTimeoutMs',
  'dmaNs',
  'devices',
  'stats',
] as const;

/**
 * What a file that predates a setting ran with, where that is not the setting's default: the
 * rbtree allocator, free registers, a tight CONS poll. (IDR0.SEV then followed the host's wait
 * policy, which the file does not record per run: such files count as --sev on, the default.)
 * Other new settings default to the old behaviour.
 */
const PREDATED: Partial<Record<(typeof IDENTITY_KEYS)[number], unknown>> = {
  iova: 'rbtree',
  mmioReadNs: 0,
  mmioWriteNs: 0,
  consPoll: 'spin',
};

/** Changes smaller than this (relative) are float noise, never marked. */
const EPS = 1e-9;

export interface MetricDef {
  readonly name: string;
  readonly better: 'higher' | 'lower';
  readonly get: (r: RunReport) => number | null;
}

export function metricsFor(locks: readonly string[]): MetricDef[] {
  const lock = (r: RunReport, n: string) => r.locks.find((l) => l.name === n);
  return [
    { name: 'unmaps/s', better: 'higher', get: (r) => r.totals.unmapsPerSec },
    { name: 'pages/s', better: 'higher', get: (r) => r.totals.pagesPerSec },
    { name: 'syncs/unmap', better: 'lower', get: (r) => r.syncsPerUnmap },
    ...locks.flatMap((n): MetricDef[] => [
      {
        // Per second of measured window, so files with different --duration compare.
        name: `${n} wait total us/s`,
        better: 'lower',
        get: (r) => {
          const t = lock(r, n)?.waitNs.total;
          return t === null || t === undefined || r.durationMs <= 0 ? null : t / (r.durationMs / 1000);
        },
      },
      {
        name: `${n} wait p99 us`,
        better: 'lower',
        get: (r) => lock(r, n)?.waitNs.p99 ?? null,
      },
    ]),
    { name: 'unmap p99 us', better: 'lower', get: (r) => r.unmapLatencyNs.p99 },
  ];
}

export interface MetricRow {
  /** The matched run: strategy and sweep point. */
  readonly run: string;
  readonly metric: string;
  readonly better: 'higher' | 'lower';
  /** Medians over repetitions; null when not measured (--stats counters). */
  readonly a: number | null;
  readonly b: number | null;
  /** B / A (1 when both are 0; null when A is 0 and B is not, or either is missing). */
  readonly ratio: number | null;
  /** B / A - 1 (+-Infinity when A is 0 and B is not), null when not measured. */
  readonly change: number | null;
  /** The larger (max - min) / median over A's and B's repetitions; null when unknown. */
  readonly noise: number | null;
  readonly mark: '' | 'better' | 'worse';
  /** Worse beyond --fail-on-regression and beyond the noise. */
  readonly regression: boolean;
}

export interface CompareResult {
  readonly rows: MetricRow[];
  readonly matched: number;
  readonly onlyA: string[];
  readonly onlyB: string[];
  readonly repeatA: number;
  readonly repeatB: number;
  readonly regressions: MetricRow[];
}

type Identity = Record<string, unknown>;

export function runIdentity(doc: ResultDocument, r: RunReport): Identity {
  const id: Identity = {};
  for (const k of IDENTITY_KEYS)
    id[k] =
      k === 'cpus'
        ? r.cpus
        : k === 'engine'
          ? (r.engine ?? 'threads')
          : k === 'cmdq'
            ? r.cmdq
            : k === 'iova'
              ? (r.iova ?? PREDATED.iova)
              : r.params && k in r.params
                ? r.params[k]
                : (doc.config[k] ?? PREDATED[k] ?? DEFAULTS[k] ?? null);
  return id;
}

function runKey(doc: ResultDocument, r: RunReport): string {
  return `${r.strategy}\u0000${JSON.stringify(IDENTITY_KEYS.map((k) => runIdentity(doc, r)[k]))}`;
}

function runLabel(r: RunReport): string {
  return [r.strategy, paramsLabel(r.params ?? {})].filter((s) => s !== '').join(' ');
}

function groupByKey(doc: ResultDocument): Map<string, RunReport[]> {
  const m = new Map<string, RunReport[]>();
  for (const r of doc.runs) {
    const k = runKey(doc, r);
    const g = m.get(k);
    if (g) g.push(r);
    else m.set(k, [r]);
  }
  return m;
}

/** Why nothing matched, for the one-line error: the settings that differ, or the strategies. */
function whyNoMatch(a: ResultDocument, b: ResultDocument): string {
  if (a.runs.length === 0 || b.runs.length === 0) return `${a.runs.length === 0 ? 'A' : 'B'} has no runs`;
  const ra = a.runs[0];
  const rb = b.runs.find((r) => r.strategy === ra.strategy);
  if (!rb) {
    const sa = [...new Set(a.runs.map((r) => r.strategy))].join(',');
    const sb = [...new Set(b.runs.map((r) => r.strategy))].join(',');
    return `A ran ${sa}, B ran ${sb}`;
  }
  const ia = runIdentity(a, ra);
  const ib = runIdentity(b, rb);
  const diff = IDENTITY_KEYS.filter((k) => JSON.stringify(ia[k]) !== JSON.stringify(ib[k])).map(
    (k) => `${k} (${JSON.stringify(ia[k])} in A, ${JSON.stringify(ib[k])} in B)`,
  );
  return `they differ in ${diff.slice(0, 3).join(', ')}${diff.length > 3 ? ', ...' : ''}`;
}

export function compareDocs(
  a: ResultDocument,
  b: ResultDocument,
  failOnRegressionPct: number | null = null,
): CompareResult {
  const ga = groupByKey(a);
  const gb = groupByKey(b);
  const rows: MetricRow[] = [];
  let matched = 0;
  for (const [key, runsA] of ga) {
    const runsB = gb.get(key);
    if (!runsB) continue;
    matched++;
    const locks = [...new Set([...runsA, ...runsB].flatMap((r) => r.locks.map((l) => l.name)))];
    for (const m of metricsFor(locks)) {
      const va = runsA.map(m.get).filter((v): v is number => typeof v === 'number');
      const vb = runsB.map(m.get).filter((v): v is number => typeof v === 'number');
      const medA = median(va);
      const medB = median(vb);
      const spreads = [relativeSpread(va), relativeSpread(vb)].filter((s): s is number => s !== null);
      const noise = spreads.length > 0 ? Math.max(...spreads) : null;
      let ratio: number | null = null;
      let change: number | null = null;
      if (medA !== null && medB !== null) {
        if (medA === 0) {
          ratio = medB === 0 ? 1 : null;
          change = medB === 0 ? 0 : Math.sign(medB) * Infinity;
        } else {
          ratio = medB / medA;
          change = ratio - 1;
        }
      }
      const size = change === null ? 0 : Math.abs(change);
      const worse = change !== null && (m.better === 'higher' ? change < 0 : change > 0);
      const beyondNoise = noise !== null && size > noise + EPS;
      rows.push({
        run: runLabel(runsA[0]),
        metric: m.name,
        better: m.better,
        a: medA,
        b: medB,
        ratio,
        change,
        noise,
        mark: beyondNoise && size > EPS ? (worse ? 'worse' : 'better') : '',
        regression:
          failOnRegressionPct !== null &&
          worse &&
          size * 100 > failOnRegressionPct &&
          (noise === null || size > noise + EPS),
      });
    }
  }
  if (matched === 0) throw new UsageError(`compare: no run of A matches a run of B: ${whyNoMatch(a, b)}`);
  const labels = (from: Map<string, RunReport[]>, other: Map<string, RunReport[]>) =>
    [...from].filter(([k]) => !other.has(k)).map(([, rs]) => runLabel(rs[0]));
  return {
    rows,
    matched,
    onlyA: labels(ga, gb),
    onlyB: labels(gb, ga),
    repeatA: typeof a.repeat === 'number' ? a.repeat : 1,
    repeatB: typeof b.repeat === 'number' ? b.repeat : 1,
    regressions: rows.filter((r) => r.regression),
  };
}

/** Values as the terminal report shows them: rates whole, times in us, syncs/unmap with decimals. */
function fmtMetric(metric: string, v: number): string {
  if (/ us(\/s)?$/.test(metric)) return us(v);
  if (metric === 'syncs/unmap') return num(v, 3);
  return int(v);
}

function fmtNoise(n: number | null): string {
  if (n === null) return '?';
  return Number.isFinite(n) ? `±${(100 * n).toFixed(1)}%` : '±inf';
}

function fmtChange(c: number): string {
  if (!Number.isFinite(c)) return c > 0 ? '+inf' : '-inf';
  return `${c >= 0 ? '+' : ''}${(100 * c).toFixed(1)}%`;
}

export function formatCompare(
  res: CompareResult,
  pathA: string,
  pathB: string,
  failOnRegressionPct: number | null,
): string {
  let prev = '';
  const tableRows = res.rows.map((r) => {
    const f = (v: number) => fmtMetric(r.metric, v);
    const first = r.run !== prev;
    prev = r.run;
    return [
      first ? r.run : '',
      r.metric,
      r.a === null ? '-' : f(r.a),
      r.b === null ? '-' : f(r.b),
      r.ratio !== null ? `${r.ratio.toFixed(2)}x` : r.change !== null ? 'inf' : 'n/a',
      r.change === null ? '-' : fmtChange(r.change),
      fmtNoise(r.noise),
      r.regression ? 'WORSE (regression)' : r.mark,
    ];
  });
  const rep = (n: number) => `${n} repetition${n === 1 ? '' : 's'}`;
  const lines = [
    `A: ${pathA} (${rep(res.repeatA)})`,
    `B: ${pathB} (${rep(res.repeatB)})`,
    `${res.matched} matched run${res.matched === 1 ? '' : 's'} (same strategy and settings); values are medians over repetitions`,
    '',
    formatTable(['run', 'metric', 'A', 'B', 'B/A', 'change', 'noise', 'mark'], tableRows, [0, 1, 7]),
    '',
    "noise: the larger (max - min) / median of the metric over A's and over B's repetitions; a change beyond it is marked.",
  ];
  if (res.rows.some((r) => r.noise === null))
    lines.push(
      '?: a single repetition on both sides, so the noise is unknown and nothing is marked (run with --repeat 3 or more).',
    );
  if (res.onlyA.length > 0) lines.push(`only in A (not compared): ${res.onlyA.join('; ')}`);
  if (res.onlyB.length > 0) lines.push(`only in B (not compared): ${res.onlyB.join('; ')}`);
  if (failOnRegressionPct !== null)
    lines.push(
      res.regressions.length === 0
        ? `no regression beyond ${failOnRegressionPct}% and the noise`
        : `REGRESSION: ${res.regressions.length} metric${res.regressions.length === 1 ? '' : 's'} worse beyond ${failOnRegressionPct}% and the noise: ` +
            res.regressions.map((r) => `${r.run} ${r.metric} ${fmtChange(r.change ?? 0)}`).join('; '),
    );
  lines.push('');
  return lines.join('\n');
}
