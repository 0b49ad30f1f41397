// Test-and-test-and-set spinlock with bounded exponential backoff (Anderson 1990): waiters read the
// word until it looks free (a shared, read-only cache line costs no traffic), then try one CAS;
// a thread that loses the CAS backs off for a doubling, bounded number of polls so the winners'
// line is not hammered. Under a parking wait policy the read phase parks on the word.
//
// Shared memory (one 64-byte line):
//   word 0  state: 0 free, 1 held
//   word 1  waiter count (sync/wait.ts protocol)
//   word 2  holder (cpu + 1, instrumentation)   word 3  last holder
import type { Lock, LockAlgorithm } from '../lock.js';
import { waitForChange, storeAndWake, type WaitPolicy } from '../wait.js';

const MAX_BACKOFF_POLLS = 1024;

class TtasLock implements Lock {
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
    return Atomics.load(this.i32, this.s) === 0 && Atomics.compareExchange(this.i32, this.s, 0, 1) === 0;
  }

  acquireSlow(_cpu: number): void {
    const i32 = this.i32;
    const s = this.s;
    let backoff = 1;
    for (;;) {
      if (Atomics.load(i32, s) !== 0) waitForChange(i32, s, 1, this.policy);
      if (Atomics.compareExchange(i32, s, 0, 1) === 0) return;
      for (let i = 0; i < backoff; i++) Atomics.load(i32, s);
      if (backoff < MAX_BACKOFF_POLLS) backoff <<= 1;
    }
  }

  release(_cpu: number): void {
    // Only one parked waiter can win the lock: wake one, not the herd.
    storeAndWake(this.i32, this.s, 0, 1);
  }
}

export const ttas: LockAlgorithm = {
  name: 'ttas',
  summary: 'test-and-test-and-set spinlock with bounded exponential backoff',
  bytes: () => 64,
  create: (i32, byteOffset, _cpus, policy) => new TtasLock(i32, byteOffset, policy),
};
