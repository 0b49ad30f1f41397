// Command issue on an SMMUv3.3 with Enhanced Command queues, as Zhen Lei's series "iommu/arm-smmu-v3:
// Add support for ECMDQ register mode" (2021-2023) does it: every CPU owns an ECMDQ, so it is the
// only producer of its queue and needs neither the cmdq lock nor the lock-free queue's atomics
// (the series' arm_smmu_ecmdq_issue_cmdlist(): reserve n + sync slots against a shadow prod/cons,
// write the entries, one write of ECMDQ_PROD = WR | EN as the doorbell, then wait for the
// CMD_SYNC). The CPU waits for its own CMD_SYNC only, which completes once its own queue's
// earlier commands have: poll mode polls its own ECMDQ_CONS; msi mode (coherent SMMU) waits for
// MSIDATA in its own completion word, on a line of its own, carrying its own sequence number.
//
// A command the SMMU cannot consume stops only this queue (ECMDQ_CONS.ERR toggles; spec 3.5.6.3).
// The owner CPU handles it when it notices, as Linux's arm_smmu_ecmdq_skip_err() does from the
// GERROR interrupt: log the entry, replace it with a CMD_SYNC, toggle ECMDQ_PROD.ERRACK.
//
// Low-level index arithmetic lives in hardware/queue.ts, command building in hardware/commands.ts,
// the register and region format in hardware/ecmdq.ts and layout.ts; this file only issues.
import {
  CMD_WORDS,
  CS_IRQ,
  decodeWords,
  formatCommand,
  SYNC_MSH_ISH,
  SYNC_MSIATTR_OIWB,
  writeCmdSync,
} from '../hardware/commands.js';
import { doorbellWanted, ringDoorbell } from '../hardware/ecmdq.js';
import {
  cpuStateIdx,
  CpuState,
  ecmdqCount,
  ecmdqDoorbellIdx,
  ecmdqEntryIdx,
  ecmdqMsiIdx,
  ecmdqRegIdx,
  regIdx,
  Waiting,
  type Layout,
} from '../hardware/layout.js';
import { queueDepth, queueEmpty, qIdx } from '../hardware/queue.js';
import {
  CMDQ_ERR_ILL,
  ECMDQ_CONS_ENACK,
  ECMDQ_CONS_ERR,
  ECMDQ_CONS_ERR_REASON_MASK,
  ECMDQ_CONS_ERR_REASON_SHIFT,
  ECMDQ_PROD_EN,
  ECMDQ_PROD_ERRACK,
  GERROR_CMDQP_ERR,
} from '../hardware/registers.js';
import { nowNs } from '../sync/clock.js';
import { Cpu, type CpuStats } from '../sync/counters.js';
import type { WaitPolicy } from '../sync/wait.js';
import type { CmdBatch } from './cmd-batch.js';
import { countIssued, type CmdqIssuer, type RegisterAccess, type SyncMode } from './cmdq.js';
import { printk } from './printk.js';
import { SyncWaiter } from './sync-waiter.js';

/** This design's per-CPU counters (Cpu.EXTRA0 + i), reported under runs[].extra.counters. */
export const ECMDQ_COUNTERS = ['doorbellRings', 'doorbellRingNs', 'ecmdqErrorsHandled'] as const;
const RINGS = Cpu.EXTRA0;
const RING_NS = (Cpu.EXTRA0 + 1) as Cpu;
const ERRORS_HANDLED = (Cpu.EXTRA0 + 2) as Cpu;

export interface EcmdqCmdqOptions extends RegisterAccess {
  /** The issuing CPU: it owns ECMDQ `cpu`. */
  readonly cpu: number;
  readonly syncMode: SyncMode;
  readonly syncTimeoutNs: number;
  /** CMD_SYNC completion signal in poll mode: CS_SEV when IDR0.SEV, else CS_NONE. */
  readonly pollCs: number;
  readonly timed: boolean;
}

export class EcmdqCmdq implements CmdqIssuer {
  private readonly shift: number;
  private readonly size: number;
  /** Index and wrap bits of PROD/CONS. */
  private readonly mask: number;
  private readonly queue: number;
  private readonly prodIdx: number;
  private readonly consIdx: number;
  private readonly doorbellIdx: number;
  private readonly msiIdx: number;
  private readonly msiAddr: number;
  /** Int32 index of the queue's entry 0. */
  private readonly entries: number;
  private readonly waitingIdx: number;
  private readonly waiter: SyncWaiter;
  // The queue's shadow state (Linux's llq and ecmdq_prod): plain fields, this CPU is the only
  // producer and nobody else reads them.
  private prod = 0;
  private cons = 0;
  /** What ECMDQ_PROD carries beside WR: EN, and ERRACK (toggled to acknowledge an error). */
  private prodFlags = ECMDQ_PROD_EN;
  /** msi mode: this CPU's CMD_SYNC sequence number (Linux's smmu->sync_nr, but per queue). */
  private syncNr = 0;
  /** The awaited CMD_SYNC, for the completion predicates (no closure per call). */
  private syncProd = 0;
  private syncNrWanted = 0;
  private readonly drained = (cons: number): boolean =>
    queueEmpty(this.shift, this.syncProd, cons) || this.errorPending(cons);
  private readonly seqDone = (v: number): boolean =>
    ((v - this.syncNrWanted) | 0) >= 0 || this.errorPending(Atomics.load(this.i32, this.consIdx));

  constructor(
    private readonly i32: Int32Array,
    private readonly layout: Layout,
    private readonly policy: WaitPolicy,
    private readonly opts: EcmdqCmdqOptions,
    public stats: CpuStats,
  ) {
    const n = opts.cpu;
    if (n >= ecmdqCount(layout)) throw new Error(`cpu ${n}: the SMMU has no ECMDQ ${n}`);
    this.queue = n;
    this.shift = layout.queueShift;
    this.size = 1 << this.shift;
    this.mask = (2 << this.shift) - 1;
    this.prodIdx = ecmdqRegIdx(layout, n, 'ECMDQ_PROD');
    this.consIdx = ecmdqRegIdx(layout, n, 'ECMDQ_CONS');
    this.doorbellIdx = ecmdqDoorbellIdx(layout);
    this.msiIdx = ecmdqMsiIdx(layout, n);
    this.msiAddr = this.msiIdx * 4;
    this.entries = ecmdqEntryIdx(layout, n, 0);
    const cons = Atomics.load(i32, this.consIdx);
    if ((cons & ECMDQ_CONS_ENACK) === 0)
      throw new Error(`cpu ${n}: ECMDQ ${n} is not enabled (ECMDQ_CONS.ENACK = 0)`);
    this.cons = cons & this.mask;
    this.prod = Atomics.load(i32, this.prodIdx) & this.mask;
    this.syncNr = Atomics.load(i32, this.msiIdx);
    this.waitingIdx = cpuStateIdx(layout, n, CpuState.WAITING);
    this.waiter = new SyncWaiter(
      i32,
      policy,
      opts.syncTimeoutNs,
      n,
      this.waitingIdx,
      () =>
        `ECMDQ ${n} PROD 0x${(Atomics.load(i32, this.prodIdx) >>> 0).toString(16)} ` +
        `CONS 0x${(Atomics.load(i32, this.consIdx) >>> 0).toString(16)} (${opts.syncMode} mode)`,
      opts.poll,
    );
  }

  issue(batch: CmdBatch, sync: boolean): void {
    const i32 = this.i32;
    const src = batch.words;
    const total = batch.num + (sync ? 1 : 0);
    countIssued(this.stats, batch, sync);
    let i = 0;
    // One chunk (one PROD write) whenever the batch fits the queue, as Linux requires; a batch
    // larger than the whole queue (a tiny --queue-entries) goes in queue-sized chunks.
    while (i < total) {
      const room = this.reserve(Math.min(total - i, this.size));
      const end = Math.min(total, i + room);
      let prod = this.prod;
      for (; i < end; i++) {
        const w = this.entries + qIdx(this.shift, prod) * CMD_WORDS;
        if (i < batch.num) {
          const s = i * 4;
          i32[w] = src[s];
          i32[w + 1] = src[s + 1];
          i32[w + 2] = src[s + 2];
          i32[w + 3] = src[s + 3];
        } else if (this.opts.syncMode === 'msi') {
          this.syncNr = (this.syncNr + 1) | 0;
          writeCmdSync(i32, w, CS_IRQ, this.syncNr >>> 0, this.msiAddr, SYNC_MSH_ISH, SYNC_MSIATTR_OIWB);
        } else {
          writeCmdSync(i32, w, this.opts.pollCs, 0, 0);
        }
        prod = (prod + 1) & this.mask;
      }
      this.prod = prod;
      this.publish();
    }
    if (sync) this.awaitSync();
  }

  /** Waits until at least `need` slots are free (refreshing the shadow cons); returns how many are. */
  private reserve(need: number): number {
    const i32 = this.i32;
    let free = this.size - queueDepth(this.shift, this.prod, this.cons);
    if (free >= need) return free;
    this.opts.poll.init();
    let c = this.opts.poll.read(this.consIdx, this.stats);
    this.cons = c & this.mask;
    free = this.size - queueDepth(this.shift, this.prod, this.cons);
    if (free >= need) return free;
    this.stats.add(Cpu.QUEUE_FULL_WAITS, 1);
    i32[this.waitingIdx + 1] = this.prod;
    Atomics.store(i32, this.waitingIdx, Waiting.QUEUE_SPACE);
    while (free < need) {
      if (this.errorPending(c)) this.skipError();
      c = this.opts.poll.next(this.consIdx, c, this.stats);
      this.cons = c & this.mask;
      free = this.size - queueDepth(this.shift, this.prod, this.cons);
    }
    Atomics.store(i32, this.waitingIdx, Waiting.NOTHING);
    return free;
  }

  /** The doorbell: one MMIO write of ECMDQ_PROD, and a wake-up if the SMMU sleeps (hardware/ecmdq.ts). */
  private publish(): void {
    const i32 = this.i32;
    this.opts.mmio.write(this.prodIdx, this.prod | this.prodFlags, this.stats, false);
    if (doorbellWanted(i32, this.doorbellIdx)) {
      const t0 = this.opts.timed ? nowNs() : 0;
      ringDoorbell(i32, this.doorbellIdx);
      this.stats.add(RINGS, 1);
      if (this.opts.timed) this.stats.add(RING_NS, nowNs() - t0);
    }
  }

  private awaitSync(): void {
    const timed = this.opts.timed;
    const t0 = timed ? nowNs() : 0;
    if (this.opts.syncMode === 'msi') {
      const nr = (this.syncNrWanted = this.syncNr);
      while (((this.waiter.until(this.msiIdx, nr >>> 0, this.seqDone, this.stats) - nr) | 0) < 0)
        this.skipError();
    } else {
      const prod = (this.syncProd = this.prod);
      for (;;) {
        const c = this.waiter.untilCons(this.consIdx, prod, this.drained, this.stats);
        if (queueEmpty(this.shift, prod, c)) {
          this.cons = c & this.mask;
          break;
        }
        this.skipError();
      }
    }
    this.stats.syncWait(timed ? nowNs() - t0 : 0);
  }

  /** ECMDQ_CONS.ERR differs from our ECMDQ_PROD.ERRACK: the SMMU stopped at a bad command. */
  private errorPending(cons: number): boolean {
    return ((cons ^ this.prodFlags) & ECMDQ_CONS_ERR) !== 0;
  }

  /**
   * Linux's arm_smmu_ecmdq_skip_err() for our own queue: report the entry at CONS.RD, overwrite it
   * with a CMD_SYNC, acknowledge GERROR.CMDQP_ERR if it is active, and toggle ERRACK to match ERR so
   * that the SMMU resumes. (In msi mode the waiter notices at its CMD_SYNC timeout: an error
   * raises no MSI.)
   */
  private skipError(): void {
    const i32 = this.i32;
    const cons = Atomics.load(i32, this.consIdx);
    const reason = (cons >>> ECMDQ_CONS_ERR_REASON_SHIFT) & ECMDQ_CONS_ERR_REASON_MASK;
    const w = this.entries + qIdx(this.shift, cons) * CMD_WORDS;
    const bad = formatCommand(decodeWords(i32, w));
    writeCmdSync(i32, w, this.opts.pollCs, 0, 0);
    // GERROR.CMDQP_ERR is shared by every ECMDQ: acknowledge it once, whoever gets there first.
    const gerrorn = regIdx(this.layout, 'GERRORN');
    const gerror = Atomics.load(i32, regIdx(this.layout, 'GERROR'));
    const n = Atomics.load(i32, gerrorn);
    if (((gerror ^ n) & GERROR_CMDQP_ERR) !== 0)
      Atomics.compareExchange(i32, gerrorn, n, n ^ GERROR_CMDQP_ERR);
    this.prodFlags = (this.prodFlags & ~ECMDQ_PROD_ERRACK) | (cons & ECMDQ_CONS_ERR);
    this.publish();
    this.stats.add(ERRORS_HANDLED, 1);
    printk(
      `tlbsync-emu: cpu ${this.opts.cpu}: ECMDQ ${this.queue} error ${reason === CMDQ_ERR_ILL ? 'ILL' : reason} ` +
        `at ECMDQ_CONS 0x${(cons >>> 0).toString(16)}: ${bad}; replaced with CMD_SYNC and acknowledged`,
    );
  }
}
