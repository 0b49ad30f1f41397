// The SMMU's command processor: consumes the command queue in order from CONS to PROD, one command
// at a time, spending the modelled latency of each, applying TLB invalidations to the IOTLB and
// completing CMD_SYNC by advancing CONS past it (and, for CS=IRQ, writing MSIDATA to a non-zero
// MSIADDR). It runs on its own thread and finds everything through the register file, as hardware
// does: the queue's address and size from CMDQ_BASE, work from the CMDQ_PROD doorbell.
//
// It accepts every command the spec defines for a Non-secure queue (commands.ts OP) and refuses
// the rest with CERROR_ILL (command-check.ts), recording each refusal in `errors` with its queue,
// its index in that queue's stream and a reason. Effects where the model has the state: the IOTLB
// holds stage-1 NS-EL1 entries of VMID 0 (the driver's domains use ASIDs 1..domains), so TLBI_NH_*
// and TLBI_S12_VMALL act on VMID 0 only, TLBI_NH_VAA on every ASID, TLBI_NH_ALL / S12_VMALL /
// NSNH_ALL flush everything; EL2 and stage-2 TLBIs, CFGI, PREFETCH, ATC_INV, PRI_RESP, RESUME and
// STALL_TERM find nothing of theirs and are only counted.
//
// An SMMUv3.3 built with Enhanced Command queues (ECMDQ runs) has one more queue per CPU, each with
// its own ECMDQ_BASE/PROD/CONS: the engine then services the normal queue and every enabled ECMDQ
// round-robin (runQueues()); every other run keeps the single-queue loop (run()) untouched.
import { nowNs } from '../concurrency/clock.js';
import {
  handOffPhase,
  handOffStore,
  waitForChange,
  wake,
  WAITERS,
  type WaitPolicy,
} from '../concurrency/wait.js';
import { storeRelease } from '../concurrency/store.js';
import {
  CMD_BYTES,
  OP,
  CS_IRQ,
  opcodeOf,
  syncCs,
  syncMsiAddr,
  syncMsiData,
  tlbiAddrPage,
  tlbiAsid,
  tlbiNum,
  tlbiScale,
  tlbiTg,
  tlbiVmid,
} from './commands.js';
import { CommandChecker, checkerFor, Ill } from './command-check.js';
import { Iotlb } from './iotlb.js';
import { ModelTime } from './model-time.js';
import {
  ctlIdx,
  Ctl,
  ecmdqCount,
  ecmdqDoorbellIdx,
  ecmdqRegIdx,
  Phase,
  smmuStatsBase,
  type Layout,
  type SharedViews,
} from './layout.js';
import { Q_MAX_SHIFT, queueDepth, queueEmpty, queueIncN, qIdx } from './queue.js';
import { RegisterFile } from './regfile.js';
import {
  CMDQ_BASE_ADDR_HI_MASK,
  CMDQ_BASE_ADDR_SHIFT,
  CMDQ_BASE_LOG2SIZE_MASK,
  ECMDQ_BASE_ADDR_HI_MASK,
  IDR1_CMDQS_MASK,
  IDR1_CMDQS_SHIFT,
  CMDQ_CONS_ERR_SHIFT,
  CMDQ_ERR_ILL,
  CR0_CMDQEN,
  ECMDQ_CONS_ENACK,
  ECMDQ_CONS_ERR,
  ECMDQ_CONS_ERR_REASON_MASK,
  ECMDQ_CONS_ERR_REASON_SHIFT,
  ECMDQ_INDEX_MASK,
  ECMDQ_PROD_EN,
  GERROR_CMDQ_ERR,
  GERROR_CMDQP_ERR,
} from './registers.js';
import { EcmdqStat, Smmu, smmuStatsBytes } from './smmu-stats.js';
import { checkRegion, REGION } from './region.js';
import { Ev, queueDepthArg, type TraceRing } from '../trace/ring.js';

/** While idle, re-check CR0 at least this often. */
const IDLE_RECHECK_NS = 20e6;
/** Multi-queue engine, idle: empty turns (a read of every PROD each) between clock and CR0 reads. */
const IDLE_TURNS_PER_CHECK = 64;
/** Single-queue engine: doorbell looks before the going-idle bookkeeping (about 0.3-0.5 us). */
const IDLE_FAST_POLLS = 256;
/** 2^k for a range TLBI's SCALE (<= 31) plus its granule's log2 of 4K pages (<= 4): `**` on the
 *  engine's hot path is a Math.pow call. */
const POW2 = Float64Array.from({ length: 64 }, (_, k) => 2 ** k);

export interface SmmuTiming {
  /** Modelled time to perform one TLBI (and any other non-SYNC command), ns. */
  readonly tlbiNs: number;
  /** Modelled time to complete one CMD_SYNC once it reaches the head of the queue, ns. */
  readonly syncNs: number;
}

/** A command the SMMU refused with CERROR_ILL. */
export interface CommandError {
  /** 0: the normal command queue; 1 + n: ECMDQ n. */
  readonly queue: number;
  /** Position of the command in its queue's stream: commands consumed from that queue before it. */
  readonly index: number;
  /** The queue's CONS (index and wrap) when it was refused. */
  readonly cons: number;
  /** Why, citing the spec section (command-check.ts). */
  readonly reason: string;
  /** The entry's four 32-bit halves as read, word0 low first. */
  readonly words: readonly number[];
}

/** Receives each command consumed in the measured window, as its four little-endian words. */
export interface CommandSink {
  append(w0: number, w1: number, w2: number, w3: number): void;
}

/** What the engine reports it is doing, in the SMMU_STATE control word (for hang diagnostics). */
export const enum SmmuActivity {
  BRINGUP = 0,
  IDLE = 1,
  CONSUMING = 2,
  CMDQ_ERROR = 3,
  STOPPED = 4,
  STALLED = 5,
}

/** How many revealed commands fetchAhead() copies ahead of CONS (a power of two: the fetch buffer
 *  is indexed by queue index modulo it). */
const FETCH_AHEAD = 32;
/** TLBI_NH_VA effects run() holds back at most (applyPending()). */
const PENDING_MAX = 64;

export class SmmuEngine {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly regs: RegisterFile;
  private readonly iotlb: Iotlb;
  private readonly prodIdx: number;
  private readonly consIdx: number;
  private readonly phaseIdx: number;
  private readonly stateIdx: number;
  private readonly stallIdx: number;
  /** Float64 index of the measured window's counters, and of the warm-up's (smmu-stats.ts). */
  private readonly stats: number;
  private readonly scratch: number;
  private shift = 0;
  private qBase = 0;
  /** Wake parked CONS waiters at least every this many commands (queue-space waiters). */
  private wakeEvery = 1;
  /** Word 0 of the entry at CONS as last peeked at while idle (kept: the read must not be dropped). */
  private peeked = 0;
  /** run()'s fetched commands, FETCH_AHEAD at most from CONS on, 4 words each at (queue index mod
   *  FETCH_AHEAD) * 4: a prefetch buffer of the command processor's own. */
  private readonly fetched = new Int32Array(4 * FETCH_AHEAD);
  /** How many commands from CONS on `fetched` holds. */
  private ahead = 0;
  /** run()'s TLBI_NH_VA effects not applied yet, in order: (ASID, first page, pages, the counters
   *  of the TLBI's window) each. */
  private readonly pending = new Float64Array(4 * PENDING_MAX);
  private pendingN = 0;
  /** Whether apply() holds TLBI_NH_VA effects back (run() only). */
  private deferEffects = false;
  /** The counters of the phase run() is in: a TLBI_NH_VA held back counts its effect there, in the
   *  window of the TLBI, wherever the effect lands. The measured block until the first PROD read
   *  of run(): a warm-up then stores another value, so the JIT never folds it as a constant. */
  private effectsStats: number;
  /** A CMD_SYNC's MSI that apply() left for signal(): int32 index of MSIADDR (-1: none), data. */
  private msiAt = -1;
  private msiData = 0;
  /** ECMDQs the implementation has (0: a single-queue SMMU, as before SMMUv3.3). */
  private readonly ecmdqs: number;
  private readonly doorbellIdx: number;
  // Multi-queue state by slot: slot 0 is the normal command queue, slot 1 + n is ECMDQ n.
  private readonly slotProdIdx: Int32Array; // int32 index of the PROD register
  private readonly slotConsIdx: Int32Array; // int32 index of the CONS register (waiters at +1)
  private readonly slotBase: Int32Array; // int32 index of entry 0
  private readonly slotShift: Int32Array;
  private readonly slotMask: Int32Array; // index and wrap bits of PROD/CONS
  private readonly slotProdRaw: Int32Array; // the PROD register as last read (EN, ERRACK included)
  private readonly slotProd: Int32Array; // its index and wrap; == slotCons[k]: nothing seen is pending
  private readonly slotCons: Int32Array;
  private readonly slotConsFlags: Int32Array; // ECMDQ_CONS beside RD: ENACK, ERR, ERR_REASON
  private readonly slotErr: Uint8Array; // 1 while an ECMDQ error waits for PROD.ERRACK
  private readonly slotWakeEvery: Int32Array;
  private readonly slotSinceWake: Int32Array;
  /** Commands consumed from each queue since bring-up: the index a CommandError reports. */
  private readonly slotIndex: Float64Array;
  /** GERROR as toggled for a normal-queue error that the multi-queue loop waits to see acknowledged. */
  private cmdqErrGerror = 0;
  /** Decides CERROR_ILL; made at bring-up, once IDR3.RIL is known. */
  private checker = new CommandChecker(false);
  /** Every CERROR_ILL raised, in order (cold path; also sent to onCommandError). */
  readonly errors: CommandError[] = [];
  onCommandError: ((e: CommandError) => void) | null = null;

  constructor(
    views: SharedViews,
    private readonly layout: Layout,
    private readonly timing: SmmuTiming,
    private readonly idlePolicy: WaitPolicy,
    private readonly sink: CommandSink | null = null,
    /** --trace: a span per command and queue-depth samples go here. */
    private readonly ring: TraceRing | null = null,
  ) {
    checkRegion(views.sab, REGION.CONTROL, layout.controlOff, Ctl.WORDS * 4);
    checkRegion(views.sab, REGION.SMMU_STATS, layout.smmuStatsOff, smmuStatsBytes());
    this.i32 = views.i32;
    this.f64 = views.f64;
    this.regs = new RegisterFile(views.i32, layout);
    this.iotlb = new Iotlb(views.i32, layout, idlePolicy);
    this.prodIdx = this.regs.index('CMDQ_PROD');
    this.consIdx = this.regs.index('CMDQ_CONS');
    this.phaseIdx = ctlIdx(layout, Ctl.PHASE);
    this.stateIdx = ctlIdx(layout, Ctl.SMMU_STATE);
    this.stallIdx = ctlIdx(layout, Ctl.SMMU_STALL);
    this.stats = smmuStatsBase(layout);
    this.scratch = smmuStatsBase(layout, true);
    this.effectsStats = this.stats;
    this.ecmdqs = ecmdqCount(layout);
    this.doorbellIdx = this.ecmdqs > 0 ? ecmdqDoorbellIdx(layout) : -1;
    const slots = 1 + this.ecmdqs;
    this.slotProdIdx = new Int32Array(slots);
    this.slotConsIdx = new Int32Array(slots);
    this.slotBase = new Int32Array(slots);
    this.slotShift = new Int32Array(slots);
    this.slotMask = new Int32Array(slots);
    this.slotProdRaw = new Int32Array(slots);
    this.slotProd = new Int32Array(slots);
    this.slotCons = new Int32Array(slots);
    this.slotConsFlags = new Int32Array(slots);
    this.slotErr = new Uint8Array(slots);
    this.slotWakeEvery = new Int32Array(slots);
    this.slotSinceWake = new Int32Array(slots);
    this.slotIndex = new Float64Array(slots);
    this.slotProdIdx[0] = this.prodIdx;
    this.slotConsIdx[0] = this.consIdx;
    for (let n = 0; n < this.ecmdqs; n++) {
      this.slotProdIdx[1 + n] = ecmdqRegIdx(layout, n, 'ECMDQ_PROD');
      this.slotConsIdx[1 + n] = ecmdqRegIdx(layout, n, 'ECMDQ_CONS');
    }
  }

  private cr0(): number {
    return this.regs.read32('CR0');
  }

  /** Waits for the driver to enable the command queue, reads CMDQ_BASE, acknowledges in CR0ACK. */
  bringUp(): void {
    if (this.ecmdqs > 0) this.awaitCmdqEnServingEcmdqs();
    else this.regs.waitFor('CR0', (v) => (v & CR0_CMDQEN) !== 0);
    const cr0 = this.cr0();
    this.checker = checkerFor(this.regs);
    // CMDQ_BASE is read as its two halves: Linux sets RA (bit 62), beyond a double's exact range.
    // Only ADDR [51:5] places the queue; LOG2SIZE above IDR1.CMDQS acts as CMDQS (spec 6.3.26).
    const b = this.regs.index('CMDQ_BASE');
    const lo = Atomics.load(this.i32, b) >>> 0;
    const hi = Atomics.load(this.i32, b + 1) & CMDQ_BASE_ADDR_HI_MASK;
    const cmdqs = (this.regs.read32('IDR1') >>> IDR1_CMDQS_SHIFT) & IDR1_CMDQS_MASK;
    this.shift = Math.min(lo & CMDQ_BASE_LOG2SIZE_MASK, cmdqs);
    const addr = hi * 2 ** 32 + (lo - (lo % 2 ** CMDQ_BASE_ADDR_SHIFT));
    this.qBase = addr / 4;
    this.wakeEvery = Math.max(1, (1 << this.shift) >> 3);
    this.setSlot(0, this.qBase, this.shift, Atomics.load(this.i32, this.consIdx));
    this.regs.write32('CR0ACK', cr0);
  }

  /** Consumes commands until the driver clears CR0.CMDQEN; then acknowledges and returns. */
  run(): void {
    if (this.ecmdqs > 0) return this.runQueues();
    const i32 = this.i32;
    const f = this.f64;
    const st = this.stats;
    const sc = this.scratch;
    const shift = this.shift;
    let cons = Atomics.load(i32, this.consIdx) >>> 0;
    const time = new ModelTime(this.timing.tlbiNs > 0 || this.timing.syncNs > 0);
    let sinceWake = 0;
    const tlbiNs = this.timing.tlbiNs;
    const syncNs = this.timing.syncNs;
    const sink = this.sink;
    const buf = this.fetched;
    /** The counters of the phase (st in the measured window, sc before and after it). */
    let sb = sc;
    storeRelease(i32, this.stateIdx, SmmuActivity.CONSUMING);
    let prod = cons;
    this.ahead = 0;
    this.deferEffects = true; // until stop()
    /** A PROD read made after the commands seen (the look after the last one's latency, or the
     *  one before a catch-up CONS update) revealed more: the next iteration treats them as
     *  revealed, as if by the read at the top of the loop. */
    let revealed = false;
    /** ... and that read was dated (time.revealedAt). */
    let dated = false;
    for (;;) {
      // PROD is only re-read once the commands already seen are consumed: the doorbell line is
      // written by every CPU, and each read of it is a cache-line transfer.
      let refreshed = revealed;
      revealed = false;
      if (queueEmpty(shift, prod, cons)) {
        refreshed = true;
        // Going idle costs a clock read and two state stores, more than the gap between two
        // commands a CPU issues back to back, so look at the doorbell a while longer first. Each
        // look also reads the entry at CONS: the CPU writes it just before the doorbell, and its
        // line then crosses between the cores alongside PROD's instead of after it (the read that
        // counts comes after PROD, in program order, below).
        const at = this.qBase + qIdx(shift, cons) * 4;
        prod = Atomics.load(i32, this.prodIdx) >>> 0;
        for (let i = 0; i < IDLE_FAST_POLLS && queueEmpty(shift, prod, cons); i++) {
          this.peeked = i32[at];
          prod = Atomics.load(i32, this.prodIdx) >>> 0;
        }
      }
      if (queueEmpty(shift, prod, cons)) {
        // Held-back effects are applied before the engine waits (and before it stops).
        if (this.pendingN > 0) this.applyPending();
        if ((this.cr0() & CR0_CMDQEN) === 0) break;
        storeRelease(i32, this.stateIdx, SmmuActivity.IDLE);
        if (this.ring !== null) this.ring.record(Ev.QUEUE_DEPTH, nowNs(), 0, queueDepthArg(0, 0));
        const phase = Atomics.load(i32, this.phaseIdx);
        handOffPhase(phase);
        f[(phase === Phase.MEASURE ? st : sc) + Smmu.IDLE_WAITS]++;
        // Bounded, so that a driver clearing CR0.CMDQEN is noticed even without a doorbell.
        waitForChange(i32, this.prodIdx, prod | 0, this.idlePolicy, nowNs() + IDLE_RECHECK_NS);
        storeRelease(i32, this.stateIdx, SmmuActivity.CONSUMING);
        continue;
      }
      if (refreshed) {
        // The stall and the phase are looked at once per PROD read, not per command: two loads
        // per command on the engine's critical path otherwise. The depth is largest right after
        // PROD was read (it only shrinks while the commands seen are consumed).
        const stalled = Atomics.load(i32, this.stallIdx) !== 0;
        if (stalled) {
          if (this.pendingN > 0) this.applyPending(); // before the engine waits
          this.stall();
        }
        // The commands this read revealed arrived no later than now (or than the dated read that
        // revealed them, unless a stall came between): none starts earlier.
        if (dated && !stalled) time.arriveRevealed();
        else time.arrive();
        dated = false;
        this.fetchAhead(cons, prod);
        const phase = Atomics.load(i32, this.phaseIdx);
        handOffPhase(phase);
        sb = phase === Phase.MEASURE ? st : sc;
        // Set at every such read, not only when the phase changes: a branch taken first at the
        // window's start had no type feedback, and deoptimised this loop there (smmu-stats.ts).
        this.effectsStats = sb;
        const depth = queueDepth(shift, prod, cons);
        if (depth > f[sb + Smmu.MAX_QUEUE_DEPTH]) f[sb + Smmu.MAX_QUEUE_DEPTH] = depth;
        // Every read that revealed commands, the ones made after the commands seen included.
        if (this.ring !== null)
          this.ring.record(Ev.QUEUE_DEPTH, nowNs(), 0, queueDepthArg(0, queueDepth(shift, prod, cons)));
      }
      // The command was fetched (its four words copied) when a PROD read revealed it, before any
      // latency is spent, as hardware prefetches commands into a buffer of its own: an entry's
      // line also holds the next three entries, which a CPU may be writing meanwhile, and a read
      // at each command's turn waited for that line to come back.
      if (this.ahead === 0) this.fetchAhead(cons, prod);
      this.ahead--;
      const b = (cons & (FETCH_AHEAD - 1)) * 4;
      const op = opcodeOf(buf, b);
      const lat = op === OP.CMD_SYNC ? syncNs : tlbiNs;
      // Anything but a TLBI_NH_VA orders after the effects held back (a CMD_SYNC completes only
      // once they are in the IOTLB): applied now, inside its latency.
      if (this.pendingN > 0 && op !== OP.TLBI_NH_VA) this.applyPending();
      // Checked, counted and logged before its latency too, so that the latency hides this work:
      // what comes after it (the effect, CONS) is what CPUs wait for. An illegal command is not
      // consumed, so neither counted nor logged; its CERROR_ILL comes once the latency is spent.
      // The log has the command as fetched: an MSI aimed at its own slot (the lock-free design's
      // completion word) overwrites the entry's word 0, not the copy's.
      const legal = this.checker.check(buf, b) === Ill.OK;
      if (legal) {
        this.slotIndex[0]++;
        f[sb + Smmu.COMMANDS_CONSUMED]++;
        f[sb + Smmu.BY_OPCODE + op]++;
        f[sb + Smmu.BUSY_NS] += lat;
        if (sink !== null && sb === st) sink.append(buf[b], buf[b + 1], buf[b + 2], buf[b + 3]);
      }
      const next = queueIncN(shift, cons, 1);
      time.advance(lat); // its effect, below, comes once its modelled latency is spent
      if (next === prod) {
        // The last command seen: look at the doorbell once its latency is spent, before its effect.
        // A command queued meanwhile (a per-page unmap's CMD_SYNC behind its TLBI) then starts from
        // this read, dated right after it. One read: polling while the latency is spent would take
        // PROD's line from a CPU that is writing it, and a read before the latency (session 8) took
        // it from a CPU issuing a stream of commands just before its next doorbell.
        const raw = Atomics.load(i32, this.prodIdx) >>> 0;
        if (raw !== prod) {
          time.sampleRevealed();
          prod = raw;
          revealed = dated = true;
        }
      }
      const removed = legal ? this.apply(buf, b, op) : -1;
      if (removed < 0) {
        f[sb + Smmu.CMDQ_ERRORS]++;
        if (this.pendingN > 0) this.applyPending(); // before CONS shows the error
        this.ahead = 0; // the driver replaces the entry: fetched afresh
        this.noteIllegal(0, this.qBase + qIdx(shift, cons) * 4, cons);
        if (!this.commandError(cons)) return this.stop();
        time.arrive(); // the replacement entry is there from now on
        dated = false; // what the look after its latency revealed starts from now too
        continue; // the driver replaced the entry: consume it afresh
      }
      if (removed > 0) f[sb + Smmu.IOTLB_INVALIDATIONS] += removed;
      this.signal(sb);
      cons = next;
      // CONS is published when someone can make progress with it: a CMD_SYNC completed, the
      // commands seen so far are drained, or every 1/8 of the queue for CPUs waiting for space.
      // The spec lets the SMMU update CONS lazily; writing it per command would make every
      // command pay a cache-line transfer to the CPUs polling it. Waking a parked CPU is a
      // futex syscall, so it follows the same rule.
      let publish = op === OP.CMD_SYNC || ++sinceWake >= this.wakeEvery;
      if (!publish && cons === prod) {
        // Caught up with the commands seen: look at the doorbell once more before publishing.
        // A CONS that stops short of commands already queued lets nobody make progress, and its
        // store would take the line of the CPUs polling it (before the CMD_SYNC they wait for).
        prod = Atomics.load(i32, this.prodIdx) >>> 0;
        if (queueEmpty(shift, prod, cons)) publish = true;
        else {
          time.sampleRevealed();
          revealed = dated = true;
        }
      }
      if (publish) {
        // CONS never passes a TLBI whose effect is held back: a CPU that sees it may rely on the
        // IOTLB as the commands before it left it (tests and tools do; Linux waits for a CMD_SYNC).
        if (this.pendingN > 0) this.applyPending();
        sinceWake = 0;
        this.handOff(this.consIdx, cons | 0, sb);
      }
      // --trace only: the span is the emulator's bookkeeping, which a CPU waiting for this
      // CMD_SYNC need not wait for (the rings are read once every worker has stopped).
      if (this.ring !== null) this.traceCommand(op, lat, time.due);
    }
    this.stop();
  }

  /** Fault injection (--inject stall:smmu): consume nothing until the orchestrator lifts the stall. */
  private stall(): void {
    Atomics.store(this.i32, this.stateIdx, SmmuActivity.STALLED);
    while (Atomics.load(this.i32, this.stallIdx) !== 0 && (this.cr0() & CR0_CMDQEN) !== 0)
      waitForChange(this.i32, this.stallIdx, 1, this.idlePolicy, nowNs() + IDLE_RECHECK_NS);
    Atomics.store(this.i32, this.stateIdx, SmmuActivity.CONSUMING);
  }

  // ---- SMMUv3.3 ECMDQs ----------------------------------------------------------------------

  /**
   * The multi-queue command processor: the normal queue (slot 0) and every enabled ECMDQ, in
   * round-robin, ONE command per queue per turn. The spec leaves the order across queues to the
   * implementation ("round-robin or weighted round-robin", 3.5.6.1); one command per turn is the
   * choice that keeps a queue's CMD_SYNC latency independent of how much the other CPUs queue: a
   * sync waits for its own queue's earlier commands plus at most one command of every other busy
   * queue per command ahead of it, so a CPU that posts 64 TLBIs cannot hold up a neighbour's
   * single CMD_SYNC behind all 64 (draining queue by queue would). The cost is one PROD read per
   * queue per turn when a queue runs dry, which is a read of a line only its CPU writes.
   *
   * Within a queue, commands are consumed in order and a CMD_SYNC completes (CONS past it, or its
   * MSI) once the queue's earlier commands have taken effect: a CMD_SYNC on an ECMDQ orders only
   * that queue (3.5.6.1). The modelled latencies (--tlbi-ns, --sync-ns) are spent per command as in
   * the single-queue loop: the queues share one command processor. With every queue empty the
   * engine spins reading every PROD and, per its wait policy, then sleeps on the doorbell word
   * (the protocol is in hardware/ecmdq.ts).
   */
  private runQueues(): void {
    const i32 = this.i32;
    const f = this.f64;
    const st = this.stats;
    const slots = 1 + this.ecmdqs;
    const prodIdx = this.slotProdIdx;
    const consIdx = this.slotConsIdx;
    const base = this.slotBase;
    const shifts = this.slotShift;
    const masks = this.slotMask;
    const prodRaw = this.slotProdRaw;
    const prods = this.slotProd;
    const conss = this.slotCons;
    const consFlags = this.slotConsFlags;
    const tlbiNs = this.timing.tlbiNs;
    const syncNs = this.timing.syncNs;
    const time = new ModelTime(this.timing.tlbiNs > 0 || this.timing.syncNs > 0);
    let idleTurns = 0;
    let idleSince = -1;
    /** The counters of the phase, as run()'s. */
    let sb = this.scratch;
    Atomics.store(i32, this.stateIdx, SmmuActivity.CONSUMING);
    for (;;) {
      if (Atomics.load(i32, this.stallIdx) !== 0) {
        this.stall();
        time.arrive(); // what was pending starts after the stall
        continue;
      }
      const phase = Atomics.load(i32, this.phaseIdx);
      handOffPhase(phase);
      sb = phase === Phase.MEASURE ? st : this.scratch;
      let consumed = 0;
      for (let k = 0; k < slots; k++) {
        // A normal-queue error stops that queue only (spec 3.5.6.3): the ECMDQs go on meanwhile.
        if (k === 0 && this.slotErr[0] !== 0 && !this.cmdqErrorAcked()) continue;
        let cons = conss[k];
        let prod = prods[k];
        if (prod === cons) {
          // Everything seen is consumed: read the PROD register again, as run() does.
          const raw = Atomics.load(i32, prodIdx[k]);
          if (raw === prodRaw[k]) continue;
          prodRaw[k] = raw;
          if (k > 0) {
            if (!this.ecmdqUsable(k, raw)) continue;
            cons = conss[k]; // (re)enabling a queue reads its CONS register
          }
          prod = raw & masks[k];
          prods[k] = prod;
          if (prod === cons) continue;
          time.arrive(); // revealed now: arrived no later than now
          if (this.ring !== null)
            this.ring.record(Ev.QUEUE_DEPTH, nowNs(), 0, queueDepthArg(k, (prod - cons) & masks[k]));
        }
        // Index and wrap bits: PROD - CONS modulo 2^(shift+1) is the number of pending entries.
        const depth = (prod - cons) & masks[k];
        if (depth > f[sb + Smmu.MAX_QUEUE_DEPTH]) f[sb + Smmu.MAX_QUEUE_DEPTH] = depth;
        const q = sb + Smmu.ECMDQ + (k - 1) * EcmdqStat.SLOTS + EcmdqStat.MAX_DEPTH;
        if (k > 0 && depth > f[q]) f[q] = depth;
        const w = base[k] + (cons & ((1 << shifts[k]) - 1)) * 4;
        const op = opcodeOf(i32, w);
        const lat = op === OP.CMD_SYNC ? syncNs : tlbiNs;
        time.advance(lat);
        const w0 = i32[w];
        const w1 = i32[w + 1];
        const w2 = i32[w + 2];
        const w3 = i32[w + 3]; // logged as read after the latency, before any effect
        const removed = this.execute(i32, w, op);
        if (removed < 0) {
          f[sb + Smmu.CMDQ_ERRORS]++;
          this.noteIllegal(k, w, cons);
          // The normal queue reports in CMDQ_CONS.ERR and GERROR.CMDQ_ERR, an ECMDQ in its own
          // ECMDQ_CONS; either way only the failing queue stops until the driver acknowledges.
          if (k === 0) this.raiseCmdqError(cons, true);
          else this.ecmdqError(k, cons, CMDQ_ERR_ILL);
          continue;
        }
        this.slotIndex[k]++;
        f[sb + Smmu.COMMANDS_CONSUMED]++;
        f[sb + Smmu.BY_OPCODE + op]++;
        f[sb + Smmu.IOTLB_INVALIDATIONS] += removed;
        f[sb + Smmu.BUSY_NS] += lat;
        if (k > 0) f[sb + Smmu.ECMDQ + (k - 1) * EcmdqStat.SLOTS + EcmdqStat.CONSUMED]++;
        if (this.sink && sb === st) this.sink.append(w0, w1, w2, w3);
        this.signal(sb);
        if (this.ring !== null) this.traceCommand(op, lat, time.due);
        const next = (cons + 1) & masks[k];
        conss[k] = next;
        consumed++;
        if (this.ring !== null && next === prod)
          this.ring.record(Ev.QUEUE_DEPTH, nowNs(), 0, queueDepthArg(k, 0));
        // Published lazily: a CMD_SYNC completed, the queue drained, or 1/8 of it (run() also looks
        // at PROD once more before a catch-up update; this loop, which reads every PROD each turn
        // anyway, does not, nor does it fetch ahead, count before the latency or hold effects back).
        if (op === OP.CMD_SYNC || next === prod || ++this.slotSinceWake[k] >= this.slotWakeEvery[k]) {
          this.slotSinceWake[k] = 0;
          this.handOff(consIdx[k], next | consFlags[k], sb);
        }
      }
      if (consumed > 0) {
        if (idleTurns !== 0) {
          idleTurns = 0;
          idleSince = -1;
          Atomics.store(i32, this.stateIdx, SmmuActivity.CONSUMING);
        }
        continue;
      }
      // Every queue is empty: spin over the PRODs, looking at the clock and CR0 now and then.
      if (idleTurns++ === 0) {
        Atomics.store(i32, this.stateIdx, SmmuActivity.IDLE);
        f[sb + Smmu.IDLE_WAITS]++;
      }
      if (idleTurns % IDLE_TURNS_PER_CHECK !== 0) continue;
      if ((this.cr0() & CR0_CMDQEN) === 0) break;
      const t = nowNs();
      if (idleSince < 0) idleSince = t;
      else if (this.idlePolicy.park && t - idleSince >= this.idlePolicy.spinNs) this.sleepOnDoorbell(sb);
    }
    this.stop();
  }

  /**
   * Sleeps on the doorbell until a producer rings it or IDLE_RECHECK_NS passes. The waiter count
   * is raised before the last look at every PROD, so a producer storing its PROD after that look
   * sees it and rings (hardware/ecmdq.ts); one storing before it is seen here.
   */
  private sleepOnDoorbell(sb: number): void {
    const i32 = this.i32;
    const db = this.doorbellIdx;
    const ring = Atomics.load(i32, db);
    Atomics.add(i32, db + WAITERS, 1);
    // A normal-queue error is acknowledged through GERRORN, which rings no doorbell: look at it too.
    let changed = this.slotErr[0] !== 0 && this.cmdqErrorAcked();
    for (let k = 0; k <= this.ecmdqs && !changed; k++)
      changed = Atomics.load(i32, this.slotProdIdx[k]) !== this.slotProdRaw[k];
    if (!changed) {
      this.f64[sb + Smmu.DOORBELL_SLEEPS]++;
      Atomics.wait(i32, db, ring, IDLE_RECHECK_NS / 1e6);
    }
    Atomics.sub(i32, db + WAITERS, 1);
  }

  /** Checks a command and applies its effect (the ECMDQ loop); returns IOTLB entries removed, or -1
   *  if it is CERROR_ILL. `i32[w..w+3]`: the command's words, the queue entry. */
  private execute(i32: Int32Array, w: number, op: number): number {
    return this.checker.check(i32, w) !== Ill.OK ? -1 : this.apply(i32, w, op);
  }

  /** A legal command's effect; returns IOTLB entries removed (0 for a TLBI_NH_VA held back). */
  private apply(i32: Int32Array, w: number, op: number): number {
    switch (op) {
      case OP.TLBI_NH_VA: {
        const asid = tlbiAsid(i32, w);
        if (asid === 0 || tlbiVmid(i32, w) !== 0) return 0; // no entry has ASID 0 or VMID != 0
        if (this.deferEffects) {
          this.holdBack(asid, tlbiAddrPage(i32, w), this.tlbiPages(i32, w));
          return 0;
        }
        return this.iotlb.invalidateRange(asid, tlbiAddrPage(i32, w), this.tlbiPages(i32, w));
      }
      case OP.TLBI_NH_VAA:
        if (tlbiVmid(i32, w) !== 0) return 0;
        return this.iotlb.invalidateRangeAnyAsid(tlbiAddrPage(i32, w), this.tlbiPages(i32, w));
      case OP.TLBI_NH_ASID: {
        const asid = tlbiAsid(i32, w);
        if (asid === 0 || tlbiVmid(i32, w) !== 0) return 0;
        return this.iotlb.invalidateAsid(asid);
      }
      case OP.TLBI_NH_ALL:
      case OP.TLBI_S12_VMALL:
        return tlbiVmid(i32, w) !== 0 ? 0 : this.iotlb.invalidateAsid(0);
      case OP.TLBI_NSNH_ALL:
        return this.iotlb.invalidateAsid(0);
      case OP.CMD_SYNC:
        if (syncCs(i32, w) === CS_IRQ) {
          // MSIADDR 0 means "no MSI" (Linux polls such a sync): nothing may be written at address 0.
          const addr = syncMsiAddr(i32, w);
          if (addr === 0) return 0;
          // Written by signal(), once the command's counters and log entry are there: a CPU that
          // sees its CMD_SYNC complete may end the run and read them (as for CONS, run()).
          this.msiAt = addr / 4;
          this.msiData = syncMsiData(i32, w) | 0;
        }
        return 0;
      default:
        return 0; // legal, and nothing of its kind is cached here (EL2, stage 2, CFGI, ATS, PRI, stall)
    }
  }

  /** A completed CMD_SYNC's MSI, if apply() left one: MSIDATA to MSIADDR, and its wake. */
  private signal(sb: number): void {
    const at = this.msiAt;
    if (at < 0) return;
    this.msiAt = -1;
    this.handOff(at, this.msiData, sb);
  }

  /** A CONS or MSI store CPUs wait for (concurrency/wait.ts handOffStore), and the wake it calls
   *  for, counted in `sb`, the phase's counters. */
  private handOff(idx: number, v: number, sb: number): void {
    if (handOffStore(this.i32, idx, v)) {
      Atomics.notify(this.i32, idx);
      this.f64[sb + Smmu.WAKES_SENT]++;
    }
  }

  /**
   * The commands a PROD read revealed, before any of their latencies is spent: copy the first
   * FETCH_AHEAD of them (from those not fetched yet) into the fetch buffer, reading each entry's
   * line once while the CPUs are done with it, and start taking the IOTLB set line of each
   * single-page TLBI_NH_VA among them, so that those transfers overlap each other and the latencies
   * instead of following each command.
   */
  private fetchAhead(cons: number, prod: number): void {
    const i32 = this.i32;
    const buf = this.fetched;
    const shift = this.shift;
    const n = Math.min(queueDepth(shift, prod, cons), FETCH_AHEAD);
    for (let i = this.ahead, c = queueIncN(shift, cons, i); i < n; i++, c = queueIncN(shift, c, 1)) {
      const b = (c & (FETCH_AHEAD - 1)) * 4;
      const w = this.qBase + qIdx(shift, c) * 4;
      buf[b] = i32[w];
      buf[b + 1] = i32[w + 1];
      buf[b + 2] = i32[w + 2];
      buf[b + 3] = i32[w + 3];
      if (opcodeOf(buf, b) === OP.TLBI_NH_VA) this.warm(buf, b);
    }
    if (n > this.ahead) this.ahead = n;
  }

  /** A single-page TLBI_NH_VA about to spend its latency: start taking its IOTLB set's line. */
  private warm(cmd: Int32Array, b: number): void {
    const asid = tlbiAsid(cmd, b);
    if (asid !== 0 && tlbiTg(cmd, b) === 0) this.iotlb.warm(asid, tlbiAddrPage(cmd, b));
  }

  /**
   * run() holds a TLBI_NH_VA's IOTLB invalidation back once its latency is spent, and applies it
   * before anything that may rely on it (applyPending()): software knows an invalidation has
   * completed only from a later CMD_SYNC's completion (why the seed patch, and Linux since, sync
   * before the IOVA is freed), so it may land anywhere between the TLBI's modelled completion and
   * that one. CONS is not published past it either (a stronger promise than the architecture's).
   * Done right away, its work (the set's line crossing from the core that translated through it)
   * came before the engine looked at the doorbell again; held back, it lies inside the next latency
   * that is not a TLBI's. Only after run()'s first PROD read that revealed commands, which set
   * effectsStats, the block the effect counts in.
   */
  private holdBack(asid: number, page: number, pages: number): void {
    const q = this.pending;
    const k = this.pendingN * 4;
    q[k] = asid;
    q[k + 1] = page;
    q[k + 2] = pages;
    q[k + 3] = this.effectsStats;
    if (++this.pendingN === PENDING_MAX) this.applyPending();
  }

  /** The held-back TLBI_NH_VA effects, in order: before any other command's latency is spent,
   *  before CONS is published, before the engine waits or stops. */
  private applyPending(): void {
    const q = this.pending;
    const f = this.f64;
    for (let k = 0, n = this.pendingN * 4; k < n; k += 4) {
      const removed = this.iotlb.invalidateRange(q[k], q[k + 1], q[k + 2]);
      if (removed > 0) f[q[k + 3] + Smmu.IOTLB_INVALIDATIONS] += removed;
    }
    this.pendingN = 0;
  }

  /**
   * 4K pages a TLBI by address covers: one address (TG = 0), or (NUM + 1) << SCALE granules of TG's
   * size (4.4.1.1); the IOTLB holds 4K pages, so a 16K granule is 4 of them and a 64K one 16.
   */
  private tlbiPages(i32: Int32Array, w: number): number {
    const tg = tlbiTg(i32, w);
    if (tg === 0) return 1;
    return (tlbiNum(i32, w) + 1) * POW2[tlbiScale(i32, w) + 2 * (tg - 1)];
  }

  /** Records a CERROR_ILL (cold path: the reason string is built here). */
  private noteIllegal(k: number, w: number, cons: number): void {
    const i32 = this.i32;
    const e: CommandError = {
      queue: k,
      index: this.slotIndex[k],
      cons,
      reason: this.checker.reason(i32, w),
      words: [i32[w] >>> 0, i32[w + 1] >>> 0, i32[w + 2] >>> 0, i32[w + 3] >>> 0],
    };
    this.errors.push(e);
    this.onCommandError?.(e);
  }

  private setSlot(k: number, base: number, shift: number, consReg: number): void {
    const mask = (2 << shift) - 1;
    this.slotBase[k] = base;
    this.slotShift[k] = shift;
    this.slotMask[k] = mask;
    this.slotCons[k] = consReg & mask;
    this.slotProd[k] = consReg & mask;
    this.slotProdRaw[k] = Atomics.load(this.i32, this.slotProdIdx[k]);
    this.slotWakeEvery[k] = Math.max(1, (1 << shift) >> 3);
    this.slotSinceWake[k] = 0;
  }

  /**
   * Linux enables the ECMDQs after CR0.CMDQEN (arm_smmu_ecmdq_reset, as driver/probe.ts), but the
   * spec lets a driver enable them first (ECMDQ_PROD.EN, then poll ECMDQ_CONS.ENACK): answer those
   * while waiting for CMDQEN. The driver rings the doorbell after each enable; CR0 is looked at
   * every millisecond.
   */
  private awaitCmdqEnServingEcmdqs(): void {
    const i32 = this.i32;
    for (;;) {
      const ring = Atomics.load(i32, this.doorbellIdx);
      for (let k = 1; k <= this.ecmdqs; k++) {
        const raw = Atomics.load(i32, this.slotProdIdx[k]);
        if (raw !== this.slotProdRaw[k]) {
          this.slotProdRaw[k] = raw;
          this.ecmdqUsable(k, raw);
        }
      }
      if ((this.cr0() & CR0_CMDQEN) !== 0) return;
      Atomics.wait(i32, this.doorbellIdx, ring, 1);
    }
  }

  /**
   * Follows ECMDQ k's PROD register (just read, and changed): EN set enables the queue (reads
   * ECMDQ_BASE, sets CONS.ENACK), EN clear disables it; while an error is active the queue stays
   * stopped until PROD.ERRACK equals CONS.ERR (spec 3.5.6.2-3). True if the queue may be consumed.
   */
  private ecmdqUsable(k: number, raw: number): boolean {
    const i32 = this.i32;
    const flags = this.slotConsFlags[k];
    const ci = this.slotConsIdx[k];
    if ((raw & ECMDQ_PROD_EN) === 0) {
      if ((flags & ECMDQ_CONS_ENACK) !== 0) {
        this.slotConsFlags[k] = flags & ~ECMDQ_CONS_ENACK;
        Atomics.store(i32, ci, this.slotCons[k] | this.slotConsFlags[k]);
        wake(i32, ci);
      }
      return false;
    }
    if ((flags & ECMDQ_CONS_ENACK) === 0) {
      // ECMDQ_BASE is guarded by EN: read it now. LOG2SIZE [4:0]; ADDR [55:5] (exact in a double),
      // aligned by the SMMU to the larger of the queue's size and 32 bytes (as CMDQ_BASE.ADDR).
      const b = ecmdqRegIdx(this.layout, k - 1, 'ECMDQ_BASE');
      const lo = Atomics.load(i32, b) >>> 0;
      const hi = Atomics.load(i32, b + 1) >>> 0;
      const shift = Math.min(lo & CMDQ_BASE_LOG2SIZE_MASK, Q_MAX_SHIFT);
      const align = Math.max(2 ** CMDQ_BASE_ADDR_SHIFT, (1 << shift) * CMD_BYTES);
      const addr = (hi & ECMDQ_BASE_ADDR_HI_MASK) * 2 ** 32 + (lo - (lo % align));
      this.setSlot(k, addr / 4, shift, Atomics.load(i32, ci) & ECMDQ_INDEX_MASK);
      this.slotProdRaw[k] = raw;
      this.slotConsFlags[k] = flags | ECMDQ_CONS_ENACK;
      this.slotErr[k] = 0;
      Atomics.store(i32, ci, this.slotCons[k] | this.slotConsFlags[k]);
      wake(i32, ci);
    }
    if (this.slotErr[k] !== 0) {
      if (((raw ^ this.slotConsFlags[k]) & ECMDQ_CONS_ERR) !== 0) return false; // ERRACK != ERR
      this.slotErr[k] = 0;
    }
    return true;
  }

  /**
   * A command ECMDQ k cannot consume (spec 3.5.6.3): CONS.RD stays on it, CONS.ERR toggles with
   * ERR_REASON, GERROR.CMDQP_ERR is activated if inactive, and the queue stops until the driver
   * (having replaced the entry) makes PROD.ERRACK equal CONS.ERR. The other queues go on.
   */
  private ecmdqError(k: number, cons: number, reason: number): void {
    const i32 = this.i32;
    const reasonBits = ECMDQ_CONS_ERR_REASON_MASK << ECMDQ_CONS_ERR_REASON_SHIFT;
    const flags =
      ((this.slotConsFlags[k] ^ ECMDQ_CONS_ERR) & ~reasonBits) | (reason << ECMDQ_CONS_ERR_REASON_SHIFT);
    this.slotConsFlags[k] = flags;
    this.slotErr[k] = 1;
    this.slotProd[k] = cons; // re-read PROD every turn until ERRACK matches
    Atomics.store(i32, this.slotConsIdx[k], cons | flags);
    const gerror = this.regs.read32('GERROR');
    if (((gerror ^ this.regs.read32('GERRORN')) & GERROR_CMDQP_ERR) === 0)
      this.regs.write32('GERROR', gerror ^ GERROR_CMDQP_ERR);
    wake(i32, this.slotConsIdx[k]);
  }

  /** A span for the command just completed: [due - lat, due] in modelled time, or now if lat is 0. */
  private traceCommand(op: number, lat: number, due: number): void {
    const end = lat > 0 ? due : nowNs();
    this.ring!.record(Ev.SMMU_CMD, end - lat, lat, op);
  }

  private stop(): void {
    this.deferEffects = false;
    this.regs.write32('CR0ACK', this.cr0());
    Atomics.store(this.i32, this.stateIdx, SmmuActivity.STOPPED);
  }

  /**
   * An undefined opcode at cons: stop consuming, report CMDQ_CONS.ERR = ILL and toggle
   * GERROR.CMDQ_ERR, then wait until the driver acknowledges by making GERRORN equal GERROR
   * (having replaced the bad entry, as Linux overwrites it with a CMD_SYNC). Returns false if the
   * queue was disabled instead.
   */
  private commandError(cons: number): boolean {
    Atomics.store(this.i32, this.stateIdx, SmmuActivity.CMDQ_ERROR);
    const gerror = this.raiseCmdqError(cons, false);
    while (!this.regs.waitFor('GERRORN', (v) => ((v ^ gerror) & GERROR_CMDQ_ERR) === 0, 20)) {
      if ((this.cr0() & CR0_CMDQEN) === 0) return false;
    }
    Atomics.store(this.i32, this.consIdx, cons | 0);
    Atomics.store(this.i32, this.stateIdx, SmmuActivity.CONSUMING);
    return true;
  }

  /**
   * Reports a normal-queue error: CMDQ_CONS.ERR = ILL with CONS left on the bad entry, and
   * GERROR.CMDQ_ERR toggled; returns the new GERROR. `pending`: the multi-queue loop goes on with
   * the ECMDQs and polls cmdqErrorAcked() instead of waiting here.
   */
  private raiseCmdqError(cons: number, pending: boolean): number {
    Atomics.store(this.i32, this.consIdx, cons | (CMDQ_ERR_ILL << CMDQ_CONS_ERR_SHIFT) | 0);
    const gerror = this.regs.read32('GERROR') ^ GERROR_CMDQ_ERR;
    this.regs.write32('GERROR', gerror);
    wake(this.i32, this.consIdx);
    if (pending) {
      this.slotErr[0] = 1;
      this.cmdqErrGerror = gerror;
      this.slotProd[0] = cons; // re-read PROD once acknowledged: the entry is consumed afresh
      this.slotProdRaw[0] = -1;
    }
    return gerror;
  }

  /** Multi-queue loop: has the driver acknowledged the normal-queue error (GERRORN == GERROR)? */
  private cmdqErrorAcked(): boolean {
    if (((this.regs.read32('GERRORN') ^ this.cmdqErrGerror) & GERROR_CMDQ_ERR) !== 0) return false;
    this.slotErr[0] = 0;
    Atomics.store(this.i32, this.consIdx, this.slotCons[0] | 0);
    return true;
  }
}
