// The two ways the strict strategies hand TLBI_NH_VA to a command queue.
import { CmdBatch } from '../cmd-batch.js';
import { freeAtOnce, type InvalidationStrategy, type StrategyContext } from './strategy.js';

/**
 * One command per issue, as the 2017 driver did (each is its own cmdq lock round trip): a page's
 * TLBI_NH_VA, followed by a waited-for CMD_SYNC when syncEachPage (per-page) or one CMD_SYNC at
 * the end of the unmap (batched). freeIovaFirst breaks the seed's ordering on purpose.
 */
export function onePerIssue(
  ctx: StrategyContext,
  syncEachPage: boolean,
  freeIovaFirst = false,
): InvalidationStrategy {
  const batch = new CmdBatch();
  return {
    tlbAddPage(asid, vaPage) {
      batch.reset();
      batch.tlbiNhVa(asid, vaPage, true, 0, 0, 0, 0);
      ctx.cmdq.issue(batch, syncEachPage);
    },
    iotlbSync(_asid, vaPage) {
      if (syncEachPage) return;
      if (freeIovaFirst) ctx.freeIova(vaPage);
      batch.reset();
      ctx.cmdq.issue(batch, true);
    },
    releaseIova: freeIovaFirst ? () => {} : freeAtOnce(ctx),
  };
}

/**
 * Linux's arm_smmu_cmdq_batch_add(): pages' TLBI_NH_VA gathered into a batch, a full batch (64)
 * issued without a sync, the rest with one CMD_SYNC at the end of the unmap.
 */
export function gatherBatches(ctx: StrategyContext): InvalidationStrategy {
  const batch = new CmdBatch();
  return {
    tlbAddPage(asid, vaPage) {
      if (batch.full()) {
        ctx.cmdq.issue(batch, false);
        batch.reset();
      }
      batch.tlbiNhVa(asid, vaPage, true, 0, 0, 0, 0);
    },
    iotlbSync() {
      ctx.cmdq.issue(batch, true);
      batch.reset();
    },
    releaseIova: freeAtOnce(ctx),
  };
}
