// The seed patch (Zhen Lei, 2017, "iommu: add a new member unmap_tlb_sync into struct iommu_ops";
// upstream as iotlb_range_add/iotlb_sync): invalidate every page as its PTE is cleared, then one
// CMD_SYNC at the end of iommu_unmap. Safe because the IOVA is freed only after that sync.
import { onePerIssue } from './gather.js';
import type { StrategyDef } from './strategy.js';

export const batched: StrategyDef = {
  name: 'batched',
  summary: 'TLBI_NH_VA for every page, one CMD_SYNC at the end of the unmap (the 2017 seed patch)',
  cmdq: 'locked',
  create: (ctx) => onePerIssue(ctx, false),
};
