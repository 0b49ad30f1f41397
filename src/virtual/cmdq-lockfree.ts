// Linux v5.4's lock-free insertion (arm_smmu_cmdq_issue_cmdlist, "iommu/arm-smmu: Reduce contention
// during command-queue insertion") on the virtual machine, step for step as the threads engine's
// driver/cmdq-lockfree.ts runs it: reserve by cmpxchg on {prod, cons} (the first to find OWNED
// clear owns the gathered range), write the entries, flip the valid bits, and as owner wait for the
// previous owner, close the gather window, wait for the valid bits, write CMDQ_PROD once, hand
// over; a CMD_SYNC inserter holds the counter lock shared until its sync completes. Words and lines
// as Linux lays them out (address-map.ts). Index arithmetic is the threads engine's
// (hardware/queue.ts); commands are built by the real encoders.
import { CmdBatch } from '../driver/cmd-batch.js';
import { ValidMap } from '../driver/cmdq-lockfree.js';
import {
  CS_IRQ,
  CS_SEV,
  CMD_WORDS,
  SYNC_MSH_ISH,
  SYNC_MSIATTR_OIWB,
  writeCmdSync,
} from '../hardware/commands.js';
import { queueConsumed, queueDepth, queueHasSpace, queueIncN, qIdx, qWrp } from '../hardware/queue.js';
import { Q_OVERFLOW_FLAG } from '../hardware/registers.js';
import {
  CMDQ_CONS_REG,
  CMDQ_LOCK,
  CMDQ_PROD_REG,
  LLQ,
  OWNER_PROD,
  QUEUE_BASE,
  VALID_MAP,
  VALID_MAP_PTR,
} from './address-map.js';
import type { VCpuStats } from './cpu-stats.js';
import { syncWaited, type VProbe } from './instrument.js';
import type { Machine } from './machine.js';
import {
  cmpxchg,
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
import type { SyncMode } from '../config/config.js';
import { pollReg, type ConsPollOptions } from './cons-poll.js';

const OWNED = Q_OVERFLOW_FLAG >>> 0;

/** Where one command queue's words live: the shared queue's, or an ECMDQ's (cmdq-ecmdq.ts). */
export interface VQueueAddrs {
  readonly llq: number;
  readonly validMapPtr: number;
  readonly ownerProd: number;
  readonly lock: number;
  readonly validMap: number;
  readonly entries: number;
  readonly prodReg: number;
  readonly consReg: number;
}

/** The SMMU's one command queue (v5.4's struct arm_smmu_cmdq, address-map.ts). */
export const SHARED_QUEUE: VQueueAddrs = {
  llq: LLQ,
  validMapPtr: VALID_MAP_PTR,
  ownerProd: OWNER_PROD,
  lock: CMDQ_LOCK,
  validMap: VALID_MAP,
  entries: QUEUE_BASE,
  prodReg: CMDQ_PROD_REG,
  consReg: CMDQ_CONS_REG,
};
const TWO_32 = 0x100000000;
const LOCK_EXCLUSIVE = -0x80000000;

/** {prod, cons} as one number: prod (with OWNED) in the low 32 bits, cons above. */
export const llqPackN = (prod: number, cons: number): number => (cons >>> 0) * TWO_32 + (prod >>> 0);
export const llqProdN = (v: number): number => v % TWO_32;
export const llqConsN = (v: number): number => Math.floor(v / TWO_32);

/** Initial state: the queue as bring-up left it (PROD = CONS = p), entries before p valid. */
export function initLockfree(m: Machine, shift: number, p: number, q: VQueueAddrs = SHARED_QUEUE): void {
  m.mem.poke(q.llq, llqPackN(p, p));
  m.mem.poke(q.ownerProd, p);
  m.mem.poke(q.lock, 0);
  // The threads engine's bitmap initialisation, on a scratch copy of its [bits, waiters] pairs.
  const words = Math.ceil((1 << shift) / 32);
  const pairs = new Int32Array(2 * words);
  new ValidMap(pairs, 0, shift).init(p);
  for (let word = 0; word < words; word++) m.mem.poke(q.validMap + 4 * word, pairs[2 * word]);
  m.setReg(q.prodReg, p);
  m.setReg(q.consReg, p);
}

export class VLockfreeCmdq {
  private readonly ptrMask: number;
  private readonly entry = new Int32Array(CMD_WORDS);

  /** What the owner's PROD write carries beside the index (ECMDQ: PROD_EN). */
  protected prodFlags = 0;

  constructor(
    private readonly shift: number,
    private readonly syncMode: SyncMode,
    private readonly stats: VCpuStats,
    private readonly poll: ConsPollOptions,
    private readonly q: VQueueAddrs = SHARED_QUEUE,
    /** Times CMD_SYNC waits (absent: counts only). */
    private readonly probe: VProbe | null = null,
    /** Record commands per owner in the extra histogram: only when the strategy keeps none of its
     *  own there (driver/cmdq-designs.ts designHistogram, as the threads engine decides). */
    private readonly sampleOwners = true,
  ) {
    this.ptrMask = (2 << shift) - 1;
  }

  *issue(batch: CmdBatch, sync: boolean): Proc {
    const shift = this.shift;
    const st = this.stats;
    const n = batch.num;
    const total = n + (sync ? 1 : 0);
    if (total === 0) return;

    // 1. Reserve: cmpxchg {prod, cons} -> {prod + total | OWNED, cons}.
    let old = yield load(this.q.llq);
    let prod = 0;
    let owner = false;
    let waited = false;
    for (;;) {
      const raw = llqProdN(old);
      prod = raw & this.ptrMask;
      const cons = llqConsN(old);
      if (!queueHasSpace(shift, prod, cons, total)) {
        if (!waited) st.queueFullWaits++;
        waited = true;
        old = yield* this.pollUntilNotFull(old, total);
        continue;
      }
      const head = llqPackN(queueIncN(shift, prod, total) | OWNED, cons);
      st.cmpxchgAttempts++;
      const seen = yield cmpxchg(this.q.llq, old, head);
      if (seen === old) {
        owner = (raw & OWNED) === 0;
        break;
      }
      old = seen;
    }
    st.cmpxchgSuccesses++;
    st.issuedTlbi += n;
    if (sync) st.issuedSync++;
    const end = queueIncN(shift, prod, total);

    // 2. Write our entries, one exclusive access per line they touch.
    const syncProd = queueIncN(shift, prod, n);
    const words: number[] = [];
    for (let i = 0; i < n; i++)
      for (let k = 0; k < CMD_WORDS; k++) words.push(batch.words[i * CMD_WORDS + k]);
    if (sync) {
      const slot = this.q.entries + 16 * qIdx(shift, syncProd);
      // v5.4 with MSIs: the SMMU writes MSIDATA = 0 over word 0 of this very slot.
      if (this.syncMode === 'msi')
        writeCmdSync(this.entry, 0, CS_IRQ, 0, slot, SYNC_MSH_ISH, SYNC_MSIATTR_OIWB);
      else writeCmdSync(this.entry, 0, CS_SEV, 0, 0);
      for (let k = 0; k < CMD_WORDS; k++) words.push(this.entry[k]);
    }
    yield* this.writeEntries(prod, total, words);
    if (sync) yield* this.sharedLock();

    // 3. Mark our slots valid.
    yield* this.validMap(prod, end, true);

    // 4. The owner publishes everything gathered behind it.
    if (owner) {
      yield waitUntil(this.q.ownerProd, (v) => v === prod);
      const gathered = llqProdN(yield rmw(this.q.llq, clearOwned)) & this.ptrMask;
      yield* this.validMap(prod, gathered, false);
      st.mmioWrites++;
      yield mmioWrite(this.q.prodReg, gathered | this.prodFlags);
      yield store(this.q.ownerProd, gathered);
      const published = queueDepth(shift, gathered, prod);
      st.ownerElections++;
      st.ownerPublishedCmds += published;
      if (this.sampleOwners) st.counters.extraSample(published);
    }

    // 5. Wait for our CMD_SYNC, then leave the shared lock (the last one out updates cons).
    if (sync) {
      const t0 = this.probe?.clock.now ?? 0;
      let cons: number;
      if (this.syncMode === 'msi') {
        yield waitUntil(this.q.entries + 16 * qIdx(shift, syncProd), (v) => v === 0);
        cons = syncProd;
      } else {
        const mask = this.ptrMask;
        const consumed = (c: number): boolean => queueConsumed(shift, c & mask, syncProd);
        cons = (yield* pollReg(this.poll, st, this.q.consReg, consumed)) & mask;
      }
      if (!(yield* this.sharedTryUnlock())) {
        yield rmw(this.q.llq, (v) => llqPackN(llqProdN(v), cons));
        st.lastReaderConsUpdates++;
        yield rmw(this.q.lock, (v) => v - 1);
      }
      if (this.probe !== null) syncWaited(this.probe, st.counters, t0, syncProd);
    }
  }

  /** The entries of [prod, prod + total) from `words`, grouped by line (four entries to a line). */
  private *writeEntries(prod: number, total: number, words: number[]): Proc {
    const shift = this.shift;
    let i = 0;
    while (i < total) {
      const idx = qIdx(shift, queueIncN(shift, prod, i));
      const inLine = Math.min(total - i, 4 - (idx & 3), (1 << shift) - idx);
      yield writeWords(this.q.entries + 16 * idx, words.slice(i * CMD_WORDS, (i + inLine) * CMD_WORDS));
      i += inLine;
    }
  }

  /**
   * Linux __arm_smmu_cmdq_poll_set_valid_map: set (toggle the bits of [sprod, eprod)) or poll (wait
   * until each is valid for its lap: the bit is the inverse of the wrap bit). Reads the bitmap
   * pointer first, as Linux does, on the line it shares with owner_prod and the lock.
   */
  private *validMap(sprod: number, eprod: number, set: boolean): Proc {
    const shift = this.shift;
    yield load(this.q.validMapPtr);
    for (let p = sprod; p !== eprod;) {
      const idx = qIdx(shift, p);
      const eidx = qIdx(shift, eprod);
      const word = idx >>> 5;
      const sbit = idx & 31;
      const limit = eidx >>> 5 === word && sbit < (eidx & 31) ? eidx & 31 : 32;
      const mask = (limit === 32 ? -1 : (1 << limit) - 1) & ~((1 << sbit) - 1);
      const addr = this.q.validMap + 4 * word;
      if (set) yield rmw(addr, (v) => v ^ mask);
      else {
        const want = qWrp(shift, p) !== 0 ? 0 : mask;
        yield waitUntil(addr, (v) => (v & mask) === want);
      }
      p = queueIncN(shift, p, limit - sbit);
    }
  }

  /** Linux arm_smmu_cmdq_poll_until_not_full. Returns a fresh {prod, cons}. */
  private *pollUntilNotFull(seen: number, need: number): Generator<Req, number, number> {
    // arm_smmu_cmdq_exclusive_trylock_irqsave: only when no CMD_SYNC waiter holds it shared.
    if ((yield cmpxchg(this.q.lock, 0, LOCK_EXCLUSIVE)) === 0) {
      this.stats.mmioReads++;
      const reg = (yield mmioRead(this.q.consReg)) & this.ptrMask;
      yield rmw(this.q.llq, (v) => llqPackN(llqProdN(v), reg));
      yield store(this.q.lock, 0);
      this.stats.consRefreshes++;
      return yield load(this.q.llq);
    }
    // Someone holds it: their unlock (the last CMD_SYNC waiter out refreshes cons) changes llq.
    const shift = this.shift;
    const mask = this.ptrMask;
    return yield waitUntil(
      this.q.llq,
      (v) => v !== seen || queueHasSpace(shift, llqProdN(v) & mask, llqConsN(v), need),
    );
  }

  private *sharedLock(): Proc {
    // The exclusive holder's INT_MIN keeps the incremented count negative: wait, then cmpxchg.
    if ((yield rmw(this.q.lock, (v) => v + 1)) >= 0) return;
    for (;;) {
      const v = yield waitUntil(this.q.lock, (x) => x >= 0);
      if ((yield cmpxchg(this.q.lock, v, v + 1)) === v) return;
    }
  }

  /** Fails, keeping the lock, if we are its only holder: then we update the cached cons. */
  private *sharedTryUnlock(): Generator<Req, boolean, number> {
    if ((yield load(this.q.lock)) === 1) return false;
    yield rmw(this.q.lock, (v) => v - 1);
    return true;
  }
}

/** Linux atomic_fetch_andnot(CMDQ_PROD_OWNED_FLAG, &cmdq->q.llq.atomic.prod). */
function clearOwned(v: number): number {
  const prod = llqProdN(v);
  return prod >= OWNED ? v - OWNED : v;
}
