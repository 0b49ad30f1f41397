// The register field table (src/hardware/registers.ts REGISTER_FIELDS): every field declared once,
// within its register, overlapping no other; the constants the code uses are derived from it.
import { describe, expect, it } from 'vitest';
import {
  CMDQ_BASE_ADDR_HI_MASK,
  CMDQ_CONS_ERR_MASK,
  CMDQ_CONS_ERR_SHIFT,
  CR0_CMDQEN,
  field,
  getField,
  IDR0_MSI,
  IDR0_SEV,
  IDR1_CMDQS_MASK,
  IDR1_CMDQS_SHIFT,
  IDR1_ECMDQ,
  IDR3_RIL,
  Q_BASE_RA,
  REG,
  REGISTER_FIELDS,
} from '../src/hardware/registers.js';

describe('register fields', () => {
  it('each field lies within its register and overlaps no other field of it', () => {
    const used = new Map<string, bigint>();
    for (const f of REGISTER_FIELDS) {
      expect(f.lo + f.width, `${f.reg}.${f.name}`).toBeLessThanOrEqual(REG[f.reg].width);
      const mask = ((1n << BigInt(f.width)) - 1n) << BigInt(f.lo);
      const prev = used.get(f.reg) ?? 0n;
      expect(prev & mask, `${f.reg}.${f.name} overlaps`).toBe(0n);
      used.set(f.reg, prev | mask);
    }
    expect(new Set(REGISTER_FIELDS.map((f) => `${f.reg}.${f.name}`)).size).toBe(REGISTER_FIELDS.length);
  });

  it('the constants are the spec positions (spec 6.3; Linux IDR0_*, IDR1_*, CR0_*, CMDQ_CONS_ERR)', () => {
    expect([IDR0_MSI, IDR0_SEV, IDR3_RIL, CR0_CMDQEN]).toEqual([1 << 13, 1 << 14, 1 << 10, 1 << 3]);
    expect([IDR1_CMDQS_SHIFT, IDR1_CMDQS_MASK, IDR1_ECMDQ]).toEqual([21, 0x1f, 1 << 31]);
    expect([CMDQ_CONS_ERR_SHIFT, CMDQ_CONS_ERR_MASK]).toEqual([24, 0x7f]);
    expect([CMDQ_BASE_ADDR_HI_MASK, Q_BASE_RA]).toEqual([0xfffff, 2 ** 62]);
  });

  it('decodes a value through the table', () => {
    // IDR1 with CMDQS = 19 and ECMDQ; CMDQ_CONS with ERR = ILL at index 5.
    expect(getField(((19 << 21) | (1 << 31)) >>> 0, field('IDR1.CMDQS'))).toBe(19);
    expect(getField(((1 << 31) >>> 0) + (19 << 21), field('IDR1.ECMDQ'))).toBe(1);
    expect(getField((1 << 24) | 5, field('CMDQ_CONS.ERR'))).toBe(1);
    // CMDQ_BASE with ADDR 0x8000_0000 and LOG2SIZE 8 (values below 2^53; the engine reads the
    // register as two 32-bit halves, so RA in bit 62 is decoded from the high half alone).
    const base = 0x8000_0000 + 8;
    expect(getField(base, field('CMDQ_BASE.ADDR')) * 32).toBe(0x8000_0000);
    expect(getField(base, field('CMDQ_BASE.LOG2SIZE'))).toBe(8);
    expect(getField(Q_BASE_RA, field('CMDQ_BASE.RA'))).toBe(1);
  });
});
