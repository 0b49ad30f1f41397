// SMMUv3.3 Enhanced Command queues (ECMDQ) in shared memory: the format of the 'ecmdq' layout
// region (layout.ts places it and answers every index into it; nobody else adds offsets) and the
// doorbell through which a producer wakes a sleeping SMMU.
//
// The implementation has 2^LOG2NUMQ ECMDQs in one command queue control page, the smallest power
// of two that gives every CPU its own queue (Linux uses ECMDQs only when each CPU can have one).
// Region format, in 64-byte lines:
//   line 0        doorbell word, its waiter count: the SMMU sleeps here when every queue is empty
//   then per ECMDQ n, ECMDQ_BLOCK_BYTES each:
//     +0x000 line ECMDQ_PROD: written only by the queue's CPU, read by the SMMU
//     +0x040 line ECMDQ_CONS: written only by the SMMU; its waiter count (a CPU parks on it)
//     +0x080 line ECMDQ_BASE (low, high words): cold, written while the queue is disabled
//     +0x0c0 line the queue CPU's CMD_SYNC completion word (its MSIADDR), its waiter count
//   then, from the first offset aligned to a queue's size (the SMMU, like Linux's allocation,
//   wants a queue naturally aligned), ECMDQ n's 2^queueShift entries, which ECMDQ_BASE.ADDR
//   points at, one queue after the other.
// PROD and CONS are the hot registers of a queue: each on its own line, as CMDQ_PROD and CMDQ_CONS,
// so the CPU ringing its PROD never takes the line the SMMU writes CONS to, and no two CPUs ever
// write the same line on the fast path.
import { CMD_BYTES } from './commands.js';
import { IDR6_LOG2NUM_MAX } from './registers.js';
import { WAITERS } from '../concurrency/wait.js';
import { LINE, type LayoutGeometry, type RegionDecl } from './region.js';

/** Name of the layout region (placed when the ecmdq command-queue design's regions list it). */
export const ECMDQ_REGION = 'ecmdq';

/** Byte offsets within one ECMDQ's block of registers and completion word. */
export const enum EcmdqBlock {
  PROD = 0x00,
  CONS = 0x40,
  BASE = 0x80,
  MSI = 0xc0,
  BYTES = 0x100,
}

/** log2 of the ECMDQs an implementation for `cpus` CPUs has (IDR6.CMDQ_CONTROL_PAGE_LOG2NUMQ). */
export function ecmdqLog2NumQ(cpus: number): number {
  const n = Math.ceil(Math.log2(Math.max(1, cpus)));
  if (n > IDR6_LOG2NUM_MAX)
    throw new RangeError(
      `ECMDQ: ${cpus} CPUs need more than one control page of ${1 << IDR6_LOG2NUM_MAX} queues`,
    );
  return n;
}

/** Bytes of one queue's entries (also their alignment). */
export function ecmdqQueueBytes(queueShift: number): number {
  return (1 << queueShift) * CMD_BYTES;
}

/** Size of the ECMDQ region for a run of `cpus` CPUs with queues of 2^queueShift entries. */
export function ecmdqRegionBytes(cpus: number, queueShift: number): number {
  const queues = 1 << ecmdqLog2NumQ(cpus);
  const q = ecmdqQueueBytes(queueShift);
  // The region starts 64-byte aligned: up to q - 64 bytes of padding align the first queue.
  return LINE + queues * EcmdqBlock.BYTES + Math.max(0, q - LINE) + queues * q;
}

export const ECMDQ_DECL: RegionDecl<LayoutGeometry> = {
  name: ECMDQ_REGION,
  bytes: (g) => ecmdqRegionBytes(g.cpus, g.queueShift),
  align: LINE,
};

// ---- The doorbell ----------------------------------------------------------------------------
// The spec only says the SMMU reacts to a PROD write "in finite time"; a thread cannot wait on
// 257 words at once, so the idle SMMU sleeps on one doorbell word instead, and a producer wakes it
// only when it is asleep:
//   producer: store PROD; if doorbellWanted(): ringDoorbell()
//   SMMU:     read the doorbell; raise its waiter count; read every PROD once more; if none moved,
//             Atomics.wait(doorbell, value read); lower the count
// Both sides are sequentially consistent, so either the SMMU's last look sees the new PROD or the
// producer sees the raised count (and if it rings before the SMMU waits, the wait returns at
// once). While the SMMU is busy or spinning, the producer's check is one read of a line nobody
// writes: the doorbell costs the fast path nothing; a wake-up costs an atomic add and a futex wake.

/** Is the SMMU asleep on the doorbell (so that a producer that just wrote a PROD must ring)? */
export function doorbellWanted(i32: Int32Array, doorbellIdx: number): boolean {
  return Atomics.load(i32, doorbellIdx + WAITERS) !== 0;
}

/** Wakes the SMMU sleeping on the doorbell (the bring-up rings after every write it must see). */
export function ringDoorbell(i32: Int32Array, doorbellIdx: number): void {
  Atomics.add(i32, doorbellIdx, 1);
  Atomics.notify(i32, doorbellIdx);
}
