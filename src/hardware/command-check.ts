// Which commands the SMMU refuses with CERROR_ILL, decided from the field table (commands.ts):
// - an opcode the spec does not define for a Non-secure queue (SMMUv3 4.1);
// - a bit set outside the command's fields, i.e. in a RES0 field (4.1, and each command's layout);
// - CMD_SYNC with CS = 0b11 (4.7.3);
// - range/level-hint fields (TG, TTL, NUM, SCALE) while IDR3.RIL = 0: they are RES0 (4.4.1.1);
// - with RIL: NUM, SCALE or TTL set while TG = 0 (RES0, 4.4.1.1); TG != 0 with NUM = SCALE =
//   TTL = 0 ("Reserved ... causes CERROR_ILL", 4.4.1.1); TG = 16K with TTL = 0b01 while
//   IDR5.DS = 0 (4.4.1.1: "raises a CERROR_ILL"; the emulated SMMU has no DS).
// check() is on the command processor's hot path: four ANDs against precomputed RES0 masks, plus
// a field read or two for CMD_SYNC and range TLBIs. reason() builds the message, off the hot path.
import {
  COMMAND_FIELDS,
  CS_RESERVED,
  OP,
  OPCODE_NAMES,
  RANGE_OPS,
  TG_16K,
  declaredBits,
  opcodeOf,
  syncCs,
  tlbiNum,
  tlbiScale,
  tlbiTg,
  tlbiTtl,
  type OpName,
} from './commands.js';
import type { RegisterFile } from './regfile.js';
import { IDR3_RIL } from './registers.js';

/** Why a command is illegal (0: it is not). */
export const enum Ill {
  OK = 0,
  UNDEFINED_OPCODE,
  RES0,
  RANGE_WITHOUT_RIL,
  CS_RESERVED,
  TG0_RANGE_FIELDS,
  RANGE_RESERVED,
  TTL_RESERVED,
}

const RANGE_FIELDS = ['tg', 'ttl', 'num', 'scale'] as const;
const TG_NAMES = ['none', '4K', '16K', '64K'];

/**
 * The checker for the SMMU whose ID registers `regs` holds: the engine's at bring-up, and the one
 * replay names reasons with, so that both classify a command the same way.
 */
export function checkerFor(regs: RegisterFile): CommandChecker {
  return new CommandChecker((regs.read32('IDR3') & IDR3_RIL) !== 0);
}

export class CommandChecker {
  /** Per opcode, 4 int32 masks of the bits that must be zero; undefined opcodes are all zero. */
  private readonly res0 = new Int32Array(256 * 4);
  /** The same with the range fields also RES0: what an SMMU without RIL requires. */
  private readonly res0NoRil = new Int32Array(256 * 4);
  private readonly defined = new Uint8Array(256);
  private readonly rangeOp = new Uint8Array(256);

  constructor(private readonly ril: boolean) {
    for (const name of Object.keys(COMMAND_FIELDS) as OpName[]) {
      const op = OP[name];
      this.defined[op] = 1;
      if (RANGE_OPS.has(op)) this.rangeOp[op] = 1;
      const all = declaredBits(name);
      const noRange = declaredBits(name, RANGE_FIELDS);
      for (let k = 0; k < 4; k++) {
        this.res0NoRil[op * 4 + k] = ~noRange[k];
        this.res0[op * 4 + k] = ril ? ~all[k] : ~noRange[k];
      }
    }
  }

  /** Ill.OK, or why the SMMU must raise CERROR_ILL for the entry at int32 index w. */
  check(i32: Int32Array, w: number): Ill {
    const op = opcodeOf(i32, w);
    if (this.defined[op] === 0) return Ill.UNDEFINED_OPCODE;
    const m = this.res0;
    const b = op * 4;
    if (((i32[w] & m[b]) | (i32[w + 1] & m[b + 1]) | (i32[w + 2] & m[b + 2]) | (i32[w + 3] & m[b + 3])) !== 0)
      return this.ril || !this.rangeOnly(i32, w, op) ? Ill.RES0 : Ill.RANGE_WITHOUT_RIL;
    if (op === OP.CMD_SYNC) return syncCs(i32, w) === CS_RESERVED ? Ill.CS_RESERVED : Ill.OK;
    if (this.ril && this.rangeOp[op] !== 0) {
      const tg = tlbiTg(i32, w);
      const rest = tlbiNum(i32, w) | tlbiScale(i32, w) | tlbiTtl(i32, w);
      if (tg === 0) return rest !== 0 ? Ill.TG0_RANGE_FIELDS : Ill.OK;
      if (rest === 0) return Ill.RANGE_RESERVED;
      if (tg === TG_16K && tlbiTtl(i32, w) === 1) return Ill.TTL_RESERVED;
    }
    return Ill.OK;
  }

  /** Without RIL: are the only offending bits the range fields'? (Then RIL is the reason.) */
  private rangeOnly(i32: Int32Array, w: number, op: number): boolean {
    const b = op * 4;
    const all = this.res0NoRil;
    if (this.rangeOp[op] === 0) return false;
    const name = OPCODE_NAMES[op] as OpName;
    const ranged = declaredBits(name);
    for (let k = 0; k < 4; k++) if ((i32[w + k] & all[b + k] & ~ranged[k]) !== 0) return false;
    return true;
  }

  /** A one-line reason for a command check() refused, citing the spec section. */
  reason(i32: Int32Array, w: number): string {
    const code = this.check(i32, w);
    const op = opcodeOf(i32, w);
    const name = OPCODE_NAMES[op] ?? `opcode 0x${op.toString(16).padStart(2, '0')}`;
    switch (code) {
      case Ill.OK:
        return '';
      case Ill.UNDEFINED_OPCODE:
        return `undefined opcode 0x${op.toString(16).padStart(2, '0')} (SMMUv3 4.1)`;
      case Ill.RES0: {
        const b = op * 4;
        const bits = (k: number): bigint => BigInt((i32[w + k] & this.res0[b + k]) >>> 0);
        const w0 = (bits(1) << 32n) | bits(0);
        const w1 = (bits(3) << 32n) | bits(2);
        return `${name}: RES0 bits set (word0 0x${w0.toString(16)}, word1 0x${w1.toString(16)})`;
      }
      case Ill.RANGE_WITHOUT_RIL:
        return `${name}: TG/TTL/NUM/SCALE set but IDR3.RIL = 0, where they are RES0 (SMMUv3 4.4.1.1)`;
      case Ill.CS_RESERVED:
        return `${name}: CS = 0b11 is reserved (SMMUv3 4.7.3)`;
      case Ill.TG0_RANGE_FIELDS:
        return `${name}: NUM/SCALE/TTL set with TG = 0, where they are RES0 (SMMUv3 4.4.1.1)`;
      case Ill.RANGE_RESERVED:
        return `${name}: TG = ${TG_NAMES[tlbiTg(i32, w)]} with NUM = SCALE = TTL = 0 is reserved (SMMUv3 4.4.1.1)`;
      case Ill.TTL_RESERVED:
        return `${name}: TG = 16K with TTL = 0b01 needs IDR5.DS = 1 (SMMUv3 4.4.1.1)`;
    }
  }
}
