// Lazy mode's IOVA flush queue (iova.c v4.14-v5.16: queue_iova, fq_ring_free, iova_domain_flush,
// fq_flush_timeout) on the virtual machine, step for step as the threads engine's
// driver/flush-queue.ts runs it, on the same layout:
// - the domain's line (START_CNT, FINISH_CNT, TIMER_ON, TIMER_SEQ, EXPIRES) is coherent memory at
//   its layout address: every CPU reads the counts and the timer there, a flush adds to them;
// - each CPU's ring sits behind its fq->lock (the --lock algorithm at the layout's lock offset); the
//   ring's HEAD/TAIL and entries are kept in the run's views at the threads engine's offsets, their
//   work charged as `fqEntryNs` per entry queued or looked at (their lines are not costed);
// - a flush is TLBI_NH_ASID + CMD_SYNC through the command queue between START_CNT++ and
//   FINISH_CNT++; an entry is freed (free_iova_fast, under the ring's lock) once the finish count
//   has passed the start count it was queued with, by whichever CPU frees from that ring next;
// - one timer per domain: the first queue_iova that finds TIMER_ON clear (load, then exchange)
//   arms it fqTimeoutMs ahead by making TIMER_SEQ odd; the first CPU whose per-iteration tick sees
//   it pending and expired claims it with a cmpxchg of TIMER_SEQ and runs fq_flush_timeout (one
//   flush, then every CPU's ring under its lock). As in the threads engine it fires at the next
//   iteration of a CPU of the domain, not from a softirq.
import { CmdBatch } from '../driver/cmd-batch.js';
import { Dom, ENTRY_BYTES, FQ_REGION, fqGeometry, Ring, ringBytes, slotsOf } from '../driver/flush-queue.js';
import { LINE, regionOff, type Layout } from '../hardware/layout.js';
import { LAYOUT_BASE } from './address-map.js';
import type { VCpuStats } from './cpu-stats.js';
import { cmpxchg, delay, load, rmw, store, waitUntil, type Proc, type Req } from './requests.js';
import type { VInstrumentedLock } from './locks.js';

/** EXPIRES: a float64 at byte 24 of the domain line (driver/flush-queue.ts EXPIRES_F64). */
const EXPIRES_BYTE = 24;

interface VRing {
  readonly lock: VInstrumentedLock;
  /** Int32 index (views) of HEAD; TAIL follows. */
  readonly ctl: number;
  /** Int32 index of entry 0. */
  readonly entries: number;
  readonly own: boolean;
}

type Reason = 'full' | 'timeout' | null;

export interface VFlushQueueDeps {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly layout: Layout;
  readonly cpu: number;
  readonly domain: number;
  readonly domainCpus: readonly number[];
  readonly asid: number;
  readonly timeoutNs: number;
  readonly fqEntryNs: number;
  readonly clock: { readonly now: number };
  readonly cmdq: { issue(batch: CmdBatch, sync: boolean): Proc };
  readonly stats: () => VCpuStats;
  /** free_iova_fast of one IOVA. */
  readonly freeIova: (vaPage: number) => Generator<Req, void, number>;
  /** The machine's lock at a layout byte offset (the run's --lock algorithm, state.ts lockAt). */
  readonly vlock: (byteOffset: number) => VInstrumentedLock;
}

export class VFlushQueue {
  private readonly slots: number;
  /** Machine addresses of the domain line's words. */
  private readonly startCnt: number;
  private readonly finishCnt: number;
  private readonly timerOn: number;
  private readonly timerSeq: number;
  private readonly expires: number;
  private readonly rings: VRing[];
  private readonly ownRing: VRing;
  private readonly batch = new CmdBatch();

  constructor(private readonly d: VFlushQueueDeps) {
    const g = fqGeometry(d.layout);
    const base = regionOff(d.layout, FQ_REGION);
    this.slots = slotsOf(g);
    const dom = LAYOUT_BASE + base + d.domain * LINE;
    this.startCnt = dom + 4 * Dom.START_CNT;
    this.finishCnt = dom + 4 * Dom.FINISH_CNT;
    this.timerOn = dom + 4 * Dom.TIMER_ON;
    this.timerSeq = dom + 4 * Dom.TIMER_SEQ;
    this.expires = dom + EXPIRES_BYTE;
    const ringAt = (c: number): VRing => {
      const off = base + g.domains * LINE + c * ringBytes(g);
      return {
        lock: d.vlock(off),
        ctl: (off + g.lockBytes) >> 2,
        entries: (off + g.lockBytes + LINE) >> 2,
        own: c === d.cpu,
      };
    };
    this.rings = d.domainCpus.map(ringAt);
    this.ownRing = this.rings.find((r) => r.own) ?? ringAt(d.cpu);
  }

  private next(i: number): number {
    return i + 1 === this.slots ? 0 : i + 1;
  }

  private full(r: VRing): boolean {
    return this.next(this.d.i32[r.ctl + Ring.TAIL]) === this.d.i32[r.ctl + Ring.HEAD];
  }

  private empty(r: VRing): boolean {
    return this.d.i32[r.ctl + Ring.TAIL] === this.d.i32[r.ctl + Ring.HEAD];
  }

  private *lock(r: VRing): Proc {
    yield* r.lock.acquire(this.d.cpu);
  }

  private *unlock(r: VRing): Proc {
    yield* r.lock.release(this.d.cpu);
  }

  /** iova_domain_flush. */
  private *flush(reason: Reason): Proc {
    const st = this.d.stats();
    yield rmw(this.startCnt, (v) => (v + 1) | 0);
    this.batch.reset();
    this.batch.tlbiNhAsid(this.d.asid);
    // The queue counts every command of a batch as a TLBI_NH_VA: this one is a TLBI_NH_ASID.
    const tlbi0 = st.issuedTlbi;
    yield* this.d.cmdq.issue(this.batch, true);
    st.issuedTlbiAsid += st.issuedTlbi - tlbi0;
    st.issuedTlbi = tlbi0;
    yield rmw(this.finishCnt, (v) => (v + 1) | 0);
    st.flushes++;
    if (reason === 'full') st.flushesFull++;
    else if (reason === 'timeout') st.flushesTimeout++;
  }

  /** fq_ring_free, with r's lock held: frees every entry a completed flush has covered. */
  private *ringFree(r: VRing): Generator<Req, number, number> {
    const { i32, f64 } = this.d;
    const finish = yield load(this.finishCnt);
    let head = i32[r.ctl + Ring.HEAD];
    const tail = i32[r.ctl + Ring.TAIL];
    let n = 0;
    while (head !== tail) {
      const e = r.entries + head * (ENTRY_BYTES >> 2);
      yield delay(this.d.fqEntryNs);
      if (((i32[e + 1] - finish) | 0) >= 0) break;
      // Unlike the threads engine (whose unmap time is the iteration's first clock read), the
      // window runs from the unmap itself to this free.
      const st = this.d.stats();
      const w = this.d.clock.now - f64[(e >> 1) + 1];
      st.counters.extraSample(w);
      const vaPage = i32[e];
      head = this.next(head);
      i32[r.ctl + Ring.HEAD] = head;
      yield* this.d.freeIova(vaPage);
      n++;
    }
    if (n > 0) this.d.stats().iovasFlushed += n;
    return n;
  }

  /** queue_iova: vaPage was unmapped at unmappedAt (virtual ns). */
  *queue(vaPage: number, unmappedAt: number): Proc {
    const { i32, f64 } = this.d;
    const r = this.ownRing;
    yield* this.lock(r);
    const covered = yield* this.ringFree(r);
    if (covered > 0) this.d.stats().iovasFreedOthersFlush += covered;
    if (this.full(r)) {
      yield* this.flush('full');
      yield* this.ringFree(r);
      if (this.full(r)) {
        this.d.stats().fullRingWaits++;
        yield* this.awaitFlushes(r, false);
      }
    }
    const start = yield load(this.startCnt);
    yield delay(this.d.fqEntryNs);
    const tail = i32[r.ctl + Ring.TAIL];
    const e = r.entries + tail * (ENTRY_BYTES >> 2);
    i32[e] = vaPage;
    i32[e + 1] = start;
    f64[(e >> 1) + 1] = unmappedAt;
    i32[r.ctl + Ring.TAIL] = this.next(tail);
    yield* this.unlock(r);
    if ((yield load(this.timerOn)) === 0 && (yield rmw(this.timerOn, () => 1)) === 0) {
      // mod_timer(jiffies + timeout): the expiry is published before the sequence turns odd.
      yield store(this.expires, this.d.clock.now + this.d.timeoutNs);
      yield rmw(this.timerSeq, (v) => (v + 1) | 0);
    }
  }

  /** Frees from r (lock held) as flushes complete until it is no longer full (or is empty). */
  private *awaitFlushes(r: VRing, untilEmpty: boolean): Proc {
    let finish = yield load(this.finishCnt);
    yield* this.ringFree(r);
    while (untilEmpty ? !this.empty(r) : this.full(r)) {
      const seen = finish;
      finish = yield waitUntil(this.finishCnt, (v) => v !== seen);
      yield* this.ringFree(r);
    }
  }

  /** Runs the domain's timer if it is pending and expired now and this CPU claims it first. */
  *tick(): Proc {
    const seq = yield load(this.timerSeq);
    if ((seq & 1) === 0) return;
    if ((yield load(this.expires)) > this.d.clock.now) return;
    if ((yield cmpxchg(this.timerSeq, seq, (seq + 1) | 0)) !== seq) return;
    // fq_flush_timeout.
    yield store(this.timerOn, 0);
    yield* this.flush('timeout');
    for (const r of this.rings) {
      yield* this.lock(r);
      const n = yield* this.ringFree(r);
      yield* this.unlock(r);
      if (!r.own && n > 0) this.d.stats().iovasFreedPeerRings += n;
    }
  }

  /** The run is stopping: flush until this CPU's ring is empty. */
  *drain(): Proc {
    const r = this.ownRing;
    yield* this.lock(r);
    yield* this.ringFree(r);
    if (!this.empty(r)) {
      yield* this.flush(null);
      yield* this.ringFree(r);
      yield* this.awaitFlushes(r, true);
    }
    yield* this.unlock(r);
  }

  /** Entries in this CPU's ring. */
  queued(): number {
    const i32 = this.d.i32;
    const q = i32[this.ownRing.ctl + Ring.TAIL] - i32[this.ownRing.ctl + Ring.HEAD];
    return q < 0 ? q + this.slots : q;
  }
}
