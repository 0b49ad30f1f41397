// Test-and-set spinlock: every attempt is an Atomics.exchange, so waiters keep the line in
// exclusive state and bounce it between cores on every poll (the baseline ttas and mcs improve
// on). Under a parking wait policy a waiter hammers for policy.spinNs, then parks on the word.
//
// Shared memory (one 64-byte line):
//   word 0  state: 0 free, 1 held
//   word 1  waiter count (concurrency/wait.ts protocol)
//   word 2  holder (cpu + 1, instrumentation)   word 3  last holder
import { LINE } from '../../hardware/region.js';
import type { Lock, LockAlgorithm } from '../lock.js';
import { nowNs } from '../clock.js';
import { DRAIN_SPIN_NS, draining, PARK_AT_ONCE, waitForChange, wake, type WaitPolicy } from '../wait.js';

/** Exchanges between clock reads while spinning (a clock read costs about 50 ns). */
const TRIES_PER_CLOCK_READ = 64;

class TasLock implements Lock {
  readonly holderIdx: number;
  private readonly s: number;

  constructor(
    private readonly i32: Int32Array,
    byteOffset: number,
    private readonly policy: WaitPolicy,
  ) {
    this.s = byteOffset >> 2;
    this.holderIdx = this.s + 2;
  }

  acquireFast(_cpu: number): boolean {
    return Atomics.exchange(this.i32, this.s, 1) === 0;
  }

  acquireSlow(_cpu: number): void {
    const i32 = this.i32;
    const s = this.s;
    const policy = this.policy;
    if (!policy.park) {
      // Pure spinning, until the run drains (see WaitPolicy.drainIdx).
      for (;;) {
        for (let i = 0; i < TRIES_PER_CLOCK_READ; i++) if (Atomics.exchange(i32, s, 1) === 0) return;
        if (draining(i32, policy)) break;
      }
    }
    const spinNs = policy.park ? policy.spinNs : DRAIN_SPIN_NS;
    let start = -1;
    for (;;) {
      for (let i = 0; i < TRIES_PER_CLOCK_READ; i++) if (Atomics.exchange(i32, s, 1) === 0) return;
      const t = nowNs();
      if (start < 0) start = t;
      else if (t - start >= spinNs) break;
    }
    // Once the spin budget is spent, park at once: waitForChange would spin a second budget.
    for (;;) {
      waitForChange(i32, s, 1, PARK_AT_ONCE);
      if (Atomics.exchange(i32, s, 1) === 0) return;
    }
  }

  release(_cpu: number): void {
    Atomics.store(this.i32, this.s, 0);
    // Wake one: only one parker can win, and a loser re-parks and is woken by the next release.
    wake(this.i32, this.s, 1);
  }
}

export const tas: LockAlgorithm = {
  name: 'tas',
  summary: 'test-and-set spinlock (Atomics.exchange on every poll)',
  bytes: () => LINE,
  create: (i32, byteOffset, _cpus, policy) => new TasLock(i32, byteOffset, policy),
};
