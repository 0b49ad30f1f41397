// Spin-then-park mutex: Drepper's futex mutex ("Futexes Are Tricky", 2011, mutex3) with a bounded
// spin phase in front, as glibc's adaptive mutexes and Linux's mutex optimistic spinning do. The
// state word says whether anyone may be parked, so an uncontended release is one atomic op and
// no notify, and a release wakes exactly one parker. It always parks eventually, whatever the
// wait policy says: when threads outnumber cores, a waiter that keeps spinning burns the time
// slice the holder (or the next waiter) needs to make progress.
//
// Shared memory (one 64-byte line):
//   word 0  state: 0 free, 1 held, 2 held and waiters may be parked
//   word 1  unused (state 2 plays the waiter count's role: the protocol is Drepper's)
//   word 2  holder (cpu + 1, instrumentation)   word 3  last holder
import { LINE } from '../../hardware/region.js';
import type { Lock, LockAlgorithm } from '../lock.js';
import { nowNs } from '../clock.js';
import type { WaitPolicy } from '../wait.js';

/** Spin budget when the policy's is unbounded (SPIN): about one park/unpark round trip. */
const DEFAULT_SPIN_NS = 10_000;
/** Polls between clock reads while spinning (a clock read costs about 50 ns). */
const POLLS_PER_CLOCK_READ = 64;
/** Same bound as concurrency/wait.ts: a parker re-checks at least this often, so a lost wake-up costs at most this. */
const MAX_PARK_MS = 20;

class SpinParkLock implements Lock {
  readonly holderIdx: number;
  private readonly s: number;
  private readonly spinNs: number;

  constructor(
    private readonly i32: Int32Array,
    byteOffset: number,
    policy: WaitPolicy,
  ) {
    this.s = byteOffset >> 2;
    this.holderIdx = this.s + 2;
    this.spinNs = Number.isFinite(policy.spinNs) ? policy.spinNs : DEFAULT_SPIN_NS;
  }

  acquireFast(_cpu: number): boolean {
    return Atomics.compareExchange(this.i32, this.s, 0, 1) === 0;
  }

  acquireSlow(_cpu: number): void {
    const i32 = this.i32;
    const s = this.s;
    // Spin phase: poll with loads, CAS 0 -> 1 when it looks free (a spinner that wins leaves the
    // state at 1; a parker it overtook sets 2 again when it wakes, so no wake-up is lost).
    let start = -1;
    for (;;) {
      for (let i = 0; i < POLLS_PER_CLOCK_READ; i++) {
        if (Atomics.load(i32, s) === 0 && Atomics.compareExchange(i32, s, 0, 1) === 0) return;
      }
      const t = nowNs();
      if (start < 0) start = t;
      else if (t - start >= this.spinNs) break;
    }
    // Park phase: announce a waiter by setting 2; taking the lock this way leaves 2 behind, so our
    // release wakes whoever else may be parked.
    while (Atomics.exchange(i32, s, 2) !== 0) Atomics.wait(i32, s, 2, MAX_PARK_MS);
  }

  release(_cpu: number): void {
    const i32 = this.i32;
    if (Atomics.sub(i32, this.s, 1) !== 1) {
      Atomics.store(i32, this.s, 0);
      Atomics.notify(i32, this.s, 1);
    }
  }
}

export const spinPark: LockAlgorithm = {
  name: 'spin-park',
  summary: 'spin briefly, then park (Drepper futex mutex: 0 free, 1 held, 2 contended)',
  bytes: () => LINE,
  create: (i32, byteOffset, _cpus, policy) => new SpinParkLock(i32, byteOffset, policy),
};
