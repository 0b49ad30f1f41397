// A sequentially consistent store to a word another thread is spinning on, the cheap way.
//
// Why not Atomics.store: on x86-64, V8 compiles it to XCHG, a locked instruction. On a line that
// another core is polling, the locked store holds the line while it completes, and the poller sees
// the value about two line transfers later. Measured on this host (2 cores, AMD EPYC, 2026-12-05,
// a writer idle for 1 us then storing, a reader spinning on Atomics.load): XCHG kept the writer
// 270-300 ns and the reader saw the value after 480-520 ns. A plain MOV followed by a locked add on
// a private line, the other standard mapping of a seq-cst store on x86 (`mov; mfence`; Linux's
// smp_mb() on x86-64 is that `lock add`), kept the writer 130-140 ns and the reader saw the value
// after 310-340 ns. That difference landed on every doorbell the SMMU worker was polling and on
// every CMD_SYNC's CONS update, emulator cost that no SMMU has (docs/performance.md, session 6).
//
// Ordering is unchanged: x86 is TSO (stores become visible in program order, so the MOV is a
// release store), and the locked add drains the store buffer before any later load, which is what
// the waiter-count handshake in wait.ts needs (store the word, then load the waiter count). On
// other architectures Atomics.store is kept: a plain store there is not ordered after earlier ones
// (an SMMU's CONS update must not overtake its IOTLB invalidations), and Atomics.store compiles to
// a release store (STLR on arm64) that is not a locked read-modify-write anyway.

/** The host orders stores (x86's TSO), so a plain store plus a fence is a seq-cst store. */
const TSO = process.arch === 'x64' || process.arch === 'ia32';

/**
 * The fence word: a line of this thread's own (each worker has its own module instance). The
 * buffer is larger than the line so that no other allocation's bytes share the line (a
 * SharedArrayBuffer's backing store is not line-aligned).
 */
const FENCE_BYTES = 256;
const FENCE_IDX = 32; // byte 128: inside the buffer, at least 64 bytes from either end
const fence = new Int32Array(new SharedArrayBuffer(FENCE_BYTES));

/**
 * Stores v at i32[idx] with the ordering of Atomics.store: visible after every earlier store, and
 * before any later load of this thread. On x86 a MOV and a locked add on a private line.
 */
export function storeSeqCst(i32: Int32Array, idx: number, v: number): void {
  if (TSO) {
    i32[idx] = v;
    Atomics.add(fence, FENCE_IDX, 0);
  } else Atomics.store(i32, idx, v);
}

/**
 * A release store: i32[idx] = v, visible after every earlier store of this thread, with no fence
 * after it (concurrency/wait.ts handOff). On x86 a plain store: the JavaScript memory model does
 * not order a plain write before another thread's Atomics.load, but V8 does not reorder stores and
 * x86 is TSO, so it is a release store there, as MOV is in C. Elsewhere Atomics.store.
 */
export function storeRelease(i32: Int32Array, idx: number, v: number): void {
  if (TSO) i32[idx] = v;
  else Atomics.store(i32, idx, v);
}

/** Source of storeSeqCst for a worker evaluated from a string (calibration's ping-pong). */
export const STORE_SEQ_CST_SOURCE = `
const __tso = ${JSON.stringify(TSO)};
const __fence = new Int32Array(new SharedArrayBuffer(${FENCE_BYTES}));
function storeSeqCst(i32, idx, v) {
  if (__tso) { i32[idx] = v; Atomics.add(__fence, ${FENCE_IDX}, 0); } else Atomics.store(i32, idx, v);
}
`;
