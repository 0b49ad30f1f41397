// The SMMU engine against the specification, in-thread and deterministic: commands are written into
// the queue, CR0.CMDQEN is cleared, and run() consumes everything pending before it sees CR0 (it
// only looks at CR0 with the queue empty), stopping at the first CERROR_ILL it cannot get past.
import { describe, expect, it } from 'vitest';
import { nowNs } from '../src/concurrency/clock.js';
import { DEFAULTS, type Config } from '../src/config/config.js';
import { CommandChecker, Ill } from '../src/hardware/command-check.js';
import {
  CS_IRQ,
  CS_SEV,
  OP,
  OPCODE_NAMES,
  TG_16K,
  TG_4K,
  TG_64K,
  encodeInto,
  writeRaw,
  type Command,
} from '../src/hardware/commands.js';
import { Iotlb, IOTLB_SET_BYTES, IOTLB_WAYS, iotlbSetIdx } from '../src/hardware/iotlb.js';
import {
  allocate,
  cmdqEntryIdx,
  computeLayout,
  ctlIdx,
  Ctl,
  ecmdqEntryIdx,
  ecmdqQueueOff,
  ecmdqRegIdx,
  Phase,
  pteIdx,
  smmuStatsBase,
  VA_BASE_PAGE,
} from '../src/hardware/layout.js';
import { RegisterFile } from '../src/hardware/regfile.js';
import {
  CMDQ_CONS_ERR_SHIFT,
  CMDQ_ERR_ILL,
  CR0_CMDQEN,
  ECMDQ_CONS_ENACK,
  ECMDQ_CONS_ERR,
  ECMDQ_CONS_ERR_REASON_SHIFT,
  ECMDQ_INDEX_MASK,
  ECMDQ_PROD_EN,
  GERROR_CMDQ_ERR,
  GERROR_CMDQP_ERR,
  IDR0_ASID16,
  IDR0_S1P,
  IDR1_CMDQS_SHIFT,
  IDR5_GRAN16K,
  IDR5_GRAN4K,
  IDR5_GRAN64K,
  Q_BASE_RA,
} from '../src/hardware/registers.js';
import { qIdx, queueIncN } from '../src/hardware/queue.js';
import { SmmuEngine, type CommandSink, type SmmuTiming } from '../src/hardware/smmu-engine.js';
import { resetSmmu } from '../src/hardware/smmu-reset.js';
import { Smmu } from '../src/hardware/smmu-stats.js';
import { layoutParamsFor } from '../src/workload/params.js';

/** Bit 62 (RA) of CMDQ_BASE, in its high half. */
const Q_BASE_RA_HI = Q_BASE_RA / 2 ** 32;
const SPIN = { park: false, spinNs: 0, drainIdx: -1, drainAt: 0 };

function rig(
  opts: { ril?: boolean; cpus?: number; base?: (off: number, shift: number) => [number, number] } = {},
) {
  const cfg: Config = { ...DEFAULTS, cpus: opts.cpus ?? 2, domains: 'per-cpu' } as Config;
  const layout = computeLayout(layoutParamsFor(cfg, 'batched'));
  const views = allocate(layout);
  const regs = new RegisterFile(views.i32, layout);
  resetSmmu(regs, { msi: false, sev: false, ril: opts.ril ?? true }, layout.domains);
  // CMDQ_BASE as Linux writes it, as two halves: Q_BASE_RWA (bit 62) | ADDR | LOG2SIZE.
  const [lo, hi] = opts.base
    ? opts.base(layout.cmdqOff, layout.queueShift)
    : [layout.cmdqOff + layout.queueShift, Q_BASE_RA_HI];
  const b = regs.index('CMDQ_BASE');
  Atomics.store(views.i32, b, lo);
  Atomics.store(views.i32, b + 1, hi);
  regs.write32('CR0', CR0_CMDQEN);
  Atomics.store(views.i32, ctlIdx(layout, Ctl.PHASE), Phase.MEASURE);
  const iotlb = new Iotlb(views.i32, layout, SPIN);
  /** Map page p of domain d and fill the IOTLB with it. */
  const fill = (asid: number, page: number): void => {
    Atomics.store(views.i32, pteIdx(layout, asid - 1, page - VA_BASE_PAGE), 100 + page);
    iotlb.translate(asid, page);
  };
  /** Writes queue entries (raw halves or command values) from queue index `start` on. */
  const put = (cmds: (Command | number[])[], start: number): void =>
    cmds.forEach((c, i) => {
      const w = cmdqEntryIdx(layout, qIdx(layout.queueShift, start + i));
      if (Array.isArray(c)) writeRaw(views.i32, w, c);
      else encodeInto(c, views.i32, w);
    });
  /** Queue entries (raw halves or command values), then consume them all. */
  /** `start`: CMDQ_CONS (index and wrap) before the first entry, for commands that wrap the queue. */
  /** `timing`, `sink`: the engine's modelled latencies (0 by default) and its command log. */
  const run = (
    cmds: (Command | number[])[],
    start = 0,
    timing: SmmuTiming = { tlbiNs: 0, syncNs: 0 },
    sink: CommandSink | null = null,
  ) => {
    put(cmds, start);
    regs.write32('CMDQ_CONS', start);
    regs.write32('CMDQ_PROD', queueIncN(layout.queueShift, start, cmds.length));
    const engine = new SmmuEngine(views, layout, timing, SPIN, sink);
    engine.bringUp();
    regs.write32('CR0', 0);
    engine.run();
    const f = views.f64;
    const st = smmuStatsBase(layout);
    return {
      engine,
      cons: regs.read32('CMDQ_CONS'),
      gerror: regs.read32('GERROR'),
      removed: f[st + Smmu.IOTLB_INVALIDATIONS],
      byOp: (op: number) => f[st + Smmu.BY_OPCODE + op],
    };
  };
  return { layout, views, regs, iotlb, fill, put, run };
}

const P = VA_BASE_PAGE;
const va = (asid: number, page: number, o: Partial<Command> = {}): Command =>
  ({
    op: 'TLBI_NH_VA',
    asid,
    vmid: 0,
    addr: page * 4096,
    leaf: true,
    num: 0,
    scale: 0,
    tg: 0,
    ttl: 0,
    ...o,
  }) as Command;
const SYNC: Command = { op: 'CMD_SYNC', cs: CS_SEV, msh: 3, msiattr: 0xf, msidata: 0, msiaddr: 0 };

/** One legal instance of every opcode, as Linux would write it where Linux writes it. */
const EVERY: Command[] = [
  { op: 'PREFETCH_CONFIG', ssv: false, ssid: 0, sid: 1 },
  { op: 'PREFETCH_ADDR', ssv: false, ssid: 0, sid: 1, size: 2, addr: 0x1000 },
  { op: 'CFGI_STE', sid: 1, leaf: true },
  { op: 'CFGI_ALL' },
  { op: 'CFGI_STE_RANGE', sid: 8, range: 2 },
  { op: 'CFGI_CD', ssid: 0, sid: 1, leaf: true },
  { op: 'CFGI_CD_ALL', sid: 1 },
  { op: 'TLBI_NH_ALL', vmid: 0 },
  { op: 'TLBI_NH_ASID', asid: 1, vmid: 0 },
  va(1, P, { tg: TG_4K, ttl: 3 }),
  { op: 'TLBI_NH_VAA', vmid: 0, addr: P * 4096, leaf: true, num: 0, scale: 0, tg: 0, ttl: 0 },
  { op: 'TLBI_EL2_ALL' },
  { op: 'TLBI_EL2_ASID', asid: 1 },
  { op: 'TLBI_EL2_VA', asid: 1, addr: 0x1000, leaf: true, num: 0, scale: 0, tg: 0, ttl: 0 },
  { op: 'TLBI_EL2_VAA', addr: 0x1000, leaf: true, num: 0, scale: 0, tg: 0, ttl: 0 },
  { op: 'TLBI_S12_VMALL', vmid: 0 },
  { op: 'TLBI_S2_IPA', vmid: 0, addr: 0x1000, leaf: true, num: 0, scale: 0, tg: 0, ttl: 0 },
  { op: 'TLBI_NSNH_ALL' },
  { op: 'ATC_INV', global: false, ssv: false, ssid: 0, sid: 1, size: 0, addr: 0x1000 },
  { op: 'PRI_RESP', ssv: false, ssid: 0, sid: 1, grpid: 3, resp: 1 },
  { op: 'RESUME', resp: 1, sid: 1, stag: 7 },
  { op: 'STALL_TERM', sid: 1 },
  SYNC,
];

describe('SMMU engine: acceptance', () => {
  it('accepts every defined opcode and counts each once', () => {
    const r = rig().run(EVERY);
    expect(r.engine.errors).toEqual([]);
    expect(r.cons).toBe(EVERY.length);
    for (const code of Object.values(OP))
      expect(r.byOp(code), `opcode 0x${code.toString(16)}`).toBe(code === OP.CFGI_ALL ? 2 : 1);
  });

  it('advertises what a driver needs: S1P, AArch64 tables, 4K/16K/64K granules, AIDR by feature', () => {
    const { regs } = rig({ ril: true });
    expect(regs.read32('IDR0') & IDR0_S1P).toBe(IDR0_S1P);
    expect((regs.read32('IDR0') >>> 2) & 3).toBe(2); // TTF = AArch64
    expect(regs.read32('IDR0') & IDR0_ASID16).toBe(0); // 2 ASIDs fit in 8 bits
    expect(regs.read32('IDR5') & 0x77).toBe(IDR5_GRAN4K | IDR5_GRAN16K | IDR5_GRAN64K | 5);
    expect(regs.read32('AIDR')).toBe(2); // RIL: SMMUv3.2
    expect(rig({ ril: false }).regs.read32('AIDR')).toBe(0);
    expect(rig({ cpus: 300 }).regs.read32('IDR0') & IDR0_ASID16).toBe(IDR0_ASID16);
  });
});

describe('SMMU engine: effects', () => {
  it('TLBI_NH_VA honours TG: (NUM+1) << SCALE granules of 4K, 16K or 64K', () => {
    for (const [tg, pages] of [
      [TG_4K, 4],
      [TG_16K, 16],
      [TG_64K, 64],
    ]) {
      const t = rig();
      for (let p = 0; p < pages + 4; p++) t.fill(1, P + p);
      const inRange = (): number => t.iotlb.entries().filter((e) => e.page < P + pages).length;
      const before = inRange();
      const outside = t.iotlb.entries().length - before;
      expect(before).toBeGreaterThan(0);
      // NUM = 1, SCALE = 1: 4 granules.
      const r = t.run([va(1, P, { tg, num: 1, scale: 1, ttl: 3 }), SYNC]);
      expect(r.engine.errors).toEqual([]);
      expect(r.removed, `tg ${tg}`).toBe(before);
      expect(inRange()).toBe(0);
      expect(t.iotlb.entries().length).toBe(outside); // the pages just past the range stay
    }
  });

  it("warm(), the engine's early take of a TLBI's set line, changes no word of the IOTLB", () => {
    const t = rig();
    for (let p = 0; p < 8; p++) t.fill(1, P + p);
    const lo = t.layout.iotlbOff >> 2;
    const words = (t.layout.iotlbSets * IOTLB_SET_BYTES) / 4;
    const before = Array.from(t.views.i32.subarray(lo, lo + words));
    for (let p = 0; p < 16; p++) t.iotlb.warm(1, P + p);
    expect(Array.from(t.views.i32.subarray(lo, lo + words))).toEqual(before);
    // And a queue of TLBIs revealed by one PROD read (each warmed first) still removes them all.
    const r = t.run([...Array.from({ length: 8 }, (_, p) => va(1, P + p)), SYNC], 0, {
      tlbiNs: 1,
      syncNs: 1,
    });
    expect(r.removed).toBe(8);
    expect(t.iotlb.entries().filter((e) => e.asid === 1)).toEqual([]);
  });

  it('a TLBI writes only the first 64-byte line of its IOTLB set (the lock and the tags)', () => {
    const t = rig();
    const words = (t.layout.iotlbSets * IOTLB_SET_BYTES) / 4;
    const lo = t.layout.iotlbOff >> 2;
    // One page of ASID 1 and one of ASID 2 in the same set (sets = (page + asid * 0x9e37) & mask).
    const a = P;
    let b = P;
    while (b < P + t.layout.pagesPerDomain - 1 && t.iotlb.setOf(2, b) !== t.iotlb.setOf(1, a)) b++;
    expect(t.iotlb.setOf(2, b)).toBe(t.iotlb.setOf(1, a));
    const line0 = iotlbSetIdx(t.layout, t.iotlb.setOf(1, a));
    // Two rounds, so that the round-robin victim reaches every way, way 3 included.
    for (let round = 0; round < IOTLB_WAYS / 2; round++) {
      t.fill(1, a);
      t.fill(2, b);
      expect(t.iotlb.entries().length).toBe(2);
      const before = t.views.i32.slice(lo, lo + words);
      t.regs.write32('CR0', CR0_CMDQEN); // run() leaves the queue disabled
      const r = t.run([va(1, a), va(2, b), SYNC]);
      expect(r.engine.errors).toEqual([]);
      expect(t.iotlb.entries()).toEqual([]);
      const changed: number[] = [];
      for (let i = 0; i < words; i++) if (t.views.i32[lo + i] !== before[i]) changed.push(lo + i - line0);
      // Each entry's ASID word cleared, and the set lock taken and released: nothing beyond line 0.
      expect(changed.length, `round ${round}`).toBe(2);
      for (const i of changed) expect(i >= 0 && i < 16, `word ${i} of the set`).toBe(true);
    }
  });

  it('TLBI_NH_VAA removes the VA for every ASID; NH_VA and NH_ASID only their ASID; VMID != 0 nothing', () => {
    const t = rig();
    t.fill(1, P);
    t.fill(2, P);
    t.fill(1, P + 1);
    t.fill(2, P + 1);
    const r = t.run([
      va(1, P, { vmid: 5 }), // another VMID: no entry of ours
      { op: 'TLBI_NH_ASID', asid: 1, vmid: 5 },
      { op: 'TLBI_NH_VAA', vmid: 0, addr: P * 4096, leaf: true, num: 0, scale: 0, tg: 0, ttl: 0 },
      va(2, P + 1),
      SYNC,
    ]);
    expect(r.removed).toBe(3);
    expect(t.iotlb.entries().map((e) => [e.asid, e.page - P])).toEqual([[1, 1]]);
  });

  it('TLBI_NH_ALL, S12_VMALL (VMID 0) and NSNH_ALL flush everything; EL2 and S2 TLBIs nothing', () => {
    for (const flush of [
      { op: 'TLBI_NH_ALL', vmid: 0 },
      { op: 'TLBI_S12_VMALL', vmid: 0 },
      { op: 'TLBI_NSNH_ALL' },
    ] as Command[]) {
      const t = rig();
      t.fill(1, P);
      t.fill(2, P + 3);
      const r = t.run([{ op: 'TLBI_EL2_ALL' }, { op: 'TLBI_NH_ALL', vmid: 1 }, flush, SYNC]);
      expect(r.removed, flush.op).toBe(2);
    }
  });

  // The IOTLB holds stage-1 entries of VMID 0 only (the driver's domains): another VMID finds none.
  it.each<Command>([
    va(1, P, { vmid: 5 }),
    va(1, P, { vmid: 5, tg: TG_4K, ttl: 3, num: 3 }),
    { op: 'TLBI_NH_VAA', vmid: 5, addr: P * 4096, leaf: true, num: 0, scale: 0, tg: 0, ttl: 0 },
    { op: 'TLBI_NH_ASID', asid: 1, vmid: 5 },
    { op: 'TLBI_NH_ALL', vmid: 5 },
    { op: 'TLBI_S12_VMALL', vmid: 5 },
  ])('$op with VMID 5 removes nothing of VMID 0', (cmd) => {
    const t = rig();
    for (let p = 0; p < 4; p++) t.fill(1, P + p);
    const before = t.iotlb.entries().length;
    expect(before).toBe(4);
    const r = t.run([cmd, SYNC]);
    expect(r.engine.errors).toEqual([]);
    expect(r.removed).toBe(0);
    expect(t.iotlb.entries().length).toBe(before);
  });

  it('a CMD_SYNC with CS=IRQ and MSIADDR 0 writes nothing at address 0', () => {
    const t = rig();
    t.views.i32[0] = 0x1234;
    const r = t.run([{ ...SYNC, cs: CS_IRQ, msidata: 0xdead, msiaddr: 0 } as Command]);
    expect(r.engine.errors).toEqual([]);
    expect(t.views.i32[0]).toBe(0x1234);
  });

  it('CMDQ_BASE: RA (bit 62) and the bits above ADDR do not move the queue', () => {
    const t = rig({ base: (off, shift) => [off + shift, (3 << 30) | 0] }); // bits 63 and 62
    const r = t.run([SYNC, SYNC]);
    expect(r.engine.errors).toEqual([]);
    expect(r.cons).toBe(2);
    expect(r.byOp(OP.CMD_SYNC)).toBe(2);
  });

  it('CMDQ_BASE.LOG2SIZE above IDR1.CMDQS acts as CMDQS: the queue wraps where CMDQS says', () => {
    // CMDQS = the layout's queue (2^8 entries) and LOG2SIZE one more: two CMD_SYNCs in the last slot
    // and, after the wrap, the first. Uncapped, the second would be read from past the queue's end.
    const t = rig({ base: (off, shift) => [off + shift + 1, Q_BASE_RA_HI] });
    const shift = t.layout.queueShift;
    t.regs.write32('IDR1', shift << IDR1_CMDQS_SHIFT);
    const last = (1 << shift) - 1;
    const r = t.run([SYNC, SYNC], last);
    expect(r.engine.errors).toEqual([]);
    expect(r.cons).toBe((1 << shift) | 1); // index 1, wrap bit 8 toggled
    expect(r.byOp(OP.CMD_SYNC)).toBe(2);
  });
});

/** Raw halves with one bit of the 128 set on top of `words` (bit 0..63: word 0, 64..127: word 1). */
const withBit = (words: number[], bit: number): number[] => {
  const h = [...words];
  h[bit >> 5] = (h[bit >> 5] | (1 << (bit & 31))) >>> 0;
  return h;
};
/** The RES0 part of the reason: the offending bits as the engine prints them. */
const res0Bits = (bit: number): string => {
  const v = 1n << BigInt(bit & 63);
  return bit < 64 ? `word0 0x${v.toString(16)}, word1 0x0` : `word0 0x0, word1 0x${v.toString(16)}`;
};
/** Range TLBI fields in their places (SMMUv3 4.4.1.1; Linux CMDQ_TLBI_0_NUM/SCALE, _1_TTL/TG). */
const range = (op: number, f: { tg?: number; ttl?: number; num?: number; scale?: number }): number[] => [
  op | ((f.num ?? 0) << 12) | ((f.scale ?? 0) << 20),
  op === OP.TLBI_NH_VA ? 1 << 16 : 0, // ASID 1
  ((f.ttl ?? 0) << 8) | ((f.tg ?? 0) << 10) | (P * 4096),
  0,
];

/**
 * RES0 bits per opcode, from the SMMUv3 command layouts (chapter 4) and Linux's CMDQ_* masks, not
 * from commands.ts's table: each lies just outside a field, or where another command has a field.
 */
const RES0_BITS: Record<keyof typeof OP, number[]> = {
  PREFETCH_CONFIG: [8, 64], // w0 [10:8]; word 1 all RES0
  PREFETCH_ADDR: [8, 10],
  CFGI_STE: [8, 12, 65], // no SSID; w1 [63:1]
  CFGI_ALL: [8, 12, 69], // CFGI_STE_RANGE: w1 above RANGE [4:0]
  CFGI_CD: [8, 65],
  CFGI_CD_ALL: [8, 12, 64],
  TLBI_NH_ALL: [8, 12, 48, 64], // VMID only
  TLBI_NH_ASID: [8, 12, 20, 64, 72], // no NUM/SCALE, no LEAF, no TTL
  TLBI_NH_VA: [8, 17, 25, 65, 71], // above NUM, SCALE bit 25 (DS = 0), w1 [7:1]
  TLBI_NH_VAA: [8, 48, 65], // no ASID
  TLBI_EL2_ALL: [8, 32, 48, 64], // nothing at all
  TLBI_EL2_ASID: [8, 32, 64], // no VMID
  TLBI_EL2_VA: [8, 32, 65],
  TLBI_EL2_VAA: [8, 32, 48, 65],
  TLBI_S12_VMALL: [8, 48, 64],
  TLBI_S2_IPA: [8, 48, 65, 116], // no ASID; IPA is [51:12] only
  TLBI_NSNH_ALL: [8, 32, 48, 64],
  ATC_INV: [8, 10, 70], // w1 above SIZE [5:0]
  PRI_RESP: [8, 73, 78], // w1 above PRGINDEX [8:0], above RESP [13:12]
  RESUME: [8, 14, 80], // w0 above RESP [13:12]; w1 above STAG [15:0]
  STALL_TERM: [8, 12, 64],
  CMD_SYNC: [8, 14, 21, 28, 64, 65, 116], // around CS, MSH, MSIATTR; w1 [1:0], above MSIADDR [51:2]
};

type IllCase = { name: string; words: number[]; ril?: boolean; code: Ill; reason: string };

const ILL_CASES: IllCase[] = [
  ...[0x00, 0x07, 0x18, 0x1a, 0x47, 0xff].map((op) => {
    const hex = `0x${op.toString(16).padStart(2, '0')}`;
    return {
      name: `opcode ${hex}`,
      words: [op, 0, 0, 0],
      code: Ill.UNDEFINED_OPCODE,
      reason: `undefined opcode ${hex} (SMMUv3 4.1)`,
    };
  }),
  {
    name: 'CMD_SYNC CS = 0b11',
    words: [OP.CMD_SYNC | (3 << 12), 0, 0, 0],
    code: Ill.CS_RESERVED,
    reason: 'CMD_SYNC: CS = 0b11 is reserved (SMMUv3 4.7.3)',
  },
  ...(Object.keys(RES0_BITS) as (keyof typeof OP)[]).flatMap((name) =>
    RES0_BITS[name].map((bit) => ({
      name: `${name} bit ${bit}`,
      words: withBit([OP[name], 0, 0, 0], bit),
      code: Ill.RES0,
      reason: `${name}: RES0 bits set (${res0Bits(bit)})`,
    })),
  ),
  ...[OP.TLBI_NH_VA, OP.TLBI_NH_VAA, OP.TLBI_EL2_VA, OP.TLBI_EL2_VAA, OP.TLBI_S2_IPA].flatMap((op) =>
    (['tg', 'ttl', 'num', 'scale'] as const).map((field) => ({
      name: `${OPCODE_NAMES[op]} ${field} without RIL`,
      words: range(op, { [field]: 1 }),
      ril: false,
      code: Ill.RANGE_WITHOUT_RIL,
      reason: `${OPCODE_NAMES[op]}: TG/TTL/NUM/SCALE set but IDR3.RIL = 0, where they are RES0 (SMMUv3 4.4.1.1)`,
    })),
  ),
  {
    name: 'a range field and a RES0 bit without RIL: RES0',
    words: withBit(range(OP.TLBI_NH_VA, { tg: TG_4K, ttl: 3 }), 17),
    ril: false,
    code: Ill.RES0,
    reason: 'TLBI_NH_VA: RES0 bits set (word0 0x20000, word1 0x700)', // bit 17, TG and TTL
  },
  ...(['num', 'scale', 'ttl'] as const).map((field) => ({
    name: `TLBI_NH_VA ${field} with TG = 0`,
    words: range(OP.TLBI_NH_VA, { [field]: 1 }),
    code: Ill.TG0_RANGE_FIELDS,
    reason: 'TLBI_NH_VA: NUM/SCALE/TTL set with TG = 0, where they are RES0 (SMMUv3 4.4.1.1)',
  })),
  ...(
    [
      [TG_4K, '4K'],
      [TG_16K, '16K'],
      [TG_64K, '64K'],
    ] as const
  ).map(([tg, size]) => ({
    name: `TLBI_NH_VAA TG = ${size}, NUM = SCALE = TTL = 0`,
    words: range(OP.TLBI_NH_VAA, { tg }),
    code: Ill.RANGE_RESERVED,
    reason: `TLBI_NH_VAA: TG = ${size} with NUM = SCALE = TTL = 0 is reserved (SMMUv3 4.4.1.1)`,
  })),
  {
    name: 'TG = 16K with TTL = 0b01 (IDR5.DS = 0)',
    words: range(OP.TLBI_NH_VA, { tg: TG_16K, ttl: 1 }),
    code: Ill.TTL_RESERVED,
    reason: 'TLBI_NH_VA: TG = 16K with TTL = 0b01 needs IDR5.DS = 1 (SMMUv3 4.4.1.1)',
  },
];

/** Next to each rule, what it must not catch. */
const LEGAL_CASES: { name: string; words: number[]; ril?: boolean }[] = [
  ...Object.entries(OP).map(([name, op]) => ({ name: `${name}, all fields 0`, words: [op, 0, 0, 0] })),
  { name: 'CMD_SYNC CS = SEV, MSH = ISH, MSIATTR = OIWB', words: [0x0fc02046, 0, 0, 0] },
  {
    name: 'CMD_SYNC CS = SEV, MSIADDR [51:2] all ones',
    words: [OP.CMD_SYNC | (2 << 12), 0, 0xfffffffc, 0xfffff],
  },
  { name: 'Linux: TG = 4K, TTL = 3, NUM = SCALE = 0', words: range(OP.TLBI_NH_VA, { tg: TG_4K, ttl: 3 }) },
  { name: 'TG = 16K, TTL = 2', words: range(OP.TLBI_NH_VA, { tg: TG_16K, ttl: 2 }) },
  { name: 'TG = 64K, TTL = 0, NUM = 31', words: range(OP.TLBI_NH_VA, { tg: TG_64K, num: 31 }) },
  { name: 'TG = 4K, SCALE only', words: range(OP.TLBI_NH_VAA, { tg: TG_4K, scale: 3 }) },
  { name: 'no RIL, TG = 0', words: range(OP.TLBI_NH_VA, {}), ril: false },
];

describe('SMMU engine: modelled time (hardware/model-time.ts)', () => {
  it("a command starts once the one before has spent its latency; TLBI effects land between their completion and the CMD_SYNC's; busy time is exact", () => {
    const t = rig();
    const tlbiNs = 1_000_000; // well above the engine's set-up time, so that a missing wait shows
    const syncNs = 2_000_000;
    for (let p = 0; p < 16; p++) t.fill(1, P + p);
    // The sink sees each command when it is counted, before its latency is spent: command i no
    // earlier than the modelled completion of command i - 1 (the run started after `start`).
    const logged: { at: number; cached: number }[] = [];
    const sink = {
      append(): void {
        logged.push({ at: nowNs(), cached: t.iotlb.entries().length });
      },
    };
    const cmds = [...Array.from({ length: 16 }, (_, i) => va(1, P + i)), SYNC];
    const start = nowNs();
    const r = t.run(cmds, 0, { tlbiNs, syncNs }, sink);
    const end = nowNs();
    expect(r.engine.errors).toEqual([]);
    expect(r.removed).toBe(16);
    expect(logged.length).toBe(17);
    logged.forEach((l, i) => {
      expect(l.at, `command ${i}`).toBeGreaterThanOrEqual(start + i * tlbiNs);
      // The TLBIs' invalidations are held back (hardware/smmu-engine.ts holdBack()) until the
      // CMD_SYNC, which comes after the last TLBI's completion: none lands before its own.
      expect(l.cached, `entries left when command ${i} starts`).toBe(i < 16 ? 16 : 0);
    });
    expect(end).toBeGreaterThanOrEqual(start + 16 * tlbiNs + syncNs);
    const f = t.views.f64;
    const st = smmuStatsBase(t.layout);
    expect(f[st + Smmu.BUSY_NS]).toBe(16 * tlbiNs + syncNs);
    expect(f[st + Smmu.COMMANDS_CONSUMED]).toBe(17);
    expect(f[st + Smmu.IOTLB_INVALIDATIONS]).toBe(16);
  });

  it('a TLBI held back is applied before CONS passes it: at a lazy CONS update, with no CMD_SYNC', () => {
    const t = rig();
    // More TLBIs than a lazy CONS update covers (every 1/8 of the 256-entry queue: 32), fewer than
    // are ever held back (64): the update after command 31 must apply commands 0-31 first.
    const n = 40;
    // Pages 0-15 and 24-31 cached (24 entries); the TLBIs go to pages 8-39, then 0-7, so that the
    // first 32 cover 16 cached pages and the last 8 the other 8.
    for (const p of [
      ...Array.from({ length: 16 }, (_, i) => i),
      ...Array.from({ length: 8 }, (_, i) => 24 + i),
    ])
      t.fill(1, P + p);
    expect(t.iotlb.entries().length).toBe(24);
    const pages = [...Array.from({ length: 32 }, (_, i) => 8 + i), ...Array.from({ length: 8 }, (_, i) => i)];
    const cached: number[] = [];
    const sink = { append: (): number => cached.push(t.iotlb.entries().length) };
    const r = t.run(
      pages.map((p) => va(1, P + p)),
      0,
      { tlbiNs: 0, syncNs: 0 },
      sink,
    );
    expect(r.cons).toBe(n);
    expect(r.removed).toBe(24);
    expect(cached.slice(0, 32)).toEqual(Array.from({ length: 32 }, () => 24)); // all held back
    // CONS went past the first 32 TLBIs: their 16 entries are gone, pages 0-7's not yet.
    expect(cached.slice(32)).toEqual(Array.from({ length: 8 }, () => 8));
    expect(t.iotlb.entries()).toEqual([]);
  });
});

describe('SMMU engine: the warm-up and the measured window (hardware/smmu-stats.ts)', () => {
  it("counts the warm-up in the scratch block; TLBIs held back across the window's start count where they ran", () => {
    const t = rig();
    for (let p = 0; p < 8; p++) t.fill(1, P + p);
    const { layout, views, regs, put } = t;
    // A lazy CONS update every 1/8 of the queue (32 commands) comes after all nine: none applies
    // the held-back TLBIs before the CMD_SYNC does.
    expect(1 << layout.queueShift).toBe(256);
    const i32 = views.i32;
    put(
      [0, 1, 2, 3].map((p) => va(1, P + p)),
      0,
    );
    regs.write32('CMDQ_CONS', 0);
    regs.write32('CMDQ_PROD', 4);
    Atomics.store(i32, ctlIdx(layout, Ctl.PHASE), Phase.WARMUP);
    const engine = new SmmuEngine(views, layout, { tlbiNs: 0, syncNs: 0 }, SPIN);
    engine.bringUp();
    // The window opens while the engine checks command 3 (a TLBI, held back like 0-2): its look at
    // the doorbell after that command finds commands 4-8, and the PROD read that reveals them sees
    // the phase. The CMD_SYNC at 8 applies all eight invalidations.
    const checker = (engine as unknown as { checker: { check: (w: Int32Array, at: number) => number } })
      .checker;
    const check = checker.check.bind(checker);
    let checked = 0;
    checker.check = (w, at) => {
      if (checked++ === 3) {
        put([...[4, 5, 6, 7].map((p) => va(1, P + p)), SYNC], 4);
        regs.write32('CMDQ_PROD', 9);
        Atomics.store(i32, ctlIdx(layout, Ctl.PHASE), Phase.MEASURE);
      }
      return check(w, at);
    };
    regs.write32('CR0', 0);
    engine.run();
    expect(checked).toBe(9);
    expect(regs.read32('CMDQ_CONS')).toBe(9);
    expect(t.iotlb.entries()).toEqual([]);
    const f = views.f64;
    const counts = (warmup: boolean) => {
      const b = smmuStatsBase(layout, warmup);
      return {
        consumed: f[b + Smmu.COMMANDS_CONSUMED],
        tlbi: f[b + Smmu.BY_OPCODE + OP.TLBI_NH_VA],
        sync: f[b + Smmu.BY_OPCODE + OP.CMD_SYNC],
        removed: f[b + Smmu.IOTLB_INVALIDATIONS],
      };
    };
    // TLBIs 0-3 ran in the warm-up: their invalidations, applied inside the window, count there.
    expect(counts(true)).toEqual({ consumed: 4, tlbi: 4, sync: 0, removed: 4 });
    expect(counts(false)).toEqual({ consumed: 5, tlbi: 4, sync: 1, removed: 4 });
  });
});

describe('SMMU engine: CERROR_ILL, per opcode and field', () => {
  it.each(ILL_CASES)('$name', ({ words, ril, code, reason }) => {
    // Two legal commands first: the error names the third command of the queue's stream.
    const r = rig({ ril: ril ?? true }).run([SYNC, SYNC, words]);
    expect(r.engine.errors.map((e) => [e.queue, e.index, e.reason])).toEqual([[0, 2, reason]]);
    expect(r.engine.errors[0].words).toEqual(words.map((v) => v >>> 0));
    expect(r.cons).toBe(2 | (CMDQ_ERR_ILL << CMDQ_CONS_ERR_SHIFT));
    expect(r.gerror & GERROR_CMDQ_ERR).toBe(GERROR_CMDQ_ERR);
    expect(r.byOp(OP.CMD_SYNC)).toBe(2);
    const w = Int32Array.from(words);
    expect(new CommandChecker(ril ?? true).check(w, 0)).toBe(code);
  });

  it.each(LEGAL_CASES)('accepts $name', ({ words, ril }) => {
    const r = rig({ ril: ril ?? true }).run([words, SYNC]);
    expect(r.engine.errors).toEqual([]);
    expect(r.cons).toBe(2);
    expect(new CommandChecker(ril ?? true).check(Int32Array.from(words), 0)).toBe(Ill.OK);
  });
});

/**
 * An SMMUv3.3 with an ECMDQ per CPU, enabled as Linux does after CR0.CMDQEN. post() queues entries on
 * queue k (0: the normal queue, 1 + n: ECMDQ n); run() clears CMDQEN and consumes everything that
 * can be consumed: the multi-queue loop only looks at CR0 once every queue is empty or stopped.
 */
function ecmdqRig(cpus = 2) {
  const cfg: Config = { ...DEFAULTS, cpus, domains: 'per-cpu' } as Config;
  const layout = computeLayout(layoutParamsFor(cfg, 'ecmdq'));
  const views = allocate(layout);
  const i32 = views.i32;
  const regs = new RegisterFile(i32, layout);
  resetSmmu(regs, { msi: false, sev: false, ril: true }, layout.domains);
  regs.write64('CMDQ_BASE', layout.cmdqOff + layout.queueShift);
  regs.write32('CR0', CR0_CMDQEN);
  Atomics.store(i32, ctlIdx(layout, Ctl.PHASE), Phase.MEASURE);
  const engine = new SmmuEngine(views, layout, { tlbiNs: 0, syncNs: 0 }, SPIN);
  engine.bringUp();
  for (let n = 0; n < cpus; n++) {
    Atomics.store(i32, ecmdqRegIdx(layout, n, 'ECMDQ_BASE'), ecmdqQueueOff(layout, n) + layout.queueShift);
    Atomics.store(i32, ecmdqRegIdx(layout, n, 'ECMDQ_PROD'), ECMDQ_PROD_EN);
  }
  const entry = (k: number, i: number): number =>
    k === 0 ? cmdqEntryIdx(layout, i) : ecmdqEntryIdx(layout, k - 1, i);
  const prodIdx = (k: number): number =>
    k === 0 ? regs.index('CMDQ_PROD') : ecmdqRegIdx(layout, k - 1, 'ECMDQ_PROD');
  const consOf = (k: number): number =>
    Atomics.load(i32, k === 0 ? regs.index('CMDQ_CONS') : ecmdqRegIdx(layout, k - 1, 'ECMDQ_CONS')) >>> 0;
  const post = (k: number, cmds: (Command | number[])[]): void => {
    cmds.forEach((c, i) => {
      if (Array.isArray(c)) writeRaw(i32, entry(k, i), c);
      else encodeInto(c, i32, entry(k, i));
    });
    Atomics.store(i32, prodIdx(k), (k === 0 ? 0 : ECMDQ_PROD_EN) | cmds.length);
  };
  const run = (): void => {
    regs.write32('CR0', 0);
    engine.run();
  };
  const f = views.f64;
  const st = smmuStatsBase(layout);
  const byOp = (op: number): number => f[st + Smmu.BY_OPCODE + op];
  return { engine, regs, post, run, consOf, byOp };
}

describe('SMMU engine: ECMDQ errors (SMMUv3.3 3.5.6.3)', () => {
  const BAD = [0x7f, 0, 0, 0];
  const ASID = (asid: number): Command => ({ op: 'TLBI_NH_ASID', asid, vmid: 0 });

  it('an error on the normal command queue stops that queue only: every ECMDQ runs to its end', () => {
    const t = ecmdqRig(2);
    // Round-robin, one command per queue per turn: the normal queue fails on the second turn, while
    // both ECMDQs still have three commands each to go.
    t.post(0, [SYNC, BAD, SYNC]);
    t.post(1, [ASID(1), ASID(1), ASID(1), ASID(1), SYNC]);
    t.post(2, [ASID(2), ASID(2), ASID(2), ASID(2), SYNC]);
    t.run();
    expect(t.engine.errors.map((e) => [e.queue, e.index, e.cons])).toEqual([[0, 1, 1]]);
    expect(t.consOf(0)).toBe(1 | (CMDQ_ERR_ILL << CMDQ_CONS_ERR_SHIFT));
    expect(t.regs.read32('GERROR') ^ t.regs.read32('GERRORN')).toBe(GERROR_CMDQ_ERR);
    expect(t.consOf(1)).toBe((ECMDQ_CONS_ENACK | 5) >>> 0);
    expect(t.consOf(2)).toBe((ECMDQ_CONS_ENACK | 5) >>> 0);
    expect(t.byOp(OP.TLBI_NH_ASID)).toBe(8);
    expect(t.byOp(OP.CMD_SYNC)).toBe(3); // the normal queue's first, both ECMDQs' last
  });

  it('an error on one ECMDQ stops that ECMDQ only: the other ECMDQ and the normal queue run to their end', () => {
    const t = ecmdqRig(2);
    t.post(0, [ASID(1), ASID(2), ASID(1), ASID(2), SYNC]);
    t.post(1, [ASID(1), BAD, SYNC]);
    t.post(2, [ASID(2), ASID(2), ASID(2), ASID(2), SYNC]);
    t.run();
    expect(t.engine.errors.map((e) => [e.queue, e.index, e.cons])).toEqual([[1, 1, 1]]);
    // ECMDQ 0: RD stays on the bad entry, ERR toggled (from 0) with ERR_REASON = ILL, still enabled.
    expect(t.consOf(1) & ECMDQ_INDEX_MASK).toBe(1);
    expect(t.consOf(1) & ECMDQ_CONS_ERR).toBe(ECMDQ_CONS_ERR >>> 0);
    expect((t.consOf(1) >>> ECMDQ_CONS_ERR_REASON_SHIFT) & 7).toBe(CMDQ_ERR_ILL);
    expect((t.consOf(1) & ECMDQ_CONS_ENACK) >>> 0).toBe(ECMDQ_CONS_ENACK >>> 0);
    // Reported through GERROR.CMDQP_ERR, not CMDQ_ERR; the normal queue has no error.
    expect(t.regs.read32('GERROR') ^ t.regs.read32('GERRORN')).toBe(GERROR_CMDQP_ERR);
    expect(t.consOf(0)).toBe(5);
    expect(t.consOf(2)).toBe((ECMDQ_CONS_ENACK | 5) >>> 0);
    expect(t.byOp(OP.TLBI_NH_ASID)).toBe(4 + 1 + 4);
    expect(t.byOp(OP.CMD_SYNC)).toBe(2);
  });
});
