// Where the virtual engine's shared state lives, byte addresses in its coherent memory. What
// matters is which words share a 64-byte line, and that follows Linux (notes lesson 3):
//
// v5.4 struct arm_smmu_cmdq (arm64, 64-byte lines): q.llq's {prod, cons} union is padded to a line
// of its own (____cacheline_aligned_in_smp); the rest of struct arm_smmu_queue (max_n_shift, irq,
// base, base_dma, q_base, ent_dwords, prod_reg, cons_reg) is read-mostly and fills the struct up to
// byte 192 (it is 64-byte aligned, so padded to a multiple of 64); then valid_map (the bitmap
// pointer, read on every insertion), owner_prod and the counter lock share the line at 192.
// Read-mostly fields are not modelled: after the first touch every CPU hits on them.
//
// 2017 struct arm_smmu_cmdq: struct arm_smmu_queue q (prod, cons, ..., cons_reg: 64 bytes), then
// spinlock_t lock on the next line. smmu->sync_nr and the MSI target smmu->sync_count (v4.15,
// "Use CMD_SYNC completion MSI") are taken to sit on lines of their own.
import { REG } from '../hardware/registers.js';

/** v5.4: cmdq->q.llq.val, a 64-bit {prod [31:0], cons [63:32]}. */
export const LLQ = 0x1000;
/** v5.4: cmdq->valid_map (the pointer), cmdq->owner_prod, cmdq->lock: one line. */
export const VALID_MAP_PTR = LLQ + 192;
export const OWNER_PROD = LLQ + 200;
export const CMDQ_LOCK = LLQ + 204;
/** v5.4: the valid bitmap, 32-bit words here (Linux's are 64-bit): 512 entries per line either way. */
export const VALID_MAP = 0x2000;

/** 2017: cmdq->q.prod and cmdq->q.cons (the driver's shadow indexes). */
export const Q_PROD = 0x8000;
export const Q_CONS = Q_PROD + 4;
/** 2017: cmdq->lock, the --lock algorithm's first line (ticket: `next` on the line after). */
export const SPINLOCK = Q_PROD + 64;
/** The mcs lock's per-CPU nodes, a line each. */
export const LOCK_NODES = 0x400000;
/** 2017 MSI: smmu->sync_nr and smmu->sync_count. */
export const SYNC_NR = 0x9000;
export const SYNC_COUNT = 0x9040;

/** The command queue's entries: entry i at QUEUE_BASE + 16 i (four to a line). */
export const QUEUE_BASE = 0x100000;

/** smmuFetch 2: CMDQ_PROD as the threads engine keeps it, a shared-memory word on a line of its
 *  own (hardware/layout.ts regIdx), which the CPU's doorbell stores to and the SMMU worker loads. */
export const PROD_LINE = 0xa000;

/** The SMMU's registers, at their page-0 offsets. */
export const CMDQ_PROD_REG = REG.CMDQ_PROD.offset;
export const CMDQ_CONS_REG = REG.CMDQ_CONS.offset;

/**
 * SMMUv3.3 ECMDQ n: its lock-free protocol state (llq, then the valid_map/owner_prod/lock line,
 * then the valid bitmap), as the shared queue's at LLQ but one block per queue; its entries; its
 * PROD and CONS registers (ECMDQ_PROD/ECMDQ_CONS of control page 0, 0x20 apart, spec 6.2.5).
 */
export const ECMDQ_STATE = 0x800000;
export const ECMDQ_STATE_BYTES = 0x1000;
export const ECMDQ_ENTRIES = 0x10000000;
export const ECMDQ_REGS = 0x100000;
export const ECMDQ_REG_STRIDE = 0x20;
export const ECMDQ_PROD_OFF = 0x08;
export const ECMDQ_CONS_OFF = 0x0c;

/** With the driver state (state.ts): the run's real layout (hardware/layout.ts) is mapped here,
 *  so a lock or word at layout byte offset o is at LAYOUT_BASE + o and shares lines as it does in
 *  the threads engine's SharedArrayBuffer (e.g. adjacent rcache locks). */
export const LAYOUT_BASE = 0x40000000;
