// The batched invalidation of the seed on Linux v5.4's lock-free command queue ("iommu/arm-smmu:
// Reduce contention during command-queue insertion", Will Deacon, 2019): every page's TLBI_NH_VA
// is gathered into a command batch, a full batch (64 commands) is issued without a sync, as
// arm_smmu_cmdq_batch_add does, and iotlbSync issues the rest with one CMD_SYNC. Each issue is one
// cmpxchg slot reservation; no cmdq spinlock is taken.
import { gatherBatches } from './gather.js';
import type { StrategyDef } from './strategy.js';

export const lockfree: StrategyDef = {
  name: 'lockfree',
  summary:
    'TLBI_NH_VA for every page in batches of 64, one CMD_SYNC per unmap, lock-free queue insertion ' +
    '(Linux v5.4, "iommu/arm-smmu: Reduce contention during command-queue insertion")',
  cmdq: 'lockfree',
  create: (ctx) => gatherBatches(ctx),
};
