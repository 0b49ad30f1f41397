// Queue index arithmetic at every size from 2 to 2^16 entries: wrap, full, empty, space, consumed,
// checked against a model that counts absolute positions (no wrap bits at all).
import { describe, expect, it } from 'vitest';
import {
  qIdx,
  qWrp,
  queueConsumed,
  queueDepth,
  queueEmpty,
  queueFull,
  queueHasSpace,
  queueIncN,
} from '../src/hardware/queue.js';
import { Q_OVERFLOW_FLAG } from '../src/hardware/registers.js';

/** The PROD/CONS register value for absolute position `abs` in a 2^shift queue. */
const reg = (shift: number, abs: number): number => abs % 2 ** (shift + 1);

describe('queue arithmetic', () => {
  for (let shift = 1; shift <= 16; shift++) {
    const size = 2 ** shift;
    it(`2^${shift} entries: wrap, full, empty, depth, space and consumed agree with absolute positions`, () => {
      // Walk cons through two full wraps; for each, prod at every interesting distance.
      const bad: string[] = [];
      const check = (what: string, got: unknown, want: unknown): void => {
        if (got !== want) bad.push(`${what}: got ${String(got)}, want ${String(want)}`);
      };
      const consSteps = shift <= 8 ? 2 * size : 64;
      for (let k = 0; k < consSteps; k++) {
        const consAbs = shift <= 8 ? k : Math.floor((k * 2 * size) / consSteps) + (k % 3);
        const cons = reg(shift, consAbs);
        const dists =
          shift <= 8 ? [...Array(size + 1).keys()] : [0, 1, 2, size / 2, size - 2, size - 1, size];
        for (const d of dists) {
          const prod = reg(shift, consAbs + d);
          const at = `cons ${consAbs} depth ${d}`;
          check(`${at} empty`, queueEmpty(shift, prod, cons), d === 0);
          check(`${at} full`, queueFull(shift, prod, cons), d === size);
          check(`${at} depth`, queueDepth(shift, prod, cons), d);
          check(`${at} space`, queueHasSpace(shift, prod, cons, size - d), true);
          check(`${at} no space`, queueHasSpace(shift, prod, cons, size - d + 1), false);
          // The last entry written (absolute position consAbs + d - 1) is consumed once cons passes it.
          if (d > 0) {
            const last = reg(shift, consAbs + d - 1);
            check(`${at} pending`, queueConsumed(shift, cons, last), false);
            check(`${at} consumed`, queueConsumed(shift, reg(shift, consAbs + d), last), true);
          }
        }
      }
      expect(bad.slice(0, 5)).toEqual([]);
    });

    it(`2^${shift} entries: increment carries into the wrap bit and keeps the overflow flag`, () => {
      // Plain comparisons in the loop (expect() per step would dominate at 2^16), one assertion after.
      const bad: string[] = [];
      let p = 0;
      for (let abs = 0; abs < 2 * size + 3; abs++) {
        const wrapped = Math.floor(abs / size) % 2 === 1;
        if (p !== reg(shift, abs) || qIdx(shift, p) !== abs % size || (qWrp(shift, p) !== 0) !== wrapped)
          bad.push(`abs ${abs}: got 0x${p.toString(16)}`);
        p = queueIncN(shift, p, 1);
      }
      expect(bad).toEqual([]);
      const n = Math.max(1, size - 1);
      expect(queueIncN(shift, reg(shift, size - 1), n)).toBe(reg(shift, size - 1 + n));
      const withOvf = (Q_OVERFLOW_FLAG | reg(shift, size - 1)) >>> 0;
      expect(queueIncN(shift, withOvf, 1)).toBe((Q_OVERFLOW_FLAG | reg(shift, size)) >>> 0);
      // Two full wraps bring the register back where it started.
      expect(queueIncN(shift, reg(shift, 5 % size), 2 * size)).toBe(reg(shift, 5 % size));
    });
  }

  it('decides full and empty as Linux does: same index, different / same wrap', () => {
    const shift = 8;
    expect(queueFull(shift, 0x100 | 7, 7)).toBe(true);
    expect(queueEmpty(shift, 0x100 | 7, 0x100 | 7)).toBe(true);
    expect(queueFull(shift, 7, 7)).toBe(false);
    // ERR bits in CONS [30:24] do not change the decision.
    expect(queueEmpty(shift, 7, (1 << 24) | 7)).toBe(true);
  });
});
