// MCS queue lock (Mellor-Crummey & Scott 1991), the idea behind Linux's qspinlock: waiters form a
// linked queue through per-CPU nodes and each one spins (or parks) only on its own node's flag,
// so a release touches one waiter's line instead of every waiter's. FIFO like the ticket lock,
// with the same weakness when the next waiter is descheduled.
//
// Shared memory (64 * (1 + cpus) bytes):
//   line 0   word 0  tail: cpu + 1 of the last node in the queue, 0 when free
//            word 1  unused (nobody waits on the tail)
//            word 2  holder (cpu + 1, instrumentation)   word 3  last holder
//   line 1+c node of CPU c, written by c and by its neighbours in the queue:
//            word 0  locked: 1 while c waits, 0 once its predecessor hands over
//            word 1  waiter count of `locked` (concurrency/wait.ts protocol)
//            word 2  next: cpu + 1 of the successor, 0 until it links itself
//            word 3  waiter count of `next` (a releaser waits for its successor to link)
import type { Lock, LockAlgorithm } from '../lock.js';
import { waitForChange, handOff, type WaitPolicy } from '../wait.js';

const NODE_WORDS = 16;
const LOCKED = 0;
const NEXT = 2;

class McsLock implements Lock {
  readonly holderIdx: number;
  private readonly tail: number;

  constructor(
    private readonly i32: Int32Array,
    byteOffset: number,
    private readonly cpus: number,
    private readonly policy: WaitPolicy,
  ) {
    this.tail = byteOffset >> 2;
    this.holderIdx = this.tail + 2;
  }

  /** Int32 index of CPU `cpu`'s node. */
  private node(cpu: number): number {
    return this.tail + NODE_WORDS * (cpu + 1);
  }

  acquireFast(cpu: number): boolean {
    // A wrong cpu would silently corrupt the memory after the lock: worth one compare.
    if (!(cpu >= 0 && cpu < this.cpus)) throw new RangeError(`mcs: cpu ${cpu} not in 0..${this.cpus - 1}`);
    const i32 = this.i32;
    const me = this.node(cpu);
    // Reset the node before publishing it in the tail: once there, the successor writes `next`
    // and the predecessor writes `locked`.
    Atomics.store(i32, me + NEXT, 0);
    Atomics.store(i32, me + LOCKED, 1);
    const prev = Atomics.exchange(i32, this.tail, cpu + 1);
    if (prev === 0) return true;
    // Queued: link behind the predecessor (which may be waiting for exactly this in release()).
    handOff(i32, this.node(prev - 1) + NEXT, cpu + 1);
    return false;
  }

  acquireSlow(cpu: number): void {
    const i32 = this.i32;
    const flag = this.node(cpu) + LOCKED;
    while (Atomics.load(i32, flag) !== 0) waitForChange(i32, flag, 1, this.policy);
  }

  release(cpu: number): void {
    const i32 = this.i32;
    const me = this.node(cpu);
    let next = Atomics.load(i32, me + NEXT);
    if (next === 0) {
      // No successor linked: free the lock unless someone swapped the tail in the meantime.
      if (Atomics.compareExchange(i32, this.tail, cpu + 1, 0) === cpu + 1) return;
      // A successor took the tail but has not linked yet: it will, right after its exchange.
      while (next === 0) next = waitForChange(i32, me + NEXT, 0, this.policy);
    }
    handOff(i32, this.node(next - 1) + LOCKED, 0);
  }
}

export const mcs: LockAlgorithm = {
  name: 'mcs',
  summary: 'MCS queue lock: FIFO, each waiter polls its own per-CPU node',
  bytes: (cpus) => 64 * (1 + Math.max(1, cpus)),
  create: (i32, byteOffset, cpus, policy) => new McsLock(i32, byteOffset, Math.max(1, cpus), policy),
};
