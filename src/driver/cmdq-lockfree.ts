// Command issue as Linux's arm-smmu-v3 did it from v5.4 ("iommu/arm-smmu: Reduce contention during
// command-queue insertion", Will Deacon, 2019): no global lock for insertion. A CPU reserves the
// slots of a whole batch (+1 for its CMD_SYNC) with one cmpxchg on a 64-bit {prod, cons} word; the
// first CPU to reserve while the OWNED flag is clear becomes the owner of everything gathered
// behind it; every CPU writes its own slots and then flips their bits in a valid bitmap; the owner
// waits for the previous owner, closes its gather window by clearing OWNED, waits for the valid
// bits of its whole range and writes CMDQ_PROD once for everyone. A CPU that inserted a CMD_SYNC
// holds a counter lock in shared mode until its sync completes, so that the queue cannot wrap
// twice behind its back; the lock is only taken exclusively to refresh the cached cons from the
// CONS register when the queue looks full. CMD_SYNC completion is polled on CONS (poll mode) or,
// with MSIs, on word 0 of the CMD_SYNC's own slot, which the SMMU overwrites with MSIDATA = 0.
//
// Shared state: the region LOCKFREE_REGION (regionOff(layout, LOCKFREE_REGION)), byte offsets
// relative to its 64-byte aligned start, every hot word on a line of its own:
//
//   0    int64  LLQ         Linux cmdq->q.llq.val: prod in bits [31:0], cons in bits [63:32]
//                           (little-endian, as Linux's union). prod bit 31 is OWNED (the
//                           overflow-flag position; the cached prod never carries an overflow).
//                           Updated by Atomics.compareExchange / Atomics.and on views.i64 only:
//                           no 32-bit access ever touches it.
//   64   int32  OWNER_PROD  Linux cmdq->owner_prod: PROD as last written by an owner. +4: waiters.
//   128  int32  LOCK        Linux cmdq->lock: > 0 shared holders (CMD_SYNC waiters), INT_MIN
//                           exclusive (refreshing cons), 0 free. +4: waiters.
//   192  int32  STATE       0 uninitialised, 1 initialising, 2 ready (see initLockfreeCmdq).
//                           +4: waiters. Cold: read once per CPU.
//   256  pairs  VALID       the valid bitmap, one bit per queue entry: for entries [32k, 32k+32)
//                           the int32 at 256 + 8k holds the bits (entry 32k + b is bit b) and
//                           the int32 at 260 + 8k its waiter count (concurrency/wait.ts protocol).
//                           A writer toggles the bits of its entries once per lap; an entry is
//                           valid when its bit is 1 in a lap with the wrap bit clear and 0 in a
//                           lap with it set (Linux: "the valid bit is the inverse of the wrap bit").
//
// The same protocol drives each CPU's SMMUv3.3 ECMDQ (cmdq-ecmdq.ts, as upstream's
// arm_smmu_get_cmdq() hands arm_smmu_cmdq_issue_cmdlist() the CPU's ECMDQ): a LockfreeQueue says
// which PROD/CONS registers, entries and state block an issuer drives; the ECMDQ issuer overrides
// the PROD write (EN, ERRACK, doorbell) and handles its own queue's errors.
//
// For the normal queue, the queue itself and CMDQ_PROD / CMDQ_CONS are the common ones of the layout. Bring-up
// (driver/probe.ts) inserts its commands without this protocol and leaves PROD = CONS = 3; the
// region is initialised from those registers (initLockfreeCmdq, by the orchestrator after probe,
// or lazily by the first CPU to issue), entries already written in the current lap counting as
// valid.
//
// Low-level index arithmetic lives in hardware/queue.ts and command building in
// hardware/commands.ts; this file only issues.
import { CMD_WORDS, CS_IRQ, SYNC_MSH_ISH, SYNC_MSIATTR_OIWB, writeCmdSync } from '../hardware/commands.js';
import {
  cmdqEntryIdx,
  cpuStateIdx,
  CpuState,
  regIdx,
  regionOff,
  type Layout,
  type LayoutGeometry,
  type SharedViews,
} from '../hardware/layout.js';
import { checkRegion, LINE, type RegionDecl } from '../hardware/region.js';
import { queueConsumed, queueDepth, queueHasSpace, queueIncN, qIdx, qWrp } from '../hardware/queue.js';
import { Q_OVERFLOW_FLAG } from '../hardware/registers.js';
import { nowNs } from '../concurrency/clock.js';
import { Cpu, type CpuStats } from '../concurrency/counters.js';
import { Span } from '../concurrency/span.js';
import { printk } from './printk.js';
import {
  DRAIN_SPIN_NS,
  draining,
  handOff,
  storeAndWake,
  wake,
  waitForChange,
  type WaitPolicy,
} from '../concurrency/wait.js';
import { clearWaiting, setWaiting, Waiting } from '../concurrency/waiting.js';
import { CMDQ_BATCH_ENTRIES, type CmdBatch } from './cmd-batch.js';
import { countIssued, type CmdqIssuer, type RegisterAccess, type SyncMode } from './cmdq.js';
import { SyncWaiter } from './sync-waiter.js';

/** Name of the design's region in the layout. */
export const LOCKFREE_REGION = 'cmdq-lockfree';

/**
 * Smallest queue the design accepts: a batch of CMDQ_BATCH_ENTRIES commands and its CMD_SYNC must
 * fit in one reservation (Linux requires more than 64 entries), rounded up to a power of two.
 */
export const LOCKFREE_MIN_QUEUE_ENTRIES = 2 ** Math.ceil(Math.log2(CMDQ_BATCH_ENTRIES + 1));

/** Per-CPU counters, in Cpu.EXTRA0 + index order (reported under runs[].extra.counters). */
export const LOCKFREE_COUNTERS = [
  'cmpxchgAttempts', // cmpxchg on {prod, cons} tried to reserve slots
  'cmpxchgSuccesses', // ... that succeeded (one per reservation)
  'ownerElections', // reservations that found OWNED clear: this CPU wrote PROD for the gathered range
  'ownerPublishedCmds', // commands made visible to the SMMU by this CPU's PROD writes as owner
  'consRefreshes', // queue looked full: cons re-read from CMDQ_CONS under the exclusive lock
  'lastReaderConsUpdates', // last CMD_SYNC waiter out of the shared lock wrote its cons to LLQ
] as const;
/** The distribution it records (CpuStats.extraSample): commands published per owner election. */
export const LOCKFREE_HISTOGRAM = 'commandsPerOwner';

/** Cpu statistics slot of LOCKFREE_COUNTERS[i]. */
const slot = (i: number): Cpu => (Cpu.EXTRA0 + i) as Cpu;
const ATTEMPTS = slot(0);
const SUCCESSES = slot(1);
const ELECTIONS = slot(2);
const PUBLISHED = slot(3);
const CONS_REFRESHES = slot(4);
const LAST_READER = slot(5);

/** Byte offsets in the region (see the format at the top of this file). */
const enum Rg {
  LLQ = 0,
  OWNER_PROD = 64,
  LOCK = 128,
  STATE = 192,
  VALID = 256,
}

const enum State {
  UNINIT = 0,
  INITIALISING = 1,
  READY = 2,
}

/** Bit 31 of the cached prod: a CPU owns (will publish) everything reserved up to it. */
export const CMDQ_PROD_OWNED_FLAG = Q_OVERFLOW_FLAG;
/** Atomics.and mask clearing OWNED in the 64-bit word (Linux atomic_fetch_andnot on llq.prod). */
const CLEAR_OWNED = ~(1n << 31n);
const LOCK_EXCLUSIVE = -0x80000000; // INT_MIN
const LOW32 = 0xffffffffn;
/** Full-queue waits re-read the shared state at least this often (Linux's poll loops re-read too). */
const RECHECK_NS = 1e6;
/** With a parking policy, an MSI completion word (no waiter count, no wake-up) is re-read this often. */
const MSI_PARK_SLICE_MS = 0.05;
/** Clock reads are expensive: while spinning on the MSI word, read it every this many polls. */
const POLLS_PER_CLOCK_READ = 64;

/** Bytes of the region for a queue of 2^queueShift entries. */
export function lockfreeRegionBytes(queueShift: number): number {
  return Rg.VALID + Math.ceil((1 << queueShift) / 32) * 8;
}

export const LOCKFREE_DECL: RegionDecl<LayoutGeometry> = {
  name: LOCKFREE_REGION,
  bytes: (g) => lockfreeRegionBytes(g.queueShift),
  align: LINE,
};

/** prod half of an LLQ value (with OWNED, if set), as an unsigned 32-bit number. */
export function llqProd(v: bigint): number {
  return Number(v & LOW32);
}

/** cons half of an LLQ value, as an unsigned 32-bit number. */
export function llqCons(v: bigint): number {
  return Number((v >> 32n) & LOW32);
}

/** The LLQ value {prod, cons} as BigInt64Array stores it (signed). */
export function llqPack(prod: number, cons: number): bigint {
  return BigInt.asIntN(64, (BigInt(cons >>> 0) << 32n) | BigInt(prod >>> 0));
}

/** Bits [lo, hi) of an int32, 0 <= lo < hi <= 32. */
function bitRange(lo: number, hi: number): number {
  return (hi === 32 ? -1 : (1 << hi) - 1) & ~((1 << lo) - 1);
}

/**
 * The valid bitmap (Linux __arm_smmu_cmdq_poll_set_valid_map): ranges of queue positions (index +
 * wrap bit, as PROD holds them) are walked one bitmap word at a time. A range must be shorter than
 * the queue by at least 32 entries (a batch is at most 65 of at least 128).
 */
export class ValidMap {
  /** Int32 index of the current chunk's bitmap word, and the chunk's bits in it. */
  private cw = 0;
  private cm = 0;

  /** base: int32 index of the first bitmap word; words are pairs [bits, waiters]. */
  constructor(
    private readonly i32: Int32Array,
    private readonly base: number,
    private readonly shift: number,
  ) {}

  /** Flips the valid bits of [sprod, eprod): the entries' commands are written. */
  set(sprod: number, eprod: number): void {
    const i32 = this.i32;
    for (let p = sprod; p !== eprod;) {
      p = this.chunk(p, eprod);
      Atomics.xor(i32, this.cw, this.cm);
      wake(i32, this.cw);
    }
  }

  /** Waits until every entry of [sprod, eprod) is valid for its lap. */
  poll(sprod: number, eprod: number, policy: WaitPolicy): void {
    const i32 = this.i32;
    for (let p = sprod; p !== eprod;) {
      const want = qWrp(this.shift, p) !== 0 ? 0 : -1;
      p = this.chunk(p, eprod);
      const w = this.cw;
      const m = this.cm;
      let v = Atomics.load(i32, w);
      while ((v & m) !== (want & m)) v = waitForChange(i32, w, v, policy);
    }
  }

  /** Is the entry at queue position p valid for p's lap? (Diagnostics and tests.) */
  isValid(p: number): boolean {
    const idx = qIdx(this.shift, p);
    const bit = (Atomics.load(this.i32, this.base + 2 * (idx >>> 5)) >>> (idx & 31)) & 1;
    return bit === (qWrp(this.shift, p) !== 0 ? 0 : 1);
  }

  /**
   * Sets the bitmap as if every entry before `prod` had been written through it: the entries of
   * prod's lap below its index valid, the others valid for the previous lap (so invalid now).
   */
  init(prod: number): void {
    const size = 1 << this.shift;
    const idx = qIdx(this.shift, prod);
    const cur = qWrp(this.shift, prod) !== 0 ? 0 : 1;
    for (let word = 0; word < Math.ceil(size / 32); word++) {
      let bits = 0;
      for (let b = 0; b < 32 && word * 32 + b < size; b++) {
        const v = word * 32 + b < idx ? cur : cur ^ 1;
        bits |= v << b;
      }
      Atomics.store(this.i32, this.base + 2 * word, bits);
    }
  }

  /** Selects the chunk of [p, e) that starts at p (cw, cm); returns the position after it. */
  private chunk(p: number, e: number): number {
    const idx = qIdx(this.shift, p);
    const eidx = qIdx(this.shift, e);
    const word = idx >>> 5;
    const sbit = idx & 31;
    const limit = eidx >>> 5 === word && sbit < (eidx & 31) ? eidx & 31 : 32;
    this.cw = this.base + 2 * word;
    this.cm = bitRange(sbit, limit);
    return queueIncN(this.shift, p, limit - sbit);
  }
}

/** Int32 / BigInt64 indexes of the region's words. */
interface RegionIdx {
  readonly llq: number;
  readonly ownerProd: number;
  readonly lock: number;
  readonly state: number;
  readonly valid: number;
}

/** off: byte offset (64-byte aligned) of one queue's state in the LOCKFREE_REGION format. */
function regionIdx(off: number): RegionIdx {
  return {
    llq: (off + Rg.LLQ) >> 3,
    ownerProd: (off + Rg.OWNER_PROD) >> 2,
    lock: (off + Rg.LOCK) >> 2,
    state: (off + Rg.STATE) >> 2,
    valid: (off + Rg.VALID) >> 2,
  };
}

/** The queue a LockfreeCmdq drives: its registers, its entries and its protocol state. */
export interface LockfreeQueue {
  /** Int32 indexes of its PROD and CONS registers. */
  readonly prodIdx: number;
  readonly consIdx: number;
  /** Int32 index of its entry 0 (entries are contiguous, CMD_WORDS each). */
  readonly entries: number;
  /** Byte offset of its state in the LOCKFREE_REGION format (llq, owner_prod, lock, valid map). */
  readonly stateOff: number;
  /** How diagnostics name it: CMDQ, ECMDQ 3. */
  readonly name: string;
  /** Its CPU handles its errors (ECMDQs) rather than the GERROR handler (orchestrator). */
  readonly ownErrors: boolean;
}

/** The normal command queue (CMDQ_BASE/PROD/CONS) with the state in LOCKFREE_REGION. */
export function normalQueue(layout: Layout): LockfreeQueue {
  return {
    prodIdx: regIdx(layout, 'CMDQ_PROD'),
    consIdx: regIdx(layout, 'CMDQ_CONS'),
    entries: cmdqEntryIdx(layout, 0),
    stateOff: regionOff(layout, LOCKFREE_REGION),
    name: 'CMDQ',
    ownErrors: false,
  };
}

/**
 * Initialises one queue's state from its PROD and CONS (index and wrap bits): call once the queue
 * is up and idle, before any CPU issues on it.
 */
export function initLockfreeState(
  views: SharedViews,
  stateOff: number,
  shift: number,
  prod: number,
  cons: number,
): void {
  const i32 = views.i32;
  const r = regionIdx(stateOff);
  Atomics.store(views.i64, r.llq, llqPack(prod, cons));
  Atomics.store(i32, r.ownerProd, prod);
  Atomics.store(i32, r.lock, 0);
  new ValidMap(i32, r.valid, shift).init(prod);
  storeAndWake(i32, r.state, State.READY);
}

/**
 * Initialises the normal queue's region from the queue registers. Call once the queue is up and
 * idle (after probeSmmu, before any CPU issues); LockfreeCmdq calls it lazily if nobody has.
 */
export function initLockfreeCmdq(views: SharedViews, layout: Layout): void {
  const ptrMask = (2 << layout.queueShift) - 1; // index + wrap bit
  const q = normalQueue(layout);
  const prod = Atomics.load(views.i32, q.prodIdx) & ptrMask;
  const cons = Atomics.load(views.i32, q.consIdx) & ptrMask;
  initLockfreeState(views, q.stateOff, layout.queueShift, prod, cons);
}

export interface LockfreeCmdqOptions extends RegisterAccess {
  readonly cpu: number;
  readonly syncMode: SyncMode;
  /** Report "CMD_SYNC timeout" (and keep waiting) after this long; Infinity: never. */
  readonly syncTimeoutNs: number;
  /** CMD_SYNC completion signal in poll mode: CS_SEV, as Linux writes whatever IDR0.SEV says. */
  readonly pollCs: number;
  readonly timed: boolean;
  /** Record commands per owner election as the run's distribution (not when the strategy has one). */
  readonly sampleOwners: boolean;
}

export class LockfreeCmdq implements CmdqIssuer {
  protected readonly i32: Int32Array;
  private readonly i64: BigInt64Array;
  protected readonly shift: number;
  private readonly ptrMask: number;
  protected readonly prodIdx: number;
  protected readonly consIdx: number;
  /** Int32 index of the queue's entry 0. */
  protected readonly entries: number;
  private readonly ownErrors: boolean;
  private readonly r: RegionIdx;
  private readonly valid: ValidMap;
  private readonly msi: boolean;
  private readonly waitingIdx: number;
  private readonly waiter: SyncWaiter;
  private ready = false;
  /** The CMD_SYNC's queue position for the poll-mode completion predicate (no closure per call). */
  private syncProd = 0;
  /** Times a CMD_SYNC's wait (in fields: concurrency/span.ts). */
  private readonly syncSpan = new Span();
  private readonly consumed = (cons: number): boolean =>
    queueConsumed(this.shift, cons, this.syncProd) || (this.ownErrors && this.errorPending(cons));

  constructor(
    private readonly views: SharedViews,
    layout: Layout,
    protected readonly policy: WaitPolicy,
    protected readonly opts: LockfreeCmdqOptions,
    public stats: CpuStats,
    private readonly q: LockfreeQueue = normalQueue(layout),
  ) {
    if (layout.queueEntries < LOCKFREE_MIN_QUEUE_ENTRIES)
      throw new Error(
        `--queue-entries ${layout.queueEntries} is too small for the lock-free command queue: it needs ` +
          `at least ${LOCKFREE_MIN_QUEUE_ENTRIES} entries (a batch of ${CMDQ_BATCH_ENTRIES} commands ` +
          `and its CMD_SYNC are reserved at once)`,
      );
    this.i32 = views.i32;
    this.i64 = views.i64;
    this.shift = layout.queueShift;
    this.ptrMask = (2 << layout.queueShift) - 1;
    this.prodIdx = q.prodIdx;
    this.consIdx = q.consIdx;
    this.entries = q.entries;
    this.ownErrors = q.ownErrors;
    checkRegion(views.sab, `${q.name} lock-free state`, q.stateOff, lockfreeRegionBytes(this.shift));
    this.r = regionIdx(q.stateOff);
    this.valid = new ValidMap(this.i32, this.r.valid, this.shift);
    this.msi = opts.syncMode === 'msi';
    this.waitingIdx = cpuStateIdx(layout, opts.cpu, CpuState.WAITING);
    this.waiter = new SyncWaiter(
      this.i32,
      policy,
      opts.syncTimeoutNs,
      opts.cpu,
      this.waitingIdx,
      () => this.queueState(),
      opts.poll,
    );
  }

  issue(batch: CmdBatch, sync: boolean): void {
    const n = batch.num;
    const total = n + (sync ? 1 : 0);
    if (total === 0) return;
    if (!this.ready) this.ensureInit();
    const i32 = this.i32;
    const i64 = this.i64;
    const shift = this.shift;
    const llq = this.r.llq;
    const stats = this.stats;

    // 1. Reserve `total` slots: cmpxchg {prod, cons} -> {prod + total | OWNED, cons}.
    let old = Atomics.load(i64, llq);
    let prod = 0;
    let owner = false;
    let waited = false;
    for (;;) {
      const raw = llqProd(old);
      prod = raw & this.ptrMask;
      const cons = llqCons(old);
      if (!queueHasSpace(shift, prod, cons, total)) {
        if (!waited) {
          stats.add(Cpu.QUEUE_FULL_WAITS, 1);
          setWaiting(i32, this.waitingIdx, Waiting.QUEUE_SPACE, prod);
          waited = true;
        }
        old = this.waitUntilNotFull(old, total);
        continue;
      }
      const head = llqPack(queueIncN(shift, prod, total) | CMDQ_PROD_OWNED_FLAG, cons);
      stats.add(ATTEMPTS, 1);
      const seen = Atomics.compareExchange(i64, llq, old, head);
      if (seen === old) {
        owner = (raw & CMDQ_PROD_OWNED_FLAG) === 0;
        break;
      }
      old = seen;
    }
    stats.add(SUCCESSES, 1);
    if (waited) clearWaiting(i32, this.waitingIdx);
    const end = queueIncN(shift, prod, total);

    // 2. Write our commands (plain stores: the valid bits and then PROD publish them).
    const src = batch.words;
    const idxMask = (1 << shift) - 1;
    let idx = qIdx(shift, prod);
    for (let i = 0; i < n; i++) {
      const w = this.entries + idx * CMD_WORDS;
      const s = i * 4;
      i32[w] = src[s];
      i32[w + 1] = src[s + 1];
      i32[w + 2] = src[s + 2];
      i32[w + 3] = src[s + 3];
      idx = (idx + 1) & idxMask;
    }
    const syncProd = queueIncN(shift, prod, n);
    if (sync) {
      const w = this.entries + qIdx(shift, syncProd) * CMD_WORDS;
      // With MSIs the SMMU writes MSIDATA = 0 over word 0 of this very slot (v5.4).
      if (this.msi) writeCmdSync(i32, w, CS_IRQ, 0, w * 4, SYNC_MSH_ISH, SYNC_MSIATTR_OIWB);
      else writeCmdSync(i32, w, this.opts.pollCs, 0, 0);
      // Before our slots become valid: the queue must not wrap twice before we see the sync.
      this.sharedLock();
    }

    // 3. Mark our slots valid.
    this.valid.set(prod, end);

    // 4. The owner publishes everything gathered behind it.
    if (owner) {
      const ownerProd = this.r.ownerProd;
      // a. Wait for the previous owner to have written PROD up to where our range starts.
      let v = Atomics.load(i32, ownerProd);
      while (v !== prod) v = waitForChange(i32, ownerProd, v, this.policy);
      // b. Close the gather window: the next reservation elects a new owner.
      const gathered = llqProd(Atomics.and(i64, llq, CLEAR_OWNED)) & this.ptrMask;
      // c. Wait until every gathered entry (ours included) is written.
      this.valid.poll(prod, gathered, this.policy);
      // d. Ring the SMMU's doorbell once for all of them. e. Hand over to the next owner.
      this.writeProd(gathered);
      handOff(i32, ownerProd, gathered);
      const published = queueDepth(shift, gathered, prod);
      stats.add(ELECTIONS, 1);
      stats.add(PUBLISHED, published);
      if (this.opts.sampleOwners) stats.extraSample(published);
    }
    countIssued(stats, batch, sync);

    // 5. Wait for our CMD_SYNC, then leave the shared lock (the last one out updates cons).
    if (sync) {
      const span = this.syncSpan;
      if (this.opts.timed) span.begin();
      // The wait's timeout counts from the reading that times it: one clock read less per CMD_SYNC.
      const cons = this.msi
        ? this.pollMsi(syncProd, this.opts.timed ? span.start : -1)
        : this.pollConsumed(syncProd, this.opts.timed ? span : null);
      if (!this.sharedTryUnlock()) {
        this.setCachedCons(cons);
        stats.add(LAST_READER, 1);
        this.sharedUnlock();
      }
      if (this.opts.timed) span.stop();
      stats.syncWait(span.end - span.start);
    }
  }

  /**
   * Step 4d, Linux writel_relaxed(prod, cmdq->q.prod_reg): makes everything before prod visible to
   * the SMMU with one write of the PROD register.
   */
  protected writeProd(prod: number): void {
    this.opts.mmio.doorbell(this.prodIdx, prod, this.stats);
  }

  /** ownErrors queues: has the SMMU stopped at a bad command (CONS as just read)? */
  protected errorPending(_cons: number): boolean {
    return false;
  }

  /** ownErrors queues: replace the bad command and let the SMMU resume. */
  protected skipError(): void {}

  /** Poll mode: waits until CONS has moved past the CMD_SYNC at syncProd; returns that CONS. */
  private pollConsumed(syncProd: number, timing: Span | null): number {
    this.syncProd = syncProd;
    for (let t = timing; ; t = null) {
      const c = this.waiter.untilCons(this.consIdx, syncProd, this.consumed, this.stats, t) & this.ptrMask;
      if (queueConsumed(this.shift, c, syncProd)) return c;
      this.skipError();
    }
  }

  /**
   * MSI mode: waits until the SMMU has written MSIDATA (0) over word 0 of the CMD_SYNC's slot. The
   * word after it is part of the command, so there is no waiter count and no wake-up: spin, and
   * under a parking policy sleep in short slices. A wait longer than --sync-timeout is reported as
   * SyncWaiter does. Returns the cons it implies: Linux takes the one just past the sync; we take
   * the sync's own slot, one entry more cautious: the slot is handed out again only once CONS
   * says so, as an SMMU that has not yet published CONS past it may not be done with it (the
   * emulated one logs from its own copy of the command, but the ECMDQ loop reads the entry).
   * `nowIfRead`: the clock if the caller has just read it (-1: not read); otherwise the clock is
   * first read after the first round of polls, so that a wait that ends within them (most do)
   * reads none.
   */
  private pollMsi(syncProd: number, nowIfRead: number): number {
    const i32 = this.i32;
    const idx = this.entries + qIdx(this.shift, syncProd) * CMD_WORDS;
    const policy = this.policy;
    const timeoutNs = this.opts.syncTimeoutNs;
    let v = Atomics.load(i32, idx);
    if (v !== 0) {
      setWaiting(i32, this.waitingIdx, Waiting.CMD_SYNC, syncProd);
      let start = nowIfRead;
      let parkAt = Infinity;
      let deadline = Infinity;
      while (v !== 0) {
        for (let i = 0; i < POLLS_PER_CLOCK_READ && v !== 0; i++) v = Atomics.load(i32, idx);
        if (v === 0) continue;
        // A queue stopped at a bad command raises no MSI: its own CPU must see to it.
        if (this.ownErrors && this.errorPending(Atomics.load(i32, this.consIdx))) this.skipError();
        if (deadline === Infinity) {
          // The timeout and the spin budget count from the wait's start, or from here when the
          // caller did not read the clock (a round of polls later: nothing against --sync-timeout).
          if (start < 0) start = nowNs();
          if (policy.park) parkAt = start + policy.spinNs;
          deadline = start + timeoutNs;
        }
        if (parkAt === Infinity && draining(i32, policy)) parkAt = start + DRAIN_SPIN_NS;
        if (parkAt === Infinity && timeoutNs === Infinity) continue;
        const t = nowNs();
        if (t >= deadline) {
          this.stats.add(Cpu.SYNC_TIMEOUTS, 1);
          printk(
            `tlbsync-emu: cpu ${this.opts.cpu}: CMD_SYNC timeout: waited ${((t - start) / 1e6).toFixed(0)} ms ` +
              `for CMD_SYNC 0x${syncProd.toString(16)}; ${this.queueState()}; still waiting`,
          );
          deadline += timeoutNs;
        }
        if (t < parkAt) continue;
        // Returns at once ("not-equal") if the word has changed since v was read.
        Atomics.wait(i32, idx, v, MSI_PARK_SLICE_MS);
        v = Atomics.load(i32, idx);
      }
      clearWaiting(i32, this.waitingIdx);
    }
    return syncProd;
  }

  /** For CMD_SYNC timeout reports. */
  private queueState(): string {
    const i32 = this.i32;
    const v = Atomics.load(this.i64, this.r.llq);
    const name = this.q.name;
    return (
      `${name}_PROD 0x${(Atomics.load(i32, this.prodIdx) >>> 0).toString(16)} ` +
      `${name}_CONS 0x${(Atomics.load(i32, this.consIdx) >>> 0).toString(16)} ` +
      `llq prod 0x${llqProd(v).toString(16)} cons 0x${llqCons(v).toString(16)} ` +
      `owner_prod 0x${(Atomics.load(i32, this.r.ownerProd) >>> 0).toString(16)} ` +
      `lock ${Atomics.load(i32, this.r.lock)} (${this.opts.syncMode} mode, lock-free queue)`
    );
  }

  /**
   * The queue has no room for `need` entries at the cached cons (Linux
   * arm_smmu_cmdq_poll_until_not_full): refresh cons from CMDQ_CONS under the exclusive lock if it
   * is free, else wait for its holders (CMD_SYNC waiters, the last of which refreshes cons, or
   * another refresher). Never waits while holding the lock. Returns a fresh LLQ value.
   */
  private waitUntilNotFull(seen: bigint, need: number): bigint {
    const i32 = this.i32;
    const i64 = this.i64;
    const llq = this.r.llq;
    const lock = this.r.lock;
    if (this.ownErrors && this.errorPending(Atomics.load(i32, this.consIdx))) this.skipError();
    if (Atomics.compareExchange(i32, lock, 0, LOCK_EXCLUSIVE) === 0) {
      const reg = this.opts.mmio.read(this.consIdx, this.stats);
      this.setCachedCons(reg & this.ptrMask);
      storeAndWake(i32, lock, 0);
      this.stats.add(CONS_REFRESHES, 1);
      const v = Atomics.load(i64, llq);
      if (queueHasSpace(this.shift, llqProd(v) & this.ptrMask, llqCons(v), need)) return v;
      // The SMMU itself has not consumed enough yet: wait for it to publish a new CONS.
      waitForChange(i32, this.consIdx, reg, this.policy, nowNs() + RECHECK_NS);
      return Atomics.load(i64, llq);
    }
    // Linux polls its llq copy with queue_poll() until a holder's cons update frees space. Every
    // such update is followed by an unlock, which changes the lock word: the loop polls that.
    const poll = this.opts.poll;
    poll.init();
    const recheck = nowNs() + RECHECK_NS;
    let held = Atomics.load(i32, lock);
    let v = Atomics.load(i64, llq);
    while (held !== 0 && v === seen && nowNs() < recheck) {
      poll.step(lock, held, this.stats, recheck);
      held = Atomics.load(i32, lock);
      v = Atomics.load(i64, llq);
    }
    return v;
  }

  /**
   * Linux WRITE_ONCE(cmdq->q.llq.cons, ...): replaces the cons half, keeping prod. A cmpxchg loop,
   * because a 32-bit store into the 64-bit word would be a mixed-size race in the JS memory model.
   */
  private setCachedCons(cons: number): void {
    const i64 = this.i64;
    const llq = this.r.llq;
    let v = Atomics.load(i64, llq);
    for (;;) {
      const seen = Atomics.compareExchange(i64, llq, v, llqPack(llqProd(v), cons));
      if (seen === v) return;
      v = seen;
    }
  }

  private sharedLock(): void {
    const i32 = this.i32;
    const lock = this.r.lock;
    // Held exclusively, the counter is INT_MIN and the increment leaves it negative; the
    // exclusive unlock then stores 0 and we take it with a cmpxchg.
    if (Atomics.add(i32, lock, 1) >= 0) return;
    for (;;) {
      let v = Atomics.load(i32, lock);
      while (v < 0) v = waitForChange(i32, lock, v, this.policy);
      if (Atomics.compareExchange(i32, lock, v, v + 1) === v) return;
    }
  }

  private sharedUnlock(): void {
    Atomics.sub(this.i32, this.r.lock, 1);
    wake(this.i32, this.r.lock);
  }

  /** Fails, keeping the lock, if we are the only holder: then we may update the cached cons. */
  private sharedTryUnlock(): boolean {
    if (Atomics.load(this.i32, this.r.lock) === 1) return false;
    this.sharedUnlock();
    return true;
  }

  /** The first CPU to issue initialises the region unless the orchestrator already has. */
  private ensureInit(): void {
    const i32 = this.i32;
    const state = this.r.state;
    if (Atomics.compareExchange(i32, state, State.UNINIT, State.INITIALISING) === State.UNINIT) {
      const prod = Atomics.load(i32, this.prodIdx) & this.ptrMask;
      const cons = Atomics.load(i32, this.consIdx) & this.ptrMask;
      initLockfreeState(this.views, this.q.stateOff, this.shift, prod, cons);
    } else {
      let v = Atomics.load(i32, state);
      while (v !== State.READY) v = waitForChange(i32, state, v, this.policy);
    }
    this.ready = true;
  }
}
