// Chart specs for the HTML report (html.ts renders them to SVG). Everything a chart shows comes
// from the ResultDocument: runs are grouped by (sweep point, strategy) and repetitions of one group
// are averaged (min and max kept for whiskers); nothing is interpolated or invented.
//
// The x axis of the "vs CPUs" charts is params.cpus when --sweep varies it, else the run's cpus.
// When every run has the same x (no sweep, or a sweep over something other than cpus) those charts
// become bar charts with one bar per series, labelled with its value, since a line through one
// point says nothing. A series is a strategy, plus the values of any swept axis other than cpus.
import type { TopLevelSpec } from 'vega-lite';
import type { ResultDocument, RunReport } from './types.js';

export interface Stat {
  mean: number;
  min: number;
  max: number;
}

export interface LockSummary {
  name: string;
  /** p99 of contended waits, ns, over the repetitions (null under --stats counters). */
  waitP99Ns: Stat | null;
  /** Contended waits pooled over the repetitions: histogram bucket lower bound (ns) -> count. */
  waitHistogram: Map<number, number>;
}

/** One (sweep point, strategy): its repetitions reduced to what the charts show. */
export interface PointSummary {
  series: string;
  /** The series without the engine: threads and virtual points of one configuration share it. */
  baseSeries: string;
  /** What ran the point (files from before --engine: threads). */
  engine: Engine;
  strategy: string;
  params: Record<string, string | number>;
  /** The x of the vs-CPU charts. */
  cpus: number;
  repetitions: number;
  /** Any repetition ran more threads than cores. */
  oversubscribed: boolean;
  /** Every repetition completed. */
  complete: boolean;
  unmapsPerSec: Stat;
  perCpuUnmapsPerSec: Stat;
  /** Mean of the modelled SMMU's bound (null when any repetition had none). */
  modelBoundUnmapsPerSec: number | null;
  /** Mean over repetitions, by opcode, as in RunReport.commandsPerUnmap. */
  commandsPerUnmap: Record<string, number>;
  syncsPerUnmap: number;
  locks: LockSummary[];
}

export interface Summary {
  points: PointSummary[];
  /** Series in the order their strategies appear in the document (the baseline first). */
  series: string[];
  /** Series without the engine (the colours of the vs-CPU charts), in the same order. */
  baseSeries: string[];
  /** The engines of the points, threads first. */
  engines: Engine[];
  /** Lock names in the order the runs report them. */
  locks: string[];
  /** Distinct x values, ascending. */
  xs: number[];
  /** Largest number of repetitions of any point. */
  maxRepetitions: number;
}

export interface ChartEntry {
  id: string;
  title: string;
  /** One sentence: how to read the chart. */
  caption: string;
  /** null when the document holds nothing to draw; reason says why. */
  spec: TopLevelSpec | null;
  reason?: string;
}

const HOST_DOMAIN = ['a core per thread', 'threads > cores'];
type Engine = 'threads' | 'virtual';
/** The legend of the engine: virtual points dashed and hollow (bars faded), threads solid. */
const ENGINE_DOMAIN: Engine[] = ['threads', 'virtual'];
const OPCODE_ORDER = ['TLBI_NH_VA', 'TLBI_NH_ASID', 'CMD_SYNC'];
const WIDTH = 600;
const HEIGHT = 300;

function stat(values: number[]): Stat {
  return {
    mean: values.reduce((s, v) => s + v, 0) / values.length,
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

export function xOf(run: RunReport): number {
  const p = run.params.cpus;
  if (typeof p === 'number') return p;
  if (typeof p === 'string' && p.trim() !== '' && Number.isFinite(Number(p))) return Number(p);
  return run.cpus;
}

export function seriesOf(run: RunReport, without: readonly string[] = ['cpus']): string {
  const rest = Object.entries(run.params).filter(([k]) => !without.includes(k));
  return rest.length === 0
    ? run.strategy
    : `${run.strategy} (${rest.map(([k, v]) => `${k}=${v}`).join(', ')})`;
}

function uniqueInOrder<T>(xs: Iterable<T>): T[] {
  return [...new Set(xs)];
}

export function summarize(doc: ResultDocument): Summary {
  const groups = new Map<string, RunReport[]>();
  for (const r of doc.runs) {
    const key = JSON.stringify([r.strategy, Object.entries(r.params).sort(([a], [b]) => a.localeCompare(b))]);
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  const strategyOrder = uniqueInOrder(doc.runs.map((r) => r.strategy));
  const points: PointSummary[] = [];
  for (const runs of groups.values()) {
    const first = runs[0];
    const lockNames = uniqueInOrder(runs.flatMap((r) => r.locks.map((l) => l.name)));
    const opcodes = uniqueInOrder(runs.flatMap((r) => Object.keys(r.commandsPerUnmap)));
    const bounds = runs.map((r) => r.modelBound.unmapsPerSec);
    points.push({
      series: seriesOf(first),
      baseSeries: seriesOf(first, ['cpus', 'engine']),
      engine: first.engine ?? 'threads',
      strategy: first.strategy,
      params: { ...first.params },
      cpus: xOf(first),
      repetitions: runs.length,
      oversubscribed: runs.some((r) => r.oversubscribed),
      complete: runs.every((r) => r.complete),
      unmapsPerSec: stat(runs.map((r) => r.totals.unmapsPerSec)),
      perCpuUnmapsPerSec: stat(runs.map((r) => r.totals.unmapsPerSec / r.cpus)),
      modelBoundUnmapsPerSec: bounds.every((b) => b !== null) ? stat(bounds as number[]).mean : null,
      commandsPerUnmap: Object.fromEntries(
        opcodes.map((op) => [op, stat(runs.map((r) => r.commandsPerUnmap[op] ?? 0)).mean]),
      ),
      syncsPerUnmap: stat(runs.map((r) => r.syncsPerUnmap)).mean,
      locks: lockNames.map((name) => {
        const ls = runs.map((r) => r.locks.find((l) => l.name === name));
        const p99s = ls.map((l) => l?.waitNs.p99 ?? null);
        const hist = new Map<number, number>();
        for (const l of ls) {
          if (!l) continue;
          l.waitHistogram.lowNs.forEach((low, i) =>
            hist.set(low, (hist.get(low) ?? 0) + l.waitHistogram.count[i]),
          );
        }
        return {
          name,
          waitP99Ns: p99s.every((p) => p !== null) ? stat(p99s as number[]) : null,
          waitHistogram: hist,
        };
      }),
    });
  }
  const seriesRank = (p: PointSummary): number => strategyOrder.indexOf(p.strategy);
  points.sort((a, b) => seriesRank(a) - seriesRank(b) || a.series.localeCompare(b.series) || a.cpus - b.cpus);
  return {
    points,
    series: uniqueInOrder(points.map((p) => p.series)),
    baseSeries: uniqueInOrder(points.map((p) => p.baseSeries)),
    engines: ENGINE_DOMAIN.filter((e) => points.some((p) => p.engine === e)),
    locks: uniqueInOrder(doc.runs.flatMap((r) => r.locks.map((l) => l.name))),
    xs: uniqueInOrder(points.map((p) => p.cpus)).sort((a, b) => a - b),
    maxRepetitions: Math.max(0, ...points.map((p) => p.repetitions)),
  };
}

// ---- shared pieces ----

const CONFIG = {
  font: 'DejaVu Sans, Liberation Sans, Arial, sans-serif',
  title: { fontSize: 15, anchor: 'start', offset: 12 },
  axis: { labelFontSize: 11, titleFontSize: 12, titlePadding: 8, gridColor: '#e6e6e6' },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 260 },
  header: { labelFontSize: 12, titleFontSize: 12 },
  view: { stroke: '#ccc' },
} as const;

function hostOf(p: PointSummary): string {
  return p.oversubscribed ? HOST_DOMAIN[1] : HOST_DOMAIN[0];
}

/** Log scale when every value is positive and they span at least a factor of `span`. */
function wantsLog(values: number[], span = 10): boolean {
  const v = values.filter((x) => Number.isFinite(x));
  return v.length > 0 && v.every((x) => x > 0) && Math.max(...v) / Math.min(...v) >= span;
}

function cpuAxisScale(xs: number[]): Record<string, unknown> {
  const log = xs[0] > 0 && xs[xs.length - 1] / xs[0] >= 4;
  return log
    ? { type: 'log', base: 2, domain: [xs[0], xs[xs.length - 1]], nice: false, padding: 16 }
    : { type: 'linear', domain: [xs[0], xs[xs.length - 1]], nice: false, zero: false, padding: 16 };
}

function labelAngle(labels: string[]): number {
  const total = labels.reduce((s, l) => s + l.length + 2, 0);
  return total * 7 > WIDTH * 0.9 ? -30 : 0;
}

function single(s: Summary): boolean {
  return s.xs.length <= 1;
}

function atCpus(s: Summary): string {
  return s.xs.length === 1 ? ` at ${s.xs[0]} CPU${s.xs[0] === 1 ? '' : 's'}` : '';
}

function repsNote(s: Summary): string {
  return s.maxRepetitions > 1
    ? ` (values are means of ${s.maxRepetitions} repetitions; whiskers span the slowest to the fastest)`
    : '';
}

interface XYRow {
  series: string;
  base: string;
  engine: Engine;
  cpus: number;
  host: string;
  value: number;
  min: number;
  max: number;
}

/**
 * A value per (point, series): a line per series over CPUs, or, with one x, a labelled bar per
 * series.
 */
function xyChart(
  s: Summary,
  rows: XYRow[],
  title: string,
  yTitle: string,
  yFormat: string,
  valueFormat: string,
): TopLevelSpec {
  // A strategy's colour is the same on both engines; the virtual engine's points are marked
  // (dashed and hollow, or faded bars) so that they overlay the threads engine's configuration.
  const color = {
    field: 'base',
    type: 'nominal',
    title: 'strategy',
    scale: { domain: s.baseSeries },
  } as const;
  const virtual = s.engines.includes('virtual');
  const engineLegend = {
    field: 'engine',
    type: 'nominal',
    title: 'engine',
    scale: { domain: ENGINE_DOMAIN },
  } as const;
  const whiskers =
    s.maxRepetitions > 1
      ? [
          {
            mark: { type: 'rule', strokeWidth: 1.5 },
            encoding: { y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' } },
          },
        ]
      : [];
  if (single(s)) {
    return {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      config: CONFIG,
      title,
      width: Math.max(320, Math.min(WIDTH, 140 * s.series.length)),
      height: HEIGHT,
      data: { values: rows },
      encoding: {
        x: {
          field: 'series',
          type: 'nominal',
          sort: s.series,
          axis: { title: 'strategy', labelAngle: labelAngle(s.series), labelLimit: 200 },
        },
        y: {
          field: 'value',
          type: 'quantitative',
          scale: { zero: true },
          axis: { title: yTitle, format: yFormat },
        },
      },
      layer: [
        {
          mark: { type: 'bar', width: { band: 0.6 } },
          encoding: {
            color: { ...color, legend: null },
            ...(virtual
              ? { opacity: { ...engineLegend, scale: { ...engineLegend.scale, range: [1, 0.4] } } }
              : {}),
          },
        },
        ...whiskers.map((w) => ({ ...w, mark: { ...w.mark, color: '#333' } })),
        {
          mark: { type: 'text', dy: -8, fontSize: 12, baseline: 'bottom' },
          encoding: {
            y: { field: 'max', type: 'quantitative' },
            text: { field: 'value', format: valueFormat },
          },
        },
      ],
    } as TopLevelSpec;
  }
  const log = wantsLog(rows.flatMap((r) => [r.min, r.max]));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: CONFIG,
    title,
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    encoding: {
      x: {
        field: 'cpus',
        type: 'quantitative',
        scale: cpuAxisScale(s.xs),
        axis: {
          title: `emulated CPUs${s.xs[s.xs.length - 1] / s.xs[0] >= 4 ? ' (log scale)' : ''}`,
          values: s.xs,
          format: 'd',
        },
      },
      y: {
        field: 'value',
        type: 'quantitative',
        scale: log ? { type: 'log' } : { zero: true },
        axis: { title: `${yTitle}${log ? ' (log scale)' : ''}`, format: log ? '~s' : yFormat },
      },
      color,
    },
    layer: [
      {
        mark: { type: 'line', strokeWidth: 2 },
        encoding: {
          detail: { field: 'series', type: 'nominal' },
          ...(virtual
            ? {
                strokeDash: {
                  ...engineLegend,
                  scale: {
                    ...engineLegend.scale,
                    range: [
                      [1, 0],
                      [6, 4],
                    ],
                  },
                },
              }
            : {}),
        },
      },
      ...whiskers,
      ...ENGINE_DOMAIN.filter((e) => s.engines.includes(e)).map((e) => ({
        transform: [{ filter: { field: 'engine', equal: e } }],
        mark: { type: 'point', filled: e === 'threads', strokeWidth: 2, size: 70, opacity: 1 },
        encoding: {
          shape: {
            field: 'host',
            type: 'nominal',
            title: 'host',
            scale: { domain: HOST_DOMAIN, range: ['circle', 'triangle-up'] },
          },
        },
      })),
    ],
  } as TopLevelSpec;
}

/** The captions' word on how the virtual engine's points are drawn (nothing without them). */
function engineNote(s: Summary): string {
  if (!s.engines.includes('virtual')) return '';
  return single(s)
    ? ' Faded bars are runs of the virtual-time engine (--engine virtual).'
    : ' Dashed lines and hollow points are runs of the virtual-time engine (--engine virtual), drawn over ' +
        "the threads engine's runs of the same configuration in the same colour.";
}

/** One row per (point, series) of a per-point statistic: its mean with min-max whiskers. */
function statRows(s: Summary, stat: (p: PointSummary) => Stat): XYRow[] {
  return s.points.map((p) => {
    const v = stat(p);
    return {
      series: p.series,
      base: p.baseSeries,
      engine: p.engine,
      cpus: p.cpus,
      host: hostOf(p),
      value: v.mean,
      min: v.min,
      max: v.max,
    };
  });
}

function throughputChart(s: Summary): ChartEntry {
  const rows = statRows(s, (p) => p.unmapsPerSec);
  const title = single(s) ? `Unmaps per second by strategy${atCpus(s)}` : 'Unmaps per second vs CPUs';
  return {
    id: 'throughput',
    title,
    caption: single(s)
      ? `Each bar is the total rate at which all CPUs together completed unmaps (each one a whole DMA buffer, ` +
        `its TLB invalidations and syncs); taller is better${repsNote(s)}.${engineNote(s)}`
      : `Each line is one strategy's total unmap rate (all CPUs together) as CPUs are added: a line that rises ` +
        `scales, a flat or falling line means the CPUs are queueing on a shared resource; triangles mark points ` +
        `where the emulator ran more threads than the host has cores${repsNote(s)}.${engineNote(s)}`,
    spec: xyChart(s, rows, title, 'unmaps/s, all CPUs', ',~r', ',.0f'),
  };
}

function perCpuChart(s: Summary): ChartEntry {
  const rows = statRows(s, (p) => p.perCpuUnmapsPerSec);
  const title = single(s) ? `Unmaps per second per CPU${atCpus(s)}` : 'Unmaps per second per CPU vs CPUs';
  return {
    id: 'per-cpu',
    title,
    caption: single(s)
      ? `Each bar is the strategy's unmap rate divided by its ${s.xs[0]} CPUs, what one CPU gets done; ` +
        `a sweep over CPU counts shows how it falls as CPUs are added${repsNote(s)}.${engineNote(s)}`
      : `Each line is the unmap rate one CPU achieves (total unmaps/s divided by CPUs): a flat line is perfect ` +
        `scaling, and a line falling as CPUs grow is the per-CPU map+unmap collapse Linux engineers measured ` +
        `under a contended SMMU command queue${repsNote(s)}.${engineNote(s)}`,
    spec: xyChart(s, rows, title, 'unmaps/s per CPU', ',~r', ',.0f'),
  };
}

/** Microseconds, or milliseconds when waits reach 10 ms (so tick labels stay short). */
function timeUnit(maxNs: number): { unit: string; ns: number } {
  return maxNs >= 1e7 ? { unit: 'ms', ns: 1e6 } : { unit: 'µs', ns: 1e3 };
}

function lockWaitChart(s: Summary): ChartEntry {
  const maxNs = Math.max(0, ...s.points.flatMap((p) => p.locks.map((l) => l.waitP99Ns?.max ?? 0)));
  const { unit, ns } = timeUnit(maxNs);
  const rows = s.points.flatMap((p) =>
    p.locks
      .filter((l) => l.waitP99Ns !== null)
      .map((l) => ({
        series: p.series,
        lock: l.name,
        cpus: p.cpus,
        host: hostOf(p),
        value: l.waitP99Ns!.mean / ns,
        min: l.waitP99Ns!.min / ns,
        max: l.waitP99Ns!.max / ns,
      })),
  );
  const title = single(s)
    ? `Lock wait p99 by lock and strategy${atCpus(s)}`
    : 'Lock wait p99 vs CPUs, per lock';
  const base: ChartEntry = {
    id: 'lock-wait-p99',
    title,
    caption: single(s)
      ? `Each bar is the 99th-percentile time a CPU waited for that lock when it found it taken (contended ` +
        `acquisitions only, as lockstat), so 0 means the lock was never contended${repsNote(s)}.`
      : `One panel per lock, each with its own wait scale: each line is the 99th-percentile time a CPU waited ` +
        `when it found the lock taken (contended acquisitions only, as lockstat), and a line climbing with CPUs ` +
        `is a lock whose queue grows with every CPU added${repsNote(s)}.`,
    spec: null,
  };
  if (rows.length === 0)
    return { ...base, reason: 'lock wait times were not recorded (--stats counters times nothing)' };
  const locks = s.locks.filter((n) => rows.some((r) => r.lock === n));
  const yTitle = `contended wait p99 (${unit})`;
  const color = { field: 'series', type: 'nominal', title: 'strategy', scale: { domain: s.series } } as const;
  const whiskers =
    s.maxRepetitions > 1
      ? [
          {
            mark: { type: 'rule', strokeWidth: 1.5, ...(single(s) ? { color: '#333' } : {}) },
            encoding: { y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' } },
          },
        ]
      : [];
  if (single(s)) {
    const spec = {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      config: CONFIG,
      title,
      width: Math.max(260, Math.min(WIDTH, 70 * s.series.length * locks.length)),
      height: HEIGHT,
      data: { values: rows },
      encoding: {
        x: { field: 'lock', type: 'nominal', sort: locks, axis: { title: 'lock', labelAngle: 0 } },
        xOffset: { field: 'series', type: 'nominal', sort: s.series },
        y: {
          field: 'value',
          type: 'quantitative',
          scale: { zero: true },
          axis: { title: yTitle, format: ',~r' },
        },
      },
      layer: [
        { mark: { type: 'bar' }, encoding: { color } },
        ...whiskers,
        {
          mark: { type: 'text', dy: -6, fontSize: 11, baseline: 'bottom' },
          encoding: { y: { field: 'max', type: 'quantitative' }, text: { field: 'value', format: ',.4~r' } },
        },
      ],
    };
    return { ...base, spec: spec as TopLevelSpec };
  }
  // One panel per lock, each with its own y scale (log when its waits span a factor of 10 or more;
  // a lock never contended gets a 0..1 axis and says so, rather than an axis of NaNs).
  const panel = (lock: string) => {
    const vals = rows.filter((r) => r.lock === lock).flatMap((r) => [r.min, r.max]);
    const never = vals.every((v) => v === 0);
    const top = rows.filter((r) => r.lock === lock).reduce((a, b) => (b.value > a.value ? b : a));
    const highest = `${Number(top.value.toPrecision(3)).toLocaleString('en-US')} ${unit} (${top.series}, ${top.cpus} CPU${top.cpus === 1 ? '' : 's'})`;
    const log = wantsLog(vals);
    return {
      title: {
        text: `${lock} lock`,
        fontSize: 13,
        anchor: 'middle',
        subtitle: never ? 'no contended waits at any point' : `highest: ${highest}`,
        subtitleColor: never ? '#a14f00' : '#555',
      },
      transform: [{ filter: { field: 'lock', equal: lock } }],
      width: locks.length === 1 ? WIDTH : 300,
      height: 240,
      encoding: {
        x: {
          field: 'cpus',
          type: 'quantitative',
          scale: cpuAxisScale(s.xs),
          axis: { title: 'emulated CPUs', values: s.xs, format: 'd' },
        },
        y: {
          field: 'value',
          type: 'quantitative',
          scale: never ? { domain: [0, 1] } : log ? { type: 'log' } : { zero: true },
          axis: { title: `${yTitle}${log ? ' (log scale)' : ''}`, format: log ? '~g' : ',~r' },
        },
        color,
      },
      layer: [
        { mark: { type: 'line', strokeWidth: 2 } },
        ...whiskers,
        {
          mark: { type: 'point', filled: true, size: 60, opacity: 1 },
          encoding: {
            shape: {
              field: 'host',
              type: 'nominal',
              title: 'host',
              scale: { domain: HOST_DOMAIN, range: ['circle', 'triangle-up'] },
            },
          },
        },
      ],
    };
  };
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: CONFIG,
    title,
    data: { values: rows },
    concat: locks.map(panel),
    columns: 2,
    spacing: 24,
  };
  return { ...base, spec: spec as TopLevelSpec };
}

/** Tick values for a log axis over [lo, hi]: powers of ten, with 2 and 5 in between on short ranges. */
function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  const steps = Math.log10(hi / lo) < 2 ? [1, 2, 5] : [1];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++)
    for (const m of steps) {
      const v = m * 10 ** e;
      if (v >= lo && v <= hi) out.push(Number(v.toPrecision(6)));
    }
  return out;
}

function histogramCharts(s: Summary): ChartEntry[] {
  // The emulator's buckets split each power of two into 16; the chart sums them back into
  // power-of-two bins (exact: no bucket straddles a power of two), the classic log2 latency
  // histogram. A bucket below 1 ns (only a 0 ns wait) joins the [1, 2) ns bin.
  const xMax = s.xs[s.xs.length - 1];
  const at = s.points.filter((p) => p.cpus === xMax);
  const where = s.xs.length > 1 ? ` at ${xMax} CPUs (the sweep's largest point)` : atCpus(s);
  return s.locks.map((lock) => {
    const rows: { series: string; lowUs: number; highUs: number; count: number }[] = [];
    const quiet: string[] = [];
    for (const p of at) {
      const h = p.locks.find((l) => l.name === lock)?.waitHistogram;
      const bins = new Map<number, number>();
      for (const [low, n] of h ?? []) {
        const k = low < 1 ? 0 : Math.floor(Math.log2(low));
        bins.set(k, (bins.get(k) ?? 0) + n);
      }
      if (bins.size === 0) quiet.push(p.series);
      for (const [k, n] of [...bins].sort((a, b) => a[0] - b[0]))
        rows.push({ series: p.series, lowUs: 2 ** k / 1000, highUs: 2 ** (k + 1) / 1000, count: n });
    }
    const title = `${lock} lock: contended wait-time histogram${where}`;
    const pooled = s.maxRepetitions > 1 ? `, pooled over ${s.maxRepetitions} repetitions` : '';
    const left =
      quiet.length > 0 && rows.length > 0
        ? `; ${quiet.join(', ')} had no contended waits on this lock and ${quiet.length === 1 ? 'is' : 'are'} left out`
        : '';
    const entry: ChartEntry = {
      id: `wait-histogram-${lock}`,
      title,
      caption:
        `One row per strategy: each bar counts the contended acquisitions of the ${lock} lock whose wait fell in ` +
        `that power-of-two time range (log x, shared by all rows; each row has its own count scale), so mass ` +
        `further right means longer waits${pooled}${left}.`,
      spec: null,
    };
    if (rows.length === 0)
      return { ...entry, reason: `no run recorded a contended wait on the ${lock} lock${where}` };
    const lo = Math.min(...rows.map((r) => r.lowUs));
    const hi = Math.max(...rows.map((r) => r.highUs));
    const series = s.series.filter((x) => rows.some((r) => r.series === x));
    const spec = {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      config: CONFIG,
      title,
      data: { values: rows },
      facet: {
        row: {
          field: 'series',
          type: 'nominal',
          sort: series,
          header: {
            title: null,
            labelAngle: 0,
            labelOrient: 'top',
            labelAnchor: 'start',
            labelFontWeight: 'bold',
            labelPadding: 4,
          },
        },
      },
      resolve: { scale: { y: 'independent' } },
      spacing: 14,
      spec: {
        width: WIDTH,
        height: 90,
        mark: { type: 'rect', stroke: 'white', strokeWidth: 0.5 },
        encoding: {
          x: {
            field: 'lowUs',
            type: 'quantitative',
            scale: { type: 'log', domain: [lo, hi], nice: false },
            axis: {
              title: 'contended wait time (µs or ms, log scale)',
              values: logTicks(lo, hi),
              labelExpr:
                "datum.value >= 1000 ? format(datum.value / 1000, '~g') + ' ms' : format(datum.value, '~g') + ' µs'",
            },
          },
          x2: { field: 'highUs' },
          y: {
            field: 'count',
            type: 'quantitative',
            scale: { zero: true },
            axis: { title: 'contended waits', tickCount: 3, tickMinStep: 1, format: ',d' },
          },
          y2: { datum: 0 },
          color: {
            field: 'series',
            type: 'nominal',
            scale: { domain: s.series },
            legend: null,
          },
        },
      },
    };
    return { ...entry, spec: spec as TopLevelSpec };
  });
}

function commandsChart(s: Summary): ChartEntry {
  const opcodes = uniqueInOrder([
    ...OPCODE_ORDER,
    ...s.points.flatMap((p) => Object.keys(p.commandsPerUnmap)),
  ]).filter((op) => s.points.some((p) => (p.commandsPerUnmap[op] ?? 0) > 0));
  const rows = s.points.flatMap((p) =>
    opcodes
      .filter((op) => (p.commandsPerUnmap[op] ?? 0) > 0)
      .map((op) => ({
        series: p.series,
        cpus: p.cpus,
        opcode: op,
        value: p.commandsPerUnmap[op],
      })),
  );
  const title = `Commands per unmap by opcode${atCpus(s)}`;
  const base: ChartEntry = {
    id: 'commands-per-unmap',
    title,
    caption:
      (single(s)
        ? 'Each bar is what the SMMU consumed per unmap under one strategy, stacked by command opcode, with the total on top'
        : 'One panel per strategy, a bar per CPU count: what the SMMU consumed per unmap, stacked by command opcode, with the total on top') +
      `: fewer CMD_SYNCs per unmap is what batching buys${s.maxRepetitions > 1 ? ' (means over repetitions)' : ''}.`,
    spec: null,
  };
  if (rows.length === 0)
    return { ...base, reason: 'no run completed an unmap, so there is nothing per unmap' };
  const color = {
    field: 'opcode',
    type: 'nominal',
    title: 'opcode',
    scale: { domain: opcodes, scheme: 'set2' },
  } as const;
  const layers = (groupby: string[]) => [
    { mark: { type: 'bar', width: { band: 0.7 } }, encoding: { color, order: { field: 'opcodeRank' } } },
    {
      transform: [{ aggregate: [{ op: 'sum', field: 'value', as: 'total' }], groupby }],
      mark: { type: 'text', dy: -4, baseline: 'bottom', fontSize: 10.5 },
      encoding: { y: { field: 'total', type: 'quantitative' }, text: { field: 'total', format: '.3~r' } },
    },
  ];
  const withRank = rows.map((r) => ({ ...r, opcodeRank: opcodes.indexOf(r.opcode) }));
  const yEnc = {
    field: 'value',
    type: 'quantitative',
    stack: 'zero',
    axis: { title: 'commands consumed per unmap', format: '~g' },
  };
  if (single(s)) {
    const spec = {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      config: CONFIG,
      title,
      width: Math.max(320, Math.min(WIDTH, 140 * s.series.length)),
      height: HEIGHT,
      data: { values: withRank },
      encoding: {
        x: {
          field: 'series',
          type: 'nominal',
          sort: s.series,
          axis: { title: 'strategy', labelAngle: labelAngle(s.series), labelLimit: 200 },
        },
        y: yEnc,
      },
      layer: layers(['series']),
    };
    return { ...base, spec: spec as TopLevelSpec };
  }
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: CONFIG,
    title,
    data: { values: withRank },
    facet: {
      field: 'series',
      type: 'nominal',
      sort: s.series,
      header: { title: null, labelFontSize: 13, labelFontWeight: 'bold' },
    },
    columns: Math.min(4, s.series.length),
    spec: {
      width: Math.max(140, 44 * s.xs.length),
      height: 220,
      encoding: {
        x: {
          field: 'cpus',
          type: 'ordinal',
          sort: s.xs,
          axis: { title: 'emulated CPUs', labelAngle: 0 },
        },
        y: yEnc,
      },
      layer: layers(['series', 'cpus']),
    },
  };
  return { ...base, spec: spec as TopLevelSpec };
}

/** Every chart of the report, in order. */
export function chartEntries(doc: ResultDocument): ChartEntry[] {
  const s = summarize(doc);
  if (s.points.length === 0) return [];
  return [throughputChart(s), perCpuChart(s), lockWaitChart(s), ...histogramCharts(s), commandsChart(s)];
}
