// What a process of the virtual engine (an emulated CPU, the SMMU) asks of the machine at every
// point where the threads engine would touch shared memory, a register or spend time. A process is
// a generator: it yields a request and is resumed with its result (a loaded value, the old value of
// a read-modify-write, a register value) once the request's virtual time has passed.

export const enum Op {
  /** Spend v ns of CPU work. */
  DELAY,
  /** Read the word at addr (a cache-coherent access: may move its line). */
  LOAD,
  /** Write words[i] to addr + 4 i, all in addr's 64-byte line: one exclusive access. */
  WRITE,
  /** Atomic read-modify-write of the word at addr: stores f(old), resumes with old. */
  RMW,
  /** Spin on the word at addr until pred(value): costs nothing until its line is written. */
  WAIT,
  /** Uncached read of SMMU register addr (fixed cost). */
  MMIO_READ,
  /** Uncached (posted) write of v to SMMU register addr (fixed cost). */
  MMIO_WRITE,
  /** Poll SMMU register addr until pred(value): one MMIO read per change of the register. */
  WAIT_REG,
  /** Until another agent takes away this agent's exclusive copy of addr's line (a TAS spinner
   *  re-exchanging a line it owns changes nothing; its next exchange goes out when it loses it). */
  WAIT_LOST,
  /** Atomics.wait: park on addr if it holds v (free check), until FUTEX_WAKE or req.t ns pass. */
  FUTEX_WAIT,
  /** Atomics.notify: wake up to v parkers of addr (FIFO); each runs again after the wake latency. */
  FUTEX_WAKE,
  /** Until any register in words is set (the SMMU idling on every queue's PROD; free). */
  WAIT_REGS,
}

export interface Req {
  readonly op: Op;
  readonly addr: number;
  readonly v: number;
  readonly words?: ArrayLike<number>;
  readonly f?: (old: number) => number;
  readonly pred?: (v: number) => boolean;
  /** WAIT: give up after this many ns (resumes with the value last seen); FUTEX_WAIT: timeout. */
  readonly t?: number;
}

/** A process: yields requests, is resumed with their results. */
export type Proc = Generator<Req, void, number>;

export const delay = (ns: number): Req => ({ op: Op.DELAY, addr: 0, v: ns });
export const load = (addr: number): Req => ({ op: Op.LOAD, addr, v: 0 });
export const store = (addr: number, v: number): Req => ({ op: Op.WRITE, addr, v: 0, words: [v] });
export const writeWords = (addr: number, words: ArrayLike<number>): Req => ({
  op: Op.WRITE,
  addr,
  v: 0,
  words,
});
export const rmw = (addr: number, f: (old: number) => number): Req => ({ op: Op.RMW, addr, v: 0, f });
export const waitUntil = (addr: number, pred: (v: number) => boolean): Req => ({
  op: Op.WAIT,
  addr,
  v: 0,
  pred,
});
/** As waitUntil, giving up after timeoutNs (resumes with the last value seen, failing pred). */
export const waitUntilFor = (addr: number, pred: (v: number) => boolean, timeoutNs: number): Req => ({
  op: Op.WAIT,
  addr,
  v: 0,
  pred,
  t: timeoutNs,
});
export const waitLost = (addr: number): Req => ({ op: Op.WAIT_LOST, addr, v: 0 });
export const futexWait = (addr: number, expected: number, timeoutNs: number): Req => ({
  op: Op.FUTEX_WAIT,
  addr,
  v: expected,
  t: timeoutNs,
});
export const futexWake = (addr: number, count: number): Req => ({ op: Op.FUTEX_WAKE, addr, v: count });
/** Resumes with the index in `regs` of the first register set. */
export const waitRegs = (regs: readonly number[]): Req => ({ op: Op.WAIT_REGS, addr: 0, v: 0, words: regs });
export const mmioRead = (addr: number): Req => ({ op: Op.MMIO_READ, addr, v: 0 });
export const mmioWrite = (addr: number, v: number): Req => ({ op: Op.MMIO_WRITE, addr, v });
export const waitReg = (addr: number, pred: (v: number) => boolean): Req => ({
  op: Op.WAIT_REG,
  addr,
  v: 0,
  pred,
});

/** cmpxchg as an RMW: resumes with the old value; it succeeded iff that equals `expected`. */
export const cmpxchg = (addr: number, expected: number, desired: number): Req =>
  rmw(addr, (old) => (old === expected ? desired : old));
