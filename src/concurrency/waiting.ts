// What a CPU is blocked on, for the watchdog's and crash reports: its WAITING word and the
// argument in the word after it (CpuState.WAITING / WAIT_ARG in hardware/layout.ts). The argument
// is written first with a plain store; the code's atomic store publishes both to the monitor.

export const enum Waiting {
  NOTHING = 0,
  LOCK = 1, // WAIT_ARG: lock class
  QUEUE_SPACE = 2, // WAIT_ARG: the prod index that needs a free slot
  CMD_SYNC = 3, // WAIT_ARG: the CMD_SYNC's queue index (poll) or sequence number (msi)
}

/** waitingIdx: int32 index of the CPU's WAITING word. */
export function setWaiting(i32: Int32Array, waitingIdx: number, what: Waiting, arg: number): void {
  i32[waitingIdx + 1] = arg;
  Atomics.store(i32, waitingIdx, what);
}

export function clearWaiting(i32: Int32Array, waitingIdx: number): void {
  Atomics.store(i32, waitingIdx, Waiting.NOTHING);
}
