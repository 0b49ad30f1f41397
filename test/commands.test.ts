// Command encoding checked against the facts table bit by bit: expected 64-bit words are built here
// with BigInt shifts, independently of the module's 32-bit-half arithmetic.
import { describe, it, expect } from 'vitest';
import {
  CMD_BYTES,
  CMD_WORDS,
  CS_IRQ,
  CS_NONE,
  CS_SEV,
  OP,
  OPCODE_NAMES,
  SYNC_MSH_ISH,
  SYNC_MSIATTR_OIWB,
  decode,
  decodeWords,
  encode,
  encodeInto,
  formatCommand,
  opcodeOf,
  syncCs,
  syncMsiAddr,
  syncMsiData,
  tlbiAddrPage,
  tlbiAsid,
  tlbiLeaf,
  tlbiNum,
  tlbiScale,
  tlbiTg,
  tlbiTtl,
  tlbiVmid,
  writeCfgiAll,
  writeCmdSync,
  writeRaw,
  writeTlbiNhAsid,
  writeTlbiNhVa,
  writeTlbiNsnhAll,
  COMMAND_FIELDS,
  type Command,
  type CommandOf,
  type OpName,
} from '../src/hardware/commands.js';
import { rangePages, tlbiRangePlan } from '../src/driver/tlbi-range.js';

// ---- helpers ----------------------------------------------------------------------------------

const B = BigInt;
const mask = (hi: number, lo: number): bigint => ((1n << B(hi - lo + 1)) - 1n) << B(lo);

/** The two little-endian 64-bit words of an encoded entry. */
function words64(bytes: Uint8Array): [bigint, bigint] {
  expect(bytes.length).toBe(16);
  const v = new DataView(bytes.buffer, bytes.byteOffset, 16);
  return [v.getBigUint64(0, true), v.getBigUint64(8, true)];
}

function bytesOfI32(i32: Int32Array, w: number): Uint8Array {
  const out = new Uint8Array(CMD_BYTES);
  const v = new DataView(out.buffer);
  for (let i = 0; i < CMD_WORDS; i++) v.setInt32(i * 4, i32[w + i], true);
  return out;
}

/** mulberry32: a small seeded generator so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function randInt(r: () => number, bound: number): number {
  return Math.floor(r() * bound); // exact for bound <= 2^53
}

type TlbiVa = CommandOf<'TLBI_NH_VA'>;
type Sync = CommandOf<'CMD_SYNC'>;

function expectVa(c: Omit<TlbiVa, 'op'>, op: number = OP.TLBI_NH_VA): [bigint, bigint] {
  const w0 = B(op) | (B(c.num) << 12n) | (B(c.scale) << 20n) | (B(c.vmid) << 32n) | (B(c.asid) << 48n);
  const w1 = (c.leaf ? 1n : 0n) | (B(c.ttl) << 8n) | (B(c.tg) << 10n) | ((B(c.addr) >> 12n) << 12n);
  return [w0, w1];
}

function expectSync(c: Sync): [bigint, bigint] {
  const w0 =
    B(OP.CMD_SYNC) | (B(c.cs) << 12n) | (B(c.msh) << 22n) | (B(c.msiattr) << 24n) | (B(c.msidata) << 32n);
  const w1 = (B(c.msiaddr) >> 2n) << 2n;
  return [w0, w1];
}

const MAX_ADDR = 2 ** 52 - 4096;
const MAX_MSIADDR = 2 ** 52 - 4;

// ---- opcodes and constants --------------------------------------------------------------------

describe('opcode table', () => {
  it('matches the facts file', () => {
    // SMMUv3 4.1-4.7, Linux CMDQ_OP_*, QEMU SMMUCommandType; the EL3 TLBIs are Secure-only.
    expect(OP).toEqual({
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
    });
    for (const [name, code] of Object.entries(OP)) expect(OPCODE_NAMES[code]).toBe(name);
    expect(Object.keys(OPCODE_NAMES)).toHaveLength(22);
    expect(Object.keys(COMMAND_FIELDS).sort()).toEqual(Object.keys(OP).sort());
    expect([CMD_BYTES, CMD_WORDS]).toEqual([16, 4]);
    expect([CS_NONE, CS_IRQ, CS_SEV]).toEqual([0, 1, 2]);
  });
});

// ---- bit positions ----------------------------------------------------------------------------

describe('encode: field bit positions', () => {
  it('TLBI_NH_VA places every field, including maxima, and nothing else', () => {
    const cases: TlbiVa[] = [
      { op: 'TLBI_NH_VA', asid: 1, vmid: 0, addr: 0x12345000, leaf: true, num: 0, scale: 0, tg: 0, ttl: 0 },
      {
        op: 'TLBI_NH_VA',
        asid: 0xabcd,
        vmid: 0x1234,
        addr: 0x000f_edcb_a987_6000,
        leaf: false,
        num: 17,
        scale: 9,
        tg: 2,
        ttl: 1,
      },
      {
        op: 'TLBI_NH_VA',
        asid: 0xffff,
        vmid: 0xffff,
        addr: MAX_ADDR,
        leaf: true,
        num: 31,
        scale: 31,
        tg: 3,
        ttl: 3,
      },
    ];
    for (const c of cases) {
      const [w0, w1] = words64(encode(c));
      expect([w0, w1]).toEqual(expectVa(c));
      expect(w0 & mask(7, 0)).toBe(0x12n);
      expect((w0 & mask(16, 12)) >> 12n).toBe(B(c.num));
      expect((w0 & mask(24, 20)) >> 20n).toBe(B(c.scale));
      expect((w0 & mask(47, 32)) >> 32n).toBe(B(c.vmid));
      expect((w0 & mask(63, 48)) >> 48n).toBe(B(c.asid));
      expect(w1 & 1n).toBe(c.leaf ? 1n : 0n);
      expect((w1 & mask(9, 8)) >> 8n).toBe(B(c.ttl));
      expect((w1 & mask(11, 10)) >> 10n).toBe(B(c.tg));
      expect(w1 & mask(63, 12)).toBe(B(c.addr));
      // Unrelated bits stay zero.
      const w0Fields = mask(7, 0) | mask(16, 12) | mask(24, 20) | mask(63, 32);
      const w1Fields = 1n | mask(11, 8) | mask(63, 12);
      expect(w0 & ~w0Fields & mask(63, 0)).toBe(0n);
      expect(w1 & ~w1Fields & mask(63, 0)).toBe(0n);
    }
  });

  it('TLBI_NH_VAA is NH_VA without ASID', () => {
    const c: CommandOf<'TLBI_NH_VAA'> = {
      op: 'TLBI_NH_VAA',
      vmid: 0xffff,
      addr: MAX_ADDR,
      leaf: true,
      num: 31,
      scale: 31,
      tg: 3,
      ttl: 3,
    };
    const [w0, w1] = words64(encode(c));
    expect([w0, w1]).toEqual(expectVa({ ...c, asid: 0 }, OP.TLBI_NH_VAA));
    expect(w0 & mask(63, 48)).toBe(0n);
    expect(w0 & mask(7, 0)).toBe(0x13n);
  });

  it('TLBI_NH_ASID: VMID [47:32], ASID [63:48]', () => {
    for (const [asid, vmid] of [
      [0xffff, 0xffff],
      [0x8001, 0x00fe],
      [0, 0],
    ]) {
      const [w0, w1] = words64(encode({ op: 'TLBI_NH_ASID', asid, vmid }));
      expect(w0).toBe(B(OP.TLBI_NH_ASID) | (B(vmid) << 32n) | (B(asid) << 48n));
      expect(w1).toBe(0n);
    }
  });

  it('TLBI_S12_VMALL: VMID [47:32]', () => {
    for (const vmid of [0xffff, 0x5a5a, 1]) {
      const [w0, w1] = words64(encode({ op: 'TLBI_S12_VMALL', vmid }));
      expect(w0).toBe(B(OP.TLBI_S12_VMALL) | (B(vmid) << 32n));
      expect(w1).toBe(0n);
    }
  });

  it('CMD_SYNC: CS [13:12], MSH [23:22], MSIATTR [27:24], MSIDATA [63:32], MSIADDR [51:2]', () => {
    const cases: Sync[] = [
      { op: 'CMD_SYNC', cs: CS_SEV, msh: 0, msiattr: 0, msidata: 5, msiaddr: 0x1c0 },
      { op: 'CMD_SYNC', cs: 3, msh: 3, msiattr: 0xf, msidata: 0xffffffff, msiaddr: MAX_MSIADDR },
      {
        op: 'CMD_SYNC',
        cs: CS_IRQ,
        msh: SYNC_MSH_ISH,
        msiattr: SYNC_MSIATTR_OIWB,
        msidata: 0x80000001,
        msiaddr: 0x0008_1234_5678_9abc,
      },
      { op: 'CMD_SYNC', cs: CS_NONE, msh: 1, msiattr: 6, msidata: 0, msiaddr: 0 },
    ];
    for (const c of cases) {
      const [w0, w1] = words64(encode(c));
      expect([w0, w1]).toEqual(expectSync(c));
      expect((w0 & mask(13, 12)) >> 12n).toBe(B(c.cs));
      expect((w0 & mask(23, 22)) >> 22n).toBe(B(c.msh));
      expect((w0 & mask(27, 24)) >> 24n).toBe(B(c.msiattr));
      expect(w0 >> 32n).toBe(B(c.msidata));
      expect(w1 & mask(51, 2)).toBe(B(c.msiaddr));
      const w0Fields = mask(7, 0) | mask(13, 12) | mask(27, 22) | mask(63, 32);
      expect(w0 & ~w0Fields & mask(63, 0)).toBe(0n);
      expect(w1 & ~mask(51, 2) & mask(63, 0)).toBe(0n);
    }
  });

  it('CFGI_STE: SID [63:32], LEAF word1 bit 0', () => {
    for (const [sid, leaf] of [
      [0xffffffff, true],
      [0x12345, false],
      [0, true],
    ] as const) {
      const [w0, w1] = words64(encode({ op: 'CFGI_STE', sid, leaf }));
      expect(w0).toBe(B(OP.CFGI_STE) | (B(sid) << 32n));
      expect(w1).toBe(leaf ? 1n : 0n);
    }
  });

  it('CFGI_ALL sets RANGE [4:0] = 31', () => {
    expect(words64(encode({ op: 'CFGI_ALL' }))).toEqual([B(OP.CFGI_ALL), 31n]);
  });

  it('field-less invalidations carry only their opcode', () => {
    for (const op of ['TLBI_EL2_ALL', 'TLBI_NSNH_ALL'] as const) {
      expect(words64(encode({ op }))).toEqual([B(OP[op]), 0n]);
    }
    expect(words64(encode({ op: 'TLBI_NH_ALL', vmid: 7 }))).toEqual([B(OP.TLBI_NH_ALL) | (7n << 32n), 0n]);
  });

  it('UNKNOWN writes its words verbatim', () => {
    const c: Command = { op: 'UNKNOWN', opcode: 0x7f, words: [0xdeadbe7f, 0xffffffff, 0x80000000, 0x1] };
    expect(words64(encode(c))).toEqual([0xffffffff_deadbe7fn, 0x00000001_80000000n]);
  });
});

// ---- round trips ------------------------------------------------------------------------------

const UNDEFINED_OPCODES = Array.from({ length: 256 }, (_, i) => i).filter(
  (i) => OPCODE_NAMES[i] === undefined,
);

function randomCommand(r: () => number): Command {
  const u16 = () => randInt(r, 0x10000);
  const u32 = () => randInt(r, 2 ** 32);
  const pick = <T>(xs: readonly T[]): T => xs[randInt(r, xs.length)];
  const bits = (n: number) => randInt(r, 2 ** n);
  // Addresses: mix small, 32-bit boundary and full 52-bit values.
  const addr = () => pick([bits(20), bits(40), bits(40) + 2 ** 20 - 1, 2 ** 40 - 1]) * 4096;
  const msiaddr = () => pick([bits(10), bits(30), bits(50), 2 ** 50 - 1]) * 4;
  const kind = randInt(r, 12);
  switch (kind) {
    case 0:
      return {
        op: 'TLBI_NH_VA',
        asid: u16(),
        vmid: u16(),
        addr: addr(),
        leaf: r() < 0.5,
        num: bits(5),
        scale: bits(5),
        tg: bits(2),
        ttl: bits(2),
      };
    case 1:
      return {
        op: 'TLBI_NH_VAA',
        vmid: u16(),
        addr: addr(),
        leaf: r() < 0.5,
        num: bits(5),
        scale: bits(5),
        tg: bits(2),
        ttl: bits(2),
      };
    case 2:
      return { op: 'TLBI_NH_ASID', asid: u16(), vmid: u16() };
    case 3:
      return { op: 'TLBI_S12_VMALL', vmid: u16() };
    case 4:
      return {
        op: 'CMD_SYNC',
        cs: bits(2),
        msh: bits(2),
        msiattr: bits(4),
        msidata: u32(),
        msiaddr: msiaddr(),
      };
    case 5:
      return { op: 'CFGI_STE', sid: u32(), leaf: r() < 0.5 };
    case 6:
      return { op: 'CFGI_ALL' };
    case 7:
      return { op: 'TLBI_NH_ALL', vmid: u16() };
    case 8:
      return { op: 'TLBI_EL2_ALL' };
    case 9:
      return { op: 'TLBI_NSNH_ALL' };
    case 11:
      return randomFromTable(r, pick(Object.keys(COMMAND_FIELDS) as OpName[]));
    default: {
      const opcode = pick(UNDEFINED_OPCODES);
      return { op: 'UNKNOWN', opcode, words: [((u32() & ~0xff) | opcode) >>> 0, u32(), u32(), u32()] };
    }
  }
}

/** Any command, its fields filled at random from the field table (CFGI_ALL in its general form). */
function randomFromTable(r: () => number, name: OpName): Command {
  const c: Record<string, unknown> = { op: name === 'CFGI_ALL' ? 'CFGI_STE_RANGE' : name };
  for (const f of COMMAND_FIELDS[name]) {
    if (f.kind === 'flag') c[f.name] = r() < 0.5;
    else if (f.kind === 'addr')
      c[f.name] = randInt(r, 2 ** (Math.min(52, f.lo + f.width) - f.lo)) * 2 ** f.lo;
    else c[f.name] = randInt(r, 2 ** f.width);
  }
  if (c.op === 'CFGI_STE_RANGE' && c.sid === 0 && c.range === 31) return { op: 'CFGI_ALL' };
  if (name === 'TLBI_EL2_ALL' || name === 'TLBI_NSNH_ALL') return { op: name };
  return c as Command;
}

describe('round trips', () => {
  it('decode(encode(x)) equals x, and decodeWords agrees, for many values of every kind', () => {
    const r = rng(0x5eed);
    const seen = new Set<string>();
    const i32 = new Int32Array(new SharedArrayBuffer(64 * CMD_BYTES));
    for (let n = 0; n < 5000; n++) {
      const c = randomCommand(r);
      seen.add(c.op);
      const bytes = encode(c);
      expect(decode(bytes)).toEqual(c);
      const w = (n % 64) * CMD_WORDS;
      encodeInto(c, i32, w);
      expect(bytesOfI32(i32, w)).toEqual(bytes);
      expect(decodeWords(i32, w)).toEqual(c);
    }
    expect(seen.size).toBe(24); // every opcode, CFGI_STE_RANGE besides CFGI_ALL, and UNKNOWN
  });

  it('decode reads at a byte offset inside a larger buffer', () => {
    const c: Command = { op: 'TLBI_NH_ASID', asid: 7, vmid: 9 };
    const big = new Uint8Array(64);
    big.set(encode(c), 32);
    expect(decode(big, 32)).toEqual(c);
    expect(decode(big.subarray(16), 16)).toEqual(c);
    expect(() => decode(big, 56)).toThrow(RangeError);
  });

  it('every undefined opcode decodes to UNKNOWN and round-trips, without throwing', () => {
    const i32 = new Int32Array(CMD_WORDS);
    for (const opcode of UNDEFINED_OPCODES) {
      const words: [number, number, number, number] = [
        (0xa5a5a500 | opcode) >>> 0,
        0xffffffff,
        0,
        0x80000000,
      ];
      writeRaw(i32, 0, words);
      const c = decodeWords(i32, 0);
      expect(c).toEqual({ op: 'UNKNOWN', opcode, words });
      expect(decode(encode(c))).toEqual(c);
      expect(formatCommand(c)).toMatch(/^UNKNOWN opcode=0x[0-9a-f]+ /);
    }
  });

  it("decoding reads only the fields of a known command (RES0 bits are the engine's to refuse)", () => {
    const i32 = new Int32Array(CMD_WORDS);
    writeRaw(i32, 0, [0xffffff00 | OP.CFGI_ALL, -1, -1, -1]);
    expect(decodeWords(i32, 0)).toEqual({ op: 'CFGI_STE_RANGE', sid: 0xffffffff, range: 31 });
    writeRaw(i32, 0, [OP.CFGI_ALL, 0, 0xffffffe0 | 31, -1]);
    expect(decodeWords(i32, 0)).toEqual({ op: 'CFGI_ALL' });
    writeRaw(i32, 0, [0xffffff00 | OP.TLBI_S12_VMALL, -1, -1, -1]);
    expect(decodeWords(i32, 0)).toEqual({ op: 'TLBI_S12_VMALL', vmid: 0xffff });
  });
});

// ---- hot path ---------------------------------------------------------------------------------

describe('hot-path writers and readers', () => {
  it('writers produce the same bytes as encode', () => {
    const r = rng(42);
    const i32 = new Int32Array(new SharedArrayBuffer(2 * CMD_BYTES));
    const w = CMD_WORDS; // second slot: writers must honour the index
    for (let n = 0; n < 3000; n++) {
      const c = randomCommand(r);
      i32.fill(-1);
      switch (c.op) {
        case 'TLBI_NH_VA':
          writeTlbiNhVa(i32, w, c.asid, c.vmid, c.addr, c.leaf, c.num, c.scale, c.tg, c.ttl);
          break;
        case 'TLBI_NH_ASID':
          writeTlbiNhAsid(i32, w, c.asid, c.vmid);
          break;
        case 'CMD_SYNC':
          writeCmdSync(i32, w, c.cs, c.msidata, c.msiaddr, c.msh, c.msiattr);
          break;
        case 'CFGI_ALL':
          writeCfgiAll(i32, w);
          break;
        case 'TLBI_NSNH_ALL':
          writeTlbiNsnhAll(i32, w);
          break;
        case 'UNKNOWN':
          writeRaw(i32, w, c.words);
          break;
        default:
          continue;
      }
      expect(bytesOfI32(i32, w)).toEqual(encode(c));
      expect(Array.from(i32.subarray(0, CMD_WORDS))).toEqual([-1, -1, -1, -1]); // neighbour untouched
    }
  });

  it('writeCmdSync defaults MSH and MSIATTR to what Linux writes: ISH, OIWB', () => {
    const i32 = new Int32Array(CMD_WORDS).fill(-1);
    writeCmdSync(i32, 0, CS_SEV, 5, 0x1c0);
    expect(decodeWords(i32, 0)).toEqual({
      op: 'CMD_SYNC',
      cs: 2,
      msh: 3,
      msiattr: 0xf,
      msidata: 5,
      msiaddr: 0x1c0,
    });
  });

  it('a polled CMD_SYNC is the one Linux 6.1 writes: dword 0 = 0x000000000fc02046, dword 1 = 0', () => {
    const i32 = new Int32Array(CMD_WORDS).fill(-1);
    writeCmdSync(i32, 0, CS_SEV, 0, 0);
    expect(words64(bytesOfI32(i32, 0))).toEqual([0x000000000fc02046n, 0n]);
  });

  it('readers return every field', () => {
    const r = rng(7);
    const i32 = new Int32Array(CMD_WORDS * 3);
    const w = CMD_WORDS * 2;
    for (let n = 0; n < 3000; n++) {
      const c = randomCommand(r);
      encodeInto(c, i32, w);
      expect(opcodeOf(i32, w)).toBe(
        c.op === 'UNKNOWN' ? c.opcode : c.op === 'CFGI_STE_RANGE' ? OP.CFGI_ALL : OP[c.op],
      );
      if (c.op === 'TLBI_NH_VA' || c.op === 'TLBI_NH_VAA') {
        expect(tlbiAsid(i32, w)).toBe(c.op === 'TLBI_NH_VA' ? c.asid : 0);
        expect(tlbiVmid(i32, w)).toBe(c.vmid);
        expect(tlbiAddrPage(i32, w)).toBe(c.addr / 4096);
        expect(tlbiNum(i32, w)).toBe(c.num);
        expect(tlbiScale(i32, w)).toBe(c.scale);
        expect(tlbiTg(i32, w)).toBe(c.tg);
        expect(tlbiTtl(i32, w)).toBe(c.ttl);
        expect(tlbiLeaf(i32, w)).toBe(c.leaf);
      } else if (c.op === 'TLBI_NH_ASID') {
        expect([tlbiAsid(i32, w), tlbiVmid(i32, w)]).toEqual([c.asid, c.vmid]);
      } else if (c.op === 'TLBI_S12_VMALL') {
        expect(tlbiVmid(i32, w)).toBe(c.vmid);
      } else if (c.op === 'CMD_SYNC') {
        expect(syncCs(i32, w)).toBe(c.cs);
        expect(syncMsiData(i32, w)).toBe(c.msidata);
        expect(syncMsiAddr(i32, w)).toBe(c.msiaddr);
      }
    }
  });

  it('tlbiAddrPage is exact above 2^32 pages and for all 52 address bits of the field', () => {
    const i32 = new Int32Array(CMD_WORDS);
    writeTlbiNhVa(i32, 0, 1, 0, MAX_ADDR, true, 0, 0, 0, 0);
    expect(tlbiAddrPage(i32, 0)).toBe(2 ** 40 - 1);
    writeRaw(i32, 0, [OP.TLBI_NH_VA, 0, 0xfffff000, 0xffffffff]); // ADDR [63:12] all ones
    expect(tlbiAddrPage(i32, 0)).toBe(2 ** 52 - 1);
  });
});

// ---- validation -------------------------------------------------------------------------------

describe('validation', () => {
  const va: TlbiVa = {
    op: 'TLBI_NH_VA',
    asid: 1,
    vmid: 2,
    addr: 0x1000,
    leaf: true,
    num: 0,
    scale: 0,
    tg: 1,
    ttl: 3,
  };
  const sync: Sync = { op: 'CMD_SYNC', cs: CS_IRQ, msh: 3, msiattr: 0xf, msidata: 1, msiaddr: 0x1000 };

  const bad: [string, Command][] = [
    ['asid', { ...va, asid: 0x10000 }],
    ['asid', { ...va, asid: -1 }],
    ['vmid', { ...va, vmid: 0x10000 }],
    ['num', { ...va, num: 32 }],
    ['scale', { ...va, scale: 32 }],
    ['tg', { ...va, tg: 4 }],
    ['ttl', { ...va, ttl: 4 }],
    ['num', { ...va, num: 1.5 }],
    ['addr', { ...va, addr: 0x1800 }],
    ['addr', { ...va, addr: 2 ** 52 }],
    ['addr', { ...va, addr: -4096 }],
    ['vmid', { op: 'TLBI_NH_VAA', vmid: 0x10000, addr: 0, leaf: false, num: 0, scale: 0, tg: 0, ttl: 0 }],
    ['addr', { op: 'TLBI_NH_VAA', vmid: 0, addr: 4095, leaf: false, num: 0, scale: 0, tg: 0, ttl: 0 }],
    ['asid', { op: 'TLBI_NH_ASID', asid: 0x10000, vmid: 0 }],
    ['vmid', { op: 'TLBI_NH_ASID', asid: 0, vmid: 0x10000 }],
    ['vmid', { op: 'TLBI_S12_VMALL', vmid: 0x10000 }],
    ['cs', { ...sync, cs: 4 }],
    ['msh', { ...sync, msh: 4 }],
    ['msiattr', { ...sync, msiattr: 0x10 }],
    ['msidata', { ...sync, msidata: 2 ** 32 }],
    ['msidata', { ...sync, msidata: -1 }],
    ['msiaddr', { ...sync, msiaddr: 0x1002 }],
    ['msiaddr', { ...sync, msiaddr: 2 ** 52 }],
    ['sid', { op: 'CFGI_STE', sid: 2 ** 32, leaf: false }],
    ['opcode', { op: 'UNKNOWN', opcode: 0x100, words: [0, 0, 0, 0] }],
    ['opcode', { op: 'UNKNOWN', opcode: OP.CMD_SYNC, words: [OP.CMD_SYNC, 0, 0, 0] }],
    ['words[2]', { op: 'UNKNOWN', opcode: 0x7f, words: [0x7f, 0, 2 ** 32, 0] }],
    ['opcode', { op: 'UNKNOWN', opcode: 0x7f, words: [0x7e, 0, 0, 0] }],
  ];

  it.each(bad)('RangeError naming %s', (field, c) => {
    expect(() => encode(c)).toThrow(RangeError);
    expect(() => encode(c)).toThrow(field); // substring of the message
    expect(() => encodeInto(c, new Int32Array(CMD_WORDS), 0)).toThrow(RangeError);
  });

  it('accepts the largest value of every field', () => {
    expect(() =>
      encode({ ...va, asid: 0xffff, vmid: 0xffff, addr: MAX_ADDR, num: 31, scale: 31 }),
    ).not.toThrow();
    expect(() => encode({ ...sync, cs: 3, msidata: 0xffffffff, msiaddr: MAX_MSIADDR })).not.toThrow();
    expect(() => encode({ op: 'CFGI_STE', sid: 0xffffffff, leaf: true })).not.toThrow();
  });
});

// ---- formatting -------------------------------------------------------------------------------

describe('formatCommand', () => {
  it('prints one line per command', () => {
    expect(
      formatCommand({
        op: 'TLBI_NH_VA',
        asid: 1,
        vmid: 0,
        addr: 0x12345000,
        leaf: true,
        num: 0,
        scale: 0,
        tg: 0,
        ttl: 0,
      }),
    ).toBe('TLBI_NH_VA asid=1 vmid=0 addr=0x12345000 leaf=1 num=0 scale=0 tg=0 ttl=0');
    expect(
      formatCommand({ op: 'CMD_SYNC', cs: CS_SEV, msh: 0, msiattr: 0, msidata: 5, msiaddr: 0x1c0 }),
    ).toBe('CMD_SYNC cs=SEV msidata=0x5 msiaddr=0x1c0');
    expect(formatCommand({ op: 'CMD_SYNC', cs: CS_IRQ, msh: 3, msiattr: 0xf, msidata: 0, msiaddr: 0 })).toBe(
      'CMD_SYNC cs=IRQ msidata=0x0 msiaddr=0x0 msh=3 msiattr=0xf',
    );
    expect(formatCommand({ op: 'CFGI_ALL' })).toBe('CFGI_ALL');
    expect(formatCommand({ op: 'TLBI_NH_ASID', asid: 3, vmid: 4 })).toBe('TLBI_NH_ASID asid=3 vmid=4');
    expect(formatCommand({ op: 'UNKNOWN', opcode: 0x7f, words: [0x7f, 0, 0xffffffff, 1] })).toBe(
      'UNKNOWN opcode=0x7f words=0x7f,0x0,0xffffffff,0x1',
    );
    const r = rng(3);
    for (let n = 0; n < 500; n++) {
      const line = formatCommand(randomCommand(r));
      expect(line).not.toContain('\n');
      expect(line).toMatch(/^[A-Z0-9_]+( [a-z]+=\S+)*$/);
    }
  });
});

// ---- range invalidation -----------------------------------------------------------------------

describe('tlbiRangePlan', () => {
  const fiveBitGroups = (n: number): number => Math.ceil(n.toString(2).length / 5);

  it('covers exactly [start, start + n) with disjoint contiguous commands, for n = 1..4096', () => {
    const starts = [0, 1, 7, 4096, 0x12345, 2 ** 32 - 3, 2 ** 40 - 8192];
    // Plain checks collected as messages: 28k plans through expect() would dominate the run time.
    const failures: string[] = [];
    for (const start of starts) {
      for (let n = 1; n <= 4096; n++) {
        const plan = tlbiRangePlan(start, n);
        let next = start;
        for (const e of plan) {
          // Contiguous and disjoint: each command begins where the previous one ended.
          if (e.addrPage !== next) failures.push(`${start}+${n}: gap or overlap at ${e.addrPage}`);
          if (!(e.num >= 0 && e.num <= 31 && e.scale >= 0 && e.scale <= 31))
            failures.push(`${start}+${n}: field`);
          if (e.tg !== 1 || e.ttl !== 3) failures.push(`${start}+${n}: tg/ttl`);
          next = e.addrPage + rangePages(e.num, e.scale);
        }
        if (next !== start + n) failures.push(`${start}+${n}: ends at ${next}`);
        if (plan.length < 1 || plan.length > fiveBitGroups(n))
          failures.push(`${start}+${n}: ${plan.length} cmds`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('splits as Linux does', () => {
    expect(tlbiRangePlan(0x10, 1)).toEqual([{ addrPage: 0x10, num: 0, scale: 0, tg: 1, ttl: 3 }]);
    // 1023 pages: 31 x 2^0, then 31 x 2^5 (Rob Herring's RIL example).
    expect(tlbiRangePlan(0x10001, 1023)).toEqual([
      { addrPage: 0x10001, num: 30, scale: 0, tg: 1, ttl: 3 },
      { addrPage: 0x10001 + 31, num: 30, scale: 5, tg: 1, ttl: 3 },
    ]);
    // 33 pages: 1 page then 32; 34 pages: one command of 17 x 2^1.
    expect(tlbiRangePlan(0, 33).map((e) => [e.num, e.scale])).toEqual([
      [0, 0],
      [0, 5],
    ]);
    expect(tlbiRangePlan(0, 34).map((e) => [e.num, e.scale])).toEqual([[16, 1]]);
    expect(tlbiRangePlan(0, 4096).map((e) => [e.num, e.scale])).toEqual([[0, 12]]);
    expect(tlbiRangePlan(5, 0)).toEqual([]);
  });

  it('maps the granule to TG and keeps TTL 3 for leaf pages', () => {
    expect(tlbiRangePlan(0, 33, 14).map((e) => [e.tg, e.ttl])).toEqual([
      [2, 3],
      [2, 3],
    ]);
    expect(tlbiRangePlan(0, 64, 16)).toEqual([{ addrPage: 0, num: 0, scale: 6, tg: 3, ttl: 3 }]);
  });

  it('plans encode into valid commands that the readers decode back', () => {
    const i32 = new Int32Array(CMD_WORDS);
    for (const e of tlbiRangePlan(2 ** 39, 2 ** 31 + 12345)) {
      const { num, scale, tg, ttl } = e;
      encodeInto(
        { op: 'TLBI_NH_VA', asid: 9, vmid: 0, addr: e.addrPage * 4096, leaf: true, num, scale, tg, ttl },
        i32,
        0,
      );
      expect([tlbiAddrPage(i32, 0), tlbiNum(i32, 0), tlbiScale(i32, 0)]).toEqual([
        e.addrPage,
        e.num,
        e.scale,
      ]);
    }
  });

  it('rejects what cannot be expressed', () => {
    expect(() => tlbiRangePlan(0, 1, 13)).toThrow(RangeError);
    expect(() => tlbiRangePlan(-1, 1)).toThrow(RangeError);
    expect(() => tlbiRangePlan(0, 1.5)).toThrow(RangeError);
    expect(() => tlbiRangePlan(2 ** 40, 1)).toThrow(RangeError); // ends past a 52-bit address
    expect(() => tlbiRangePlan(0, 2 ** 33)).toThrow(RangeError); // would need SCALE 33
  });

  it('rangePages is (num + 1) * 2^scale', () => {
    expect(rangePages(0, 0)).toBe(1);
    expect(rangePages(31, 31)).toBe(32 * 2 ** 31);
    expect(rangePages(16, 1)).toBe(34);
  });
});
