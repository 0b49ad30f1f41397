// Command issue on an SMMUv3.3 with Enhanced Command queues, as upstream's ECMDQ series (Zhen Lei,
// "iommu/arm-smmu-v3: Add support for ECMDQ register mode", 2021-2023; Nicolin Chen's tegra241
// CMDQV drives its VCMDQs the same way) does it: arm_smmu_get_cmdq() hands each CPU its own ECMDQ
// and arm_smmu_cmdq_issue_cmdlist() runs on it unchanged, i.e. the v5.4 lock-free protocol of
// cmdq-lockfree.ts on the ECMDQ's own {prod, cons}, valid bitmap and owner_prod; only the owner's
// PROD write differs: `prod | ECMDQ_PROD_EN`. A CMD_SYNC waits for its own queue only: poll mode
// polls the ECMDQ's CONS, msi mode waits for the SMMU's MSI into the CMD_SYNC's own slot.
//
// With one ECMDQ per CPU, the CPU is the only producer of its queue: the cmpxchg always succeeds
// first time and the CPU is always the owner, but the protocol is the same code as on the shared
// queue (Linux does not special-case it either).
//
// A command the SMMU cannot consume stops only this queue (ECMDQ_CONS.ERR toggles; spec 3.5.6.3).
// Linux's GERROR handler (arm_smmu_ecmdq_skip_err) replaces the entry with a CMD_SYNC and has the
// queue's CPU toggle ECMDQ_PROD.ERRACK (an IPI, so that no PROD write of that CPU races with it);
// here the queue's CPU does both when its waits notice the error.
//
// Shared state: the ECMDQ registers and entries live in the hardware's 'ecmdq' region
// (hardware/ecmdq.ts); the protocol state of CPU n's queue is block n of ECMDQ_LOCKFREE_REGION,
// each block in cmdq-lockfree.ts's LOCKFREE_REGION format, 64-byte aligned.
import { CMD_WORDS, decodeWords, formatCommand, writeCmdSync } from '../hardware/commands.js';
import { doorbellWanted, ECMDQ_REGION, ecmdqRegionBytes, ringDoorbell } from '../hardware/ecmdq.js';
import {
  ecmdqCount,
  ecmdqDoorbellIdx,
  ecmdqEntryIdx,
  ecmdqRegIdx,
  regIdx,
  regionOff,
  type Layout,
  type LayoutGeometry,
  type SharedViews,
} from '../hardware/layout.js';
import { alignUp, checkRegion, LINE, type RegionDecl } from '../hardware/region.js';
import { qIdx } from '../hardware/queue.js';
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
import { Cpu, type CpuStats } from '../concurrency/counters.js';
import type { WaitPolicy } from '../concurrency/wait.js';
import {
  initLockfreeState,
  LOCKFREE_COUNTERS,
  LockfreeCmdq,
  lockfreeRegionBytes,
  type LockfreeCmdqOptions,
  type LockfreeQueue,
} from './cmdq-lockfree.js';
import { printk } from './printk.js';

/** Name of the region holding every ECMDQ's lock-free protocol state. */
export const ECMDQ_LOCKFREE_REGION = 'ecmdq-lockfree';

/** This design's per-CPU counters (Cpu.EXTRA0 + i): the lock-free queue's, then its own. */
export const ECMDQ_COUNTERS = [...LOCKFREE_COUNTERS, 'doorbellRings', 'ecmdqErrorsHandled'] as const;
const RINGS = (Cpu.EXTRA0 + LOCKFREE_COUNTERS.length) as Cpu;
const ERRORS_HANDLED = (Cpu.EXTRA0 + LOCKFREE_COUNTERS.length + 1) as Cpu;

/** Bytes of one queue's protocol state block (64-byte aligned, as regions are). */
function stateBlockBytes(queueShift: number): number {
  return alignUp(lockfreeRegionBytes(queueShift));
}

/** ECMDQ_LOCKFREE_REGION: one state block per CPU's queue. */
export const ECMDQ_LOCKFREE_DECL: RegionDecl<LayoutGeometry> = {
  name: ECMDQ_LOCKFREE_REGION,
  bytes: (g) => g.cpus * stateBlockBytes(g.queueShift),
  align: LINE,
};

/** ECMDQ n as the lock-free protocol sees it. */
function ecmdqQueue(layout: Layout, n: number): LockfreeQueue {
  return {
    prodIdx: ecmdqRegIdx(layout, n, 'ECMDQ_PROD'),
    consIdx: ecmdqRegIdx(layout, n, 'ECMDQ_CONS'),
    entries: ecmdqEntryIdx(layout, n, 0),
    stateOff: regionOff(layout, ECMDQ_LOCKFREE_REGION) + n * stateBlockBytes(layout.queueShift),
    name: `ECMDQ${n}`,
    ownErrors: true,
  };
}

/** Initialises every CPU's queue state from its registers, once probeSmmu has enabled them. */
export function initEcmdqCmdq(views: SharedViews, layout: Layout): void {
  const ptrMask = (2 << layout.queueShift) - 1;
  for (let n = 0; n < layout.cpus; n++) {
    const q = ecmdqQueue(layout, n);
    const prod = Atomics.load(views.i32, q.prodIdx) & ptrMask;
    const cons = Atomics.load(views.i32, q.consIdx) & ptrMask;
    initLockfreeState(views, q.stateOff, layout.queueShift, prod, cons);
  }
}

export class EcmdqCmdq extends LockfreeCmdq {
  private readonly doorbellIdx: number;
  private readonly gerrorIdx: number;
  private readonly gerrornIdx: number;
  /** What ECMDQ_PROD carries beside WR: EN, and ERRACK (toggled to acknowledge an error). */
  private prodFlags = ECMDQ_PROD_EN;

  constructor(
    views: SharedViews,
    layout: Layout,
    policy: WaitPolicy,
    opts: LockfreeCmdqOptions,
    stats: CpuStats,
  ) {
    const n = opts.cpu;
    if (n >= ecmdqCount(layout)) throw new Error(`cpu ${n}: the SMMU has no ECMDQ ${n}`);
    const q = ecmdqQueue(layout, n);
    checkRegion(
      views.sab,
      ECMDQ_REGION,
      regionOff(layout, ECMDQ_REGION),
      ecmdqRegionBytes(layout.cpus, layout.queueShift),
    );
    if ((Atomics.load(views.i32, q.consIdx) & ECMDQ_CONS_ENACK) === 0)
      throw new Error(`cpu ${n}: ECMDQ ${n} is not enabled (ECMDQ_CONS.ENACK = 0)`);
    super(views, layout, policy, opts, stats, q);
    this.doorbellIdx = ecmdqDoorbellIdx(layout);
    this.gerrorIdx = regIdx(layout, 'GERROR');
    this.gerrornIdx = regIdx(layout, 'GERRORN');
  }

  /** The ECMDQ's doorbell: PROD with EN (and our ERRACK), and a wake-up if the SMMU sleeps. */
  protected override writeProd(prod: number): void {
    const i32 = this.i32;
    this.opts.mmio.write(this.prodIdx, prod | this.prodFlags, this.stats, false);
    if (doorbellWanted(i32, this.doorbellIdx)) {
      ringDoorbell(i32, this.doorbellIdx);
      this.stats.add(RINGS, 1);
    }
  }

  /** ECMDQ_CONS.ERR differs from our ECMDQ_PROD.ERRACK: the SMMU stopped at a bad command. */
  protected override errorPending(cons: number): boolean {
    return ((cons ^ this.prodFlags) & ECMDQ_CONS_ERR) !== 0;
  }

  /**
   * arm_smmu_ecmdq_skip_err() for our own queue: report the entry at CONS.RD, overwrite it with a
   * CMD_SYNC, acknowledge GERROR.CMDQP_ERR if it is active, and toggle ERRACK to match ERR
   * (arm_smmu_ecmdq_err_ack: PROD read, modified, written back) so that the SMMU resumes.
   */
  protected override skipError(): void {
    const i32 = this.i32;
    const cons = Atomics.load(i32, this.consIdx);
    if (!this.errorPending(cons)) return;
    const reason = (cons >>> ECMDQ_CONS_ERR_REASON_SHIFT) & ECMDQ_CONS_ERR_REASON_MASK;
    const w = this.entries + qIdx(this.shift, cons) * CMD_WORDS;
    const bad = formatCommand(decodeWords(i32, w));
    writeCmdSync(i32, w, this.opts.pollCs, 0, 0);
    // GERROR.CMDQP_ERR is shared by every ECMDQ: acknowledge it once, whoever gets there first.
    const gerror = Atomics.load(i32, this.gerrorIdx);
    const gn = Atomics.load(i32, this.gerrornIdx);
    if (((gerror ^ gn) & GERROR_CMDQP_ERR) !== 0)
      Atomics.compareExchange(i32, this.gerrornIdx, gn, gn ^ GERROR_CMDQP_ERR);
    this.prodFlags = (this.prodFlags & ~ECMDQ_PROD_ERRACK) | (cons & ECMDQ_CONS_ERR);
    const prod = Atomics.load(i32, this.prodIdx) & ~(ECMDQ_PROD_EN | ECMDQ_PROD_ERRACK);
    this.writeProd(prod);
    this.stats.add(ERRORS_HANDLED, 1);
    printk(
      `tlbsync-emu: cpu ${this.opts.cpu}: ECMDQ ${this.opts.cpu} error ${reason === CMDQ_ERR_ILL ? 'ILL' : reason} ` +
        `at ECMDQ_CONS 0x${(cons >>> 0).toString(16)}: ${bad}; replaced with CMD_SYNC and acknowledged`,
    );
  }
}
