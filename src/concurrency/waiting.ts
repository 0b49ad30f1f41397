// What a CPU is blocked on, for the watchdog's and crash reports: its WAITING word and the
// argument in the word after it (CpuState.WAITING / WAIT_ARG in hardware/layout.ts). The argument
// is written first with a plain store; the code's release store publishes both to the monitor.
// No fence: nothing waits on these words (the monitor reads them now and then), and the fence was
// a locked instruction on every CMD_SYNC wait's critical path (as the activity words of
// workload/cpu-loop.ts, and the SMMU engine's state word).

import { storeRelease } from './store.js';

export const enum Waiting {
  NOTHING = 0,
  LOCK = 1, // WAIT_ARG: lock class
  QUEUE_SPACE = 2, // WAIT_ARG: the prod index that needs a free slot
  CMD_SYNC = 3, // WAIT_ARG: the CMD_SYNC's queue index (poll) or sequence number (msi)
}

/** waitingIdx: int32 index of the CPU's WAITING word. */
export function setWaiting(i32: Int32Array, waitingIdx: number, what: Waiting, arg: number): void {
  i32[waitingIdx + 1] = arg;
  storeRelease(i32, waitingIdx, what);
}

export function clearWaiting(i32: Int32Array, waitingIdx: number): void {
  storeRelease(i32, waitingIdx, Waiting.NOTHING);
}
