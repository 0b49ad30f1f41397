// Driver bring-up, on the orchestrator thread before any CPU starts, in the order of Linux's
// arm_smmu_device_hw_probe() + arm_smmu_device_reset(): read the ID registers, program CMDQ_BASE
// (address + LOG2SIZE) and the indices, set CR0.CMDQEN and wait for CR0ACK, then invalidate any
// cached configuration and TLB entries (CFGI_ALL, TLBI_NSNH_ALL, CMD_SYNC).
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CS_IRQ,
  CS_NONE,
  CS_SEV,
  writeCfgiAll,
  writeCmdSync,
  writeTlbiNsnhAll,
} from '../hardware/commands.js';
import { cmdqEntryIdx, Ctl, ctlIdx, type Layout, type SharedViews } from '../hardware/layout.js';
import { RegisterFile } from '../hardware/regfile.js';
import {
  CMDQ_BASE_ADDR_SHIFT,
  CR0_CMDQEN,
  IDR0_COHACC,
  IDR0_MSI,
  IDR0_SEV,
  IDR1_CMDQS_MASK,
  IDR1_CMDQS_SHIFT,
  IDR3_RIL,
} from '../hardware/registers.js';
import type { SmmuFeatures } from '../hardware/smmu-reset.js';

export interface ProbeResult extends SmmuFeatures {
  /** CS to put in CMD_SYNC when completion is polled (SEV if the SMMU can send events). */
  readonly pollCs: number;
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
  const features: ProbeResult = {
    msi: (idr0 & IDR0_MSI) !== 0 && (idr0 & IDR0_COHACC) !== 0,
    sev: (idr0 & IDR0_SEV) !== 0,
    ril: (regs.read32('IDR3') & IDR3_RIL) !== 0,
    pollCs: (idr0 & IDR0_SEV) !== 0 ? CS_SEV : CS_NONE,
  };

  regs.write64(
    'CMDQ_BASE',
    Math.floor(layout.cmdqOff / 2 ** CMDQ_BASE_ADDR_SHIFT) * 2 ** CMDQ_BASE_ADDR_SHIFT + layout.queueShift,
  );
  regs.write32('CMDQ_PROD', 0);
  regs.write32('CMDQ_CONS', 0);
  regs.write32('CR0', CR0_CMDQEN);
  await until('no CR0ACK.CMDQEN', () => (regs.read32('CR0ACK') & CR0_CMDQEN) !== 0, timeoutMs);

  const i32 = views.i32;
  writeCfgiAll(i32, cmdqEntryIdx(layout, 0));
  writeTlbiNsnhAll(i32, cmdqEntryIdx(layout, 1));
  const syncAt = ctlIdx(layout, Ctl.SYNC_COUNT);
  writeCmdSync(i32, cmdqEntryIdx(layout, 2), features.msi ? CS_IRQ : features.pollCs, 0, syncAt * 4);
  i32[ctlIdx(layout, Ctl.LLQ_PROD)] = 3;
  regs.write32('CMDQ_PROD', 3);
  await until('bring-up CMD_SYNC not completed', () => regs.read32('CMDQ_CONS') === 3, timeoutMs);
  i32[ctlIdx(layout, Ctl.LLQ_CONS)] = 3;
  return features;
}
