// Lock instrumentation in the style of Linux lockstat: counts every acquisition, contention and
// bounce, times waits (contended acquisitions only: the uncontended path reads no clock) and,
// with full statistics, hold times. Wraps any Lock algorithm; one instance per (thread, lock).
import { nowNs } from './clock.js';
import type { CpuStats } from './counters.js';
import type { Lock } from './lock.js';

export class InstrumentedLock {
  private holdStart = 0;
  /** Where counts go; the CPU loop swaps it between the measured and the warm-up block. */
  stats: CpuStats;

  constructor(
    private readonly lock: Lock,
    private readonly i32: Int32Array,
    private readonly cpu: number,
    private readonly cls: number,
    stats: CpuStats,
    private readonly timed: boolean,
  ) {
    this.stats = stats;
  }

  acquire(): void {
    const cpu = this.cpu;
    let waitNs = 0;
    let t = 0;
    const contended = !this.lock.acquireFast(cpu);
    if (contended) {
      if (this.timed) {
        const t0 = nowNs();
        this.lock.acquireSlow(cpu);
        t = nowNs();
        waitNs = t - t0;
      } else {
        this.lock.acquireSlow(cpu);
      }
    } else if (this.timed) {
      t = nowNs();
    }
    const h = this.lock.holderIdx;
    const last = this.i32[h + 1];
    this.i32[h] = cpu + 1;
    this.i32[h + 1] = cpu + 1;
    this.holdStart = t;
    // A bounce: the lock (and the data it protects) was last held on another CPU.
    this.stats.lockAcquired(this.cls, waitNs, contended, last !== 0 && last !== cpu + 1);
  }

  release(): void {
    if (this.timed) this.stats.lockHeld(this.cls, nowNs() - this.holdStart);
    this.i32[this.lock.holderIdx] = 0;
    this.lock.release(this.cpu);
  }
}
