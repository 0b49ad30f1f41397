// Driver bring-up, on the orchestrator thread before any CPU starts, in the order of Linux's
// arm_smmu_device_hw_probe() + arm_smmu_device_reset(): read the ID registers, program CMDQ_BASE
// (address + LOG2SIZE) and the indices, on an SMMUv3.3 with ECMDQs give every CPU its own queue
// and enable it, set CR0.CMDQEN and wait for CR0ACK, then invalidate any cached configuration and
// TLB entries (CFGI_ALL, TLBI_NSNH_ALL, CMD_SYNC).
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CS_IRQ,
  CS_NONE,
  CS_SEV,
  writeCfgiAll,
  writeCmdSync,
  writeTlbiNsnhAll,
} from '../hardware/commands.js';
import { ringDoorbell } from '../hardware/ecmdq.js';
import {
  cmdqEntryIdx,
  Ctl,
  ctlIdx,
  ecmdqDoorbellIdx,
  ecmdqQueueOff,
  ecmdqRegIdx,
  type Layout,
  type SharedViews,
} from '../hardware/layout.js';
import { RegisterFile } from '../hardware/regfile.js';
import {
  CMDQ_BASE_ADDR_SHIFT,
  CONTROL_PAGE_ADDR_SHIFT,
  CONTROL_PAGE_BYTES,
  CONTROL_PAGE_EN,
  CONTROL_PAGE_PRESET,
  CR0_CMDQEN,
  ECMDQ_CONS_ENACK,
  ECMDQ_PROD_EN,
  ECMDQ_REG,
  IDR0_COHACC,
  IDR0_MSI,
  IDR0_SEV,
  IDR1_CMDQS_MASK,
  IDR1_CMDQS_SHIFT,
  IDR1_ECMDQ,
  IDR3_RIL,
  IDR6_LOG2NUM_MASK,
  IDR6_LOG2NUMP_SHIFT,
  IDR6_LOG2NUMQ_SHIFT,
} from '../hardware/registers.js';
import type { SmmuFeatures } from '../hardware/smmu-reset.js';

export interface ProbeResult extends SmmuFeatures {
  /** CS to put in CMD_SYNC when completion is polled (SEV if the SMMU can send events). */
  readonly pollCs: number;
  /** ECMDQs enabled, ECMDQ n for CPU n (0: the SMMU has none, IDR1.ECMDQ = 0). */
  readonly ecmdqs: number;
}

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`SMMU bring-up: ${what} within ${timeoutMs} ms`);
    await sleep(1);
  }
}

export async function probeSmmu(views: SharedViews, layout: Layout, timeoutMs = 5000): Promise<ProbeResult> {
  const regs = new RegisterFile(views.i32, layout);
  const idr0 = regs.read32('IDR0');
  const cmdqs = (regs.read32('IDR1') >>> IDR1_CMDQS_SHIFT) & IDR1_CMDQS_MASK;
  if (layout.queueShift > cmdqs)
    throw new Error(
      `SMMU supports at most 2^${cmdqs} command queue entries, 2^${layout.queueShift} requested`,
    );
  const ecmdq = (regs.read32('IDR1') & IDR1_ECMDQ) !== 0;
  const features: ProbeResult = {
    msi: (idr0 & IDR0_MSI) !== 0 && (idr0 & IDR0_COHACC) !== 0,
    sev: (idr0 & IDR0_SEV) !== 0,
    ril: (regs.read32('IDR3') & IDR3_RIL) !== 0,
    pollCs: (idr0 & IDR0_SEV) !== 0 ? CS_SEV : CS_NONE,
    ecmdqs: ecmdq ? layout.cpus : 0,
  };

  regs.write64(
    'CMDQ_BASE',
    Math.floor(layout.cmdqOff / 2 ** CMDQ_BASE_ADDR_SHIFT) * 2 ** CMDQ_BASE_ADDR_SHIFT + layout.queueShift,
  );
  regs.write32('CMDQ_PROD', 0);
  regs.write32('CMDQ_CONS', 0);
  if (ecmdq) await enableEcmdqs(regs, views.i32, layout, timeoutMs);
  regs.write32('CR0', CR0_CMDQEN);
  await until('no CR0ACK.CMDQEN', () => (regs.read32('CR0ACK') & CR0_CMDQEN) !== 0, timeoutMs);

  const i32 = views.i32;
  writeCfgiAll(i32, cmdqEntryIdx(layout, 0));
  writeTlbiNsnhAll(i32, cmdqEntryIdx(layout, 1));
  const syncAt = ctlIdx(layout, Ctl.SYNC_COUNT);
  writeCmdSync(i32, cmdqEntryIdx(layout, 2), features.msi ? CS_IRQ : features.pollCs, 0, syncAt * 4);
  i32[ctlIdx(layout, Ctl.LLQ_PROD)] = 3;
  regs.write32('CMDQ_PROD', 3);
  // With ECMDQs the SMMU sleeps on the doorbell of all its queues, this one included.
  if (ecmdq) ringDoorbell(i32, ecmdqDoorbellIdx(layout));
  await until('bring-up CMD_SYNC not completed', () => regs.read32('CMDQ_CONS') === 3, timeoutMs);
  i32[ctlIdx(layout, Ctl.LLQ_CONS)] = 3;
  return features;
}

/**
 * Linux's arm_smmu_ecmdq_probe() and the ECMDQ step of arm_smmu_device_reset(), before CR0.CMDQEN:
 * IDR6 gives the control pages and the queues in each; Linux uses ECMDQs only in register mode
 * (CMDQ_CONTROL_PAGE_BASE.PRESET) and only if every CPU gets a queue of its own, CPU n taking
 * ECMDQ n. Each queue gets its BASE (address + LOG2SIZE, the size of the normal queue), PROD and
 * CONS, then PROD.EN, and is live once CONS.ENACK reads 1.
 */
async function enableEcmdqs(
  regs: RegisterFile,
  i32: Int32Array,
  layout: Layout,
  timeoutMs: number,
): Promise<void> {
  const idr6 = regs.read32('IDR6');
  const log2numq = (idr6 >>> IDR6_LOG2NUMQ_SHIFT) & IDR6_LOG2NUM_MASK;
  const queues = (1 << ((idr6 >>> IDR6_LOG2NUMP_SHIFT) & IDR6_LOG2NUM_MASK)) << log2numq;
  if (layout.cpus > queues)
    throw new Error(`SMMU bring-up: ${queues} ECMDQs cannot give each of ${layout.cpus} CPUs its own`);
  const page = regs.read64('CMDQ_CONTROL_PAGE_BASE0');
  if ((regs.read32('CMDQ_CONTROL_PAGE_BASE0') & CONTROL_PAGE_PRESET) === 0)
    throw new Error('SMMU bring-up: ECMDQ control page 0 is not in register mode (PRESET = 0)');
  if ((regs.read32('CMDQ_CONTROL_PAGE_STATUS0') & CONTROL_PAGE_EN) === 0)
    throw new Error('SMMU bring-up: ECMDQ control page 0 is not enabled (STATUS.ENACK = 0)');
  // Where ECMDQ n's registers are architecturally (page-0 offset), for messages.
  const pageOff = Math.floor(page / 2 ** CONTROL_PAGE_ADDR_SHIFT) * 2 ** CONTROL_PAGE_ADDR_SHIFT;
  const stride = CONTROL_PAGE_BYTES >> log2numq;
  const doorbell = ecmdqDoorbellIdx(layout);
  for (let n = 0; n < layout.cpus; n++) {
    const base = ecmdqRegIdx(layout, n, 'ECMDQ_BASE');
    const prod = ecmdqRegIdx(layout, n, 'ECMDQ_PROD');
    const cons = ecmdqRegIdx(layout, n, 'ECMDQ_CONS');
    const q = ecmdqQueueOff(layout, n); // 64-byte aligned, below 2^32: ADDR [55:5] as is
    Atomics.store(i32, base, q + layout.queueShift);
    Atomics.store(i32, base + 1, 0);
    Atomics.store(i32, prod, 0);
    Atomics.store(i32, cons, 0);
    Atomics.store(i32, prod, ECMDQ_PROD_EN);
    ringDoorbell(i32, doorbell);
    const at = pageOff + n * stride + ECMDQ_REG.ECMDQ_CONS.offset;
    await until(
      `no ECMDQ_CONS.ENACK from ECMDQ ${n} (page-0 offset 0x${at.toString(16)})`,
      () => (Atomics.load(i32, cons) & ECMDQ_CONS_ENACK) !== 0,
      timeoutMs,
    );
  }
}
