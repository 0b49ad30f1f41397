// Driver bring-up, on the orchestrator thread before any CPU starts, in the order of Linux's
// arm_smmu_device_hw_probe() + arm_smmu_device_reset(): read the ID registers, program CMDQ_BASE
// (address + LOG2SIZE) and the indices, set CR0.CMDQEN and wait for CR0ACK, on an SMMUv3.3 with
// ECMDQs then give every CPU its own queue and enable it (arm_smmu_ecmdq_reset), then issue what
// Linux 6.1 issues (captured under QEMU): CFGI_ALL + CMD_SYNC, with IDR0.HYP TLBI_EL2_ALL +
// CMD_SYNC (arm_smmu_device_reset), TLBI_NSNH_ALL + CMD_SYNC, and per
// device (here: one per domain, StreamID d for ASID d + 1) CFGI_STE (leaf) + CMD_SYNC twice
// (arm_smmu_write_strtab_ent's two STE updates), PREFETCH_CONFIG, TLBI_NH_ASID + CMD_SYNC.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CS_IRQ,
  CS_SEV,
  encodeInto,
  writeCfgiAll,
  writeCmdSync,
  writeTlbiNhAsid,
  writeTlbiNsnhAll,
} from '../hardware/commands.js';
import { qIdx, queueIncN } from '../hardware/queue.js';
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
  IDR0_HYP,
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
  /** CS to put in CMD_SYNC when completion is polled: SEV, whatever IDR0.SEV says, as Linux
   *  (arm_smmu_cmdq_build_cmd: CS_SEV whenever the sync has no MSI address). */
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
    pollCs: CS_SEV,
    ecmdqs: ecmdq ? layout.cpus : 0,
  };

  regs.write64(
    'CMDQ_BASE',
    Math.floor(layout.cmdqOff / 2 ** CMDQ_BASE_ADDR_SHIFT) * 2 ** CMDQ_BASE_ADDR_SHIFT + layout.queueShift,
  );
  regs.write32('CMDQ_PROD', 0);
  regs.write32('CMDQ_CONS', 0);
  regs.write32('CR0', CR0_CMDQEN);
  await until('no CR0ACK.CMDQEN', () => (regs.read32('CR0ACK') & CR0_CMDQEN) !== 0, timeoutMs);
  if (ecmdq) await enableEcmdqs(regs, views.i32, layout, timeoutMs);

  const i32 = views.i32;
  const shift = layout.queueShift;
  let prod = 0;
  type Write = (i32: Int32Array, w: number) => void;
  // One arm_smmu_cmdq_issue_cmd[_with_sync](): the entries, one PROD write, and with a CMD_SYNC a
  // wait until CONS has passed it. At most two entries, so any queue size (>= 2) holds them.
  const submit = async (cmd: Write, sync: boolean): Promise<void> => {
    cmd(i32, cmdqEntryIdx(layout, qIdx(shift, prod)));
    prod = queueIncN(shift, prod, 1);
    if (sync) {
      const w = cmdqEntryIdx(layout, qIdx(shift, prod));
      // As v5.4+ (arm_smmu_cmdq_build_sync_cmd): the MSI writes MSIDATA 0 over the sync's own slot.
      if (features.msi) writeCmdSync(i32, w, CS_IRQ, 0, w * 4);
      else writeCmdSync(i32, w, features.pollCs, 0, 0);
      prod = queueIncN(shift, prod, 1);
    }
    regs.write32('CMDQ_PROD', prod);
    // With ECMDQs the SMMU sleeps on the doorbell of all its queues, this one included.
    if (ecmdq) ringDoorbell(i32, ecmdqDoorbellIdx(layout));
    if (sync)
      await until('bring-up CMD_SYNC not completed', () => regs.read32('CMDQ_CONS') === prod, timeoutMs);
  };
  await submit(writeCfgiAll, true);
  // Linux sends TLBI_EL2_ALL only when IDR0.HYP (ARM_SMMU_FEAT_HYP), which QEMU does not advertise
  // and this SMMU does (its EL2 TLBIs are legal): the capture in the facts file lacks it.
  if ((idr0 & IDR0_HYP) !== 0) await submit((q, w) => encodeInto({ op: 'TLBI_EL2_ALL' }, q, w), true);
  await submit(writeTlbiNsnhAll, true);
  for (let d = 0; d < layout.domains; d++) {
    const ste: Write = (q, w) => encodeInto({ op: 'CFGI_STE', sid: d, leaf: true }, q, w);
    await submit(ste, true);
    await submit(ste, true);
    await submit((q, w) => encodeInto({ op: 'PREFETCH_CONFIG', ssv: false, ssid: 0, sid: d }, q, w), false);
    await submit((q, w) => writeTlbiNhAsid(q, w, d + 1, 0), true);
  }
  i32[ctlIdx(layout, Ctl.LLQ_PROD)] = prod;
  i32[ctlIdx(layout, Ctl.LLQ_CONS)] = prod;
  return features;
}

/**
 * Linux's arm_smmu_ecmdq_probe() and arm_smmu_ecmdq_reset(), which arm_smmu_device_reset() calls
 * once CR0.CMDQEN is acknowledged and before its first command:
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
