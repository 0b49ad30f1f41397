// Test-and-test-and-set spinlock with bounded exponential backoff (Anderson 1990): waiters read the
// word until it looks free (a shared, read-only cache line costs no traffic), then try one CAS;
// a thread that loses the CAS backs off for a doubling, bounded delay so the winners' line is not
// hammered. The delay touches no shared memory: JavaScript has no PAUSE, so relax() burns about a
// PAUSE's worth of dependent arithmetic per unit. (Polling the lock word as the delay, as this did
// first, kept pulling the holder's line back; docs/performance.md has the figures, measured against
// the C ttas of bench/locks.c.) Under a parking wait policy the read phase parks on the word.
//
// Shared memory (one 64-byte line):
//   word 0  state: 0 free, 1 held
//   word 1  waiter count (concurrency/wait.ts protocol)
//   word 2  holder (cpu + 1, instrumentation)   word 3  last holder
import { LINE } from '../../hardware/region.js';
import type { Lock, LockAlgorithm } from '../lock.js';
import { waitForChange, handOff, type WaitPolicy } from '../wait.js';

/**
 * Dependent integer operations per backoff unit: about one x86 PAUSE (docs/locks.md has the
 * measurement this was sized from).
 */
const RELAX_OPS = 32;
/**
 * The longest backoff, in units: 1,024, the same bound as the C ttas in bench/locks.c (1,024
 * PAUSEs), which the bench compares it with. A smaller cap lets a loser that comes back sooner
 * steal the lock more often; docs/performance.md records what the cap of 128 measured.
 */
const MAX_BACKOFF_UNITS = 1024;

/** Burns time without touching shared memory (JavaScript has no PAUSE); returns a value to keep. */
function relax(units: number, x: number): number {
  for (let i = 0; i < units * RELAX_OPS; i++) x = (Math.imul(x, 31) + i) | 0;
  return x;
}

class TtasLock implements Lock {
  readonly holderIdx: number;
  private readonly s: number;
  private sink = 0;

  constructor(
    private readonly i32: Int32Array,
    byteOffset: number,
    private readonly policy: WaitPolicy,
  ) {
    this.s = byteOffset >> 2;
    this.holderIdx = this.s + 2;
  }

  acquireFast(_cpu: number): boolean {
    // The test is a plain read, as Linux's READ_ONCE() before its cmpxchg: only the CAS decides,
    // so a stale value costs at most a failed CAS or a trip through acquireSlow(), and V8 calls a
    // builtin for every Atomics.load (~5 ns on a path of ~50). In acquireSlow()'s loop the load
    // stays Atomics.load: a plain read there could be hoisted out of the loop.
    return this.i32[this.s] === 0 && Atomics.compareExchange(this.i32, this.s, 0, 1) === 0;
  }

  acquireSlow(_cpu: number): void {
    const i32 = this.i32;
    const s = this.s;
    let backoff = 1;
    for (;;) {
      if (Atomics.load(i32, s) !== 0) waitForChange(i32, s, 1, this.policy);
      if (Atomics.compareExchange(i32, s, 0, 1) === 0) return;
      this.sink = relax(backoff, this.sink);
      if (backoff < MAX_BACKOFF_UNITS) backoff <<= 1;
    }
  }

  release(_cpu: number): void {
    // Only one parked waiter can win the lock: wake one, not the herd.
    handOff(this.i32, this.s, 0, 1);
  }
}

export const ttas: LockAlgorithm = {
  name: 'ttas',
  summary: 'test-and-test-and-set spinlock with bounded exponential backoff',
  bytes: () => LINE,
  create: (i32, byteOffset, _cpus, policy) => new TtasLock(i32, byteOffset, policy),
};
