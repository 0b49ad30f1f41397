// The seed patch (Zhen Lei, 2017, "iommu: add a new member unmap_tlb_sync into struct iommu_ops";
// upstream as iotlb_range_add/iotlb_sync): invalidate every page as its PTE is cleared, then one
// CMD_SYNC at the end of iommu_unmap. Safe because the IOVA is freed only after that sync.
// On the 2017 locked queue every command is its own insertion under the lock; on the designs that
// came with v5.4's lock-free queue (lockfree, ecmdq) pages are gathered into cmdlists of 64
// (arm_smmu_cmdq_batch_add), the last one issued with the CMD_SYNC.
import { gatherBatches, onePerIssue } from './gather.js';
import type { StrategyDef } from './strategy.js';

export const batched: StrategyDef = {
  name: 'batched',
  summary: 'TLBI_NH_VA for every page, one CMD_SYNC at the end of the unmap (the 2017 seed patch)',
  cmdq: 'locked',
  create: (ctx) => ((ctx.design ?? 'locked') === 'locked' ? onePerIssue(ctx, false) : gatherBatches(ctx)),
};
