// Ticket lock (Mellor-Crummey & Scott 1991; Linux's spinlock from 2.6.25 to 4.2): a taker draws
// `next` with fetch-and-add and waits until `serving` equals its ticket, so the lock is granted in
// FIFO order. Fair, but the hand-off goes to one specific thread: if that thread is descheduled
// every other waiter spins (or sleeps) until it runs again, which is why it collapses when there
// are more threads than cores.
//
// Shared memory (two 64-byte lines; `next` is on its own line so that ticket takers don't bounce
// the line the holder releases on and the waiters poll):
//   word 0   serving: ticket now allowed in
//   word 1   waiter count of `serving` (concurrency/wait.ts protocol)
//   word 2   holder (cpu + 1, instrumentation)   word 3  last holder
//   word 16  next: next ticket to hand out
import { LINE } from '../../hardware/region.js';
import type { Lock, LockAlgorithm } from '../lock.js';
import { waitForChange, handOff, type WaitPolicy } from '../wait.js';

const NEXT = 16;

class TicketLock implements Lock {
  readonly holderIdx: number;
  private readonly serving: number;
  private readonly next: number;
  /** This thread's ticket between acquireFast and acquireSlow (a thread waits for one lock at a time). */
  private ticket = 0;

  constructor(
    private readonly i32: Int32Array,
    byteOffset: number,
    private readonly policy: WaitPolicy,
  ) {
    this.serving = byteOffset >> 2;
    this.next = this.serving + NEXT;
    this.holderIdx = this.serving + 2;
  }

  acquireFast(_cpu: number): boolean {
    // Int32 wrap-around is harmless: tickets are only compared for equality.
    this.ticket = Atomics.add(this.i32, this.next, 1);
    return Atomics.load(this.i32, this.serving) === this.ticket;
  }

  acquireSlow(_cpu: number): void {
    const i32 = this.i32;
    const mine = this.ticket;
    let v = Atomics.load(i32, this.serving);
    while (v !== mine) v = waitForChange(i32, this.serving, v, this.policy);
  }

  release(_cpu: number): void {
    // Only the holder writes `serving`, so a load + store is an increment. The hand-off wakes all
    // parked waiters: they all wait on the same word and only the next ticket may proceed.
    const i32 = this.i32;
    handOff(i32, this.serving, (Atomics.load(i32, this.serving) + 1) | 0);
  }
}

export const ticket: LockAlgorithm = {
  name: 'ticket',
  summary: 'FIFO ticket lock (next/serving on separate lines)',
  bytes: () => 2 * LINE,
  create: (i32, byteOffset, _cpus, policy) => new TicketLock(i32, byteOffset, policy),
};
