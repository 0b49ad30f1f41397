// Small pieces the section renderers share: code blocks, target verdicts, millisecond cells.
import type { Summary } from './stats.js';

/** A target as the results JSON records it: the figure's median must be >= min or <= max. */
export interface Target {
  what: string;
  min?: number;
  max?: number;
}

export type Verdict = 'met' | 'MISSED' | 'n/a';

export function verdict(s: Summary | null, t: Target | null): Verdict {
  if (!s || !t) return 'n/a';
  if (t.min !== undefined) return s.median >= t.min ? 'met' : 'MISSED';
  if (t.max !== undefined) return s.median <= t.max ? 'met' : 'MISSED';
  return 'n/a';
}

/** One row of the report's Targets table: target, measured, verdict. */
export type TargetRow = [string, string, string];

export const codeBlock = (lines: readonly string[]): string => ['```', ...lines, '```'].join('\n');

export const fmtMs = (x: number): string => `${x.toFixed(0)} ms`;

export const fmtSeconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
