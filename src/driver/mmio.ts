// The driver's accesses to the SMMU's queue registers (CMDQ_PROD/CONS, ECMDQ_PROD/CONS). On
// hardware they are uncached device accesses across the interconnect: a read stalls the CPU for a
// round trip, a posted write for the barrier in front of it (writel's __iowmb). Here the registers
// are cacheable shared memory, so each access spends --mmio-read-ns / --mmio-write-ns on the
// accessing thread, busy-waiting as the SMMU engine spends its modelled latencies. Every design's
// register accesses go through here, so the costs and the access counts mean the same for all.
import { nowNs, spinUntil } from '../concurrency/clock.js';
import { Cpu, type CpuStats } from '../concurrency/counters.js';
import { handOff, storeAndWake } from '../concurrency/wait.js';
import { storeSeqCst } from '../concurrency/store.js';

export interface MmioCosts {
  readonly readNs: number;
  readonly writeNs: number;
}

/** Free registers: today's model before the costs existed (and what bring-up code uses). */
export const MMIO_FREE: MmioCosts = { readNs: 0, writeNs: 0 };

export class Mmio {
  private readonly readNs: number;
  private readonly writeNs: number;

  constructor(
    private readonly i32: Int32Array,
    costs: MmioCosts,
  ) {
    this.readNs = costs.readNs;
    this.writeNs = costs.writeNs;
  }

  /** readl(): the value as the device returns it, once the read's round trip has been spent. */
  read(idx: number, stats: CpuStats): number {
    stats.add(Cpu.MMIO_READS, 1);
    if (this.readNs > 0) spend(this.readNs);
    return Atomics.load(this.i32, idx);
  }

  /**
   * writel(): the barrier's cost first (the queue entries must be visible before the doorbell),
   * then the store. `wake`: the register has a waiter count beside it (concurrency/wait.ts); ECMDQ_PROD
   * does not (its doorbell is hardware/ecmdq.ts's).
   */
  write(idx: number, v: number, stats: CpuStats, wake = true): void {
    this.writeCost(stats);
    if (wake) storeAndWake(this.i32, idx, v);
    else storeSeqCst(this.i32, idx, v);
  }

  /**
   * writel() of CMDQ_PROD: as write(), with the store a hand-off (concurrency/wait.ts handOff:
   * no fence after it while nobody can be parked on the doorbell, as Linux has none).
   */
  doorbell(idx: number, v: number, stats: CpuStats): void {
    this.writeCost(stats);
    handOff(this.i32, idx, v);
  }

  /** A write's count and modelled cost, before its store. */
  private writeCost(stats: CpuStats): void {
    stats.add(Cpu.MMIO_WRITES, 1);
    if (this.writeNs > 0) spend(this.writeNs);
  }
}

/** An access's modelled cost, spent on the accessing thread (out of line: the doorbell's path
 *  stays small enough for V8 to inline whole, and --mmio-*-ns 0 never calls it). */
function spend(ns: number): void {
  spinUntil(nowNs() + ns);
}
