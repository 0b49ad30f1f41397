// Small pieces the section renderers share: code blocks, target verdicts, millisecond cells.
import type { Summary } from './stats.js';

/** A target as the results JSON records it: the figure's median must be >= min and <= max. */
export interface Target {
  what: string;
  min?: number;
  max?: number;
}

export type Verdict = 'met' | 'MISSED' | 'n/a';

export function verdict(s: Summary | null, t: Target | null): Verdict {
  if (!s || !t || (t.min === undefined && t.max === undefined)) return 'n/a';
  if (t.min !== undefined && !(s.median >= t.min)) return 'MISSED';
  if (t.max !== undefined && !(s.median <= t.max)) return 'MISSED';
  return 'met';
}

/** One row of the report's Targets table: target, measured, verdict. */
export type TargetRow = [string, string, string];

export const codeBlock = (lines: readonly string[]): string => ['```', ...lines, '```'].join('\n');

export const fmtMs = (x: number): string => `${x.toFixed(0)} ms`;

export const fmtSeconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
