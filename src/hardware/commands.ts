// SMMUv3 command queue entries: opcodes, the field table, encoders, decoders and validation.
// Opcodes and field positions come from ../shared/reference/smmuv3-facts.md, the SMMUv3 spec
// (chapter 4) and Linux's arm-smmu-v3.h CMDQ_* masks. Every command field is declared ONCE, in
// COMMAND_FIELDS below (QEMU's REG32/FIELD style); the hot-path writers and readers, encode/decode,
// the RES0 check and --cmd-log formatting all take their positions from it. Nothing else in the
// project spells a command field position.
//
// An entry is 16 bytes = two little-endian 64-bit words. In the shared queue (an Int32Array over a
// SharedArrayBuffer) entry words sit at int32 index w: i32[w] = word0 [31:0], i32[w+1] = word0
// [63:32], i32[w+2] = word1 [31:0], i32[w+3] = word1 [63:32]. 64-bit fields are kept as two 32-bit
// halves so the hot path never allocates a BigInt. Plain loads and stores are enough here: the
// producer publishes entries by a later Atomics store of PROD, which orders these writes.
import { PAGE_BYTES, PAGE_SHIFT } from './region.js';

export const CMD_BYTES = 16;
export const CMD_WORDS = 4; // int32 words per entry

/**
 * Every opcode the spec defines for a Non-secure command queue (SMMUv3 4.1-4.7; Linux CMDQ_OP_*,
 * QEMU SMMUCommandType). CFGI_ALL is CMD_CFGI_STE_RANGE (0x04) with Range = 31, the name Linux
 * gives the opcode. The EL3 TLBIs (0x18, 0x1a) are CERROR_ILL on a Non-secure queue (4.4.2.5-6),
 * so they are left undefined here, like every other value.
 */
export const OP = {
  PREFETCH_CONFIG: 0x01,
  PREFETCH_ADDR: 0x02,
  CFGI_STE: 0x03,
  CFGI_ALL: 0x04,
  CFGI_CD: 0x05,
  CFGI_CD_ALL: 0x06,
  TLBI_NH_ALL: 0x10,
  TLBI_NH_ASID: 0x11,
  TLBI_NH_VA: 0x12,
  TLBI_NH_VAA: 0x13,
  TLBI_EL2_ALL: 0x20,
  TLBI_EL2_ASID: 0x21,
  TLBI_EL2_VA: 0x22,
  TLBI_EL2_VAA: 0x23,
  TLBI_S12_VMALL: 0x28,
  TLBI_S2_IPA: 0x2a,
  TLBI_NSNH_ALL: 0x30,
  ATC_INV: 0x40,
  PRI_RESP: 0x41,
  RESUME: 0x44,
  STALL_TERM: 0x45,
  CMD_SYNC: 0x46,
} as const;

export type OpName = keyof typeof OP;

/** A count's key in `commands.byOpcode` and the replay's tables: the name, or UNKNOWN_0xNN. */
export function opcodeName(op: number): string {
  return OPCODE_NAMES[op] ?? `UNKNOWN_0x${op.toString(16).padStart(2, '0')}`;
}

export const OPCODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(OP).map(([name, code]) => [code, name]),
);

/** CMD_SYNC completion signal, word0 CS [13:12]. IRQ is the MSI write when MSIADDR is set; 3 is
 *  reserved (CERROR_ILL, spec 4.7.3). */
export const CS_NONE = 0;
export const CS_IRQ = 1;
export const CS_SEV = 2;
export const CS_RESERVED = 3;
const CS_NAMES = ['NONE', 'IRQ', 'SEV'];

/** What Linux puts in every CMD_SYNC (arm_smmu_cmdq_build_cmd): inner shareable, outer+inner
 *  write-back cacheable, polled or not. */
export const SYNC_MSH_ISH = 3;
export const SYNC_MSIATTR_OIWB = 0xf;

/** TLBI word1 TG [11:10]: translation granule of a range invalidation; 0 = single address. */
export const TG_NONE = 0;
export const TG_4K = 1;
export const TG_16K = 2;
export const TG_64K = 3;

/** CFGI_STE_RANGE word1 RANGE [4:0]: 31 means "every StreamID" (Linux's CFGI_ALL). */
export const CFGI_ALL_RANGE = 31;

/** Linux's CMDQ_TLBI_RANGE_NUM_MAX: largest count (NUM+1 is stored as NUM) of one range TLBI. */
export const TLBI_RANGE_NUM_MAX = 31;

// ---- The field table ------------------------------------------------------------------------

/**
 * One command field: bits [lo + width - 1 : lo] of 64-bit word `word`. Kind 'u' is an unsigned
 * number, 'flag' a 1-bit boolean, 'addr' a byte address whose bits sit in place (the field holds
 * address bits [lo + width - 1 : lo]; the low bits are zero).
 */
export interface CmdField {
  readonly name: string;
  readonly word: 0 | 1;
  readonly lo: number;
  readonly width: number;
  readonly kind: 'u' | 'flag' | 'addr';
}

const fld = (name: string, word: 0 | 1, hi: number, lo: number, kind: CmdField['kind'] = 'u'): CmdField => ({
  name,
  word,
  lo,
  width: hi - lo + 1,
  kind,
});

// Fields shared by several commands (Linux CMDQ_*_0_* / CMDQ_*_1_*).
const SSV = fld('ssv', 0, 11, 11, 'flag'); // CMDQ_0_SSV
const SSID = fld('ssid', 0, 31, 12); // CMDQ_CFGI_0_SSID, CMDQ_ATC_0_SSID, CMDQ_PRI_0_SSID
const SID = fld('sid', 0, 63, 32); // CMDQ_CFGI_0_SID, CMDQ_PREFETCH_0_SID, ...
const LEAF1 = fld('leaf', 1, 0, 0, 'flag'); // CMDQ_CFGI_1_LEAF, CMDQ_TLBI_1_LEAF
const NUM = fld('num', 0, 16, 12);
const SCALE = fld('scale', 0, 24, 20); // 5 bits: bit 25 is RES0 while IDR5.DS = 0 (4.4.1.1)
const VMID = fld('vmid', 0, 47, 32);
const ASID = fld('asid', 0, 63, 48);
const TTL = fld('ttl', 1, 9, 8);
const TG = fld('tg', 1, 11, 10);
const VA = fld('addr', 1, 63, 12, 'addr'); // CMDQ_TLBI_1_VA_MASK
const RANGE_TLBI = [LEAF1, NUM, SCALE, TG, TTL] as const;

/** Every field of every command, in encoding order. Bits no field names are RES0 (ILL if set). */
export const COMMAND_FIELDS: Readonly<Record<OpName, readonly CmdField[]>> = {
  PREFETCH_CONFIG: [SSV, SSID, SID],
  PREFETCH_ADDR: [SSV, SSID, SID, fld('size', 1, 4, 0), fld('addr', 1, 63, 12, 'addr')],
  CFGI_STE: [SID, LEAF1],
  CFGI_ALL: [SID, fld('range', 1, 4, 0)],
  CFGI_CD: [SSID, SID, LEAF1],
  CFGI_CD_ALL: [SID],
  TLBI_NH_ALL: [VMID],
  TLBI_NH_ASID: [ASID, VMID],
  TLBI_NH_VA: [ASID, VMID, VA, ...RANGE_TLBI],
  TLBI_NH_VAA: [VMID, VA, ...RANGE_TLBI],
  TLBI_EL2_ALL: [],
  TLBI_EL2_ASID: [ASID],
  TLBI_EL2_VA: [ASID, VA, ...RANGE_TLBI],
  TLBI_EL2_VAA: [VA, ...RANGE_TLBI],
  TLBI_S12_VMALL: [VMID],
  TLBI_S2_IPA: [VMID, fld('addr', 1, 51, 12, 'addr'), ...RANGE_TLBI], // CMDQ_TLBI_1_IPA_MASK
  TLBI_NSNH_ALL: [],
  ATC_INV: [
    fld('global', 0, 9, 9, 'flag'),
    SSV,
    SSID,
    SID,
    fld('size', 1, 5, 0),
    fld('addr', 1, 63, 12, 'addr'),
  ],
  PRI_RESP: [SSV, SSID, SID, fld('grpid', 1, 8, 0), fld('resp', 1, 13, 12)],
  RESUME: [fld('resp', 0, 13, 12), SID, fld('stag', 1, 15, 0)],
  STALL_TERM: [SID],
  CMD_SYNC: [
    fld('cs', 0, 13, 12),
    fld('msidata', 0, 63, 32),
    fld('msiaddr', 1, 51, 2, 'addr'), // CMDQ_SYNC_1_MSIADDR_MASK
    fld('msh', 0, 23, 22),
    fld('msiattr', 0, 27, 24),
  ],
};

/** Commands whose TG/TTL/NUM/SCALE select a range (SMMUv3.2 4.4.1.1). */
export const RANGE_OPS: ReadonlySet<number> = new Set(
  (Object.keys(COMMAND_FIELDS) as OpName[]).filter((n) => COMMAND_FIELDS[n].includes(TG)).map((n) => OP[n]),
);

/** Where a field sits in the int32 view of an entry: half index, shift in it, mask after the shift. */
interface Slot {
  readonly i: number; // 0..3
  readonly sh: number;
  readonly m: number; // width < 32: (1 << width) - 1; else 0xffffffff (read with >>> 0)
}

function slotOf(f: CmdField): Slot {
  if (f.lo < 32 && f.lo + f.width > 32)
    throw new Error(`${f.name} spans two halves: use the address readers`);
  return {
    i: f.word * 2 + (f.lo >= 32 ? 1 : 0),
    sh: f.lo % 32,
    m: f.width >= 32 ? 0xffffffff : 2 ** f.width - 1,
  };
}

function fieldOf(op: OpName, name: string): CmdField {
  const f = COMMAND_FIELDS[op].find((x) => x.name === name);
  if (f === undefined) throw new Error(`${op} has no field ${name}`);
  return f;
}

/** The bits of each int32 half that opcode `op`'s fields (and the opcode byte) declare. */
export function declaredBits(op: OpName, omit: readonly string[] = []): [number, number, number, number] {
  const m = [OP_MASK, 0, 0, 0];
  for (const f of COMMAND_FIELDS[op]) {
    if (omit.includes(f.name)) continue;
    for (let b = f.lo; b < f.lo + f.width; b++) m[f.word * 2 + (b >> 5)] |= 1 << (b & 31);
  }
  return [m[0] >>> 0, m[1] >>> 0, m[2] >>> 0, m[3] >>> 0];
}

const OP_MASK = 0xff; // w0 [7:0]
// Hot-path positions, taken from the table once.
const F_NUM = slotOf(NUM);
const F_SCALE = slotOf(SCALE);
const F_VMID = slotOf(VMID);
const F_ASID = slotOf(ASID);
const F_LEAF = slotOf(LEAF1);
const F_TTL = slotOf(TTL);
const F_TG = slotOf(TG);
const F_SID = slotOf(SID);
const F_RANGE = slotOf(fieldOf('CFGI_ALL', 'range'));
const F_CS = slotOf(fieldOf('CMD_SYNC', 'cs'));
const F_MSH = slotOf(fieldOf('CMD_SYNC', 'msh'));
const F_MSIATTR = slotOf(fieldOf('CMD_SYNC', 'msiattr'));
const MSIADDR = fieldOf('CMD_SYNC', 'msiaddr');
const MSIADDR_LO_MASK = (2 ** (32 - MSIADDR.lo) - 1) * 2 ** MSIADDR.lo; // w1 [31:2]
const MSIADDR_HI_MASK = 2 ** (MSIADDR.lo + MSIADDR.width - 32) - 1; // w1 [51:32]
const VA_LO_MASK = ((2 ** (32 - VA.lo) - 1) * 2 ** VA.lo) | 0; // w1 [31:12]

const TWO_32 = 2 ** 32;
/** 4K pages in 4 GiB: a constant, not `2 ** n` on the engine's hot path (V8 calls Math.pow). */
const PAGES_PER_4G = 2 ** (32 - PAGE_SHIFT);
/** Byte addresses are JS numbers: a 52-bit VA (arm64's largest) stays exact. */
const ADDR_LIMIT = 2 ** 52;

// ---- Commands as values (logs, tests, error injection, replay) -------------------------------
interface RangeFields {
  addr: number; // byte address, 4K aligned, < 2^52
  leaf: boolean;
  num: number;
  scale: number;
  tg: number;
  ttl: number;
}

export type Command =
  | ({ op: 'TLBI_NH_VA'; asid: number; vmid: number } & RangeFields)
  | ({ op: 'TLBI_NH_VAA'; vmid: number } & RangeFields)
  | ({ op: 'TLBI_EL2_VA'; asid: number } & RangeFields)
  | ({ op: 'TLBI_EL2_VAA' } & RangeFields)
  | ({ op: 'TLBI_S2_IPA'; vmid: number } & RangeFields)
  | { op: 'TLBI_NH_ASID'; asid: number; vmid: number }
  | { op: 'TLBI_EL2_ASID'; asid: number }
  | { op: 'TLBI_S12_VMALL'; vmid: number }
  | { op: 'TLBI_NH_ALL'; vmid: number }
  | {
      op: 'CMD_SYNC';
      cs: number;
      msh: number;
      msiattr: number;
      msidata: number; // uint32
      msiaddr: number; // byte address, 4-byte aligned, < 2^52
    }
  | { op: 'CFGI_STE'; sid: number; leaf: boolean }
  | { op: 'CFGI_CD'; ssid: number; sid: number; leaf: boolean }
  | { op: 'CFGI_CD_ALL'; sid: number }
  /** CFGI_STE_RANGE with SID 0 and Range 31, as Linux writes it. */
  | { op: 'CFGI_ALL' }
  /** Opcode 0x04 in any other form (OP.CFGI_ALL): 2^(range+1) StreamIDs from sid. */
  | { op: 'CFGI_STE_RANGE'; sid: number; range: number }
  | { op: 'PREFETCH_CONFIG'; ssv: boolean; ssid: number; sid: number }
  | { op: 'PREFETCH_ADDR'; ssv: boolean; ssid: number; sid: number; size: number; addr: number }
  | { op: 'ATC_INV'; global: boolean; ssv: boolean; ssid: number; sid: number; size: number; addr: number }
  | { op: 'PRI_RESP'; ssv: boolean; ssid: number; sid: number; grpid: number; resp: number }
  | { op: 'RESUME'; resp: number; sid: number; stag: number }
  | { op: 'STALL_TERM'; sid: number }
  | { op: 'TLBI_EL2_ALL' }
  | { op: 'TLBI_NSNH_ALL' }
  /** Any opcode the table does not define; words are the raw uint32 halves, word0 low first. */
  | { op: 'UNKNOWN'; opcode: number; words: [number, number, number, number] };

export type CommandOf<K extends Command['op']> = Extract<Command, { op: K }>;

/** The table entry a command value encodes with (CFGI_STE_RANGE is opcode 0x04's general form). */
function tableName(op: Exclude<Command['op'], 'UNKNOWN'>): OpName {
  return op === 'CFGI_STE_RANGE' ? 'CFGI_ALL' : op;
}

/** The shared queue's int32 view reinterprets bytes in host order; the layout above needs LE. */
export function assertLittleEndian(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new Error('tlbsync-emu needs a little-endian host: SMMUv3 queue entries are little-endian');
  }
}

// ---- Hot-path writers: plain stores, no validation, no allocation ---------------------------
// They trust the caller: every value must already fit its field (see encodeInto for the checks).
// Stores into an Int32Array wrap modulo 2^32, so uint32 values and shifts into bit 31 are fine.

export function writeTlbiNhVa(
  i32: Int32Array,
  w: number,
  asid: number,
  vmid: number,
  addr: number,
  leaf: boolean,
  num: number,
  scale: number,
  tg: number,
  ttl: number,
): void {
  writeTlbiNhVaPage(i32, w, asid, vmid, addr / PAGE_BYTES, leaf, num, scale, tg, ttl);
}

/**
 * writeTlbiNhVa() with the address as a 4K page number, as the driver has it. A byte address above
 * 2 GiB is not a small integer in V8: passed to a call that is not inlined it is boxed, one heap
 * number per command issued; the page number is, and the words are built from it in int32 arithmetic.
 */
export function writeTlbiNhVaPage(
  i32: Int32Array,
  w: number,
  asid: number,
  vmid: number,
  vaPage: number,
  leaf: boolean,
  num: number,
  scale: number,
  tg: number,
  ttl: number,
): void {
  i32[w] = OP.TLBI_NH_VA | (num << F_NUM.sh) | (scale << F_SCALE.sh);
  i32[w + 1] = (vmid << F_VMID.sh) | (asid << F_ASID.sh);
  // `<<` takes vaPage modulo 2^32 first, so the low word is exact for every 52-bit address.
  i32[w + 2] =
    (leaf ? 1 << F_LEAF.sh : 0) | (ttl << F_TTL.sh) | (tg << F_TG.sh) | ((vaPage << PAGE_SHIFT) & VA_LO_MASK);
  i32[w + 3] = (vaPage / PAGES_PER_4G) | 0; // < 2^20 for a valid (52-bit) address
}

export function writeTlbiNhAsid(i32: Int32Array, w: number, asid: number, vmid: number): void {
  i32[w] = OP.TLBI_NH_ASID;
  i32[w + 1] = (vmid << F_VMID.sh) | (asid << F_ASID.sh);
  i32[w + 2] = 0;
  i32[w + 3] = 0;
}

/**
 * msh/msiattr default to what Linux writes in every CMD_SYNC, polled or MSI (arm_smmu_cmdq_build_cmd
 * since v4.19): MSH = ISH, MSIATTR = OIWB.
 */
export function writeCmdSync(
  i32: Int32Array,
  w: number,
  cs: number,
  msidata: number,
  msiaddr: number,
  msh = SYNC_MSH_ISH,
  msiattr = SYNC_MSIATTR_OIWB,
): void {
  i32[w] = OP.CMD_SYNC | (cs << F_CS.sh) | (msh << F_MSH.sh) | (msiattr << F_MSIATTR.sh);
  i32[w + 1] = msidata;
  i32[w + 2] = msiaddr & MSIADDR_LO_MASK; // `&` takes the low 32 bits exactly (ToInt32 is mod 2^32)
  i32[w + 3] = (msiaddr / TWO_32) & MSIADDR_HI_MASK;
}

/** CFGI_STE_RANGE with Range 31: Linux's CFGI_ALL. */
export function writeCfgiAll(i32: Int32Array, w: number): void {
  i32[w] = OP.CFGI_ALL;
  i32[w + 1] = 0;
  i32[w + 2] = CFGI_ALL_RANGE << F_RANGE.sh;
  i32[w + 3] = 0;
}

export function writeTlbiNsnhAll(i32: Int32Array, w: number): void {
  writeOpOnly(i32, w, OP.TLBI_NSNH_ALL);
}

/** Raw halves, word0 low first: how the emulator injects illegal or hand-built entries. */
export function writeRaw(i32: Int32Array, w: number, words: ArrayLike<number>): void {
  i32[w] = words[0];
  i32[w + 1] = words[1];
  i32[w + 2] = words[2];
  i32[w + 3] = words[3];
}

function writeOpOnly(i32: Int32Array, w: number, op: number): void {
  i32[w] = op;
  i32[w + 1] = 0;
  i32[w + 2] = 0;
  i32[w + 3] = 0;
}

// ---- Hot-path readers for the SMMU engine ---------------------------------------------------
// Field readers do not check the opcode: the engine dispatches on opcodeOf first. ASID, VMID,
// NUM, SCALE, TG, TTL, LEAF and the VA sit at the same place in every TLBI that has them.

const read = (i32: Int32Array, w: number, s: Slot): number => (i32[w + s.i] >>> s.sh) & s.m;

export function opcodeOf(i32: ArrayLike<number>, w: number): number {
  return i32[w] & OP_MASK;
}

export function tlbiAsid(i32: Int32Array, w: number): number {
  return read(i32, w, F_ASID);
}

export function tlbiVmid(i32: Int32Array, w: number): number {
  return read(i32, w, F_VMID);
}

/** ADDR [63:12] as a 4K page number; exact for every 52-bit value, so it may exceed 2^32. */
export function tlbiAddrPage(i32: Int32Array, w: number): number {
  return (i32[w + 3] >>> 0) * PAGES_PER_4G + (i32[w + 2] >>> PAGE_SHIFT);
}

export function tlbiNum(i32: Int32Array, w: number): number {
  return read(i32, w, F_NUM);
}

export function tlbiScale(i32: Int32Array, w: number): number {
  return read(i32, w, F_SCALE);
}

export function tlbiTg(i32: Int32Array, w: number): number {
  return read(i32, w, F_TG);
}

export function tlbiTtl(i32: Int32Array, w: number): number {
  return read(i32, w, F_TTL);
}

export function tlbiLeaf(i32: Int32Array, w: number): boolean {
  return read(i32, w, F_LEAF) !== 0;
}

export function syncCs(i32: Int32Array, w: number): number {
  return read(i32, w, F_CS);
}

export function syncMsiData(i32: Int32Array, w: number): number {
  return i32[w + 1] >>> 0;
}

/** MSIADDR [51:2] as a byte address. */
export function syncMsiAddr(i32: Int32Array, w: number): number {
  return (i32[w + 3] & MSIADDR_HI_MASK) * TWO_32 + ((i32[w + 2] & MSIADDR_LO_MASK) >>> 0);
}

/** StreamID [63:32] of the CFGI, PREFETCH, ATC_INV, PRI_RESP, RESUME and STALL_TERM commands. */
export function cmdSid(i32: Int32Array, w: number): number {
  return i32[w + F_SID.i] >>> 0;
}

/** Replaces MSIADDR [51:2] only, keeping word 1's other bits (RES0 checks still see them). */
export function setSyncMsiAddr(i32: Int32Array, w: number, msiaddr: number): void {
  i32[w + 2] = (i32[w + 2] & ~MSIADDR_LO_MASK) | (msiaddr & MSIADDR_LO_MASK);
  i32[w + 3] = (i32[w + 3] & ~MSIADDR_HI_MASK) | ((msiaddr / TWO_32) & MSIADDR_HI_MASK);
}

// ---- Generic encode / decode ----------------------------------------------------------------

// ---- Generic encode / decode, driven by COMMAND_FIELDS ---------------------------------------

/** Bits [hi:lo] (0 <= lo <= hi <= 31) as a uint32 mask. */
const bitsMask = (hi: number, lo: number): number => (2 ** (hi - lo + 1) - 1) * 2 ** lo;

function checkField(op: string, f: CmdField, v: unknown): void {
  if (f.kind === 'flag') {
    if (typeof v !== 'boolean') throw new RangeError(`${op}: ${f.name}=${String(v)} is not a boolean`);
    return;
  }
  const n = v as number;
  if (f.kind === 'u') {
    if (!Number.isInteger(n) || n < 0 || n >= 2 ** f.width) {
      throw new RangeError(`${op}: ${f.name}=${n} does not fit in ${f.width} bits`);
    }
    return;
  }
  const limit = Math.min(ADDR_LIMIT, 2 ** (f.lo + f.width));
  if (!Number.isInteger(n) || n < 0 || n >= limit) {
    throw new RangeError(`${op}: ${f.name}=${n} is not a byte address below 2^${Math.log2(limit)}`);
  }
  if (n % 2 ** f.lo !== 0)
    throw new RangeError(`${op}: ${f.name}=0x${n.toString(16)} is not ${2 ** f.lo}-byte aligned`);
}

/** Field value -> its bits in place, split into the two halves of its word (exact: value < 2^53). */
function putField(h: number[], f: CmdField, v: number | boolean): void {
  const raw = typeof v === 'boolean' ? (v ? 1 : 0) : v;
  const x = f.kind === 'addr' ? raw : raw * 2 ** f.lo;
  h[f.word * 2] |= x % TWO_32;
  h[f.word * 2 + 1] |= Math.floor(x / TWO_32);
}

function getField(h: ArrayLike<number>, f: CmdField): number | boolean {
  const top = f.lo + f.width - 1;
  const lo = f.lo < 32 ? (h[f.word * 2] & bitsMask(Math.min(top, 31), f.lo)) >>> 0 : 0;
  const hi = top >= 32 ? (h[f.word * 2 + 1] & bitsMask(top - 32, Math.max(f.lo - 32, 0))) >>> 0 : 0;
  const x = hi * TWO_32 + lo;
  if (f.kind === 'addr') return x;
  const v = x / 2 ** f.lo;
  return f.kind === 'flag' ? v !== 0 : v;
}

/** Validate every field against its width (RangeError naming the field), then store. */
export function encodeInto(cmd: Command, i32: Int32Array, w: number): void {
  if (cmd.op === 'UNKNOWN') {
    checkField(cmd.op, fld('opcode', 0, 7, 0), cmd.opcode);
    // A defined opcode here would decode as that command, not back to UNKNOWN.
    if (OPCODE_NAMES[cmd.opcode] !== undefined) {
      throw new RangeError(`UNKNOWN: opcode=0x${cmd.opcode.toString(16)} is ${OPCODE_NAMES[cmd.opcode]}`);
    }
    cmd.words.forEach((v, i) => checkField(cmd.op, fld(`words[${i}]`, 0, 31, 0), v));
    if ((cmd.words[0] & OP_MASK) !== cmd.opcode) {
      throw new RangeError(`UNKNOWN: words[0] bits [7:0] differ from opcode=0x${cmd.opcode.toString(16)}`);
    }
    writeRaw(i32, w, cmd.words);
    return;
  }
  const name = tableName(cmd.op);
  const values: Record<string, number | boolean> =
    cmd.op === 'CFGI_ALL'
      ? { sid: 0, range: CFGI_ALL_RANGE }
      : (cmd as unknown as Record<string, number | boolean>);
  const h = [OP[name], 0, 0, 0];
  for (const f of COMMAND_FIELDS[name]) {
    checkField(cmd.op, f, values[f.name]);
    putField(h, f, values[f.name]);
  }
  writeRaw(i32, w, h);
}

/** The 16 little-endian bytes of one entry, whatever the host byte order. */
export function encode(cmd: Command): Uint8Array {
  const words = new Int32Array(CMD_WORDS);
  encodeInto(cmd, words, 0);
  const bytes = new Uint8Array(CMD_BYTES);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < CMD_WORDS; i++) view.setInt32(i * 4, words[i], true);
  return bytes;
}

export function decodeWords(i32: Int32Array, w: number): Command {
  return decodeHalves([i32[w], i32[w + 1], i32[w + 2], i32[w + 3]]);
}

export function decode(bytes: Uint8Array, offset = 0): Command {
  if (!Number.isInteger(offset) || offset < 0 || offset + CMD_BYTES > bytes.length) {
    throw new RangeError(`decode: no ${CMD_BYTES}-byte entry at offset ${offset} of ${bytes.length} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, CMD_BYTES);
  return decodeHalves([0, 4, 8, 12].map((o) => view.getInt32(o, true)));
}

// Bits outside a command's fields are not decoded (the engine's RES0 check is what rejects them).
function decodeHalves(h: number[]): Command {
  const opcode = h[0] & OP_MASK;
  const name = OPCODE_NAMES[opcode] as OpName | undefined;
  if (name === undefined) {
    return { op: 'UNKNOWN', opcode, words: [h[0] >>> 0, h[1] >>> 0, h[2] >>> 0, h[3] >>> 0] };
  }
  const out: Record<string, unknown> = { op: name };
  for (const f of COMMAND_FIELDS[name]) out[f.name] = getField(h, f);
  if (name === 'CFGI_ALL') {
    if (out.sid === 0 && out.range === CFGI_ALL_RANGE) return { op: 'CFGI_ALL' };
    out.op = 'CFGI_STE_RANGE';
  }
  return out as Command;
}

const hex = (v: number): string => `0x${v.toString(16)}`;

/**
 * One line for logs, error messages and --cmd-log tooling, fields in table order, e.g.
 * `CMD_SYNC cs=SEV msidata=0x5 msiaddr=0x1c0`. Addresses, SIDs and MSI data print in hex.
 */
export function formatCommand(cmd: Command): string {
  if (cmd.op === 'UNKNOWN') {
    return `UNKNOWN opcode=${hex(cmd.opcode)} words=${cmd.words.map((v) => hex(v >>> 0)).join(',')}`;
  }
  if (cmd.op === 'CFGI_ALL') return cmd.op;
  const values = cmd as unknown as Record<string, number | boolean>;
  const parts: string[] = [cmd.op];
  for (const f of COMMAND_FIELDS[tableName(cmd.op)]) {
    const v = values[f.name];
    // MSH and MSIATTR only matter for an MSI; keep the common line short.
    if (cmd.op === 'CMD_SYNC' && (f.name === 'msh' || f.name === 'msiattr') && !syncAttrsShown(cmd)) continue;
    if (typeof v === 'boolean') parts.push(`${f.name}=${v ? 1 : 0}`);
    else if (f.name === 'cs') parts.push(`cs=${CS_NAMES[v] ?? String(v)}`);
    else if (f.kind === 'addr' || /^(sid|msidata|msiattr)$/.test(f.name)) parts.push(`${f.name}=${hex(v)}`);
    else parts.push(`${f.name}=${v}`);
  }
  return parts.join(' ');
}

const syncAttrsShown = (c: CommandOf<'CMD_SYNC'>): boolean => c.msh !== 0 || c.msiattr !== 0;
