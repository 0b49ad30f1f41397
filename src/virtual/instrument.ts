// What the virtual engine's command-queue code needs to time what it does as the threads engine's
// instrumentation does (concurrency/lockstat.ts, CpuStats.syncWait): the virtual clock, which CPU
// it is, the last holder of each lock class (for lockstat's bounces), and the CPU's trace ring
// (--trace). Every time recorded is virtual ns; nothing here costs virtual time.
import type { CpuStats } from '../concurrency/counters.js';
import { Ev, type TraceRing } from '../trace/ring.js';
import type { VCpuStats } from './cpu-stats.js';
import type { VLockSink } from './locks.js';

export interface VProbe {
  readonly clock: { readonly now: number };
  readonly cpu: number;
  /** By lock class: the CPU that last acquired it (-1: none yet), shared by every CPU of a run. */
  readonly lastHolder: number[];
  /** This CPU's trace ring (--trace), or null (also once the measured window has closed). */
  ring: TraceRing | null;
}

/** Lock statistics of one lock class for one CPU: every acquisition, every hold timed. */
export class VLockStat implements VLockSink {
  private holdStart = 0;

  constructor(
    private readonly p: VProbe,
    private readonly st: VCpuStats,
    private readonly cls: number,
  ) {}

  /** The lock is held now; the acquisition began at t0 and had to wait if `contended`. */
  acquired(t0: number, contended: boolean): void {
    const p = this.p;
    const now = p.clock.now;
    const last = p.lastHolder[this.cls] ?? -1;
    p.lastHolder[this.cls] = p.cpu;
    this.st.counters.lockAcquired(this.cls, now - t0, contended, last >= 0 && last !== p.cpu);
    if (contended && p.ring !== null) p.ring.record(Ev.LOCK_WAIT, t0, now - t0, this.cls);
    this.holdStart = now;
  }

  /** The holder is releasing it now. */
  released(): void {
    const held = this.p.clock.now - this.holdStart;
    this.st.counters.lockHeld(this.cls, held);
    if (this.p.ring !== null) this.p.ring.record(Ev.LOCK_HOLD, this.holdStart, held, this.cls);
  }
}

/** A CMD_SYNC wait that began at t0 and ends now (arg: its queue index or sequence number). */
export function syncWaited(p: VProbe, c: CpuStats, t0: number, arg = 0): void {
  const now = p.clock.now;
  c.syncWait(now - t0, now, arg);
}
