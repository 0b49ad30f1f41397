// An alias kept for the outputs and scripts that name it: batched on Linux v5.4's lock-free
// command queue ("iommu/arm-smmu: Reduce contention during command-queue insertion", Will Deacon,
// 2019), i.e. `--strategy batched --cmdq lockfree`. Its runs keep the strategy name `lockfree`.
import { batched } from './batched.js';
import type { StrategyDef } from './strategy.js';

export const lockfree: StrategyDef = {
  name: 'lockfree',
  summary:
    'alias of batched on --cmdq lockfree: TLBI_NH_VA in cmdlists of 64, one CMD_SYNC per unmap, lock-free ' +
    'queue insertion (Linux v5.4, "iommu/arm-smmu: Reduce contention during command-queue insertion")',
  cmdq: 'lockfree',
  designFixed: true,
  create: batched.create,
};
