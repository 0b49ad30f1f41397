// Command issue as Linux's arm-smmu-v3 did it in 2017 (the seed's era): every insertion takes the
// global `cmdq` spinlock; a full queue is waited out by polling CONS under the lock; CMD_SYNC either
// holds the lock until CONS shows the queue drained (poll mode) or, with MSIs on a coherent SMMU,
// carries a sequence number that the SMMU writes to a memory word which the waiter polls outside
// the lock (wrap-safe compare, as __arm_smmu_sync_poll_msi did).
//
// Low-level index arithmetic lives in hardware/queue.ts and command building in
// hardware/commands.ts; this file only issues.
import {
  CS_IRQ,
  SYNC_MSH_ISH,
  SYNC_MSIATTR_OIWB,
  writeCmdSync,
  writeTlbiNhAsid,
  writeTlbiNhVa,
} from '../hardware/commands.js';
import { cmdqEntryIdx, Ctl, ctlIdx, regIdx, type Layout } from '../hardware/layout.js';
import { queueEmpty, queueHasSpace, queueIncN, qIdx } from '../hardware/queue.js';
import { nowNs } from '../sync/clock.js';
import { Cpu, type CpuStats } from '../sync/counters.js';
import type { InstrumentedLock } from '../sync/lockstat.js';
import { storeAndWake, waitForChange, type WaitPolicy } from '../sync/wait.js';

export type SyncMode = 'poll' | 'msi';

export interface CmdqIssuer {
  tlbiNhVa(
    asid: number,
    vaPage: number,
    leaf: boolean,
    num: number,
    scale: number,
    tg: number,
    ttl: number,
  ): void;
  tlbiNhAsid(asid: number): void;
  /** Inserts a CMD_SYNC and returns once every earlier command has completed. */
  sync(): void;
  stats: CpuStats;
}

export class LockedCmdq implements CmdqIssuer {
  private readonly shift: number;
  private readonly prodIdx: number;
  private readonly consIdx: number;
  private readonly llqProd: number;
  private readonly llqCons: number;
  private readonly syncNr: number;
  private readonly syncCount: number;
  private readonly msiAddr: number;

  constructor(
    private readonly i32: Int32Array,
    private readonly layout: Layout,
    private readonly lock: InstrumentedLock,
    private readonly policy: WaitPolicy,
    private readonly syncMode: SyncMode,
    /** CMD_SYNC completion signal in poll mode: CS_SEV when IDR0.SEV, else CS_NONE. */
    private readonly pollCs: number,
    private readonly timed: boolean,
    public stats: CpuStats,
  ) {
    this.shift = layout.queueShift;
    this.prodIdx = regIdx(layout, 'CMDQ_PROD');
    this.consIdx = regIdx(layout, 'CMDQ_CONS');
    this.llqProd = ctlIdx(layout, Ctl.LLQ_PROD);
    this.llqCons = ctlIdx(layout, Ctl.LLQ_CONS);
    this.syncNr = ctlIdx(layout, Ctl.SYNC_NR);
    this.syncCount = ctlIdx(layout, Ctl.SYNC_COUNT);
    this.msiAddr = this.syncCount * 4;
  }

  /** Caller holds the lock. Waits (polling CONS, still under the lock) until a slot is free. */
  private reserve(): number {
    const i32 = this.i32;
    const shift = this.shift;
    const prod = i32[this.llqProd];
    let cons = i32[this.llqCons];
    if (!queueHasSpace(shift, prod, cons, 1)) {
      cons = Atomics.load(i32, this.consIdx);
      if (!queueHasSpace(shift, prod, cons, 1)) {
        this.stats.add(Cpu.QUEUE_FULL_WAITS, 1);
        while (!queueHasSpace(shift, prod, cons, 1))
          cons = waitForChange(i32, this.consIdx, cons, this.policy);
      }
      i32[this.llqCons] = cons;
    }
    return cmdqEntryIdx(this.layout, qIdx(shift, prod));
  }

  /** Caller holds the lock: advance the shadow prod and ring the doorbell. */
  private publish(issued: Cpu): number {
    const prod = queueIncN(this.shift, this.i32[this.llqProd], 1) | 0;
    this.i32[this.llqProd] = prod;
    storeAndWake(this.i32, this.prodIdx, prod);
    this.stats.add(Cpu.CMDS_ISSUED, 1);
    this.stats.add(issued, 1);
    return prod;
  }

  tlbiNhVa(
    asid: number,
    vaPage: number,
    leaf: boolean,
    num: number,
    scale: number,
    tg: number,
    ttl: number,
  ): void {
    this.lock.acquire();
    const w = this.reserve();
    writeTlbiNhVa(this.i32, w, asid, 0, vaPage * 4096, leaf, num, scale, tg, ttl);
    this.publish(Cpu.ISSUED_TLBI_NH_VA);
    this.lock.release();
  }

  tlbiNhAsid(asid: number): void {
    this.lock.acquire();
    const w = this.reserve();
    writeTlbiNhAsid(this.i32, w, asid, 0);
    this.publish(Cpu.ISSUED_TLBI_NH_ASID);
    this.lock.release();
  }

  sync(): void {
    if (this.syncMode === 'msi') this.syncMsi();
    else this.syncPoll();
  }

  private syncPoll(): void {
    const i32 = this.i32;
    this.lock.acquire();
    const w = this.reserve();
    writeCmdSync(i32, w, this.pollCs, 0, 0);
    const prod = this.publish(Cpu.ISSUED_CMD_SYNC);
    const t0 = this.timed ? nowNs() : 0;
    let cons = Atomics.load(i32, this.consIdx);
    while (!queueEmpty(this.shift, prod, cons)) cons = waitForChange(i32, this.consIdx, cons, this.policy);
    i32[this.llqCons] = cons;
    this.lock.release();
    this.stats.syncWait(this.timed ? nowNs() - t0 : 0);
  }

  private syncMsi(): void {
    const i32 = this.i32;
    this.lock.acquire();
    const nr = (i32[this.syncNr] + 1) | 0;
    i32[this.syncNr] = nr;
    const w = this.reserve();
    writeCmdSync(i32, w, CS_IRQ, nr >>> 0, this.msiAddr, SYNC_MSH_ISH, SYNC_MSIATTR_OIWB);
    this.publish(Cpu.ISSUED_CMD_SYNC);
    this.lock.release();
    const t0 = this.timed ? nowNs() : 0;
    let v = Atomics.load(i32, this.syncCount);
    while (((v - nr) | 0) < 0) v = waitForChange(i32, this.syncCount, v, this.policy);
    this.stats.syncWait(this.timed ? nowNs() - t0 : 0);
  }
}
