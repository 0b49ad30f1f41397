// Power-on reset of the emulated SMMU: the ID registers advertise what this run's configuration
// implies, everything else starts disabled. Runs before the SMMU worker and the driver start.
import { Q_MAX_SHIFT } from './queue.js';
import type { RegisterFile } from './regfile.js';
import {
  AIDR_V3_0,
  AIDR_V3_2,
  AIDR_V3_3,
  CONTROL_PAGE_PRESET,
  IDR0_ASID16,
  IDR0_ATS,
  IDR0_COHACC,
  IDR0_HYP,
  IDR0_MSI,
  IDR0_PRI,
  IDR0_S1P,
  IDR0_S2P,
  IDR0_SEV,
  IDR0_TTF_AARCH64,
  IDR0_TTF_SHIFT,
  IDR1_CMDQS_SHIFT,
  IDR1_ECMDQ,
  IDR3_RIL,
  IDR5_GRAN16K,
  IDR5_GRAN4K,
  IDR5_GRAN64K,
  IDR5_OAS_48_BIT,
} from './registers.js';

export interface SmmuFeatures {
  /** MSI-signalled CMD_SYNC completion on a coherent SMMU (IDR0.MSI + IDR0.COHACC). */
  readonly msi: boolean;
  /** The SMMU sends an event on CMD_SYNC completion (IDR0.SEV): here, it wakes parked waiters. */
  readonly sev: boolean;
  /** SMMUv3.2 range invalidation (IDR3.RIL). */
  readonly ril: boolean;
}

/** IIDR: implementer "emulated" (JEP106 bank/ID left 0), product 0x3e ('>' for v3), revision 0. */
const IIDR = 0x3e << 20;

/**
 * `asids`: the highest ASID the driver will use (ASIDs 1..domains); above 255 needs 16-bit ASIDs.
 * Every command the emulator accepts is legal under the features advertised: S1P and S2P (NH and
 * S12/S2 TLBIs, 4.4.2-3), HYP (EL2 TLBIs), ATS (ATC_INV), PRI (PRI_RESP), STALL_MODEL 0b00
 * (RESUME, STALL_TERM). Without them the spec makes those commands CERROR_ILL.
 */
export function resetSmmu(regs: RegisterFile, f: SmmuFeatures, asids = 1): void {
  // SMMUv3.3 ECMDQs are a matter of how the implementation was built: layout.ts allocate()
  // hardwires IDR6 and the control page registers only when the run's design placed ECMDQs. They
  // are advertised exactly then, with the MSI and coherent access that IDR1.ECMDQ implies (spec
  // 6.3.2). Every ECMDQ_PROD.EN / ECMDQ_CONS.ENACK starts at 0 (the run's memory is fresh).
  const ecmdq = (regs.read32('CMDQ_CONTROL_PAGE_BASE0') & CONTROL_PAGE_PRESET) !== 0;
  let idr0 = IDR0_S1P | IDR0_S2P | (IDR0_TTF_AARCH64 << IDR0_TTF_SHIFT) | IDR0_HYP | IDR0_ATS | IDR0_PRI;
  if (asids > 0xff) idr0 |= IDR0_ASID16;
  if (f.msi || ecmdq) idr0 |= IDR0_MSI | IDR0_COHACC;
  if (f.sev) idr0 |= IDR0_SEV;
  regs.write32('IDR0', idr0);
  regs.write32('IDR1', (Q_MAX_SHIFT << IDR1_CMDQS_SHIFT) | (ecmdq ? IDR1_ECMDQ : 0));
  regs.write32('IDR3', f.ril ? IDR3_RIL : 0);
  regs.write32('IDR5', IDR5_GRAN4K | IDR5_GRAN16K | IDR5_GRAN64K | IDR5_OAS_48_BIT);
  regs.write32('IIDR', IIDR);
  // The architecture revision the features need: RIL is SMMUv3.2, ECMDQ SMMUv3.3.
  regs.write32('AIDR', ecmdq ? AIDR_V3_3 : f.ril ? AIDR_V3_2 : AIDR_V3_0);
  for (const r of ['CR0', 'CR0ACK', 'GERROR', 'GERRORN', 'CMDQ_PROD', 'CMDQ_CONS'] as const)
    regs.write32(r, 0);
  regs.write64('CMDQ_BASE', 0);
}
