// Lazy (non-strict) mode, as Linux's IOVA flush queue does it (iova.c queue_iova and
// fq_flush_timeout, later dma-iommu.c; IOVA_FQ_SIZE 256, IOVA_FQ_TIMEOUT 10 ms): iommu_unmap clears
// the PTEs and issues nothing; the IOVA is not freed but queued on the CPU's ring with the domain's
// flush start count. A flush is one TLBI_NH_ASID for the whole address space + CMD_SYNC, issued when
// a CPU's ring is full (after freeing what other CPUs' flushes covered) or by the domain's timer,
// which then frees every CPU's ring (src/driver/flush-queue.ts). Until the covering flush has
// completed the device may still hit a stale IOTLB entry of an unmapped buffer: that window (from
// the unmap to the free after the flush that covered it) is what lazy mode trades for cheap unmaps,
// and it is recorded per IOVA as the strategy's distribution.
//
// Differences from Linux: --fq-size entries are usable (Linux's 256-slot ring holds 255); the
// timer fires at the next loop iteration of a CPU of the domain (no softirq); a ring still full
// after its flush (an older flush still in flight) is flushed again rather than overrun.
import { nowNs } from '../../concurrency/clock.js';
import { FlushQueue, FQ_COUNTERS, FQ_DECL } from '../flush-queue.js';
import type { StrategyDef } from './strategy.js';

export const lazy: StrategyDef = {
  name: 'lazy',
  summary:
    'non-strict: unmap issues nothing; flush queue with domain-wide flush counts and timer, TLBI_NH_ASID + CMD_SYNC per flush (iova.c fq)',
  cmdq: 'locked',
  deferred: true,
  counters: FQ_COUNTERS,
  histogram: 'staleWindowNs',
  // The queued IOVAs plus the buffer being mapped.
  buffersPerCpu: (cfg) => cfg.fqSize + 1,
  regions: [FQ_DECL],
  create: (ctx) => {
    const fq = new FlushQueue(ctx);
    // The clock as read by tick() at the top of this iteration, before the allocation. An IOVA's
    // unmap time is taken from it: earlier than the real unmap by this iteration's alloc, map and
    // DMA, so the stale window is over-estimated by that (microseconds against a 10 ms timeout)
    // rather than under-estimated, and the loop reads the clock once per iteration, not twice.
    let now = nowNs();
    return {
      // The PTEs are already clear (iommu_unmap did that); nothing is invalidated now.
      tlbAddPage() {},
      iotlbSync() {},
      releaseIova(_asid, vaPage) {
        fq.queue(vaPage, now);
      },
      tick() {
        now = nowNs();
        fq.tick(now);
      },
      drain() {
        fq.drain();
      },
    };
  },
};
