// Producer/consumer index arithmetic for a queue of 2^shift entries, as the SMMUv3 spec defines
// PROD/CONS and as Linux's arm-smmu-v3 decides full and empty (Q_IDX, Q_WRP, queue_full, ...).
// An index word holds the entry index in bits [shift-1:0], the wrap bit at bit `shift`, and the
// overflow flag at bit 31. Pure functions on numbers: no memory access, so they are shared by the
// driver, the SMMU engine and the tests. Values are kept as unsigned 32-bit numbers.
import { Q_OVERFLOW_FLAG } from './registers.js';
import { CMD_BYTES } from './commands.js';
import { LINE, REGION, type LayoutGeometry, type RegionDecl } from './region.js';

/**
 * The normal command queue's entries. SMMUv3 takes the queue base aligned to the queue's size
 * (CMDQ_BASE.ADDR bits below it are ignored), so the emulated driver allocates it that way too.
 */
export const CMDQ_DECL: RegionDecl<LayoutGeometry> = {
  name: REGION.CMDQ,
  bytes: (g) => (1 << g.queueShift) * CMD_BYTES,
  align: (g) => Math.max(LINE, (1 << g.queueShift) * CMD_BYTES),
};

export const Q_MIN_SHIFT = 1;
export const Q_MAX_SHIFT = 19; // CMDQS is 5 bits; QEMU uses 2^19, the largest we accept

export function qIdx(shift: number, p: number): number {
  return p & ((1 << shift) - 1);
}

export function qWrp(shift: number, p: number): number {
  return p & (1 << shift);
}

export function qOvf(p: number): number {
  return (p & Q_OVERFLOW_FLAG) >>> 0;
}

/** Same index, different wrap: every entry holds an unconsumed command. */
export function queueFull(shift: number, prod: number, cons: number): boolean {
  return qIdx(shift, prod) === qIdx(shift, cons) && qWrp(shift, prod) !== qWrp(shift, cons);
}

/** Same index, same wrap. */
export function queueEmpty(shift: number, prod: number, cons: number): boolean {
  return qIdx(shift, prod) === qIdx(shift, cons) && qWrp(shift, prod) === qWrp(shift, cons);
}

/** Number of entries between cons and prod (0..2^shift). */
export function queueDepth(shift: number, prod: number, cons: number): number {
  const size = 1 << shift;
  if (qWrp(shift, prod) === qWrp(shift, cons)) return qIdx(shift, prod) - qIdx(shift, cons);
  return size - qIdx(shift, cons) + qIdx(shift, prod);
}

/** Linux queue_has_space(): can n more entries be written at prod? */
export function queueHasSpace(shift: number, prod: number, cons: number, n: number): boolean {
  return (1 << shift) - queueDepth(shift, prod, cons) >= n;
}

/** Linux queue_inc_prod_n(): advance by n, carrying into the wrap bit, keeping the overflow flag. */
export function queueIncN(shift: number, p: number, n: number): number {
  const mask = (1 << (shift + 1)) - 1; // index + wrap
  return (qOvf(p) | (((p & mask) + n) & mask)) >>> 0;
}

/** Linux queue_consumed(): has cons moved past the entry at prod? */
export function queueConsumed(shift: number, cons: number, prod: number): boolean {
  return (
    (qWrp(shift, cons) === qWrp(shift, prod) && qIdx(shift, cons) > qIdx(shift, prod)) ||
    (qWrp(shift, cons) !== qWrp(shift, prod) && qIdx(shift, cons) <= qIdx(shift, prod))
  );
}

export function log2Exact(n: number): number {
  const s = Math.log2(n);
  if (!Number.isInteger(s)) throw new RangeError(`${n} is not a power of two`);
  return s;
}
