// Before the seed patch: every page's unmap invalidated its TLB entry and waited for it, so an
// unmap of P pages costs P TLBI_NH_VA and P CMD_SYNC, each SYNC a full round trip to the SMMU
// (under the cmdq lock, in poll mode).
import { onePerIssue } from './gather.js';
import type { StrategyDef } from './strategy.js';

export const perPage: StrategyDef = {
  name: 'per-page',
  summary: 'TLBI_NH_VA + CMD_SYNC for every page (Linux before the 2017 unmap_tlb_sync patch)',
  cmdq: 'locked',
  create: (ctx) => onePerIssue(ctx, true),
};
