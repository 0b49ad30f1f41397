// How a thread waits for a word in shared memory to change: spin, or spin for a bounded time and
// then park in Atomics.wait. The emulator's waits (locks, queue space, CMD_SYNC completion, the
// SMMU waiting for work) go through here, so `--wait` changes all of them at once; the exceptions
// are the spin-park lock (a futex mutex that always parks, by design) and the lock-free queue's
// MSI wait on its own queue slot (no room for a waiter count there).
//
// A waitable word is followed, in the same 64-byte line, by a waiter count (emulator-private, not
// architectural). A parker increments it before its final re-check; a writer that stores the word
// reads it and calls Atomics.notify only when someone is parked. Both sides use sequentially
// consistent stores and loads (the writer's store is store.ts's storeSeqCst), so either the parker
// sees the new value or the writer sees the parker (Dekker), and Atomics.wait itself re-checks the
// value atomically with the futex queue.
import { nowNs } from './clock.js';
import { storeRelease, storeSeqCst } from './store.js';

export interface WaitPolicy {
  /** false: spin forever (right when every thread has its own core). */
  readonly park: boolean;
  /** How long to spin before parking, in ns (about the cost of a park/unpark round trip). */
  readonly spinNs: number;
  /**
   * Int32 index, in the buffer being waited on, of a word (the run's phase) that turns a spinning
   * wait into spin-then-park once it reaches drainAt; -1: never. After the measured window nothing
   * is measured any more, and on an oversubscribed host pure spinners would only keep the threads
   * that must finish their last iteration off the cores (a 64-CPU spin run then takes seconds to
   * stop, or does not within the grace period at all).
   */
  readonly drainIdx: number;
  readonly drainAt: number;
}

export const SPIN: WaitPolicy = { park: false, spinNs: Infinity, drainIdx: -1, drainAt: 0 };

/** Park after the first round of polls: for waits whose time is not measured. */
export const PARK_AT_ONCE: WaitPolicy = { park: true, spinNs: 0, drainIdx: -1, drainAt: 0 };

/** The spin budget of a spinning wait once the run drains (the default --spin-ns). */
export const DRAIN_SPIN_NS = 20_000;

/** Has the word named by policy.drainIdx reached drainAt (so a spinning wait should park)? */
export function draining(i32: Int32Array, policy: WaitPolicy): boolean {
  return policy.drainIdx >= 0 && Atomics.load(i32, policy.drainIdx) >= policy.drainAt;
}

/** Waiter count lives in the word right after the waitable word. */
export const WAITERS = 1;

/** Clock reads are expensive (about 50 ns): while spinning, read it every this many polls. */
const POLLS_PER_CLOCK_READ = 64;
/** Upper bound of one Atomics.wait, so deadlines and stop requests are noticed while parked. */
export const MAX_PARK_MS = 20;

/** Stores v and wakes parked waiters, if any (`count` of them: 1 when only one can proceed). */
export function storeAndWake(i32: Int32Array, idx: number, v: number, count = Infinity): void {
  storeSeqCst(i32, idx, v);
  if (Atomics.load(i32, idx + WAITERS) !== 0) Atomics.notify(i32, idx, count);
}

// Hand-offs without the fence, where nobody parks.
//
// storeAndWake's fence exists for one reason: the Dekker handshake with a waiter that parks. A
// run whose every wait spins until the run drains (--wait spin on a host with a core per thread:
// the CPUs' waits drain-park, the SMMU's idle wait never parks) has no parker while it measures,
// and there the fence after a lock release or a doorbell is the emulator's own cost: Linux's
// spin_unlock() is a release store and its writel() of CMDQ_PROD a store after a barrier, neither
// followed by a full fence. On x86 the fence also made the storing CPU wait for the line's
// transfer from the core polling it (the SMMU worker polls PROD; a lock's waiters poll the lock),
// which lock add does and a plain store, draining from the store buffer meanwhile, does not.
//
// So a worker of such a run calls elideHandOffFences() with the window, and handOffPhase() with
// the run's phase wherever it reads it anyway; handOff() is then store.ts's storeRelease() while
// that phase is between the warm-up and the drain: bring-up (whose waits park) and the drain keep
// storeAndWake. "Such a run": --wait spin, or the default auto on a host with a core per thread;
// the spin-park lock still parks there, but on words of its own protocol, never on a hand-off's.
// A waiter that parks at the drain can miss a
// store made without the fence by a thread that has not seen the drain yet (a CPU in its last
// iteration, until it reads the phase or one of its waits notices the drain; the SMMU engine until
// its next PROD read that reveals commands): it then sleeps until its MAX_PARK_MS slice ends, and
// looks again; the measured window is over by then. Only the hot hand-offs use it
// (lock releases, CMDQ_PROD, CMDQ_CONS, a CMD_SYNC's MSI, the IOTLB set lock); everything else,
// bring-up and error handling included, keeps storeAndWake.

/** Where a run's hand-offs may skip the fence: while from <= the run's phase < until. */
export interface HandOffElision {
  readonly from: number;
  readonly until: number;
}

/** This thread's hand-off window (each worker has its own module instance), and whether the
 *  phase it last looked at lies in it: a property of a const object, read on every hand-off (a
 *  module-level `let` costs a hole check per read, and reading the phase word itself at every
 *  hand-off cost a load of another line and the arithmetic around it). */
let elision: HandOffElision | null = null;
const mode = { elide: false };

/**
 * This thread's hand-offs skip the fence in `e`'s phases (see above); null: never (a run that may
 * park: --wait spin-park or park, or an oversubscribed host, whose SMMU parks when idle). Set at
 * the start of each run: a pooled worker runs many.
 */
export function elideHandOffFences(e: HandOffElision | null): void {
  elision = e;
  mode.elide = false;
}

/**
 * The run's phase, as this thread has just read it (Ctl.PHASE): its hand-offs skip the fence from
 * now on while the phase lies in the window elideHandOffFences() set. Each worker calls it
 * wherever it already reads the phase (a CPU once per iteration, the SMMU engine at each PROD
 * read that reveals commands and before it waits).
 */
export function handOffPhase(phase: number): void {
  const e = elision;
  mode.elide = e !== null && phase >= e.from && phase < e.until;
}

/**
 * Stores v at i32[idx] for threads that wait for it; true if one may be parked there (the caller
 * notifies). Without elision, or once the run drains, it is storeSeqCst and a look at the waiter
 * count, as storeAndWake.
 */
export function handOffStore(i32: Int32Array, idx: number, v: number): boolean {
  if (mode.elide) {
    storeRelease(i32, idx, v);
    return false;
  }
  storeSeqCst(i32, idx, v);
  return Atomics.load(i32, idx + WAITERS) !== 0;
}

/** storeAndWake for the hot hand-offs: handOffStore(), then the wake it calls for. */
export function handOff(i32: Int32Array, idx: number, v: number, count = Infinity): void {
  if (handOffStore(i32, idx, v)) Atomics.notify(i32, idx, count);
}

/** Wakes parked waiters of i32[idx], if any (after a write made with another atomic op). */
export function wake(i32: Int32Array, idx: number, count = Infinity): void {
  if (Atomics.load(i32, idx + WAITERS) !== 0) Atomics.notify(i32, idx, count);
}

/**
 * Waits until i32[idx] !== old or the clock passes deadlineNs; returns the value last read
 * (=== old only on timeout). Callers loop on their own predicate around it.
 */
export function waitForChange(
  i32: Int32Array,
  idx: number,
  old: number,
  policy: WaitPolicy,
  deadlineNs = Infinity,
): number {
  let v = Atomics.load(i32, idx);
  if (v !== old) return v;
  let start = -1;
  let park = policy.park;
  let spinNs = policy.spinNs;
  for (;;) {
    for (let i = 0; i < POLLS_PER_CLOCK_READ; i++) {
      v = Atomics.load(i32, idx);
      if (v !== old) return v;
    }
    if (!park) {
      if (draining(i32, policy)) {
        park = true;
        spinNs = DRAIN_SPIN_NS;
        // This thread's own hand-offs are fenced from now on: a waiter of them may park too.
        mode.elide = false;
      } else if (deadlineNs === Infinity) continue;
    }
    const t = nowNs();
    if (t >= deadlineNs) return v;
    if (start < 0) start = t;
    if (park && t - start >= spinNs) break;
  }
  // Park.
  for (;;) {
    Atomics.add(i32, idx + WAITERS, 1);
    v = Atomics.load(i32, idx);
    if (v === old) {
      const remainingMs = deadlineNs === Infinity ? MAX_PARK_MS : (deadlineNs - nowNs()) / 1e6;
      if (remainingMs > 0) Atomics.wait(i32, idx, old, Math.min(MAX_PARK_MS, remainingMs));
      v = Atomics.load(i32, idx);
    }
    Atomics.sub(i32, idx + WAITERS, 1);
    if (v !== old) return v;
    if (deadlineNs !== Infinity && nowNs() >= deadlineNs) return v;
  }
}
