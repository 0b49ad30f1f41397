// Waiting for a CMD_SYNC to complete, with Linux's CMD_SYNC timeout: a waiter that has waited
// --sync-timeout reports "CMD_SYNC timeout" with its CPU and the queue state, counts it, and keeps
// waiting (giving up would free an IOVA whose invalidation has not completed: the emulator keeps
// the safety argument and reports instead). Shared by every command-queue design.
import { nowNs } from '../concurrency/clock.js';
import type { Span } from '../concurrency/span.js';
import { printk } from './printk.js';
import { Cpu, type CpuStats } from '../concurrency/counters.js';
import { waitForChange, type WaitPolicy } from '../concurrency/wait.js';
import type { ConsPoller } from './cons-poll.js';
import { clearWaiting, setWaiting, Waiting } from '../concurrency/waiting.js';

/** The wait's completion predicate on the word's value. */
type Done = (v: number) => boolean;

export class SyncWaiter {
  constructor(
    private readonly i32: Int32Array,
    private readonly policy: WaitPolicy,
    private readonly timeoutNs: number,
    private readonly cpu: number,
    /** Int32 index of the CPU's WAITING word (WAIT_ARG follows it). */
    private readonly waitingIdx: number,
    /** The queue state for the timeout message (e.g. "CMDQ_PROD 0x.. CMDQ_CONS 0x.."). */
    private readonly queueState: () => string,
    /** How CONS registers are read and polled (untilCons). */
    private readonly cons: ConsPoller,
  ) {}

  /**
   * Waits until done(i32[idx]) holds; `arg` names the awaited CMD_SYNC (queue index or sequence
   * number) for diagnostics; `timing`, the span whose start the caller has just read (null: not
   * read; a span, not a number, so that no double crosses the call: concurrency/span.ts).
   * Returns the value that satisfied it.
   */
  until(idx: number, arg: number, done: Done, stats: CpuStats, timing: Span | null = null): number {
    return this.wait(idx, arg, done, stats, timing, null);
  }

  /** As until(), for a CONS register: read as MMIO and polled the kernel's way (cons-poll.ts). */
  untilCons(idx: number, arg: number, done: Done, stats: CpuStats, timing: Span | null = null): number {
    this.cons.init();
    return this.wait(idx, arg, done, stats, timing, this.cons);
  }

  private wait(
    idx: number,
    arg: number,
    done: Done,
    stats: CpuStats,
    timing: Span | null,
    cons: ConsPoller | null,
  ): number {
    const i32 = this.i32;
    let v = cons === null ? Atomics.load(i32, idx) : cons.read(idx, stats);
    if (done(v)) return v;
    setWaiting(i32, this.waitingIdx, Waiting.CMD_SYNC, arg);
    if (this.timeoutNs === Infinity) {
      while (!done(v)) v = cons === null ? waitForChange(i32, idx, v, this.policy) : cons.next(idx, v, stats);
    } else {
      // The caller may have read the clock just now (to time the wait): one read is enough.
      const start = timing !== null ? timing.start : nowNs();
      let deadline = start + this.timeoutNs;
      while (!done(v)) {
        const before = v;
        v =
          cons === null
            ? waitForChange(i32, idx, v, this.policy, deadline)
            : cons.next(idx, v, stats, deadline);
        if (v === before && !(cons !== null && cons.relaxed) && nowNs() >= deadline) {
          this.timedOut(start, arg, stats);
          deadline += this.timeoutNs;
        }
      }
    }
    clearWaiting(i32, this.waitingIdx);
    return v;
  }

  /** Reports a wait past --sync-timeout (out of line: the message is most of the bytecode). */
  private timedOut(start: number, arg: number, stats: CpuStats): void {
    stats.add(Cpu.SYNC_TIMEOUTS, 1);
    printk(
      `tlbsync-emu: cpu ${this.cpu}: CMD_SYNC timeout: waited ${((nowNs() - start) / 1e6).toFixed(0)} ms for ` +
        `CMD_SYNC 0x${(arg >>> 0).toString(16)}; ${this.queueState()}; still waiting`,
    );
  }
}
