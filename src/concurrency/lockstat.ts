// Lock instrumentation in the style of Linux lockstat: counts every acquisition, contention and
// bounce, times every contended wait (the uncontended path reads no clock for its wait) and, with
// full statistics, the hold time of one acquisition in `holdSample`, chosen pseudo-randomly
// (every one when 1). Timing a
// hold costs two clock reads (~100 ns) on a path that is otherwise ~20 ns: sampling keeps the
// instrumentation from becoming the thing measured. Wraps any Lock algorithm; one instance per
// (thread, lock).
import { nowNs } from './clock.js';
import type { CpuStats } from './counters.js';
import type { Lock } from './lock.js';
import { Ev, type TraceRing } from '../trace/ring.js';
import { clearWaiting, setWaiting, Waiting } from './waiting.js';

export class InstrumentedLock {
  private holdStart = 0;
  private holdSampled = false;
  /** xorshift32 state: which holds are timed is pseudo-random, not every Nth, so a fixed pattern
   *  of acquisitions (a TLBI's hold, then a CMD_SYNC's) cannot alias with the sampling period. */
  private rng: number;
  private readonly sampleMask: number;
  /** Where counts go; the CPU loop swaps it between the measured and the warm-up block. */
  stats: CpuStats;
  /** Fault injection: called right after an acquisition (the lock is held when it throws). */
  trap: (() => void) | null = null;
  /** --trace: every contended wait and hold, and the sampled holds, are recorded as spans here. */
  ring: TraceRing | null = null;

  constructor(
    private readonly lock: Lock,
    private readonly i32: Int32Array,
    private readonly cpu: number,
    private readonly cls: number,
    stats: CpuStats,
    private readonly timed: boolean,
    /** Int32 index of the CPU's WAITING word (WAIT_ARG follows it): set while contended. */
    private readonly waitingIdx: number,
    /** Time one hold in this many (a power of two; 1: every hold). */
    holdSample = 1,
  ) {
    this.stats = stats;
    this.sampleMask = holdSample - 1;
    this.rng = ((cpu + 1) * 0x9e3779b1) ^ ((cls + 1) * 0x85ebca6b) || 1;
  }

  acquire(): void {
    const cpu = this.cpu;
    let waitNs = 0;
    let t = 0;
    let sampled = false;
    if (this.timed) {
      let x = this.rng;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.rng = x;
      sampled = (x & this.sampleMask) === 0;
    }
    const contended = !this.lock.acquireFast(cpu);
    if (contended) {
      const i32 = this.i32;
      setWaiting(i32, this.waitingIdx, Waiting.LOCK, this.cls);
      if (this.timed) {
        const t0 = nowNs();
        this.lock.acquireSlow(cpu);
        t = nowNs();
        waitNs = t - t0;
        if (this.ring !== null) this.ring.record(Ev.LOCK_WAIT, t0, waitNs, this.cls);
      } else {
        this.lock.acquireSlow(cpu);
      }
      clearWaiting(i32, this.waitingIdx);
    } else if (sampled) {
      t = nowNs();
    }
    const h = this.lock.holderIdx;
    const last = this.i32[h + 1];
    this.i32[h] = cpu + 1;
    this.i32[h + 1] = cpu + 1;
    // Timed: the statistics' sample, and with --trace every contended hold too (the interesting
    // ones on a timeline; t is already known from the wait), which the statistics do not take so
    // as not to bias them towards contended holds.
    this.holdSampled = sampled;
    this.holdStart = sampled || (contended && this.ring !== null) ? t : 0;
    // A bounce: the lock (and the data it protects) was last held on another CPU.
    this.stats.lockAcquired(this.cls, waitNs, contended, last !== 0 && last !== cpu + 1, this.timed);
    if (this.trap !== null) this.trap();
  }

  release(): void {
    if (this.holdStart > 0) {
      const held = nowNs() - this.holdStart;
      if (this.holdSampled) this.stats.lockHeld(this.cls, held);
      if (this.ring !== null) this.ring.record(Ev.LOCK_HOLD, this.holdStart, held, this.cls);
    }
    this.i32[this.lock.holderIdx] = 0;
    this.lock.release(this.cpu);
  }
}
