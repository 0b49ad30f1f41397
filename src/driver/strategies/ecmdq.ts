// An alias kept for the outputs and scripts that name it: batched with each CPU on its own SMMUv3.3
// Enhanced Command queue (Zhen Lei, "iommu/arm-smmu-v3: Add support for ECMDQ register mode"),
// i.e. `--strategy batched --cmdq ecmdq`. Its runs keep the strategy name `ecmdq`.
import { batched } from './batched.js';
import type { StrategyDef } from './strategy.js';

export const ecmdq: StrategyDef = {
  name: 'ecmdq',
  summary:
    'alias of batched on --cmdq ecmdq: TLBI_NH_VA in cmdlists of 64, one CMD_SYNC per unmap, each CPU on ' +
    'its own SMMUv3.3 ECMDQ (Linux "iommu/arm-smmu-v3: Add support for ECMDQ register mode")',
  cmdq: 'ecmdq',
  designFixed: true,
  create: batched.create,
};
