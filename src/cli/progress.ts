// Progress on stderr while a plan runs. On a terminal: one bar, redrawn in place (run i of n,
// point i of n, elapsed, ETA). Otherwise (a pipe, a log file, CI): one plain line as each run
// starts and "measuring <strategy>" once its measured window holds an unmap. With
// --quiet: nothing but errors. Diagnostics from the orchestrator go through warn(), which moves the
// bar out of the way.
import type { RunHooks, RunInfo } from '../run/run-plan.js';
import { paramsLabel } from '../config/sweep.js';
import { clock, runLine } from '../run/progress-line.js';

export type ProgressMode = 'bar' | 'lines' | 'quiet';

export interface ProgressStream {
  write(s: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Start-up and tear-down around each measured window (SMMU worker, bring-up, stop), a guess. */
const RUN_OVERHEAD_MS = 400;
const REDRAW_MS = 250;
/** Off a terminal, a virtual run's progress line at most this often. */
const LINE_EVERY_MS = 5000;
const BAR_WIDTH = 24;

export function progressMode(quiet: boolean, stream: ProgressStream, env = process.env): ProgressMode {
  if (quiet) return 'quiet';
  return stream.isTTY === true && env.TERM !== 'dumb' ? 'bar' : 'lines';
}

export class Progress implements RunHooks {
  private readonly t0: number;
  private current: RunInfo | null = null;
  private runStartedAt = 0;
  private finished = 0;
  private finishedMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private shown = false;
  /** --engine virtual: the virtual time the current run has reached (ns), and when it was drawn. */
  private virtualNs: number | null = null;
  /**
   * ... and the events it simulates per second of wall time, since its first report (the run's
   * set-up before it is not the engine's speed); null until a second report.
   */
  private eventsPerSec: number | null = null;
  private firstReport: { readonly at: number; readonly events: number } | null = null;
  private drawnAt = 0;

  constructor(
    private readonly mode: ProgressMode,
    private readonly stream: ProgressStream,
    private readonly now: () => number = Date.now,
  ) {
    this.t0 = now();
  }

  readonly runStart = (info: RunInfo): void => {
    this.current = info;
    this.runStartedAt = this.now();
    this.virtualNs = null;
    this.eventsPerSec = null;
    this.firstReport = null;
    if (this.mode === 'lines') {
      const elapsed = this.now() - this.t0;
      this.stream.write(
        `${runLine(info, info.total > info.cfg.strategies.length ? elapsed : undefined, this.eta())}\n`,
      );
    } else if (this.mode === 'bar') {
      this.draw();
      if (this.timer === null) {
        this.timer = setInterval(() => this.draw(), REDRAW_MS);
        this.timer.unref();
      }
    }
  };

  /**
   * A virtual run gives the event loop a turn only between its slices, so the timer may lag: the
   * bar is also redrawn from here, at most every REDRAW_MS of wall-clock time.
   */
  readonly virtualProgress = (info: RunInfo, virtualNs: number, events = 0): void => {
    this.virtualNs = virtualNs;
    const now = this.now();
    const first = (this.firstReport ??= { at: now, events });
    if (now > first.at) this.eventsPerSec = ((events - first.events) * 1000) / (now - first.at);
    if (this.mode === 'bar' && now - this.drawnAt >= REDRAW_MS) this.draw();
    // Off a terminal, a long virtual run says how far it is now and then.
    if (this.mode === 'lines' && now - Math.max(this.runStartedAt, this.drawnAt) >= LINE_EVERY_MS) {
      this.stream.write(
        `virtual time ${(virtualNs / 1e6).toFixed(2)} of ${info.cfg.warmupMs + info.cfg.durationMs} ms ` +
          `(${[info.strategy, eventRate(this.eventsPerSec)].filter((s) => s !== '').join(', ')})\n`,
      );
      this.drawnAt = now;
    }
  };

  /** Off a terminal: a line once the measured window holds an unmap, which scripts can wait for. */
  readonly measureStart = (info: RunInfo): void => {
    if (this.mode === 'lines') this.stream.write(`measuring ${info.strategy}\n`);
  };

  readonly runEnd = (): void => {
    this.finished++;
    this.finishedMs += this.now() - this.runStartedAt;
    this.current = null;
    if (this.mode === 'bar') this.draw();
  };

  readonly warn = (line: string): void => {
    if (this.mode === 'quiet' && !line.startsWith('tlbsync-emu:')) return;
    this.clear();
    this.stream.write(`${line}\n`);
    if (this.mode === 'bar' && this.current) this.draw();
  };

  /** Stops redrawing and removes the bar (the report follows). */
  done(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.clear();
  }

  /** Estimated ms until the plan ends, from the runs finished so far (or the configured times). */
  eta(): number | undefined {
    const info = this.current;
    if (!info) return undefined;
    const perRun =
      this.finished > 0
        ? this.finishedMs / this.finished
        : info.cfg.warmupMs + info.cfg.durationMs + RUN_OVERHEAD_MS;
    const inRun = this.now() - this.runStartedAt;
    return Math.max(0, (info.total - this.finished) * perRun - inRun);
  }

  /** The bar's text (exported for tests through render()). */
  render(width = this.stream.columns || 100): string {
    const info = this.current;
    const now = this.now();
    if (!info) return '';
    const perRun = info.cfg.warmupMs + info.cfg.durationMs + RUN_OVERHEAD_MS;
    const done =
      this.virtualNs === null
        ? (now - this.runStartedAt) / perRun
        : this.virtualNs / ((info.cfg.warmupMs + info.cfg.durationMs) * 1e6);
    const inRun = Math.min(0.99, done);
    const frac = Math.min(1, (this.finished + inRun) / info.total);
    const filled = Math.round(frac * BAR_WIDTH);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`;
    const parts = [
      `${bar} run ${info.index}/${info.total}`,
      info.points > 1 ? `point ${info.point}/${info.points} ${paramsLabel(info.params)}` : '',
      `${info.strategy}${info.repeat > 1 ? ` rep ${info.repetition + 1}/${info.repeat}` : ''}`,
      this.virtualNs === null
        ? ''
        : `virtual ${(this.virtualNs / 1e6).toFixed(2)}/${info.cfg.warmupMs + info.cfg.durationMs} ms` +
          (this.eventsPerSec === null ? '' : `, ${eventRate(this.eventsPerSec)}`),
      `${clock(now - this.t0)} elapsed`,
      `ETA ${clock(this.eta() ?? 0)}`,
    ].filter((s) => s !== '');
    const line = parts.join(' | ');
    return line.length >= width ? line.slice(0, Math.max(0, width - 1)) : line;
  }

  private draw(): void {
    if (this.mode !== 'bar' || !this.current) return;
    this.stream.write(`\r\x1b[2K${this.render()}`);
    this.shown = true;
    this.drawnAt = this.now();
  }

  private clear(): void {
    if (!this.shown) return;
    this.stream.write('\r\x1b[2K');
    this.shown = false;
  }
}

/** Simulated events per second of wall time, e.g. `2.41M events/s` ('' before it is known). */
function eventRate(perSec: number | null): string {
  if (perSec === null) return '';
  return perSec >= 1e6 ? `${(perSec / 1e6).toFixed(2)}M events/s` : `${Math.round(perSec / 1e3)}k events/s`;
}
