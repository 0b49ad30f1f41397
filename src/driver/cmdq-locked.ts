// Command issue as Linux's arm-smmu-v3 did it from 2017 to v5.3: every insertion takes the global
// `cmdq` spinlock; a full queue is waited out by polling CONS under the lock; CMD_SYNC either holds
// the lock until CONS shows the queue drained (poll mode) or, with MSIs on a coherent SMMU, carries
// a sequence number that the SMMU writes to a memory word which the waiter polls outside the lock
// (wrap-safe compare, as __arm_smmu_sync_poll_msi did). With sync coalescing (the 2018 change
// "Avoid back-to-back CMD_SYNC operations", MSI mode only in Linux) a CPU whose commands are
// already followed by a CMD_SYNC waits for that one instead of inserting another.
//
// Low-level index arithmetic lives in hardware/queue.ts and command building in
// hardware/commands.ts; this file only issues.
import { CS_IRQ, OP, opcodeOf, SYNC_MSH_ISH, SYNC_MSIATTR_OIWB, writeCmdSync } from '../hardware/commands.js';
import { cmdqEntryIdx, cpuStateIdx, CpuState, Ctl, ctlIdx, regIdx, type Layout } from '../hardware/layout.js';
import { SyncWaiter } from './sync-waiter.js';
import { qOvf, queueEmpty, queueHasSpace } from '../hardware/queue.js';
import { Span } from '../concurrency/span.js';
import { Cpu, type CpuStats } from '../concurrency/counters.js';
import type { InstrumentedLock } from '../concurrency/lockstat.js';
import type { WaitPolicy } from '../concurrency/wait.js';
import { clearWaiting, setWaiting, Waiting } from '../concurrency/waiting.js';
import type { CmdBatch } from './cmd-batch.js';
import type { Mmio } from './mmio.js';
import { issuedCounter, type CmdqIssuer, type RegisterAccess, type SyncMode } from './cmdq.js';

export interface LockedCmdqOptions extends RegisterAccess {
  readonly cpu: number;
  readonly syncMode: SyncMode;
  readonly syncTimeoutNs: number;
  /** CMD_SYNC completion signal in poll mode: CS_SEV, as Linux writes whatever IDR0.SEV says. */
  readonly pollCs: number;
  /** Piggy-back this run's syncs (already resolved for the sync mode: cmdq-designs coalesces()). */
  readonly syncCoalesce: boolean;
  readonly timed: boolean;
}

export class LockedCmdq implements CmdqIssuer {
  private readonly shift: number;
  private readonly prodIdx: number;
  private readonly consIdx: number;
  private readonly llqProd: number;
  private readonly llqCons: number;
  private readonly prevOp: number;
  private readonly syncNr: number;
  private readonly syncCount: number;
  private readonly msiAddr: number;
  private readonly waiter: SyncWaiter;
  private readonly waitingIdx: number;
  /** Int32 index of entry 0, and the entry-index mask: a slot's address without the layout. */
  private readonly entry0: number;
  private readonly idxMask: number;
  /** Index and wrap bits of a queue index, and the queue's size: the free-slot test of reserve(). */
  private readonly wrapMask: number;
  private readonly entries: number;
  private readonly mmio: Mmio;
  /** The CMD_SYNC's prod (poll mode) for the completion predicate, without a closure per call. */
  private syncProd = 0;
  private syncNrWanted = 0;
  /** A CMD_SYNC's wait: from its doorbell (poll) or the lock's release (msi) to its completion. */
  private readonly syncSpan = new Span();
  private readonly drained = (cons: number): boolean => queueEmpty(this.shift, this.syncProd, cons);
  private readonly seqDone = (v: number): boolean => ((v - this.syncNrWanted) | 0) >= 0;

  constructor(
    private readonly i32: Int32Array,
    private readonly layout: Layout,
    private readonly lock: InstrumentedLock,
    private readonly policy: WaitPolicy,
    private readonly opts: LockedCmdqOptions,
    public stats: CpuStats,
  ) {
    this.shift = layout.queueShift;
    this.entry0 = cmdqEntryIdx(layout, 0);
    this.idxMask = (1 << layout.queueShift) - 1;
    this.wrapMask = (2 << layout.queueShift) - 1;
    this.entries = 1 << layout.queueShift;
    this.mmio = opts.mmio;
    this.prodIdx = regIdx(layout, 'CMDQ_PROD');
    this.consIdx = regIdx(layout, 'CMDQ_CONS');
    this.llqProd = ctlIdx(layout, Ctl.LLQ_PROD);
    this.llqCons = ctlIdx(layout, Ctl.LLQ_CONS);
    this.prevOp = ctlIdx(layout, Ctl.PREV_OP);
    this.syncNr = ctlIdx(layout, Ctl.SYNC_NR);
    this.syncCount = ctlIdx(layout, Ctl.SYNC_COUNT);
    this.msiAddr = this.syncCount * 4;
    this.waitingIdx = cpuStateIdx(layout, opts.cpu, CpuState.WAITING);
    this.waiter = new SyncWaiter(
      i32,
      policy,
      opts.syncTimeoutNs,
      opts.cpu,
      this.waitingIdx,
      () =>
        `CMDQ_PROD 0x${(Atomics.load(i32, this.prodIdx) >>> 0).toString(16)} ` +
        `CMDQ_CONS 0x${(Atomics.load(i32, this.consIdx) >>> 0).toString(16)} (${opts.syncMode} mode)`,
      opts.poll,
    );
  }

  issue(batch: CmdBatch, sync: boolean): void {
    const i32 = this.i32;
    const src = batch.words;
    // The 2017 driver had no command lists: each command is its own lock round trip.
    for (let i = 0; i < batch.num; i++) {
      this.lock.acquire();
      const w = this.reserve();
      const s = i * 4;
      i32[w] = src[s];
      i32[w + 1] = src[s + 1];
      i32[w + 2] = src[s + 2];
      i32[w + 3] = src[s + 3];
      const op = opcodeOf(src, s);
      this.publish(op);
      this.lock.release();
      // Counted here rather than by countIssued(): one loop over the batch, not two.
      this.stats.add(issuedCounter(op), 1);
    }
    if (sync) {
      if (this.opts.syncMode === 'msi') this.syncMsi();
      else this.syncPoll();
    }
  }

  /** Caller holds the lock. Waits (polling CONS, still under the lock) until a slot is free. */
  private reserve(): number {
    const i32 = this.i32;
    const prod = i32[this.llqProd];
    const cons = i32[this.llqCons];
    // Linux's queue_has_space() for one entry, as one subtraction: the shadow holds index and wrap
    // bits (and CONS's ERR and overflow bits above them, which the mask drops).
    if (((prod - cons) & this.wrapMask) >= this.entries) this.waitForSpace(prod);
    return this.entry0 + (prod & this.idxMask) * 4;
  }

  /** The shadow shows a full queue: re-read CONS, and wait while it is (out of line: cold). */
  private waitForSpace(prod: number): void {
    const i32 = this.i32;
    const shift = this.shift;
    const poll = this.opts.poll;
    poll.init();
    let cons = poll.read(this.consIdx, this.stats);
    if (!queueHasSpace(shift, prod, cons, 1)) {
      this.stats.add(Cpu.QUEUE_FULL_WAITS, 1);
      setWaiting(i32, this.waitingIdx, Waiting.QUEUE_SPACE, prod);
      while (!queueHasSpace(shift, prod, cons, 1)) cons = poll.next(this.consIdx, cons, this.stats);
      clearWaiting(i32, this.waitingIdx);
    }
    i32[this.llqCons] = cons;
  }

  /** Caller holds the lock: advance the shadow prod and ring the doorbell. */
  private publish(op: number): number {
    // queue_inc_prod_n() by one, written out: a call here stays a call (the issue path is past
    // V8's inlining budget), and this runs for every command.
    const p = this.i32[this.llqProd];
    const prod = qOvf(p) | ((p + 1) & this.wrapMask);
    this.i32[this.llqProd] = prod;
    this.i32[this.prevOp] = op;
    this.mmio.doorbell(this.prodIdx, prod, this.stats);
    return prod;
  }

  /** Under the lock: can this sync piggy-back on a CMD_SYNC that already follows our commands? */
  private coalesce(): boolean {
    if (!this.opts.syncCoalesce || this.i32[this.prevOp] !== OP.CMD_SYNC) return false;
    this.stats.add(Cpu.SYNCS_COALESCED, 1);
    return true;
  }

  private syncPoll(): void {
    const i32 = this.i32;
    const timed = this.opts.timed;
    this.lock.acquire();
    // In poll mode the previous SYNC's issuer held the lock until the queue drained: if it is the
    // last command, our commands (inserted before it) have completed.
    if (this.coalesce()) {
      this.lock.release();
      this.stats.syncWait(0);
      return;
    }
    const w = this.reserve();
    writeCmdSync(i32, w, this.opts.pollCs, 0, 0);
    const prod = this.publish(OP.CMD_SYNC);
    this.stats.add(Cpu.ISSUED_CMD_SYNC, 1);
    // Untimed, the span stays 0..0: a wait of 0 ending at 0, as it always reported.
    const span = this.syncSpan;
    if (timed) span.begin();
    this.syncProd = prod;
    i32[this.llqCons] = this.waiter.untilCons(
      this.consIdx,
      prod,
      this.drained,
      this.stats,
      timed ? span : null,
    );
    // Timed before the release: in poll mode the wait lies inside the cmdq hold.
    if (timed) span.stop();
    this.lock.release();
    this.stats.syncWaitSpan(span, prod);
  }

  private syncMsi(): void {
    const i32 = this.i32;
    const timed = this.opts.timed;
    this.lock.acquire();
    let nr: number;
    if (this.coalesce()) {
      nr = i32[this.syncNr];
    } else {
      nr = (i32[this.syncNr] + 1) | 0;
      i32[this.syncNr] = nr;
      const w = this.reserve();
      writeCmdSync(i32, w, CS_IRQ, nr >>> 0, this.msiAddr, SYNC_MSH_ISH, SYNC_MSIATTR_OIWB);
      this.publish(OP.CMD_SYNC);
      this.stats.add(Cpu.ISSUED_CMD_SYNC, 1);
    }
    this.lock.release();
    const span = this.syncSpan;
    if (timed) span.begin();
    this.syncNrWanted = nr;
    this.waiter.until(this.syncCount, nr, this.seqDone, this.stats, timed ? span : null);
    if (timed) span.stop();
    this.stats.syncWaitSpan(span, nr);
  }
}
