// The 2017 driver's command issue (arm_smmu_cmdq_issue_cmd under cmdq->lock, v4.14/v4.15) on the
// virtual machine, as the threads engine's driver/cmdq-locked.ts runs it: every command is its own
// round trip of the global cmdq lock (the --lock algorithm, locks.ts); a full queue is waited out
// by polling CONS under the lock (Linux's poll loop, cons-poll.ts).
// CMD_SYNC in poll mode holds the lock until CONS shows the queue drained; with MSIs it carries
// ++sync_nr, the SMMU writes that to sync_count and the waiter spins on it outside the lock.
import type { CmdBatch } from '../driver/cmd-batch.js';
import {
  CS_IRQ,
  CS_SEV,
  CMD_WORDS,
  SYNC_MSH_ISH,
  SYNC_MSIATTR_OIWB,
  writeCmdSync,
} from '../hardware/commands.js';
import { queueEmpty, queueHasSpace, queueIncN, qIdx } from '../hardware/queue.js';
import type { SyncMode } from '../config/config.js';
import {
  CMDQ_CONS_REG,
  CMDQ_PROD_REG,
  Q_CONS,
  Q_PROD,
  QUEUE_BASE,
  SYNC_COUNT,
  SYNC_NR,
} from './address-map.js';
import type { VCpuStats } from './cpu-stats.js';
import { syncWaited, type VProbe } from './instrument.js';
import type { Machine } from './machine.js';
import { pollReg, type ConsPollOptions } from './cons-poll.js';
import type { VInstrumentedLock } from './locks.js';
import {
  load,
  mmioRead,
  mmioWrite,
  rmw,
  store,
  waitUntil,
  writeWords,
  type Proc,
  type Req,
} from './requests.js';

export function initLocked(m: Machine, p: number): void {
  m.mem.poke(Q_PROD, p);
  m.mem.poke(Q_CONS, p);
  m.mem.poke(SYNC_NR, 0);
  m.mem.poke(SYNC_COUNT, 0);
  m.setReg(CMDQ_PROD_REG, p);
  m.setReg(CMDQ_CONS_REG, p);
}

export class VLockedCmdq {
  private readonly entry = new Int32Array(CMD_WORDS);

  constructor(
    private readonly shift: number,
    private readonly syncMode: SyncMode,
    private readonly stats: VCpuStats,
    private readonly cpu: number,
    private readonly cmdqLock: VInstrumentedLock,
    private readonly poll: ConsPollOptions,
    /** Times CMD_SYNC waits (absent: counts only; the lock times itself). */
    private readonly probe: VProbe | null = null,
  ) {}

  *issue(batch: CmdBatch, sync: boolean): Proc {
    for (let i = 0; i < batch.num; i++) {
      yield* this.lock();
      const prod = yield* this.reserve();
      const w: number[] = [];
      for (let k = 0; k < CMD_WORDS; k++) w.push(batch.words[i * CMD_WORDS + k]);
      yield writeWords(QUEUE_BASE + 16 * qIdx(this.shift, prod), w);
      yield* this.publish(prod);
      this.stats.issuedTlbi++;
      yield* this.unlock();
    }
    if (!sync) return;
    this.stats.issuedSync++;
    if (this.syncMode === 'msi') yield* this.syncMsi();
    else yield* this.syncPoll();
  }

  private *syncPoll(): Proc {
    const shift = this.shift;
    yield* this.lock();
    const prod = yield* this.reserve();
    writeCmdSync(this.entry, 0, CS_SEV, 0, 0);
    yield writeWords(QUEUE_BASE + 16 * qIdx(shift, prod), Array.from(this.entry));
    const next = yield* this.publish(prod);
    const t0 = this.probe?.clock.now ?? 0;
    const cons = yield* pollReg(this.poll, this.stats, CMDQ_CONS_REG, (c) => queueEmpty(shift, next, c));
    // Timed before the release, as the threads engine: in poll mode the wait lies inside the hold.
    if (this.probe !== null) syncWaited(this.probe, this.stats.counters, t0, prod);
    yield store(Q_CONS, cons);
    yield* this.unlock();
  }

  private *syncMsi(): Proc {
    const shift = this.shift;
    yield* this.lock();
    const nr = ((yield rmw(SYNC_NR, (v) => (v + 1) | 0)) + 1) | 0;
    const prod = yield* this.reserve();
    writeCmdSync(this.entry, 0, CS_IRQ, nr >>> 0, SYNC_COUNT, SYNC_MSH_ISH, SYNC_MSIATTR_OIWB);
    yield writeWords(QUEUE_BASE + 16 * qIdx(shift, prod), Array.from(this.entry));
    yield* this.publish(prod);
    yield* this.unlock();
    const t0 = this.probe?.clock.now ?? 0;
    yield waitUntil(SYNC_COUNT, (v) => ((v - nr) | 0) >= 0);
    if (this.probe !== null) syncWaited(this.probe, this.stats.counters, t0, nr);
  }

  /** Under the lock: a free slot at q.prod, polling CONS (still under the lock) while full. */
  private *reserve(): Generator<Req, number, number> {
    const shift = this.shift;
    const prod = yield load(Q_PROD);
    let cons = yield load(Q_CONS);
    if (!queueHasSpace(shift, prod, cons, 1)) {
      this.stats.mmioReads++;
      cons = yield mmioRead(CMDQ_CONS_REG);
      if (!queueHasSpace(shift, prod, cons, 1)) {
        this.stats.queueFullWaits++;
        const space = (c: number): boolean => queueHasSpace(shift, prod, c, 1);
        cons = yield* pollReg(this.poll, this.stats, CMDQ_CONS_REG, space, cons);
      }
      yield store(Q_CONS, cons);
    }
    return prod;
  }

  /** Under the lock: advance the shadow prod and ring the doorbell. Returns the new prod. */
  private *publish(prod: number): Generator<Req, number, number> {
    const next = queueIncN(this.shift, prod, 1);
    yield store(Q_PROD, next);
    this.stats.mmioWrites++;
    yield mmioWrite(CMDQ_PROD_REG, next);
    return next;
  }

  private *lock(): Proc {
    yield* this.cmdqLock.acquire(this.cpu);
  }

  private *unlock(): Proc {
    yield* this.cmdqLock.release(this.cpu);
  }
}
