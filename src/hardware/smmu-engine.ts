// The SMMU's command processor: consumes the command queue in order from CONS to PROD, one command
// at a time, spending the modelled latency of each, applying TLB invalidations to the IOTLB and
// completing CMD_SYNC by advancing CONS past it (and, for CS=IRQ, writing MSIDATA to MSIADDR).
// It runs on its own thread and finds everything through the register file, as hardware does:
// the queue's address and size from CMDQ_BASE, work from the CMDQ_PROD doorbell.
import { nowNs, spinUntil } from '../sync/clock.js';
import { waitForChange, wake, type WaitPolicy } from '../sync/wait.js';
import {
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
} from './commands.js';
import { Iotlb } from './iotlb.js';
import { ctlIdx, Ctl, Phase, smmuStatsBase, type Layout, type SharedViews } from './layout.js';
import { queueDepth, queueEmpty, queueIncN, qIdx } from './queue.js';
import { RegisterFile } from './regfile.js';
import {
  CMDQ_BASE_ADDR_SHIFT,
  CMDQ_BASE_LOG2SIZE_MASK,
  CMDQ_CONS_ERR_SHIFT,
  CMDQ_ERR_ILL,
  CR0_CMDQEN,
  GERROR_CMDQ_ERR,
} from './registers.js';
import { Smmu } from './smmu-stats.js';

/** While idle, re-check CR0 at least this often. */
const IDLE_RECHECK_NS = 20e6;

export interface SmmuTiming {
  /** Modelled time to perform one TLBI (and any other non-SYNC command), ns. */
  readonly tlbiNs: number;
  /** Modelled time to complete one CMD_SYNC once it reaches the head of the queue, ns. */
  readonly syncNs: number;
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
}

export class SmmuEngine {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly regs: RegisterFile;
  private readonly iotlb: Iotlb;
  private readonly prodIdx: number;
  private readonly consIdx: number;
  private readonly phaseIdx: number;
  private readonly stateIdx: number;
  private readonly stats: number;
  private shift = 0;
  private qBase = 0;
  /** Wake parked CONS waiters at least every this many commands (queue-space waiters). */
  private wakeEvery = 1;

  constructor(
    views: SharedViews,
    private readonly layout: Layout,
    private readonly timing: SmmuTiming,
    private readonly idlePolicy: WaitPolicy,
    private readonly sink: CommandSink | null = null,
  ) {
    this.i32 = views.i32;
    this.f64 = views.f64;
    this.regs = new RegisterFile(views.i32, layout);
    this.iotlb = new Iotlb(views.i32, layout, idlePolicy);
    this.prodIdx = this.regs.index('CMDQ_PROD');
    this.consIdx = this.regs.index('CMDQ_CONS');
    this.phaseIdx = ctlIdx(layout, Ctl.PHASE);
    this.stateIdx = ctlIdx(layout, Ctl.SMMU_STATE);
    this.stats = smmuStatsBase(layout);
  }

  private cr0(): number {
    return this.regs.read32('CR0');
  }

  /** Waits for the driver to enable the command queue, reads CMDQ_BASE, acknowledges in CR0ACK. */
  bringUp(): void {
    this.regs.waitFor('CR0', (v) => (v & CR0_CMDQEN) !== 0);
    const cr0 = this.cr0();
    const base = this.regs.read64('CMDQ_BASE');
    this.shift = (base % 32) & CMDQ_BASE_LOG2SIZE_MASK;
    const addr = Math.floor(base / 2 ** CMDQ_BASE_ADDR_SHIFT) * 2 ** CMDQ_BASE_ADDR_SHIFT;
    this.qBase = addr >> 2;
    this.wakeEvery = Math.max(1, (1 << this.shift) >> 3);
    this.regs.write32('CR0ACK', cr0);
  }

  /** Consumes commands until the driver clears CR0.CMDQEN; then acknowledges and returns. */
  run(): void {
    const i32 = this.i32;
    const f = this.f64;
    const st = this.stats;
    const shift = this.shift;
    let cons = Atomics.load(i32, this.consIdx) >>> 0;
    let due = -1; // modelled completion time of the previous command; -1 after idling
    let sinceWake = 0;
    Atomics.store(i32, this.stateIdx, SmmuActivity.CONSUMING);
    let prod = cons;
    for (;;) {
      // PROD is only re-read once the commands already seen are consumed: the doorbell line is
      // written by every CPU, and each read of it is a cache-line transfer.
      if (queueEmpty(shift, prod, cons)) prod = Atomics.load(i32, this.prodIdx) >>> 0;
      if (queueEmpty(shift, prod, cons)) {
        if ((this.cr0() & CR0_CMDQEN) === 0) break;
        Atomics.store(i32, this.stateIdx, SmmuActivity.IDLE);
        // Bounded, so that a driver clearing CR0.CMDQEN is noticed even without a doorbell.
        waitForChange(i32, this.prodIdx, prod | 0, this.idlePolicy, nowNs() + IDLE_RECHECK_NS);
        Atomics.store(i32, this.stateIdx, SmmuActivity.CONSUMING);
        due = -1;
        continue;
      }
      const measuring = Atomics.load(i32, this.phaseIdx) === Phase.MEASURE;
      if (measuring) {
        const depth = queueDepth(shift, prod, cons);
        if (depth > f[st + Smmu.MAX_QUEUE_DEPTH]) f[st + Smmu.MAX_QUEUE_DEPTH] = depth;
      }
      const w = this.qBase + qIdx(shift, cons) * 4;
      const op = opcodeOf(i32, w);
      const lat = op === OP.CMD_SYNC ? this.timing.syncNs : this.timing.tlbiNs;
      if (lat > 0) {
        if (due < 0) due = nowNs();
        due += lat;
        const t = spinUntil(due);
        // Preempted or fell behind by more than a command: the next one cannot start in the past.
        if (t > due + lat) due = t;
      }
      // Logged as read from the queue, before any effect: an MSI aimed at the command's own slot
      // (the lock-free design's completion word) overwrites word 0 only. An illegal command is
      // not consumed and so not logged.
      const w0 = i32[w];
      let removed = 0;
      switch (op) {
        case OP.TLBI_NH_VA: {
          const tg = tlbiTg(i32, w);
          const pages = tg === 0 ? 1 : (tlbiNum(i32, w) + 1) * 2 ** tlbiScale(i32, w);
          removed = this.iotlb.invalidateRange(tlbiAsid(i32, w), tlbiAddrPage(i32, w), pages);
          break;
        }
        case OP.TLBI_NH_ASID:
          removed = this.iotlb.invalidateAsid(tlbiAsid(i32, w));
          break;
        case OP.TLBI_NH_ALL:
        case OP.TLBI_NSNH_ALL:
        case OP.TLBI_S12_VMALL:
        case OP.TLBI_EL2_ALL:
          removed = this.iotlb.invalidateAsid(0);
          break;
        case OP.CMD_SYNC:
          if (syncCs(i32, w) === CS_IRQ) {
            const at = syncMsiAddr(i32, w) / 4;
            Atomics.store(i32, at, syncMsiData(i32, w) | 0);
            if (Atomics.load(i32, at + 1) !== 0) {
              Atomics.notify(i32, at);
              if (measuring) f[st + Smmu.WAKES_SENT]++;
            }
          }
          break;
        case OP.CFGI_STE:
        case OP.CFGI_ALL:
        case OP.TLBI_NH_VAA:
          break;
        default:
          if (measuring) f[st + Smmu.CMDQ_ERRORS]++;
          if (!this.commandError(cons)) return this.stop();
          continue; // the driver replaced the entry: consume it afresh
      }
      if (measuring) {
        f[st + Smmu.COMMANDS_CONSUMED]++;
        f[st + Smmu.BY_OPCODE + op]++;
        f[st + Smmu.IOTLB_INVALIDATIONS] += removed;
        f[st + Smmu.BUSY_NS] += lat;
        if (this.sink) this.sink.append(w0, i32[w + 1], i32[w + 2], i32[w + 3]);
      }
      cons = queueIncN(shift, cons, 1);
      // CONS is published when someone can make progress with it: a CMD_SYNC completed, the
      // commands seen so far are drained, or every 1/8 of the queue for CPUs waiting for space.
      // The spec lets the SMMU update CONS lazily; writing it per command would make every
      // command pay a cache-line transfer to the CPUs polling it. Waking a parked CPU is a
      // futex syscall, so it follows the same rule.
      if (op === OP.CMD_SYNC || cons === prod || ++sinceWake >= this.wakeEvery) {
        sinceWake = 0;
        Atomics.store(i32, this.consIdx, cons | 0);
        if (Atomics.load(i32, this.consIdx + 1) !== 0) {
          Atomics.notify(i32, this.consIdx);
          if (measuring) f[st + Smmu.WAKES_SENT]++;
        }
      }
    }
    this.stop();
  }

  private stop(): void {
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
    Atomics.store(this.i32, this.consIdx, cons | (CMDQ_ERR_ILL << CMDQ_CONS_ERR_SHIFT) | 0);
    const gerror = this.regs.read32('GERROR') ^ GERROR_CMDQ_ERR;
    this.regs.write32('GERROR', gerror);
    wake(this.i32, this.consIdx);
    while (!this.regs.waitFor('GERRORN', (v) => ((v ^ gerror) & GERROR_CMDQ_ERR) === 0, 20)) {
      if ((this.cr0() & CR0_CMDQEN) === 0) return false;
    }
    Atomics.store(this.i32, this.consIdx, cons | 0);
    Atomics.store(this.i32, this.stateIdx, SmmuActivity.CONSUMING);
    return true;
  }
}
