// SMMUv3 command queue entries: opcodes, field positions, encoders and decoders.
// Opcodes and bit positions come from ../shared/reference/smmuv3-facts.md (SMMUv3 spec, Linux's
// arm-smmu-v3.h CMDQ_* masks). Nothing else in the project spells a command field position.
//
// An entry is 16 bytes = two little-endian 64-bit words. In the shared queue (an Int32Array over a
// SharedArrayBuffer) entry words sit at int32 index w: i32[w] = word0 [31:0], i32[w+1] = word0
// [63:32], i32[w+2] = word1 [31:0], i32[w+3] = word1 [63:32]. 64-bit fields are kept as two 32-bit
// halves so the hot path never allocates a BigInt. Plain loads and stores are enough here: the
// producer publishes entries by a later Atomics store of PROD, which orders these writes.

export const CMD_BYTES = 16;
export const CMD_WORDS = 4; // int32 words per entry

export const OP = {
  CFGI_STE: 0x03,
  CFGI_ALL: 0x04,
  TLBI_NH_ALL: 0x10,
  TLBI_NH_ASID: 0x11,
  TLBI_NH_VA: 0x12,
  TLBI_NH_VAA: 0x13,
  TLBI_EL2_ALL: 0x20,
  TLBI_S12_VMALL: 0x28,
  TLBI_NSNH_ALL: 0x30,
  CMD_SYNC: 0x46,
} as const;

export type OpName = keyof typeof OP;

export const OPCODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(OP).map(([name, code]) => [code, name]),
);

/** CMD_SYNC completion signal, word0 CS [13:12]. IRQ is the MSI write when MSIADDR is set. */
export const CS_NONE = 0;
export const CS_IRQ = 1;
export const CS_SEV = 2;
const CS_NAMES = ['NONE', 'IRQ', 'SEV'];

/** What Linux puts in an MSI CMD_SYNC: inner shareable, outer+inner write-back cacheable. */
export const SYNC_MSH_ISH = 3;
export const SYNC_MSIATTR_OIWB = 0xf;

/** TLBI word1 TG [11:10]: translation granule of a range invalidation; 0 = single address. */
export const TG_NONE = 0;
export const TG_4K = 1;
export const TG_16K = 2;
export const TG_64K = 3;

/** CFGI_ALL word1 RANGE [4:0]: 31 means "every StreamID" (Linux's CFGI_ALL). */
export const CFGI_ALL_RANGE = 31;

/** Linux's CMDQ_TLBI_RANGE_NUM_MAX: largest count (NUM+1 is stored as NUM) of one range TLBI. */
export const TLBI_RANGE_NUM_MAX = 31;

// ---- Field positions (bit offsets within the 32-bit half that holds them) -------------------
const OP_MASK = 0xff; // w0 [7:0]
const TLBI_NUM_SHIFT = 12; // w0 [16:12]
const TLBI_SCALE_SHIFT = 20; // w0 [24:20]
const TLBI_ASID_SHIFT = 16; // w0 [63:48] = high half [31:16]; VMID [47:32] = high half [15:0]
const TLBI_LEAF = 1; // w1 bit 0
const TLBI_TTL_SHIFT = 8; // w1 [9:8]
const TLBI_TG_SHIFT = 10; // w1 [11:10]
const TLBI_ADDR_LO_MASK = 0xfffff000; // w1 [31:12]; [63:32] is the whole high half
const SYNC_CS_SHIFT = 12; // w0 [13:12]
const SYNC_MSH_SHIFT = 22; // w0 [23:22]
const SYNC_MSIATTR_SHIFT = 24; // w0 [27:24]
const SYNC_MSIADDR_LO_MASK = 0xfffffffc; // w1 [31:2]
const SYNC_MSIADDR_HI_MASK = 0xfffff; // w1 [51:32]

const TWO_32 = 2 ** 32;
const PAGE_SHIFT = 12;
/** Byte addresses are JS numbers: a 52-bit VA (arm64's largest) stays exact. */
const ADDR_LIMIT = 2 ** 52;

// ---- Commands as values (logs, tests, error injection) --------------------------------------
export type Command =
  | {
      op: 'TLBI_NH_VA';
      asid: number;
      vmid: number;
      addr: number; // byte address, 4K aligned, < 2^52
      leaf: boolean;
      num: number;
      scale: number;
      tg: number;
      ttl: number;
    }
  | {
      op: 'TLBI_NH_VAA';
      vmid: number;
      addr: number;
      leaf: boolean;
      num: number;
      scale: number;
      tg: number;
      ttl: number;
    }
  | { op: 'TLBI_NH_ASID'; asid: number; vmid: number }
  | { op: 'TLBI_S12_VMALL'; vmid: number }
  | {
      op: 'CMD_SYNC';
      cs: number;
      msh: number;
      msiattr: number;
      msidata: number; // uint32
      msiaddr: number; // byte address, 4-byte aligned, < 2^52
    }
  | { op: 'CFGI_STE'; sid: number; leaf: boolean }
  | { op: 'CFGI_ALL' }
  | { op: 'TLBI_NH_ALL' }
  | { op: 'TLBI_EL2_ALL' }
  | { op: 'TLBI_NSNH_ALL' }
  /** Any opcode the table does not define; words are the raw uint32 halves, word0 low first. */
  | { op: 'UNKNOWN'; opcode: number; words: [number, number, number, number] };

export type CommandOf<K extends Command['op']> = Extract<Command, { op: K }>;

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
  writeTlbiRange(i32, w, OP.TLBI_NH_VA, asid, vmid, addr, leaf, num, scale, tg, ttl);
}

export function writeTlbiNhAsid(i32: Int32Array, w: number, asid: number, vmid: number): void {
  i32[w] = OP.TLBI_NH_ASID;
  i32[w + 1] = vmid | (asid << TLBI_ASID_SHIFT);
  i32[w + 2] = 0;
  i32[w + 3] = 0;
}

/** msh/msiattr default to 0; Linux passes SYNC_MSH_ISH and SYNC_MSIATTR_OIWB with an MSI. */
export function writeCmdSync(
  i32: Int32Array,
  w: number,
  cs: number,
  msidata: number,
  msiaddr: number,
  msh = 0,
  msiattr = 0,
): void {
  i32[w] = OP.CMD_SYNC | (cs << SYNC_CS_SHIFT) | (msh << SYNC_MSH_SHIFT) | (msiattr << SYNC_MSIATTR_SHIFT);
  i32[w + 1] = msidata;
  i32[w + 2] = msiaddr & SYNC_MSIADDR_LO_MASK; // `&` takes the low 32 bits exactly (ToInt32 is mod 2^32)
  i32[w + 3] = (msiaddr / TWO_32) & SYNC_MSIADDR_HI_MASK;
}

export function writeCfgiAll(i32: Int32Array, w: number): void {
  i32[w] = OP.CFGI_ALL;
  i32[w + 1] = 0;
  i32[w + 2] = CFGI_ALL_RANGE;
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

// Shared by NH_VA and NH_VAA (asid 0): the two differ only in the opcode and the ASID field.
function writeTlbiRange(
  i32: Int32Array,
  w: number,
  op: number,
  asid: number,
  vmid: number,
  addr: number,
  leaf: boolean,
  num: number,
  scale: number,
  tg: number,
  ttl: number,
): void {
  i32[w] = op | (num << TLBI_NUM_SHIFT) | (scale << TLBI_SCALE_SHIFT);
  i32[w + 1] = vmid | (asid << TLBI_ASID_SHIFT);
  i32[w + 2] =
    (leaf ? TLBI_LEAF : 0) | (ttl << TLBI_TTL_SHIFT) | (tg << TLBI_TG_SHIFT) | (addr & TLBI_ADDR_LO_MASK);
  i32[w + 3] = (addr / TWO_32) | 0; // < 2^20 for a valid (52-bit) address
}

// ---- Hot-path readers for the SMMU engine ---------------------------------------------------
// Field readers do not check the opcode: the engine dispatches on opcodeOf first.

export function opcodeOf(i32: Int32Array, w: number): number {
  return i32[w] & OP_MASK;
}

export function tlbiAsid(i32: Int32Array, w: number): number {
  return i32[w + 1] >>> TLBI_ASID_SHIFT;
}

export function tlbiVmid(i32: Int32Array, w: number): number {
  return i32[w + 1] & 0xffff;
}

/** ADDR [63:12] as a 4K page number; exact for every 52-bit value, so it may exceed 2^32. */
export function tlbiAddrPage(i32: Int32Array, w: number): number {
  return (i32[w + 3] >>> 0) * 2 ** (32 - PAGE_SHIFT) + (i32[w + 2] >>> PAGE_SHIFT);
}

export function tlbiNum(i32: Int32Array, w: number): number {
  return (i32[w] >>> TLBI_NUM_SHIFT) & 0x1f;
}

export function tlbiScale(i32: Int32Array, w: number): number {
  return (i32[w] >>> TLBI_SCALE_SHIFT) & 0x1f;
}

export function tlbiTg(i32: Int32Array, w: number): number {
  return (i32[w + 2] >>> TLBI_TG_SHIFT) & 3;
}

export function tlbiTtl(i32: Int32Array, w: number): number {
  return (i32[w + 2] >>> TLBI_TTL_SHIFT) & 3;
}

export function tlbiLeaf(i32: Int32Array, w: number): boolean {
  return (i32[w + 2] & TLBI_LEAF) !== 0;
}

export function syncCs(i32: Int32Array, w: number): number {
  return (i32[w] >>> SYNC_CS_SHIFT) & 3;
}

export function syncMsiData(i32: Int32Array, w: number): number {
  return i32[w + 1] >>> 0;
}

/** MSIADDR [51:2] as a byte address. */
export function syncMsiAddr(i32: Int32Array, w: number): number {
  return (i32[w + 3] & SYNC_MSIADDR_HI_MASK) * TWO_32 + ((i32[w + 2] & SYNC_MSIADDR_LO_MASK) >>> 0);
}

/** Replaces MSIADDR [51:2] only, keeping word 1's other bits (RES0 checks still see them). */
export function setSyncMsiAddr(i32: Int32Array, w: number, msiaddr: number): void {
  i32[w + 2] = (i32[w + 2] & ~SYNC_MSIADDR_LO_MASK) | (msiaddr & SYNC_MSIADDR_LO_MASK);
  i32[w + 3] = (i32[w + 3] & ~SYNC_MSIADDR_HI_MASK) | ((msiaddr / TWO_32) & SYNC_MSIADDR_HI_MASK);
}

// ---- Generic encode / decode ----------------------------------------------------------------

function checkField(op: string, field: string, v: number, bits: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits) {
    throw new RangeError(`${op}: ${field}=${v} does not fit in ${bits} bits`);
  }
}

function checkAddr(op: string, field: string, v: number, align: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= ADDR_LIMIT) {
    throw new RangeError(`${op}: ${field}=${v} is not a byte address below 2^52`);
  }
  if (v % align !== 0)
    throw new RangeError(`${op}: ${field}=0x${v.toString(16)} is not ${align}-byte aligned`);
}

function checkTlbiRange(cmd: CommandOf<'TLBI_NH_VA'> | CommandOf<'TLBI_NH_VAA'>): void {
  checkField(cmd.op, 'vmid', cmd.vmid, 16);
  checkAddr(cmd.op, 'addr', cmd.addr, 1 << PAGE_SHIFT);
  checkField(cmd.op, 'num', cmd.num, 5);
  checkField(cmd.op, 'scale', cmd.scale, 5);
  checkField(cmd.op, 'tg', cmd.tg, 2);
  checkField(cmd.op, 'ttl', cmd.ttl, 2);
}

/** Validate every field against its width (RangeError naming the field), then store. */
export function encodeInto(cmd: Command, i32: Int32Array, w: number): void {
  switch (cmd.op) {
    case 'TLBI_NH_VA':
      checkField(cmd.op, 'asid', cmd.asid, 16);
      checkTlbiRange(cmd);
      writeTlbiRange(
        i32,
        w,
        OP.TLBI_NH_VA,
        cmd.asid,
        cmd.vmid,
        cmd.addr,
        cmd.leaf,
        cmd.num,
        cmd.scale,
        cmd.tg,
        cmd.ttl,
      );
      return;
    case 'TLBI_NH_VAA':
      checkTlbiRange(cmd);
      writeTlbiRange(
        i32,
        w,
        OP.TLBI_NH_VAA,
        0,
        cmd.vmid,
        cmd.addr,
        cmd.leaf,
        cmd.num,
        cmd.scale,
        cmd.tg,
        cmd.ttl,
      );
      return;
    case 'TLBI_NH_ASID':
      checkField(cmd.op, 'asid', cmd.asid, 16);
      checkField(cmd.op, 'vmid', cmd.vmid, 16);
      writeTlbiNhAsid(i32, w, cmd.asid, cmd.vmid);
      return;
    case 'TLBI_S12_VMALL':
      checkField(cmd.op, 'vmid', cmd.vmid, 16);
      writeOpOnly(i32, w, OP.TLBI_S12_VMALL);
      i32[w + 1] = cmd.vmid;
      return;
    case 'CMD_SYNC':
      checkField(cmd.op, 'cs', cmd.cs, 2);
      checkField(cmd.op, 'msh', cmd.msh, 2);
      checkField(cmd.op, 'msiattr', cmd.msiattr, 4);
      checkField(cmd.op, 'msidata', cmd.msidata, 32);
      checkAddr(cmd.op, 'msiaddr', cmd.msiaddr, 4);
      writeCmdSync(i32, w, cmd.cs, cmd.msidata, cmd.msiaddr, cmd.msh, cmd.msiattr);
      return;
    case 'CFGI_STE':
      checkField(cmd.op, 'sid', cmd.sid, 32);
      writeOpOnly(i32, w, OP.CFGI_STE);
      i32[w + 1] = cmd.sid;
      i32[w + 2] = cmd.leaf ? 1 : 0;
      return;
    case 'CFGI_ALL':
      writeCfgiAll(i32, w);
      return;
    case 'TLBI_NH_ALL':
    case 'TLBI_EL2_ALL':
    case 'TLBI_NSNH_ALL':
      writeOpOnly(i32, w, OP[cmd.op]);
      return;
    case 'UNKNOWN': {
      checkField(cmd.op, 'opcode', cmd.opcode, 8);
      // A defined opcode here would decode as that command, not back to UNKNOWN.
      if (OPCODE_NAMES[cmd.opcode] !== undefined) {
        throw new RangeError(`UNKNOWN: opcode=0x${cmd.opcode.toString(16)} is ${OPCODE_NAMES[cmd.opcode]}`);
      }
      cmd.words.forEach((v, i) => checkField(cmd.op, `words[${i}]`, v, 32));
      if ((cmd.words[0] & OP_MASK) !== cmd.opcode) {
        throw new RangeError(`UNKNOWN: words[0] bits [7:0] differ from opcode=0x${cmd.opcode.toString(16)}`);
      }
      writeRaw(i32, w, cmd.words);
      return;
    }
  }
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
  return decodeHalves(i32[w], i32[w + 1], i32[w + 2], i32[w + 3]);
}

export function decode(bytes: Uint8Array, offset = 0): Command {
  if (!Number.isInteger(offset) || offset < 0 || offset + CMD_BYTES > bytes.length) {
    throw new RangeError(`decode: no ${CMD_BYTES}-byte entry at offset ${offset} of ${bytes.length} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, CMD_BYTES);
  return decodeHalves(
    view.getInt32(0, true),
    view.getInt32(4, true),
    view.getInt32(8, true),
    view.getInt32(12, true),
  );
}

// Bits outside a command's fields are ignored, as the SMMU treats them (RES0 / unused).
function decodeHalves(w0lo: number, w0hi: number, w1lo: number, w1hi: number): Command {
  const opcode = w0lo & OP_MASK;
  const tlbi = {
    vmid: w0hi & 0xffff,
    addr: (w1hi >>> 0) * TWO_32 + ((w1lo & TLBI_ADDR_LO_MASK) >>> 0),
    leaf: (w1lo & TLBI_LEAF) !== 0,
    num: (w0lo >>> TLBI_NUM_SHIFT) & 0x1f,
    scale: (w0lo >>> TLBI_SCALE_SHIFT) & 0x1f,
    tg: (w1lo >>> TLBI_TG_SHIFT) & 3,
    ttl: (w1lo >>> TLBI_TTL_SHIFT) & 3,
  };
  switch (opcode) {
    case OP.TLBI_NH_VA:
      return { op: 'TLBI_NH_VA', asid: w0hi >>> TLBI_ASID_SHIFT, ...tlbi };
    case OP.TLBI_NH_VAA:
      return { op: 'TLBI_NH_VAA', ...tlbi };
    case OP.TLBI_NH_ASID:
      return { op: 'TLBI_NH_ASID', asid: w0hi >>> TLBI_ASID_SHIFT, vmid: w0hi & 0xffff };
    case OP.TLBI_S12_VMALL:
      return { op: 'TLBI_S12_VMALL', vmid: w0hi & 0xffff };
    case OP.CMD_SYNC:
      return {
        op: 'CMD_SYNC',
        cs: (w0lo >>> SYNC_CS_SHIFT) & 3,
        msh: (w0lo >>> SYNC_MSH_SHIFT) & 3,
        msiattr: (w0lo >>> SYNC_MSIATTR_SHIFT) & 0xf,
        msidata: w0hi >>> 0,
        msiaddr: (w1hi & SYNC_MSIADDR_HI_MASK) * TWO_32 + ((w1lo & SYNC_MSIADDR_LO_MASK) >>> 0),
      };
    case OP.CFGI_STE:
      return { op: 'CFGI_STE', sid: w0hi >>> 0, leaf: (w1lo & 1) !== 0 };
    case OP.CFGI_ALL:
      return { op: 'CFGI_ALL' };
    case OP.TLBI_NH_ALL:
      return { op: 'TLBI_NH_ALL' };
    case OP.TLBI_EL2_ALL:
      return { op: 'TLBI_EL2_ALL' };
    case OP.TLBI_NSNH_ALL:
      return { op: 'TLBI_NSNH_ALL' };
    default:
      return {
        op: 'UNKNOWN',
        opcode,
        words: [w0lo >>> 0, w0hi >>> 0, w1lo >>> 0, w1hi >>> 0],
      };
  }
}

const hex = (v: number): string => `0x${v.toString(16)}`;

/** One line for logs and error messages, e.g. `CMD_SYNC cs=SEV msidata=0x5 msiaddr=0x1c0`. */
export function formatCommand(cmd: Command): string {
  switch (cmd.op) {
    case 'TLBI_NH_VA':
    case 'TLBI_NH_VAA': {
      const asid = cmd.op === 'TLBI_NH_VA' ? ` asid=${cmd.asid}` : '';
      return (
        `${cmd.op}${asid} vmid=${cmd.vmid} addr=${hex(cmd.addr)} leaf=${cmd.leaf ? 1 : 0}` +
        ` num=${cmd.num} scale=${cmd.scale} tg=${cmd.tg} ttl=${cmd.ttl}`
      );
    }
    case 'TLBI_NH_ASID':
      return `${cmd.op} asid=${cmd.asid} vmid=${cmd.vmid}`;
    case 'TLBI_S12_VMALL':
      return `${cmd.op} vmid=${cmd.vmid}`;
    case 'CMD_SYNC': {
      // MSH and MSIATTR only matter for an MSI; keep the common line short.
      const attrs = cmd.msh !== 0 || cmd.msiattr !== 0 ? ` msh=${cmd.msh} msiattr=${hex(cmd.msiattr)}` : '';
      const cs = CS_NAMES[cmd.cs] ?? String(cmd.cs);
      return `${cmd.op} cs=${cs} msidata=${hex(cmd.msidata)} msiaddr=${hex(cmd.msiaddr)}${attrs}`;
    }
    case 'CFGI_STE':
      return `${cmd.op} sid=${hex(cmd.sid)} leaf=${cmd.leaf ? 1 : 0}`;
    case 'UNKNOWN':
      return `UNKNOWN opcode=${hex(cmd.opcode)} words=${cmd.words.map((v) => hex(v >>> 0)).join(',')}`;
    default:
      return cmd.op;
  }
}

// ---- Range invalidation (SMMUv3.2 RIL) ------------------------------------------------------

export interface TlbiRange {
  addrPage: number; // first page of the command, in granule pages (4K pages for the default granule)
  num: number; // encoded NUM field: the command covers (num + 1) << scale pages
  scale: number;
  tg: number; // TG_4K / TG_16K / TG_64K
  ttl: number; // 3: leaf entries of a page-sized granule are at level 3 for every granule
}

/** Pages covered by one range TLBI with encoded fields NUM and SCALE. */
export function rangePages(num: number, scale: number): number {
  return (num + 1) * 2 ** scale;
}

/** Index of the lowest set bit of a positive integer below 2^53 (Linux __ffs). */
function lowestSetBit(n: number): number {
  const lo = n % TWO_32;
  if (lo !== 0) return 31 - Math.clz32(lo & -lo);
  const hi = Math.floor(n / TWO_32);
  return 32 + 31 - Math.clz32(hi & -hi);
}

/**
 * Split [startPage, startPage + numPages) into range TLBIs as Linux's __arm_smmu_tlb_inv_range does
 * with RIL: each command takes the 5 bits of the remaining count starting at its lowest set bit, so
 * a count needs at most one command per 5-bit group. Leaf invalidation only (Linux's non-leaf
 * TTL=0 case and its NUM adjustment are not modelled). Pages are of 2^tgLog2 bytes.
 */
export function tlbiRangePlan(startPage: number, numPages: number, tgLog2 = 12): TlbiRange[] {
  if (tgLog2 !== 12 && tgLog2 !== 14 && tgLog2 !== 16) {
    throw new RangeError(`tlbiRangePlan: tgLog2=${tgLog2} is not 12, 14 or 16`);
  }
  if (!Number.isInteger(startPage) || startPage < 0) {
    throw new RangeError(`tlbiRangePlan: startPage=${startPage} is not a page number`);
  }
  if (!Number.isInteger(numPages) || numPages < 0) {
    throw new RangeError(`tlbiRangePlan: numPages=${numPages} is not a page count`);
  }
  if ((startPage + numPages) * 2 ** tgLog2 > ADDR_LIMIT) {
    throw new RangeError(`tlbiRangePlan: pages ${startPage}+${numPages} end beyond a 52-bit address`);
  }
  const tg = (tgLog2 - 10) / 2; // 12, 14, 16 -> 1, 2, 3, as Linux converts it
  const plan: TlbiRange[] = [];
  let page = startPage;
  let remaining = numPages;
  while (remaining > 0) {
    const scale = lowestSetBit(remaining);
    if (scale > 31) throw new RangeError(`tlbiRangePlan: numPages=${numPages} needs SCALE=${scale} > 31`);
    const num = Math.floor(remaining / 2 ** scale) % (TLBI_RANGE_NUM_MAX + 1);
    const pages = num * 2 ** scale;
    plan.push({ addrPage: page, num: num - 1, scale, tg, ttl: 3 });
    page += pages;
    remaining -= pages;
  }
  return plan;
}
