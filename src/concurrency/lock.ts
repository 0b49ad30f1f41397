// The contract every lock algorithm (concurrency/locks/*) meets. A lock instance is a region of shared
// memory whose size and alignment its algorithm declares (after js-lock-and-condition): the
// orchestrator's layout reserves `bytes(cpus)` at a 64-byte aligned offset and every thread builds
// its own Lock object over the same bytes.
import type { WaitPolicy } from './wait.js';
import { LINE, REGION, type RegionDecl } from '../hardware/region.js';

/** The instances every run has: the global cmdq lock, then one iova lock per domain. */
export const LOCKS_DECL: RegionDecl<{ readonly domains: number; readonly lockBytes: number }> = {
  name: REGION.LOCKS,
  bytes: (g) => (1 + g.domains) * g.lockBytes,
  align: LINE,
};

export const LOCK_NAMES = ['tas', 'ttas', 'ticket', 'mcs', 'spin-park'] as const;
export type LockName = (typeof LOCK_NAMES)[number];

export interface Lock {
  /**
   * Starts an acquisition. Returns true if the lock is now held without having waited (the
   * uncontended case, which reads no clock). Returns false if the caller must complete it with
   * acquireSlow(); queue locks (ticket, mcs) have already taken their place in line by then.
   */
  acquireFast(cpu: number): boolean;
  /** Completes an acquisition that acquireFast() could not finish, waiting per the wait policy. */
  acquireSlow(cpu: number): void;
  release(cpu: number): void;
  /**
   * Int32 index of a word on the lock's first line that only the holder writes: the
   * instrumentation keeps the holder (cpu + 1, 0 when free) there, and the word after it holds the
   * last holder (cpu + 1) for lockstat's bounce counts and the watchdog's owner report.
   */
  readonly holderIdx: number;
}

export interface LockAlgorithm {
  readonly name: LockName;
  /** One-line description for --help and docs. */
  readonly summary: string;
  /** Bytes one instance needs for `cpus` CPUs: a multiple of 64, aligned to 64. */
  bytes(cpus: number): number;
  /** Builds this thread's view of the lock at byte offset `byteOffset` (64-byte aligned) of i32. */
  create(i32: Int32Array, byteOffset: number, cpus: number, policy: WaitPolicy): Lock;
}
