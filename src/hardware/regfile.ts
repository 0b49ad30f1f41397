// MMIO-style access to the SMMU register file by register name (readl/writel of page-0 offsets).
// Where a register is stored is layout.ts's business; this is the only reader of that map for
// cold-path accesses (bring-up, error handling, dumps). Hot paths precompute regIdx() once.
import { REGISTERS, type RegName } from './registers.js';
import { regIdx, type Layout } from './layout.js';

export class RegisterFile {
  constructor(
    private readonly i32: Int32Array,
    private readonly layout: Layout,
  ) {}

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
   * slices instead of using sync/wait.ts; write32() always notifies.
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
