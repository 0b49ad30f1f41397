// One line per run for logs, pipes and library callers: what runs, where in the plan, how long so far.
import { paramsLabel } from '../config/sweep.js';
import type { RunInfo } from './run-plan.js';

export function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** The line a run starts with when not on a terminal (the first form is the single-run one). */
export function runLine(info: RunInfo, elapsedMs?: number, etaMs?: number): string {
  const c = info.cfg;
  const what =
    `running ${info.strategy}: ${c.cpus} CPUs, ${c.durationMs} ms after ${c.warmupMs} ms warm-up` +
    (c.engine === 'virtual' ? ' (virtual time)' : '');
  if (info.total === c.strategies.length) return what;
  const where = [
    info.points > 1 ? `point ${info.point}/${info.points} ${paramsLabel(info.params)}` : '',
    info.repeat > 1 ? `rep ${info.repetition + 1}/${info.repeat}` : '',
  ].filter((s) => s !== '');
  const time =
    elapsedMs === undefined
      ? ''
      : ` (elapsed ${clock(elapsedMs)}${etaMs === undefined ? '' : `, ETA ${clock(etaMs)}`})`;
  return `[${info.index}/${info.total}] ${where.join(', ')}: ${what}${time}`;
}
