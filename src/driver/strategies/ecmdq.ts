// The batched invalidation of the seed on an SMMUv3.3 with Enhanced Command queues (Zhen Lei,
// "iommu/arm-smmu-v3: Add support for ECMDQ register mode"): every page's TLBI_NH_VA is gathered
// into a command batch (a full batch of 64 is issued without a sync, as arm_smmu_cmdq_batch_add
// does) and iotlbSync issues the rest with one CMD_SYNC, all on the CPU's own ECMDQ: no cmdq
// spinlock, no shared queue index, and the CMD_SYNC waits for this CPU's commands only.
import { gatherBatches } from './gather.js';
import type { StrategyDef } from './strategy.js';

export const ecmdq: StrategyDef = {
  name: 'ecmdq',
  summary:
    'TLBI_NH_VA for every page in batches of 64, one CMD_SYNC per unmap, each CPU on its own SMMUv3.3 ' +
    'ECMDQ (Linux "iommu/arm-smmu-v3: Add support for ECMDQ register mode")',
  cmdq: 'ecmdq',
  create: (ctx) => gatherBatches(ctx),
};
