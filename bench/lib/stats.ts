// Summaries of repeated measurements: every figure the bench reports is the median of its
// repetitions, shown with their min and max.

export interface Summary {
  /** Median of the samples (the lower middle one for an even count, so it is a real sample). */
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
  readonly samples: number[];
  /** Samples taken while other processes kept more than NOISY_CORES cores busy. */
  readonly noisy: number;
}

/** A sample taken while other processes kept more than this many cores busy is noisy. */
export const NOISY_CORES = 0.25;

const finite = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);

/**
 * null when no sample is a finite number. `others[i]` is the cores other processes kept busy
 * during sample i (a sample made of several measurements passes the largest).
 */
export function summarize(
  xs: readonly (number | null | undefined)[],
  others?: readonly (number | null | undefined)[],
): Summary | null {
  const idx = xs.map((_, i) => i).filter((i) => finite(xs[i]));
  if (idx.length === 0) return null;
  const s = idx.map((i) => xs[i] as number).sort((a, b) => a - b);
  return {
    median: s[(s.length - 1) >> 1],
    min: s[0],
    max: s[s.length - 1],
    n: s.length,
    samples: idx.map((i) => xs[i] as number),
    noisy: others ? idx.filter((i) => (others[i] ?? 0) > NOISY_CORES).length : 0,
  };
}

/** Least-squares slope of y over x (null with fewer than two distinct x). */
export function slope(xs: readonly number[], ys: readonly number[]): number | null {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return null;
  const mx = xs.slice(0, n).reduce((a, b) => a + b, 0) / n;
  const my = ys.slice(0, n).reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? null : num / den;
}

// ---- formatting ------------------------------------------------------------------------------

/** 1234567 -> "1.23 M", 12345 -> "12.3 k", 12.3 -> "12.3". */
export function fmtCount(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return 'n/a';
  const a = Math.abs(x);
  if (a >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (a >= 1e4) return `${(x / 1e3).toFixed(1)} k`;
  if (a >= 1e3) return `${(x / 1e3).toFixed(2)} k`;
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

/** Nanoseconds with a unit that keeps 3 significant digits. */
export function fmtNs(ns: number | null | undefined): string {
  if (ns === null || ns === undefined || !Number.isFinite(ns)) return 'n/a';
  const a = Math.abs(ns);
  if (a >= 1e9) return `${(ns / 1e9).toFixed(2)} s`;
  if (a >= 1e6) return `${(ns / 1e6).toFixed(a >= 1e8 ? 0 : a >= 1e7 ? 1 : 2)} ms`;
  if (a >= 1e3) return `${(ns / 1e3).toFixed(a >= 1e5 ? 0 : a >= 1e4 ? 1 : 2)} µs`;
  return `${ns.toFixed(a >= 100 ? 0 : 1)} ns`;
}

export function fmtRatio(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return 'n/a';
  if (x >= 100) return `${x.toFixed(0)}x`;
  if (x >= 10) return `${x.toFixed(1)}x`;
  if (x >= 0.01) return `${x.toFixed(2)}x`;
  return `${x.toExponential(1)}x`;
}

export function fmtPct(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return 'n/a';
  return `${(x * 100).toFixed(Math.abs(x) >= 0.1 ? 0 : 1)} %`;
}

/**
 * "median (min–max)" with a formatter, and "*" when some sample was noisy; "n/a" without samples
 * (or for a figure that results written by an older bench do not have).
 */
export function cell(s: Summary | null | undefined, fmt: (x: number) => string): string {
  if (s === null || s === undefined) return 'n/a';
  const mark = s.noisy > 0 ? ' *' : '';
  if (s.n === 1) return `${fmt(s.median)}${mark}`;
  return `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})${mark}`;
}

/** The bench's Markdown tables are the tool's own (src/report/table.ts). */
export { markdownTable as table } from '../../src/report/table.js';
