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
  | 'EVTQ_CONS';

export const REGISTERS: readonly RegisterDef[] = [
  { name: 'IDR0', offset: 0x00, width: 32, hot: false },
  { name: 'IDR1', offset: 0x04, width: 32, hot: false },
  { name: 'IDR2', offset: 0x08, width: 32, hot: false },
  { name: 'IDR3', offset: 0x0c, width: 32, hot: false },
  { name: 'IDR4', offset: 0x10, width: 32, hot: false },
  { name: 'IDR5', offset: 0x14, width: 32, hot: false },
  { name: 'IIDR', offset: 0x18, width: 32, hot: false },
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
];

/** Size of the page-0 image we keep (covers every offset above). */
export const REG_IMAGE_BYTES = 0x100;

export const REG: Readonly<Record<RegName, RegisterDef>> = Object.fromEntries(
  REGISTERS.map((r) => [r.name, r]),
) as Record<RegName, RegisterDef>;

// ---- Field definitions --------------------------------------------------------------------
export const IDR0_COHACC = 1 << 4;
export const IDR0_MSI = 1 << 13;
export const IDR0_SEV = 1 << 14;

export const IDR1_CMDQS_SHIFT = 21; // [25:21] log2 of the maximum command queue entries
export const IDR1_CMDQS_MASK = 0x1f;

export const IDR3_RIL = 1 << 10; // range invalidation (SMMUv3.2)

export const CR0_SMMUEN = 1 << 0;
export const CR0_PRIQEN = 1 << 1;
export const CR0_EVTQEN = 1 << 2;
export const CR0_CMDQEN = 1 << 3;

export const GERROR_CMDQ_ERR = 1 << 0;

export const CMDQ_BASE_LOG2SIZE_MASK = 0x1f; // [4:0]
export const CMDQ_BASE_ADDR_SHIFT = 5; // ADDR [51:5]

/** CMDQ_CONS.ERR [30:24]. */
export const CMDQ_CONS_ERR_SHIFT = 24;
export const CMDQ_CONS_ERR_MASK = 0x7f;
export const CMDQ_ERR_NONE = 0;
export const CMDQ_ERR_ILL = 1;
export const CMDQ_ERR_ABT = 2;
export const CMDQ_ERR_ATC_INV_SYNC = 3;

/** Bit 31 of PROD/CONS: overflow flag (Linux's lock-free queue reuses it as OWNED in its cached prod). */
export const Q_OVERFLOW_FLAG = 1 << 31;
