// MMIO-style access to the SMMU register file by register name (readl/writel of page-0 offsets).
// Where a register is stored is layout.ts's business; this is the only reader of that map for
// cold-path accesses (bring-up, error handling, dumps). Hot paths precompute regIdx() once.
import { CONTROL_PAGE_REGS_BYTES, REG_IMAGE_BYTES, REGISTERS, type RegName } from './registers.js';
import { regIdx, type Layout, type LayoutGeometry } from './layout.js';
import { checkRegion, LINE, REGION, type RegionDecl } from './region.js';

/**
 * The register file's regions: the cold page-0 image, the command-queue control page's registers,
 * and a line each for the hot CMDQ_PROD and CMDQ_CONS (regIdx() in layout.ts says why).
 */
export const REGISTER_DECLS: readonly RegionDecl<LayoutGeometry>[] = [
  { name: REGION.REG_IMAGE, bytes: () => REG_IMAGE_BYTES, align: LINE },
  { name: REGION.CONTROL_PAGE_REGS, bytes: () => CONTROL_PAGE_REGS_BYTES, align: LINE },
  { name: REGION.CMDQ_PROD, bytes: () => LINE, align: LINE },
  { name: REGION.CMDQ_CONS, bytes: () => LINE, align: LINE },
];

export class RegisterFile {
  constructor(
    private readonly i32: Int32Array,
    private readonly layout: Layout,
  ) {
    checkRegion(i32.buffer, REGION.REG_IMAGE, layout.regImageOff, REG_IMAGE_BYTES);
    checkRegion(i32.buffer, REGION.CONTROL_PAGE_REGS, layout.controlPageRegsOff, CONTROL_PAGE_REGS_BYTES);
    checkRegion(i32.buffer, REGION.CMDQ_PROD, layout.cmdqProdLineOff, LINE);
    checkRegion(i32.buffer, REGION.CMDQ_CONS, layout.cmdqConsLineOff, LINE);
  }

  index(name: RegName): number {
    return regIdx(this.layout, name);
  }

  read32(name: RegName): number {
    return Atomics.load(this.i32, regIdx(this.layout, name)) >>> 0;
  }

  /** Writes and wakes anybody parked on the register (the SMMU parks on CR0, the driver on CR0ACK). */
  write32(name: RegName, v: number): void {
    const i = regIdx(this.layout, name);
    Atomics.store(this.i32, i, v | 0);
    Atomics.notify(this.i32, i);
  }

  /**
   * Cold-path wait (bring-up, error acknowledgement) until pred(value) holds; false on timeout.
   * Cold registers have no waiter-count word beside them, so this parks in short Atomics.wait
   * slices instead of using concurrency/wait.ts; write32() always notifies.
   */
  waitFor(name: RegName, pred: (v: number) => boolean, timeoutMs = Infinity): boolean {
    const i = regIdx(this.layout, name);
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = Atomics.load(this.i32, i);
      if (pred(v >>> 0)) return true;
      if (Date.now() >= end) return false;
      Atomics.wait(this.i32, i, v, 5);
    }
  }

  read64(name: RegName): number {
    const i = regIdx(this.layout, name);
    return (Atomics.load(this.i32, i) >>> 0) + (Atomics.load(this.i32, i + 1) >>> 0) * 2 ** 32;
  }

  write64(name: RegName, v: number): void {
    const i = regIdx(this.layout, name);
    Atomics.store(this.i32, i, (v % 2 ** 32) | 0);
    Atomics.store(this.i32, i + 1, Math.floor(v / 2 ** 32) | 0);
  }

  /** Every register by architectural offset, for dumps in error reports. */
  dump(): { name: RegName; offset: number; value: number }[] {
    return REGISTERS.map((r) => ({
      name: r.name,
      offset: r.offset,
      value: r.width === 64 ? this.read64(r.name) : this.read32(r.name),
    }));
  }
}
