// Linux's IOVA flush queue (drivers/iommu/iova.c v4.14-v5.16: queue_iova, fq_ring_free,
// iova_domain_flush, fq_flush_timeout; the same logic in dma-iommu.c since v5.17), in shared memory
// because the rings are not private to their CPUs: a flush on any CPU frees every CPU's entries.
//
// - Each CPU owns a ring of (IOVA, flush count, unmap time) entries guarded by its fq->lock.
// - Per domain, fq_flush_start_cnt / fq_flush_finish_cnt count flushes started and completed. An
//   entry records the start count when it is queued and may be freed, by whichever CPU next frees
//   from that ring, once the finish count has passed it: at least one flush that started after the
//   entry's unmap has then completed, whoever issued it.
// - Per domain, one timer: fq_timer_on, set by the first queue_iova that finds it clear (atomic_xchg),
//   arms it IOVA_FQ_TIMEOUT ahead; when it fires it flushes once and frees every CPU's ring.
//
// There is no timer thread. The kernel timer is a sequence word (odd: pending) and an expiry: the
// first CPU whose per-iteration check sees it pending and expired claims it with a cmpxchg of the
// sequence, so it fires exactly once, as mod_timer's timer does, and runs fq_flush_timeout on that
// CPU, taking each ring's lock in turn as Linux does. Linux's softirq can fire it while no CPU of
// the domain is unmapping; here it fires at the next iteration of some CPU of the domain.
//
// Shared memory (region FQ_REGION):
//   per domain, one line     int32 START_CNT, FINISH_CNT (+ waiters), TIMER_ON, TIMER_SEQ;
//                            float64 EXPIRES (ns)
//   per CPU                  fq->lock (lockBytes); a line: int32 HEAD, TAIL (under the lock);
//                            fqSize + 1 entries of 16 bytes: int32 IOVA page, int32 start count,
//                            float64 unmap time
// The counts are int32 compared wrap-safe (Linux: atomic64): only differences of live entries matter.
import { regionOff, type LayoutGeometry } from '../hardware/layout.js';
import { alignUp, checkRegion, LINE, type RegionDecl } from '../hardware/region.js';
import { nowNs } from '../concurrency/clock.js';
import { Cpu } from '../concurrency/counters.js';
import type { Lock } from '../concurrency/lock.js';
import { wake, waitForChange, type WaitPolicy } from '../concurrency/wait.js';
import { CmdBatch } from './cmd-batch.js';
import type { StrategyContext, StrategyMemory } from './strategies/strategy.js';

export const FQ_REGION = 'iova-fq';

export const ENTRY_BYTES = 16;

export const enum Dom {
  START_CNT = 0,
  FINISH_CNT = 1,
  /** Waiters of FINISH_CNT (concurrency/wait.ts protocol): CPUs whose ring is still full. */
  FINISH_WAITERS = 2,
  TIMER_ON = 3,
  TIMER_SEQ = 4,
}
/** The timer's expiry (ns): float64 slot of the domain line, bytes 24-31 (after the int32 words). */
export const EXPIRES_F64 = 3;

export const enum Ring {
  HEAD = 0,
  TAIL = 1,
}

/** Per-CPU counters (Cpu.STRATEGY_EXTRA0 + i), by the names reported under runs[].extra. */
export const FQ_COUNTERS = [
  'flushes',
  'flushesFull',
  'flushesTimeout',
  'iovasFlushed',
  'iovasFreedOthersFlush',
  'iovasFreedPeerRings',
  'fullRingWaits',
] as const;
const FLUSHES = Cpu.STRATEGY_EXTRA0 as Cpu;
const FLUSHES_FULL = (Cpu.STRATEGY_EXTRA0 + 1) as Cpu;
const FLUSHES_TIMEOUT = (Cpu.STRATEGY_EXTRA0 + 2) as Cpu;
/** Every IOVA this CPU freed, from any ring. */
const IOVAS_FLUSHED = (Cpu.STRATEGY_EXTRA0 + 3) as Cpu;
/** Own entries freed before this CPU flushed: another CPU's flush had covered them. */
const FREED_OTHERS_FLUSH = (Cpu.STRATEGY_EXTRA0 + 4) as Cpu;
/** Other CPUs' entries this CPU freed as the domain's timer. */
const FREED_PEER_RINGS = (Cpu.STRATEGY_EXTRA0 + 5) as Cpu;
/** Rings still full after their own flush, waiting for an older flush to complete. */
const FULL_WAITS = (Cpu.STRATEGY_EXTRA0 + 6) as Cpu;

export interface FqGeometry {
  readonly cpus: number;
  readonly domains: number;
  readonly fqSize: number;
  readonly lockBytes: number;
}

/** Ring slots: Linux's ring keeps one slot empty to tell full from empty; fqSize stay usable. */
export const slotsOf = (g: FqGeometry): number => g.fqSize + 1;
export const ringBytes = (g: FqGeometry): number => g.lockBytes + LINE + alignUp(slotsOf(g) * ENTRY_BYTES);

export function fqRegionBytes(g: FqGeometry): number {
  return g.domains * LINE + g.cpus * ringBytes(g);
}

export function fqGeometry(lp: LayoutGeometry): FqGeometry {
  return { cpus: lp.cpus, domains: lp.domains, fqSize: lp.fqSize, lockBytes: lp.lockBytes };
}

export const FQ_DECL: RegionDecl<LayoutGeometry> = {
  name: FQ_REGION,
  bytes: (g) => fqRegionBytes(fqGeometry(g)),
  align: LINE,
};

interface RingView {
  readonly lock: Lock;
  /** Int32 index of HEAD (TAIL follows). */
  readonly ctl: number;
  /** Int32 index of entry 0. */
  readonly entries: number;
  /** Is this CPU's own ring. */
  readonly own: boolean;
}

/** Reasons a flush is counted under (besides FLUSHES). */
type Reason = typeof FLUSHES_FULL | typeof FLUSHES_TIMEOUT | null;

/** One CPU's view of its domain's flush queue: its own ring and, as the timer, its peers'. */
export class FlushQueue {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly cpu: number;
  private readonly slots: number;
  private readonly dom: number;
  private readonly ownRing: RingView;
  /** The rings of every CPU of the domain, this CPU's included (fq_flush_timeout's walk). */
  private readonly rings: RingView[];
  private readonly batch = new CmdBatch();
  private readonly asid: number;
  private readonly timeoutNs: number;
  private readonly policy: WaitPolicy;

  constructor(private readonly ctx: StrategyContext) {
    const mem: StrategyMemory | undefined = ctx.mem;
    if (mem === undefined) throw new Error("lazy: the flush queue needs the run's shared memory (ctx.mem)");
    const g = fqGeometry(mem.layout);
    const base = regionOff(mem.layout, FQ_REGION);
    checkRegion(mem.views.sab, FQ_REGION, base, fqRegionBytes(g));
    this.i32 = mem.views.i32;
    this.f64 = mem.views.f64;
    this.cpu = ctx.cpu;
    this.slots = slotsOf(g);
    this.dom = (base + mem.domain * LINE) >> 2;
    this.asid = mem.asid;
    this.timeoutNs = ctx.cfg.fqTimeoutMs * 1e6;
    this.policy = mem.policy;
    const ringAt = (c: number): RingView => {
      const off = base + g.domains * LINE + c * ringBytes(g);
      return {
        lock: mem.lockAlgo.create(this.i32, off, g.cpus, mem.policy),
        ctl: (off + g.lockBytes) >> 2,
        entries: (off + g.lockBytes + LINE) >> 2,
        own: c === ctx.cpu,
      };
    };
    this.rings = mem.domainCpus.map(ringAt);
    this.ownRing = this.rings.find((r) => r.own) ?? ringAt(ctx.cpu);
  }

  private lock(r: RingView): void {
    if (!r.lock.acquireFast(this.cpu)) r.lock.acquireSlow(this.cpu);
  }

  private unlock(r: RingView): void {
    r.lock.release(this.cpu);
  }

  private next(i: number): number {
    return i + 1 === this.slots ? 0 : i + 1;
  }

  private full(r: RingView): boolean {
    return this.next(this.i32[r.ctl + Ring.TAIL]) === this.i32[r.ctl + Ring.HEAD];
  }

  private empty(r: RingView): boolean {
    return this.i32[r.ctl + Ring.TAIL] === this.i32[r.ctl + Ring.HEAD];
  }

  /** iova_domain_flush: TLBI_NH_ASID + CMD_SYNC between the two counts. */
  private flush(reason: Reason): void {
    const stats = this.ctx.stats();
    Atomics.add(this.i32, this.dom + Dom.START_CNT, 1);
    this.batch.reset();
    this.batch.tlbiNhAsid(this.asid);
    this.ctx.cmdq.issue(this.batch, true);
    Atomics.add(this.i32, this.dom + Dom.FINISH_CNT, 1);
    wake(this.i32, this.dom + Dom.FINISH_CNT);
    stats.add(FLUSHES, 1);
    if (reason !== null) stats.add(reason, 1);
  }

  /** fq_ring_free, with r's lock held: frees every entry a completed flush has covered. */
  private ringFree(r: RingView): number {
    const i32 = this.i32;
    const finish = Atomics.load(i32, this.dom + Dom.FINISH_CNT);
    let head = i32[r.ctl + Ring.HEAD];
    const tail = i32[r.ctl + Ring.TAIL];
    const stats = this.ctx.stats();
    let n = 0;
    let t = 0;
    while (head !== tail) {
      const e = r.entries + head * (ENTRY_BYTES >> 2);
      if (((i32[e + 1] - finish) | 0) >= 0) break;
      // The stale window ends when the covering flush completed: no later than now.
      if (n === 0) t = nowNs();
      stats.extraSample(t - this.f64[(e >> 1) + 1]);
      this.ctx.freeIova(i32[e]);
      head = this.next(head);
      n++;
    }
    i32[r.ctl + Ring.HEAD] = head;
    if (n > 0) stats.add(IOVAS_FLUSHED, n);
    return n;
  }

  /** queue_iova: vaPage was unmapped at unmappedAt (ns). */
  queue(vaPage: number, unmappedAt: number): void {
    const i32 = this.i32;
    const r = this.ownRing;
    this.lock(r);
    // What other CPUs' flushes covered first, so that a full ring is flushed only if still full.
    const covered = this.ringFree(r);
    if (covered > 0) this.ctx.stats().add(FREED_OTHERS_FLUSH, covered);
    if (this.full(r)) {
      this.flush(FLUSHES_FULL);
      this.ringFree(r);
      // Linux adds over the head if the ring is still full here (its flushes take microseconds,
      // so it never is); a host that preempts a flushing CPU for milliseconds gets there.
      if (this.full(r)) {
        this.ctx.stats().add(FULL_WAITS, 1);
        this.awaitFlushes(r, false);
      }
    }
    const tail = i32[r.ctl + Ring.TAIL];
    const e = r.entries + tail * (ENTRY_BYTES >> 2);
    i32[e] = vaPage;
    i32[e + 1] = Atomics.load(i32, this.dom + Dom.START_CNT);
    this.f64[(e >> 1) + 1] = unmappedAt;
    i32[r.ctl + Ring.TAIL] = this.next(tail);
    this.unlock(r);
    // Read before the exchange so that CPUs do not keep stealing the line while the timer is on.
    if (
      Atomics.load(i32, this.dom + Dom.TIMER_ON) === 0 &&
      Atomics.exchange(i32, this.dom + Dom.TIMER_ON, 1) === 0
    ) {
      // mod_timer(jiffies + timeout): the expiry is published before the sequence turns odd.
      this.f64[(this.dom >> 1) + EXPIRES_F64] = nowNs() + this.timeoutNs;
      Atomics.add(i32, this.dom + Dom.TIMER_SEQ, 1);
    }
  }

  /**
   * Frees from r, with its lock held, as flushes complete until r is no longer full (or, with
   * `untilEmpty`, empty). Needed only when every entry left was queued while an older flush was in
   * flight, so that the finish count has not passed them even after our own flush.
   */
  private awaitFlushes(r: RingView, untilEmpty: boolean): void {
    const idx = this.dom + Dom.FINISH_CNT;
    // Free with a finish count read no earlier than the one waited on: a flush that completed
    // after the caller's last ringFree() must not be waited for a second time (at the end of a
    // run, no later flush would come to wake us).
    let finish = Atomics.load(this.i32, idx);
    this.ringFree(r);
    while (untilEmpty ? !this.empty(r) : this.full(r)) {
      finish = waitForChange(this.i32, idx, finish, this.policy);
      this.ringFree(r);
    }
  }

  /** Runs the domain's timer if it is pending and expired at `now` and this CPU claims it first. */
  tick(now: number): void {
    const i32 = this.i32;
    const seq = Atomics.load(i32, this.dom + Dom.TIMER_SEQ);
    if ((seq & 1) === 0 || this.f64[(this.dom >> 1) + EXPIRES_F64] > now) return;
    if (Atomics.compareExchange(i32, this.dom + Dom.TIMER_SEQ, seq, seq + 1) !== seq) return;
    this.flushTimeout();
  }

  /** fq_flush_timeout. */
  private flushTimeout(): void {
    Atomics.store(this.i32, this.dom + Dom.TIMER_ON, 0);
    this.flush(FLUSHES_TIMEOUT);
    for (const r of this.rings) {
      this.lock(r);
      const n = this.ringFree(r);
      this.unlock(r);
      if (!r.own && n > 0) this.ctx.stats().add(FREED_PEER_RINGS, n);
    }
  }

  /** The run is stopping: flush until this CPU's ring is empty (Linux frees it at domain teardown). */
  drain(): void {
    const r = this.ownRing;
    this.lock(r);
    this.ringFree(r);
    if (!this.empty(r)) {
      this.flush(null);
      this.ringFree(r);
      this.awaitFlushes(r, true);
    }
    this.unlock(r);
  }

  /** Entries in this CPU's ring (tests). */
  queued(): number {
    const d = this.i32[this.ownRing.ctl + Ring.TAIL] - this.i32[this.ownRing.ctl + Ring.HEAD];
    return d < 0 ? d + this.slots : d;
  }
}
