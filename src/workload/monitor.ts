// The orchestrator's monitor: the parts of a run no CPU plays (the GERROR interrupt handler, the
// watchdog, SMMU stalls timed from outside, the "measuring" marker), woken only when one of them
// has something to do. On a host with as many busy threads as cores every wake of the main thread
// preempts a CPU or the SMMU mid-command and shows up in the unmap latencies; a 5 ms poll did that
// 200 times a second. So the thread sleeps on:
// - GERROR itself (Atomics.waitAsync): the SMMU writes it through RegisterFile.write32(), which
//   notifies, so a CMDQ error is handled as soon as it is raised, as by Linux's error IRQ;
// - a timer for the next edge of an --inject stall window and for the end of the phase;
// - the watchdog's tick, WATCHDOG_TICKS per --watchdog (at most TICK_MAX_MS apart);
// - at the opening of the measured window, a short poll (doubling from FIRST_POLL_MS) until the
//   window holds an unmap, so the marker a script waits for comes promptly.
import type { Config } from '../config/config.js';
import type { Injection } from '../config/inject.js';
import { cpuStateIdx, CpuState, Ctl, ctlIdx, regIdx, type Layout } from '../hardware/layout.js';
import type { RegisterFile } from '../hardware/regfile.js';
import { activeCmdqError } from '../driver/cmdq-skip-err.js';
import { storeAndWake } from '../concurrency/wait.js';

/** The watchdog looks this many times per --watchdog: a hang is declared at most 1/20 late. */
const WATCHDOG_TICKS = 20;
/** ... but at least this often, so that a long --watchdog does not leave the progress count stale. */
const TICK_MAX_MS = 250;
/** The first poll for the "measuring" marker after the window opens; doubles up to the tick. */
const FIRST_POLL_MS = 5;

export interface MonitorHooks {
  /** GERROR.CMDQ_ERR is active (Linux's arm_smmu_cmdq_skip_err()); `gerror` as read. */
  readonly cmdqError: (gerror: number) => void;
  /** No CPU completed an unmap for --watchdog: end the run. */
  readonly hung: () => void;
  /** The measured window holds an unmap begun in it (RunControl.measuring). */
  readonly measuring?: () => void;
}

type StallInjection = Extract<Injection, { kind: 'stall' }>;

/** The watchdog's period for a --watchdog of `watchdogMs` (100 ms and up). */
export const watchdogTickMs = (watchdogMs: number): number =>
  Math.min(TICK_MAX_MS, Math.max(FIRST_POLL_MS, watchdogMs / WATCHDOG_TICKS));

/** The next edge (ms since the window opened) of any stall window after t; Infinity if none. */
export function nextStallEdge(stalls: readonly StallInjection[], t: number): number {
  let edge = Infinity;
  for (const s of stalls) {
    if (t < s.atMs) edge = Math.min(edge, s.atMs);
    else if (t < s.atMs + s.forMs) edge = Math.min(edge, s.atMs + s.forMs);
  }
  return edge;
}

export class Monitor {
  private readonly gerrorIdx: number;
  private readonly stallIdx: number;
  private readonly progressIdx: readonly number[];
  private readonly stalls: readonly StallInjection[];
  private readonly tickMs: number;
  /** The pending wait on GERROR, if any: one at a time, re-armed once it fires. */
  private gerrorWake: Promise<unknown> | null = null;
  private lastProgress = -1;
  private lastProgressAt = Date.now();
  /** Unmaps completed when the monitor first looked inside the window; Infinity once marked. */
  private measuredFrom = -1;
  private markerPollMs = FIRST_POLL_MS;
  private markerDue = 0;
  /** Times the monitor has looked at the machine (each wake of watch()). */
  wakes = 0;

  constructor(
    private readonly i32: Int32Array,
    layout: Layout,
    private readonly cfg: Config,
    private readonly regs: RegisterFile,
    private readonly hooks: MonitorHooks,
  ) {
    this.gerrorIdx = regIdx(layout, 'GERROR');
    this.stallIdx = ctlIdx(layout, Ctl.SMMU_STALL);
    this.progressIdx = Array.from({ length: cfg.cpus }, (_, c) => cpuStateIdx(layout, c, CpuState.UNMAPS));
    this.stalls = cfg.inject.flatMap((f) => (f.kind === 'stall' ? [f] : []));
    this.tickMs = watchdogTickMs(cfg.watchdogMs);
  }

  /** The watchdog counts from now (the CPUs have just been let go). */
  startWatchdog(): void {
    this.lastProgressAt = Date.now();
  }

  /**
   * Plays the monitor for `ms`: in the warm-up (measureStartMs null) or the measured window
   * (measureStartMs: Date.now() when it opened). Rejects as soon as `ended` does.
   */
  async watch(ms: number, measureStartMs: number | null, ended: Promise<never>): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      // Armed before looking, so that a GERROR written after the look still wakes us.
      const gerror = this.armGerror();
      const now = Date.now();
      this.wakes++;
      this.checkGerror();
      this.checkProgress(now, measureStartMs);
      if (now >= until) return;
      let due = Math.min(until, now + this.tickMs, this.lastProgressAt + this.cfg.watchdogMs);
      if (measureStartMs !== null) {
        due = Math.min(due, measureStartMs + nextStallEdge(this.stalls, now - measureStartMs));
        if (this.measuredFrom !== Infinity) due = Math.min(due, this.markerDue);
      }
      await this.sleep(due - now, [gerror, ended]);
    }
  }

  /**
   * After STOP: only the GERROR handler, until `settled` resolves (true) or `ms` pass (false).
   * CPUs finishing their last iteration may still be waiting on a CMD_SYNC behind a bad command.
   */
  async serviceErrors(settled: Promise<unknown>, ms: number): Promise<boolean> {
    let done = false;
    const settledFlag = settled.then(() => (done = true));
    const until = Date.now() + ms;
    for (;;) {
      const gerror = this.armGerror();
      this.checkGerror();
      if (done) return true;
      const now = Date.now();
      if (now >= until) return false;
      await this.sleep(until - now, [gerror, settledFlag]);
    }
  }

  /** Releases the pending GERROR wait (it would hold the run's memory until the next write). */
  close(): void {
    if (this.gerrorWake) Atomics.notify(this.i32, this.gerrorIdx);
  }

  private armGerror(): Promise<unknown> {
    if (this.gerrorWake) return this.gerrorWake;
    const r = Atomics.waitAsync(this.i32, this.gerrorIdx, Atomics.load(this.i32, this.gerrorIdx));
    if (!r.async) return Promise.resolve(); // written since the load: look now
    const p = r.value.then(() => (this.gerrorWake = null));
    this.gerrorWake = p;
    return p;
  }

  private checkGerror(): void {
    const gerror = activeCmdqError(this.regs);
    if (gerror !== -1) this.hooks.cmdqError(gerror);
  }

  private checkProgress(now: number, measureStartMs: number | null): void {
    let progress = 0;
    for (const idx of this.progressIdx) progress += Atomics.load(this.i32, idx);
    if (progress !== this.lastProgress) {
      this.lastProgress = progress;
      this.lastProgressAt = now;
    } else if (now - this.lastProgressAt >= this.cfg.watchdogMs) {
      this.hooks.hung();
    }
    if (measureStartMs === null) return;
    const t = now - measureStartMs;
    const stalled = this.stalls.some((s) => t >= s.atMs && t < s.atMs + s.forMs) ? 1 : 0;
    if (Atomics.load(this.i32, this.stallIdx) !== stalled) storeAndWake(this.i32, this.stallIdx, stalled);
    // Each CPU may still complete one unmap begun in the warm-up; one more is the window's own.
    if (this.measuredFrom < 0) {
      this.measuredFrom = progress;
      this.markerDue = now + this.markerPollMs;
    } else if (progress > this.measuredFrom + this.cfg.cpus) {
      this.measuredFrom = Infinity;
      this.hooks.measuring?.();
    } else if (this.measuredFrom !== Infinity && now >= this.markerDue) {
      this.markerPollMs = Math.min(this.tickMs, this.markerPollMs * 2);
      this.markerDue = now + this.markerPollMs;
    }
  }

  /** Until `ms` pass or one of `wakeOn` settles (a rejection propagates); the timer is cleared. */
  private async sleep(ms: number, wakeOn: readonly Promise<unknown>[]): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const elapsed = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(1, ms))));
    try {
      await Promise.race([elapsed, ...wakeOn]);
    } finally {
      clearTimeout(timer);
    }
  }
}
