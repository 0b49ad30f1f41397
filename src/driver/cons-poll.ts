// How the driver waits for the SMMU to move CONS, as Linux's arm-smmu-v3 does it (queue_poll_cons
// before v5.4, queue_poll() from v5.4 on): after each failed read, WFE when the SMMU can send
// events (IDR0.SEV); otherwise cpu_relax() and re-read, and after ARM_SMMU_POLL_SPIN_COUNT failed
// reads udelay(delay) with delay doubling from 1 us. The delays are spent on the waiting CPU,
// inside whatever it holds (the 2017 driver: cmdq.lock), so their quantisation lands in lock holds
// and CMD_SYNC waits. WFE is modelled as sleeping until the awaited word changes (the SMMU's event
// comes with the CONS update that completes a CMD_SYNC).
//
// This is the modelled kernel's loop. How the host thread passes the time (spin, or spin then
// park) is still the wait policy's (--wait): it applies to WFE and to long udelays alike.
import { nowNs, spinUntil } from '../concurrency/clock.js';
import { Cpu, type CpuStats } from '../concurrency/counters.js';
import { DRAIN_SPIN_NS, draining, waitForChange, type WaitPolicy } from '../concurrency/wait.js';
import type { Mmio } from './mmio.js';

/** `linux`: the kernel's poll loop above; `spin`: re-read until CONS changes, no back-off. */
import type { ConsPollMode } from '../config/config.js';
export { CONS_POLL_MODES, type ConsPollMode } from '../config/config.js';

/** Linux ARM_SMMU_POLL_SPIN_COUNT (ARM_SMMU_CMDQ_SYNC_SPIN_COUNT before v5.4). */
export const ARM_SMMU_POLL_SPIN_COUNT = 10;
/** queue_poll_init(): the first udelay() is 1 us. */
export const UDELAY_FIRST_NS = 1000;

export class ConsPoller {
  private delayNs = UDELAY_FIRST_NS;
  private spinCnt = 0;
  /**
   * The last step was a cpu_relax(): no modelled time passed, so a timeout check may skip the
   * clock (a host clock read costs far more than the kernel's ktime_get()).
   */
  relaxed = false;
  /** Sleeping a long udelay under a parking policy: a word nobody writes. */
  private readonly nap = new Int32Array(new SharedArrayBuffer(4));

  constructor(
    private readonly i32: Int32Array,
    private readonly mmio: Mmio,
    private readonly policy: WaitPolicy,
    private readonly mode: ConsPollMode,
    /** IDR0.SEV as the driver probed it (ARM_SMMU_FEAT_SEV). */
    private readonly wfe: boolean,
    /** --mmio-read-ns > 0: in spin mode every re-read is a costed MMIO read. */
    private readonly costlyReads: boolean,
  ) {}

  /** queue_poll_init(): a new wait starts over with a 1 us back-off. */
  init(): void {
    this.delayNs = UDELAY_FIRST_NS;
    this.spinCnt = 0;
  }

  /** readl() of a CONS register. */
  read(idx: number, stats: CpuStats): number {
    return this.mmio.read(idx, stats);
  }

  /** One queue_poll() step after CONS at idx read v, then the next read of it. */
  next(idx: number, v: number, stats: CpuStats, deadlineNs = Infinity): number {
    this.step(idx, v, stats, deadlineNs, true);
    return this.mmio.read(idx, stats);
  }

  /**
   * One queue_poll() step while the word at idx still holds v: WFE, cpu_relax() or udelay(). `reg`:
   * the word is a register (re-read through Mmio) rather than memory (the lock-free queue's llq).
   */
  step(idx: number, v: number, stats: CpuStats, deadlineNs = Infinity, reg = false): void {
    this.relaxed = false;
    if (this.mode === 'spin') {
      // A costed re-read is the whole step; free re-reads until a change are the host's wait.
      if (!(reg && this.costlyReads)) waitForChange(this.i32, idx, v, this.policy, deadlineNs);
    } else if (this.wfe) {
      stats.add(Cpu.CONS_POLL_WFES, 1);
      waitForChange(this.i32, idx, v, this.policy, deadlineNs);
    } else if (++this.spinCnt >= ARM_SMMU_POLL_SPIN_COUNT) {
      stats.add(Cpu.CONS_POLL_UDELAYS, 1);
      this.udelay(this.delayNs);
      this.delayNs *= 2;
      this.spinCnt = 0;
    } else {
      this.relaxed = true; // cpu_relax(): nothing to model
    }
  }

  /** udelay(): the modelled CPU is busy for ns; the host thread spins, or parks past --spin-ns. */
  private udelay(ns: number): void {
    const start = nowNs();
    const end = start + ns;
    const policy = this.policy;
    const park = policy.park || draining(this.i32, policy);
    const spinNs = policy.park ? policy.spinNs : DRAIN_SPIN_NS;
    if (!park || ns <= spinNs) {
      spinUntil(end);
      return;
    }
    spinUntil(start + spinNs);
    const left = end - nowNs();
    if (left > 0) Atomics.wait(this.nap, 0, 0, left / 1e6);
  }
}
