// SMMUv3 page-0 register map and field definitions, in one table, as QEMU's smmuv3-internal.h does.
// Offsets and bit positions come from ../shared/reference/smmuv3-facts.md (SMMUv3 spec, Linux, QEMU).
// Nothing else in the project spells a register offset or a field position.

export interface RegisterDef {
  readonly name: RegName;
  readonly offset: number; // byte offset in register page 0
  readonly width: 32 | 64;
  /** Hot registers are written on the fast path by one side and polled by the other: they get
   *  their own 64-byte line in shared memory (see layout.ts) instead of sharing the image line. */
  readonly hot: boolean;
}

export type RegName =
  | 'IDR0'
  | 'IDR1'
  | 'IDR2'
  | 'IDR3'
  | 'IDR4'
  | 'IDR5'
  | 'IIDR'
  | 'AIDR'
  | 'CR0'
  | 'CR0ACK'
  | 'CR1'
  | 'CR2'
  | 'GBPA'
  | 'IRQ_CTRL'
  | 'IRQ_CTRLACK'
  | 'GERROR'
  | 'GERRORN'
  | 'GERROR_IRQ_CFG0'
  | 'STRTAB_BASE'
  | 'STRTAB_BASE_CFG'
  | 'CMDQ_BASE'
  | 'CMDQ_PROD'
  | 'CMDQ_CONS'
  | 'EVTQ_BASE'
  | 'EVTQ_PROD'
  | 'EVTQ_CONS'
  | 'IDR6'
  | 'CMDQ_CONTROL_PAGE_BASE0'
  | 'CMDQ_CONTROL_PAGE_CFG0'
  | 'CMDQ_CONTROL_PAGE_STATUS0';

export const REGISTERS: readonly RegisterDef[] = [
  { name: 'IDR0', offset: 0x00, width: 32, hot: false },
  { name: 'IDR1', offset: 0x04, width: 32, hot: false },
  { name: 'IDR2', offset: 0x08, width: 32, hot: false },
  { name: 'IDR3', offset: 0x0c, width: 32, hot: false },
  { name: 'IDR4', offset: 0x10, width: 32, hot: false },
  { name: 'IDR5', offset: 0x14, width: 32, hot: false },
  { name: 'IIDR', offset: 0x18, width: 32, hot: false },
  { name: 'AIDR', offset: 0x1c, width: 32, hot: false },
  { name: 'CR0', offset: 0x20, width: 32, hot: false },
  { name: 'CR0ACK', offset: 0x24, width: 32, hot: false },
  { name: 'CR1', offset: 0x28, width: 32, hot: false },
  { name: 'CR2', offset: 0x2c, width: 32, hot: false },
  { name: 'GBPA', offset: 0x44, width: 32, hot: false },
  { name: 'IRQ_CTRL', offset: 0x50, width: 32, hot: false },
  { name: 'IRQ_CTRLACK', offset: 0x54, width: 32, hot: false },
  { name: 'GERROR', offset: 0x60, width: 32, hot: false },
  { name: 'GERRORN', offset: 0x64, width: 32, hot: false },
  { name: 'GERROR_IRQ_CFG0', offset: 0x68, width: 64, hot: false },
  { name: 'STRTAB_BASE', offset: 0x80, width: 64, hot: false },
  { name: 'STRTAB_BASE_CFG', offset: 0x88, width: 32, hot: false },
  { name: 'CMDQ_BASE', offset: 0x90, width: 64, hot: false },
  { name: 'CMDQ_PROD', offset: 0x98, width: 32, hot: true },
  { name: 'CMDQ_CONS', offset: 0x9c, width: 32, hot: true },
  // Page 1 in hardware (0x100a8/0x100ac); kept in the page-0 image as the facts file lists them.
  { name: 'EVTQ_BASE', offset: 0xa0, width: 64, hot: false },
  { name: 'EVTQ_PROD', offset: 0xa8, width: 32, hot: false },
  { name: 'EVTQ_CONS', offset: 0xac, width: 32, hot: false },
  // SMMUv3.3 Enhanced Command queues (spec 6.2.1, 6.3.45, 6.3.49-51; Linux ARM_SMMU_IDR6 0x190,
  // ARM_SMMU_ECMDQ_CP_BASE 0x4000). IDR6 and the control page registers of page n (at
  // 0x4000 + 32 * n) are read-only: they describe how the implementation was built. The emulator
  // implements one control page (n = 0).
  { name: 'IDR6', offset: 0x190, width: 32, hot: false },
  { name: 'CMDQ_CONTROL_PAGE_BASE0', offset: 0x4000, width: 64, hot: false },
  { name: 'CMDQ_CONTROL_PAGE_CFG0', offset: 0x4008, width: 32, hot: false },
  { name: 'CMDQ_CONTROL_PAGE_STATUS0', offset: 0x400c, width: 32, hot: false },
];

/** Size of the page-0 image we keep (covers every offset above that is below
 *  CONTROL_PAGE_REGS). */
export const REG_IMAGE_BYTES = 0x200;
/**
 * Page-0 offset of the command queue control page registers (SMMU_CMDQ_CONTROL_PAGE_*n). They
 * are kept on a line of their own instead of stretching the image to 16 KiB (layout.ts).
 */
export const CONTROL_PAGE_REGS = 0x4000;
export const CONTROL_PAGE_REGS_BYTES = 0x20; // one control page's BASE, CFG and STATUS

export const REG: Readonly<Record<RegName, RegisterDef>> = Object.fromEntries(
  REGISTERS.map((r) => [r.name, r]),
) as Record<RegName, RegisterDef>;

// ---- Field definitions --------------------------------------------------------------------
// Every register field the model uses, declared once (QEMU's FIELD(reg, name, shift, length)):
// the constants below are derived from this table, and tools (the diagnostics, the tests) can
// decode any register value through it. Sources: spec 6.3.1 (IDR0), 6.3.2 (IDR1), 6.3.4 (IDR3),
// 6.3.6 (IDR5), 6.3.7 (AIDR), 6.3.9 (CR0), 6.3.17 (GERROR), 6.3.25-27 (CMDQ_BASE/PROD/CONS);
// Linux's IDR0_*, IDR1_*, CR0_*, GERROR_*, Q_BASE_*, CMDQ_CONS_ERR.

export interface FieldDef {
  readonly reg: RegName;
  readonly name: string;
  /** Lowest bit (of the 64-bit value for 64-bit registers) and width in bits. */
  readonly lo: number;
  readonly width: number;
}

export const REGISTER_FIELDS = [
  { reg: 'IDR0', name: 'S2P', lo: 0, width: 1 },
  { reg: 'IDR0', name: 'S1P', lo: 1, width: 1 },
  { reg: 'IDR0', name: 'TTF', lo: 2, width: 2 },
  { reg: 'IDR0', name: 'COHACC', lo: 4, width: 1 },
  { reg: 'IDR0', name: 'HYP', lo: 9, width: 1 },
  { reg: 'IDR0', name: 'ATS', lo: 10, width: 1 },
  { reg: 'IDR0', name: 'ASID16', lo: 12, width: 1 },
  { reg: 'IDR0', name: 'MSI', lo: 13, width: 1 },
  { reg: 'IDR0', name: 'SEV', lo: 14, width: 1 },
  { reg: 'IDR0', name: 'PRI', lo: 16, width: 1 },
  { reg: 'IDR0', name: 'STALL_MODEL', lo: 24, width: 2 },
  { reg: 'IDR1', name: 'CMDQS', lo: 21, width: 5 },
  { reg: 'IDR1', name: 'ECMDQ', lo: 31, width: 1 },
  { reg: 'IDR3', name: 'RIL', lo: 10, width: 1 },
  { reg: 'IDR5', name: 'OAS', lo: 0, width: 3 },
  { reg: 'IDR5', name: 'GRAN4K', lo: 4, width: 1 },
  { reg: 'IDR5', name: 'GRAN16K', lo: 5, width: 1 },
  { reg: 'IDR5', name: 'GRAN64K', lo: 6, width: 1 },
  { reg: 'AIDR', name: 'ArchMinorRev', lo: 0, width: 4 },
  { reg: 'CR0', name: 'SMMUEN', lo: 0, width: 1 },
  { reg: 'CR0', name: 'PRIQEN', lo: 1, width: 1 },
  { reg: 'CR0', name: 'EVTQEN', lo: 2, width: 1 },
  { reg: 'CR0', name: 'CMDQEN', lo: 3, width: 1 },
  { reg: 'GERROR', name: 'CMDQ_ERR', lo: 0, width: 1 },
  { reg: 'GERROR', name: 'CMDQP_ERR', lo: 9, width: 1 },
  { reg: 'CMDQ_BASE', name: 'LOG2SIZE', lo: 0, width: 5 },
  { reg: 'CMDQ_BASE', name: 'ADDR', lo: 5, width: 47 },
  { reg: 'CMDQ_BASE', name: 'RA', lo: 62, width: 1 },
  { reg: 'CMDQ_CONS', name: 'ERR', lo: 24, width: 7 },
] as const satisfies readonly FieldDef[];

type FieldKey = `${(typeof REGISTER_FIELDS)[number]['reg']}.${(typeof REGISTER_FIELDS)[number]['name']}`;

const FIELD_BY_KEY = new Map<string, FieldDef>(REGISTER_FIELDS.map((f) => [`${f.reg}.${f.name}`, f]));

/** A field of the table, by `REG.NAME`. */
export function field(key: FieldKey): FieldDef {
  return FIELD_BY_KEY.get(key)!;
}

/** The mask of a field below bit 32, in place (a one-bit field: its flag). */
function bits32(key: FieldKey): number {
  const f = field(key);
  return f.width === 32 ? -1 : (((1 << f.width) - 1) << f.lo) | 0;
}

/** A field's value in a register value (below 2^53; 64-bit registers as JS numbers). */
export function getField(value: number, f: FieldDef): number {
  return Math.floor(value / 2 ** f.lo) % 2 ** f.width;
}

// IDR0 (spec 6.3.1; Linux IDR0_*).
export const IDR0_S2P = bits32('IDR0.S2P');
export const IDR0_S1P = bits32('IDR0.S1P');
export const IDR0_TTF_SHIFT = field('IDR0.TTF').lo; // [3:2]
export const IDR0_TTF_AARCH64 = 2;
export const IDR0_COHACC = bits32('IDR0.COHACC');
export const IDR0_HYP = bits32('IDR0.HYP');
export const IDR0_ATS = bits32('IDR0.ATS');
export const IDR0_ASID16 = bits32('IDR0.ASID16');
export const IDR0_MSI = bits32('IDR0.MSI');
export const IDR0_SEV = bits32('IDR0.SEV');
export const IDR0_PRI = bits32('IDR0.PRI');
/** STALL_MODEL [25:24]: 0b00 = stall and terminate models both supported (RESUME, STALL_TERM legal). */
export const IDR0_STALL_MODEL_SHIFT = field('IDR0.STALL_MODEL').lo;

/** SMMUv3.3: Enhanced Command queue interfaces present, described in IDR6 (spec 6.3.2; Linux
 *  IDR1_ECMDQ). Implies IDR0.MSI and IDR0.COHACC. */
export const IDR1_ECMDQ = bits32('IDR1.ECMDQ');
export const IDR1_CMDQS_SHIFT = field('IDR1.CMDQS').lo; // [25:21] log2 of the maximum command queue entries
export const IDR1_CMDQS_MASK = 2 ** field('IDR1.CMDQS').width - 1;

export const IDR3_RIL = bits32('IDR3.RIL'); // range invalidation (SMMUv3.2)

/** IDR5 (spec 6.3.6; Linux IDR5_*): translation granules and output address size. */
export const IDR5_GRAN4K = bits32('IDR5.GRAN4K');
export const IDR5_GRAN16K = bits32('IDR5.GRAN16K');
export const IDR5_GRAN64K = bits32('IDR5.GRAN64K');
export const IDR5_OAS_48_BIT = 5; // OAS [2:0]

/** AIDR ArchMinorRev [3:0] (ArchMajorRev [7:4] = 0 for SMMUv3.x): 2 = v3.2 (RIL), 3 = v3.3 (ECMDQ). */
export const AIDR_V3_0 = 0;
export const AIDR_V3_2 = 2;
export const AIDR_V3_3 = 3;

export const CR0_SMMUEN = bits32('CR0.SMMUEN');
export const CR0_PRIQEN = bits32('CR0.PRIQEN');
export const CR0_EVTQEN = bits32('CR0.EVTQEN');
export const CR0_CMDQEN = bits32('CR0.CMDQEN');

export const GERROR_CMDQ_ERR = bits32('GERROR.CMDQ_ERR');
/** An ECMDQ reported an error in its ECMDQ_CONS.ERR (spec 3.5.6.3; Linux GERROR_CMDQP_ERR). */
export const GERROR_CMDQP_ERR = bits32('GERROR.CMDQP_ERR');

export const CMDQ_BASE_LOG2SIZE_MASK = bits32('CMDQ_BASE.LOG2SIZE'); // [4:0]
export const CMDQ_BASE_ADDR_SHIFT = field('CMDQ_BASE.ADDR').lo; // ADDR [51:5]
/** ADDR's bits in the high half: [51:32] for CMDQ_BASE, [55:32] for ECMDQ_BASE. Bit 62 is RA, which
 *  Linux sets (Q_BASE_RWA); it and every bit above ADDR must not move the queue. */
export const CMDQ_BASE_ADDR_HI_MASK =
  2 ** (field('CMDQ_BASE.ADDR').lo + field('CMDQ_BASE.ADDR').width - 32) - 1;
export const ECMDQ_BASE_ADDR_HI_MASK = 0xffffff;
export const Q_BASE_RA = 2 ** field('CMDQ_BASE.RA').lo;

/** CMDQ_CONS.ERR [30:24]. */
export const CMDQ_CONS_ERR_SHIFT = field('CMDQ_CONS.ERR').lo;
export const CMDQ_CONS_ERR_MASK = 2 ** field('CMDQ_CONS.ERR').width - 1;
export const CMDQ_ERR_NONE = 0;
export const CMDQ_ERR_ILL = 1;
export const CMDQ_ERR_ABT = 2;
export const CMDQ_ERR_ATC_INV_SYNC = 3;

/** Bit 31 of PROD/CONS: overflow flag (Linux's lock-free queue reuses it as OWNED in its cached prod). */
export const Q_OVERFLOW_FLAG = 1 << 31;

// ---- SMMUv3.3 Enhanced Command queues (ECMDQ) -------------------------------------------------
// Sources: SMMUv3 spec 3.5.6, 6.2.5, 6.3.45 (IDR6), 6.3.49-51 (control page), 6.3.107-109
// (ECMDQ_BASE/PROD/CONS); Linux "iommu/arm-smmu-v3: Add support for ECMDQ register mode"
// (Zhen Lei): IDR6_LOG2NUMP/LOG2NUMQ, ECMDQ_PROD_EN, ECMDQ_CONS_ENACK, ECMDQ_*_ERR(ACK),
// ECMDQ_CP_PRESET, ECMDQ_CP_RRESET_SIZE.

/** IDR6 CMDQ_CONTROL_PAGE_LOG2NUMP [27:24]: log2 of the control pages; LOG2NUMQ [19:16]: log2 of
 *  the ECMDQs per page (each at most 8). */
export const IDR6_LOG2NUMP_SHIFT = 24;
export const IDR6_LOG2NUMQ_SHIFT = 16;
export const IDR6_LOG2NUM_MASK = 0xf;
export const IDR6_LOG2NUM_MAX = 8;

/** CMDQ_CONTROL_PAGE_BASEn: PRESET bit 0 (1: the ECMDQs are registers, always so in SMMUv3.3),
 *  CMDQGS [2:1] (0b01: 64 KB pages), ADDR [55:16] (an offset from page 0, not an address). */
export const CONTROL_PAGE_PRESET = 1 << 0;
export const CONTROL_PAGE_CMDQGS_SHIFT = 1;
export const CONTROL_PAGE_CMDQGS_64K = 1;
export const CONTROL_PAGE_ADDR_SHIFT = 16;
/** A control page is 64 KB; its ECMDQs are spaced evenly through it (spec 6.2.5). */
export const CONTROL_PAGE_BYTES = 0x10000;
/** CMDQ_CONTROL_PAGE_CFGn.EN / STATUSn.ENACK, bit 0 (RES1 in SMMUv3.3). */
export const CONTROL_PAGE_EN = 1 << 0;
/**
 * EMULATOR'S CHOICE, no architected value: where control page 0 sits, as an offset from page 0.
 * The spec only requires 64 KB alignment, pages 0 and 1 take 0x0-0x1ffff, so it follows them.
 */
export const CONTROL_PAGE0_OFFSET = 0x20000;

export type EcmdqRegName = 'ECMDQ_BASE' | 'ECMDQ_PROD' | 'ECMDQ_CONS';

export interface EcmdqRegisterDef {
  readonly name: EcmdqRegName;
  /** Byte offset within the queue's group of registers (queue n's group: control page + n * stride). */
  readonly offset: number;
  readonly width: 32 | 64;
  readonly hot: boolean;
}

/** One group per ECMDQ in a control page (spec 6.2.5); like CMDQ_BASE/PROD/CONS. */
export const ECMDQ_REGISTERS: readonly EcmdqRegisterDef[] = [
  { name: 'ECMDQ_BASE', offset: 0x00, width: 64, hot: false },
  { name: 'ECMDQ_PROD', offset: 0x08, width: 32, hot: true },
  { name: 'ECMDQ_CONS', offset: 0x0c, width: 32, hot: true },
];

export const ECMDQ_REG: Readonly<Record<EcmdqRegName, EcmdqRegisterDef>> = Object.fromEntries(
  ECMDQ_REGISTERS.map((r) => [r.name, r]),
) as Record<EcmdqRegName, EcmdqRegisterDef>;

// ECMDQ_BASE: ADDR [55:5] and LOG2SIZE [4:0], as CMDQ_BASE (the CMDQ_BASE_* fields above).
/** ECMDQ_PROD: EN bit 31 (queue enable), ERRACK bit 23, WR (index + wrap) [19:0]. */
export const ECMDQ_PROD_EN = 1 << 31;
export const ECMDQ_PROD_ERRACK = 1 << 23;
/** ECMDQ_CONS: ENACK bit 31, ERR_REASON [26:24] (CMDQ_ERR_* codes), ERR bit 23, RD [19:0]. */
export const ECMDQ_CONS_ENACK = 1 << 31;
export const ECMDQ_CONS_ERR = 1 << 23;
export const ECMDQ_CONS_ERR_REASON_SHIFT = 24;
export const ECMDQ_CONS_ERR_REASON_MASK = 0x7;
/** WR / RD with their wrap bit: 20 bits, enough for the largest queue (2^19 entries). */
export const ECMDQ_INDEX_MASK = 0xfffff;
