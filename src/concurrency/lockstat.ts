// Lock instrumentation in the style of Linux lockstat: counts every acquisition, contention and
// bounce, times every contended wait (the uncontended path reads no clock for its wait) and, with
// full statistics, the hold time of one acquisition in `holdSample`, chosen pseudo-randomly
// (every one when 1). Timing a hold costs two clock reads (~100 ns) on a path that is otherwise
// ~20 ns: sampling keeps the instrumentation from becoming the thing measured. Wraps any Lock
// algorithm; one instance per (thread, lock).
import { Span } from './span.js';
import type { CpuStats } from './counters.js';
import type { Lock } from './lock.js';
import { Ev, type TraceRing } from '../trace/ring.js';
import { clearWaiting, setWaiting, Waiting } from './waiting.js';

export class InstrumentedLock {
  /** The current hold, timed when start > 0; a contended acquisition's wait. */
  private readonly hold = new Span();
  private readonly wait = new Span();
  private holdSampled = false;
  /** xorshift32 state: which holds are timed is pseudo-random, not every Nth, so a fixed pattern
   *  of acquisitions (a TLBI's hold, then a CMD_SYNC's) cannot alias with the sampling period. */
  private rng: number;
  /** ln(1 - 1/holdSample): the gaps between timed holds are geometric (gap()); 0 for every hold. */
  private readonly lnMiss: number;
  /** Acquisitions until the next timed hold (1: the next one). A countdown costs the acquisition a
   *  decrement; the xorshift and the logarithm run once per timed hold, not per acquisition. */
  private untilSample: number;
  /** Where counts go; the CPU loop swaps it between the measured and the warm-up block. */
  stats: CpuStats;
  /** The lock's holder words (Lock.holderIdx), read once: one load less per acquisition. */
  private readonly holderIdx: number;
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
    this.holderIdx = lock.holderIdx;
    this.lnMiss = holdSample > 1 ? Math.log(1 - 1 / holdSample) : 0;
    this.rng = ((cpu + 1) * 0x9e3779b1) ^ ((cls + 1) * 0x85ebca6b) || 1;
    this.untilSample = this.gap();
  }

  /**
   * Acquisitions from one timed hold to the next: geometric with mean holdSample, so that each
   * acquisition is timed with probability 1/holdSample independently of the others, as a fresh
   * draw per acquisition would give.
   */
  private gap(): number {
    if (this.lnMiss === 0) return 1;
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x;
    // u in (0, 1]: never 0, whose logarithm is -Infinity.
    const u = ((x >>> 0) + 1) / 4294967296;
    return 1 + Math.floor(Math.log(u) / this.lnMiss);
  }

  acquire(): void {
    const cpu = this.cpu;
    let sampled = false;
    if (this.timed && --this.untilSample === 0) {
      sampled = true;
      this.untilSample = this.gap();
    }
    // Times live in the spans' fields, never in locals handed to calls (concurrency/span.ts).
    const hold = this.hold;
    hold.start = 0;
    const contended = !this.lock.acquireFast(cpu);
    if (contended) this.acquireContended(sampled);
    else if (sampled) hold.begin();
    const h = this.holderIdx;
    const last = this.i32[h + 1];
    this.i32[h] = cpu + 1;
    this.i32[h + 1] = cpu + 1;
    this.holdSampled = sampled;
    // A bounce: the lock (and the data it protects) was last held on another CPU.
    this.stats.lockAcquired(this.cls, 0, contended, last !== 0 && last !== cpu + 1, false);
    if (contended && this.timed) this.stats.lockWaitSpan(this.cls, this.wait);
    if (this.trap !== null) this.trap();
  }

  /**
   * The slow path, out of line: V8 inlines by bytecode size, and a hot acquire() that carried it
   * left no inlining budget for the clock reads around it (a reading returned from a call that is
   * not inlined is a new HeapNumber).
   */
  /** A timed hold ends (out of line, as acquireContended()). */
  private holdEnded(): void {
    const hold = this.hold;
    hold.stop();
    if (this.holdSampled) this.stats.lockHeldSpan(this.cls, hold);
    if (this.ring !== null) this.ring.record(Ev.LOCK_HOLD, hold.start, hold.end - hold.start, this.cls);
  }

  private acquireContended(sampled: boolean): void {
    const i32 = this.i32;
    const cpu = this.cpu;
    setWaiting(i32, this.waitingIdx, Waiting.LOCK, this.cls);
    if (this.timed) {
      const wait = this.wait;
      wait.begin();
      this.lock.acquireSlow(cpu);
      wait.stop();
      if (this.ring !== null) this.ring.record(Ev.LOCK_WAIT, wait.start, wait.end - wait.start, this.cls);
      // Timed: the statistics' sample, and with --trace every contended hold too (the interesting
      // ones on a timeline; its start is already known from the wait), which the statistics do
      // not take so as not to bias them towards contended holds.
      if (sampled || this.ring !== null) this.hold.start = wait.end;
    } else {
      this.lock.acquireSlow(cpu);
    }
    clearWaiting(i32, this.waitingIdx);
  }

  release(): void {
    if (this.hold.start > 0) this.holdEnded();
    this.i32[this.holderIdx] = 0;
    this.lock.release(this.cpu);
  }
}
