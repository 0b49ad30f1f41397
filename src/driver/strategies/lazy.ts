// Lazy (non-strict) mode, as Linux's dma-iommu flush queue does it (queue_iova, fq_flush_timeout;
// IOVA_FQ_SIZE 256, IOVA_FQ_TIMEOUT 10 ms): iommu_unmap clears the PTEs and issues nothing; the
// IOVA is not freed but put on a per-CPU flush queue with the time of its unmap. When the queue is
// full, or its oldest entry has waited --fq-timeout, one TLBI_NH_ASID for the whole address space +
// CMD_SYNC is issued, and only once that sync has completed is every queued IOVA freed. Until then
// the device may still hit a stale IOTLB entry of an unmapped buffer: that window (from the unmap to
// the completion of the flush that covered it) is what lazy mode trades for cheap unmaps, and it is
// recorded per IOVA as the strategy's distribution.
//
// Simplifications against Linux: the timeout is checked by the CPU itself once per loop iteration
// (tick) rather than by a per-domain timer that flushes every CPU's queue, and a CPU frees only what
// its own flushes covered (Linux also frees entries that another CPU's flush has covered since they
// were queued, using fq_flush_start_cnt/fq_flush_finish_cnt). Linux's ring keeps one slot empty
// (255 usable of 256); here --fq-size entries are usable.
import { nowNs } from '../../sync/clock.js';
import { Cpu } from '../../sync/counters.js';
import { CmdBatch } from '../cmd-batch.js';
import type { StrategyDef } from './strategy.js';

/** Counter slots, in the order of the `counters` list below. */
const FLUSHES = Cpu.STRATEGY_EXTRA0 as Cpu;
const FLUSHES_FULL = (Cpu.STRATEGY_EXTRA0 + 1) as Cpu;
const FLUSHES_TIMEOUT = (Cpu.STRATEGY_EXTRA0 + 2) as Cpu;
const IOVAS_FLUSHED = (Cpu.STRATEGY_EXTRA0 + 3) as Cpu;
/** A flush neither full nor timed out (drain at the end of the run). */
const NO_REASON = -1;

export const lazy: StrategyDef = {
  name: 'lazy',
  summary:
    'non-strict: unmap issues nothing; per-CPU flush queue, TLBI_NH_ASID + CMD_SYNC when full or timed out (dma-iommu fq)',
  cmdq: 'locked',
  counters: ['flushes', 'flushesFull', 'flushesTimeout', 'iovasFlushed'],
  histogram: 'staleWindowNs',
  // The queued IOVAs plus the buffer being mapped.
  buffersPerCpu: (cfg) => cfg.fqSize + 1,
  create: (ctx) => {
    const size = ctx.cfg.fqSize;
    const timeoutNs = ctx.cfg.fqTimeoutMs * 1e6;
    // The flush queue: CPU-local memory, as Linux's fq is per CPU. A flush empties it whole, so it
    // is a plain array with the oldest entry at index 0.
    const vaPages = new Float64Array(size);
    const unmappedAt = new Float64Array(size);
    let queued = 0;
    let queueAsid = 0;
    const batch = new CmdBatch();
    // The clock as read by tick() at the top of this iteration, before the allocation. An IOVA's
    // unmap time is taken from it: earlier than the real unmap by this iteration's alloc, map and
    // DMA, so the stale window is over-estimated by that (microseconds against a 10 ms timeout)
    // rather than under-estimated, and the loop reads the clock once per iteration, not twice.
    let now = nowNs();

    const flush = (reason: Cpu | typeof NO_REASON): void => {
      batch.reset();
      batch.tlbiNhAsid(queueAsid);
      ctx.cmdq.issue(batch, true);
      // Every entry is safe to free only now that the SMMU has completed the invalidation.
      const done = nowNs();
      const stats = ctx.stats();
      for (let i = 0; i < queued; i++) {
        stats.extraSample(done - unmappedAt[i]);
        ctx.freeIova(vaPages[i]);
      }
      stats.add(FLUSHES, 1);
      if (reason !== NO_REASON) stats.add(reason, 1);
      stats.add(IOVAS_FLUSHED, queued);
      queued = 0;
    };

    return {
      // The PTEs are already clear (iommu_unmap did that); nothing is invalidated now.
      tlbAddPage() {},
      iotlbSync() {},
      releaseIova(asid, vaPage) {
        // Never taken in this emulator (a CPU's domain is fixed): one TLBI_NH_ASID covers one ASID.
        if (queued > 0 && asid !== queueAsid) flush(NO_REASON);
        queueAsid = asid;
        // As queue_iova: a full queue is flushed (and emptied) before the new entry goes in.
        if (queued === size) flush(FLUSHES_FULL);
        vaPages[queued] = vaPage;
        unmappedAt[queued] = now;
        queued++;
      },
      tick() {
        now = nowNs();
        if (queued > 0 && now - unmappedAt[0] >= timeoutNs) flush(FLUSHES_TIMEOUT);
      },
      drain() {
        if (queued > 0) flush(NO_REASON);
      },
    };
  },
};
