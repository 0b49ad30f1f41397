// A deliberately wrong strategy that exists to prove the safety oracle works: the batched pattern,
// but the IOVA is freed before the CMD_SYNC completes, breaking the seed's one ordering rule
// (unmap, invalidate, sync, and only then free). Another CPU can then allocate and map the IOVA
// while the old translation is still in the IOTLB, and its device's reads reach the old page.
import { onePerIssue } from './gather.js';
import type { StrategyDef } from './strategy.js';

export const unsafeFreeBeforeSync: StrategyDef = {
  name: 'unsafe-free-before-sync',
  summary: 'UNSAFE on purpose: batched, but frees the IOVA before its CMD_SYNC completes (oracle self-test)',
  cmdq: 'locked',
  // With per-CPU rcaches a freed IOVA comes back only to the CPU that freed it, after that CPU's
  // own CMD_SYNC, so the early free could not be observed (as in Linux): the shared rbtree hands it
  // to another CPU at once.
  iova: 'rbtree',
  create: (ctx) => onePerIssue(ctx, false, true),
};
