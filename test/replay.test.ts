// `replay`: raw command streams through the real queue, registers and SMMU engine (a worker from
// dist/, as in a run). Every strategy's own --cmd-log replays clean with exactly the counts the run
// reported; hand-built streams check each opcode, CERROR_ILL handling (index across queue wraps,
// reason, the CMD_SYNC that replaces it), Linux 6.1's strict-unmap submission, bad input and JSON.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cmdLogPath, runConfig } from '../src/index.js';
import { replayMain, REPLAY_SCHEMA_VERSION, type ReplayDocument } from '../src/cli/replay.js';
import { DEFAULTS } from '../src/config/config.js';
import { CS_SEV, encode, OP, TG_4K, type Command } from '../src/hardware/commands.js';
import { replayStream, type ReplayOptions } from '../src/run/replay.js';
import { STRATEGY_NAMES } from '../src/driver/strategies/index.js';
import type { ResultDocument } from '../src/report/types.js';
import { config } from './helpers/runs.js';

const dir = mkdtempSync(join(tmpdir(), 'tlbsync-replay-'));
let fileNo = 0;

/** Entries as 16-byte little-endian commands, written to a fresh file. */
function streamFile(entries: readonly Uint8Array[]): string {
  const path = join(dir, `s${fileNo++}.bin`);
  writeFileSync(path, Buffer.concat(entries));
  return path;
}

/** A raw entry: word halves, word 0 low first (for opcodes commands.ts has no encoder for). */
function raw(w0lo: number, w0hi = 0, w1lo = 0, w1hi = 0): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  [w0lo, w0hi, w1lo, w1hi].forEach((x, i) => v.setUint32(i * 4, x >>> 0, true));
  return b;
}

const cmd = (c: Command): Uint8Array => encode(c);
const SYNC_SEV = cmd({ op: 'CMD_SYNC', cs: CS_SEV, msh: 3, msiattr: 0xf, msidata: 0, msiaddr: 0 });
const NH_ASID = cmd({ op: 'TLBI_NH_ASID', asid: 1, vmid: 0 });
/** A range TLBI_NH_VA as Linux 6.1 writes it (TG=4K, TTL=3, LEAF): (num + 1) << scale pages. */
const rangeVa = (num: number, scale: number): Uint8Array =>
  cmd({ op: 'TLBI_NH_VA', asid: 1, vmid: 0, addr: 0x80000000, leaf: true, num, scale, tg: TG_4K, ttl: 3 });

/** Commands built with commands.ts's encoder, CMD_SYNC last. */
const ENCODED = [
  cmd({ op: 'CFGI_STE', sid: 0x10, leaf: true }),
  cmd({ op: 'CFGI_ALL' }),
  cmd({ op: 'TLBI_NH_ALL', vmid: 0 }),
  NH_ASID,
  cmd({ op: 'TLBI_NH_VA', asid: 1, vmid: 0, addr: 0x80000000, leaf: true, num: 0, scale: 0, tg: 0, ttl: 0 }),
  cmd({ op: 'TLBI_NH_VAA', vmid: 0, addr: 0x80000000, leaf: true, num: 0, scale: 0, tg: 0, ttl: 0 }),
  cmd({ op: 'TLBI_EL2_ALL' }),
  cmd({ op: 'TLBI_S12_VMALL', vmid: 1 }),
  cmd({ op: 'TLBI_NSNH_ALL' }),
  SYNC_SEV,
];

/** The other commands the spec defines and Linux sends (Linux's CMDQ_OP_* values), written raw as a captured stream holds them. */
const RAW_ONLY = [
  raw(0x01, 0x10), // PREFETCH_CONFIG SID 0x10
  raw(0x02, 0x10), // PREFETCH_ADDR SID 0x10, SIZE 0, ADDR 0
  raw(0x04, 0x10, 4), // CFGI_STE_RANGE: SIDs 0x10-0x1f (RANGE 4)
  raw(0x05, 0x10, 1), // CFGI_CD SID 0x10 SSID 0, LEAF
  raw(0x06, 0x10), // CFGI_CD_ALL SID 0x10
  raw(0x21, 1 << 16), // TLBI_EL2_ASID ASID 1
  raw(0x22, 1 << 16, 0x80000001), // TLBI_EL2_VA ASID 1, LEAF, ADDR 0x80000000
  raw(0x2a, 1, 0x80000001), // TLBI_S2_IPA VMID 1, LEAF, ADDR 0x80000000
  raw(0x40, 0x10), // ATC_INV SID 0x10, SIZE 0, ADDR 0
  raw(0x41, 0x10), // PRI_RESP SID 0x10, GRPID 0, RESP DENY
  raw(0x44, 0x10), // RESUME SID 0x10, STAG 0, ACTION retry
];

async function replay(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await replayMain(
    args,
    { write: (s: string) => (out += s) },
    { write: (s: string) => (err += s) },
  );
  return { code, out, err };
}

async function replayJson(args: string[]): Promise<{ code: number; doc: ReplayDocument; err: string }> {
  const json = join(dir, `r${fileNo++}.json`);
  const { code, err } = await replay([...args, '--json', json]);
  return { code, err, doc: JSON.parse(readFileSync(json, 'utf8')) as ReplayDocument };
}

const OPTS: ReplayOptions = {
  tlbiNs: 0,
  syncNs: 0,
  queueEntries: 8,
  features: { ril: true, msi: true, sev: true },
};

describe('replay of every strategy’s own command log', () => {
  const base = join(dir, 'cmds');
  const msiBase = join(dir, 'msi');
  let doc: ResultDocument;
  let msiDoc: ResultDocument;
  beforeAll(async () => {
    doc = (await runConfig(config({ strategies: [...STRATEGY_NAMES], cmdLog: base }), () => {})).doc;
    // MSI-mode CMD_SYNCs carry addresses of the run's buffer: the replay must redirect them.
    msiDoc = (
      await runConfig(
        config({ strategies: ['batched', 'lockfree', 'ecmdq'], syncMode: 'msi', cmdLog: msiBase }),
        () => {},
      )
    ).doc;
  }, 120_000);

  it('accepts each log and counts exactly what the run consumed', async () => {
    const runs = [
      ...doc.runs.map((r) => ({ r, file: cmdLogPath(base, r.strategy) })),
      ...msiDoc.runs.map((r) => ({ r, file: cmdLogPath(msiBase, r.strategy) })),
    ];
    expect(runs.length).toBe(STRATEGY_NAMES.length + 3);
    for (const { r, file } of runs) {
      const { code, doc: rep, err } = await replayJson([file, '--tlbi-ns', '100', '--sync-ns', '1000']);
      expect({ strategy: r.strategy, code, err }).toEqual({ strategy: r.strategy, code: 0, err: '' });
      expect(rep.commands).toBe(r.commands.total);
      expect(rep.consumed.total).toBe(r.commands.total);
      for (const [op, n] of Object.entries(r.commands.byOpcode))
        expect(rep.consumed.byOpcode[op] ?? 0, `${r.strategy} ${op}`).toBe(n);
      expect(rep.errors).toEqual([]);
      const syncs = r.commands.byOpcode.CMD_SYNC;
      expect(rep.serviceNs).toBe(100 * (r.commands.total - syncs) + 1000 * syncs);
      // Only MSI-mode CMD_SYNCs (CS=IRQ) carry an address of the run's memory.
      expect(rep.msiRetargeted, r.strategy).toBe(msiDoc.runs.includes(r) ? syncs : 0);
      // One PROD write per batch of at most a queue's worth (256 entries).
      expect(rep.prodWrites).toBeGreaterThanOrEqual(Math.ceil(r.commands.total / 256));
    }
  }, 120_000);
});

describe('hand-built streams', () => {
  it('a CERROR_ILL is reported with its index and reason, replaced with a CMD_SYNC, and replay goes on', async () => {
    // 64 commands through an 8-entry queue: the bad one at 37 is in the fifth lap.
    const entries = Array.from({ length: 64 }, (_, i) => (i % 4 === 3 ? SYNC_SEV : NH_ASID));
    entries[37] = raw(0x7f, 0x1234);
    const r = await replayStream(Buffer.concat(entries), OPTS);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({
      index: 37,
      error: 'ILL',
      reason: 'undefined opcode 0x7f (SMMUv3 4.1)',
    });
    expect(r.errors[0].words).toEqual(['0x0000007f', '0x00001234', '0x00000000', '0x00000000']);
    // The bad entry is not consumed; the CMD_SYNC that replaced it is.
    expect(r.consumed.byOpcode).toEqual({ TLBI_NH_ASID: 47, CMD_SYNC: 17 });
    expect(r.prodWrites).toBeGreaterThanOrEqual(64 / 8);
  });

  it('an undefined opcode exits 1 with one CERROR_ILL line naming the index and reason', async () => {
    const f = streamFile([NH_ASID, raw(0x7f), SYNC_SEV]);
    const { code, out } = await replay([f]);
    expect(code).toBe(1);
    const lines = out.split('\n').filter((l) => l.startsWith('CERROR_'));
    expect(lines).toEqual([
      'CERROR_ILL at command 1 (byte 16): undefined opcode 0x7f (SMMUv3 4.1): UNKNOWN opcode=0x7f words=0x7f,0x0,0x0,0x0; replaced with CMD_SYNC',
    ]);
  });

  it('a CMD_SYNC with CS=3 exits 1 with a CERROR_ILL at its index', async () => {
    const f = streamFile([NH_ASID, raw(OP.CMD_SYNC | (3 << 12)), SYNC_SEV]);
    const { code, doc } = await replayJson([f]);
    expect(code).toBe(1);
    expect(doc.errors.map((e) => [e.index, e.error])).toEqual([[1, 'ILL']]);
    expect(doc.errors[0].reason).toBe('CMD_SYNC: CS = 0b11 is reserved (SMMUv3 4.7.3)');
  });

  it('names each CERROR_ILL with the engine’s own reason (command-check.ts), under the SMMU’s IDR3.RIL', async () => {
    const range = rangeVa(1, 0);
    const entries = [
      raw(OP.TLBI_NH_ASID | (1 << 8), 1 << 16), // word 0 bit 8: RES0 in every command
      range, // legal with RIL, RES0 without
      raw(OP.TLBI_NH_VA, 1 << 16, 0x80000000 | (1 << 10)), // TG = 4K, NUM = SCALE = TTL = 0
      SYNC_SEV,
    ];
    const ril = await replayStream(Buffer.concat(entries), OPTS);
    expect(ril.errors.map((e) => [e.index, e.reason])).toEqual([
      [0, 'TLBI_NH_ASID: RES0 bits set (word0 0x100, word1 0x0)'],
      [2, 'TLBI_NH_VA: TG = 4K with NUM = SCALE = TTL = 0 is reserved (SMMUv3 4.4.1.1)'],
    ]);
    const noRil = await replayStream(Buffer.concat(entries), {
      ...OPTS,
      features: { ...OPTS.features, ril: false },
    });
    expect(noRil.errors.map((e) => [e.index, e.reason])).toEqual([
      [0, 'TLBI_NH_ASID: RES0 bits set (word0 0x100, word1 0x0)'],
      [1, 'TLBI_NH_VA: TG/TTL/NUM/SCALE set but IDR3.RIL = 0, where they are RES0 (SMMUv3 4.4.1.1)'],
      [2, 'TLBI_NH_VA: TG/TTL/NUM/SCALE set but IDR3.RIL = 0, where they are RES0 (SMMUv3 4.4.1.1)'],
    ]);
  });

  it('a stream of every command the specification defines and Linux sends is accepted', async () => {
    const entries = [...RAW_ONLY, ...ENCODED];
    const { code, doc } = await replayJson([streamFile(entries)]);
    expect(doc.errors).toEqual([]);
    expect(code).toBe(0);
    expect(doc.consumed.total).toBe(entries.length);
  });

  it('the commands built with the encoder are accepted and counted one each', async () => {
    const r = await replayStream(Buffer.concat(ENCODED), { ...OPTS, tlbiNs: 10, syncNs: 100 });
    expect(r.errors).toEqual([]);
    expect(r.consumed.byOpcode).toEqual({
      CFGI_STE: 1,
      CFGI_ALL: 1,
      TLBI_NH_ALL: 1,
      TLBI_NH_ASID: 1,
      TLBI_NH_VA: 1,
      TLBI_NH_VAA: 1,
      TLBI_EL2_ALL: 1,
      TLBI_S12_VMALL: 1,
      TLBI_NSNH_ALL: 1,
      CMD_SYNC: 1,
    });
    expect(Object.keys(r.invalidations.byOpcode)).toHaveLength(7);
    expect(r.invalidations.vaPages).toBe(2);
    expect(r.serviceNs).toBe(9 * 10 + 100);
  });

  it('Linux 6.1 strict unmap with RIL (range TLBI_NH_VA, 64 pages, polled CMD_SYNC) replays clean', async () => {
    const tlbi = rangeVa(0, 6);
    const sync = SYNC_SEV;
    // What the facts file says Linux 6.1 writes for a polled CMD_SYNC: dword 0 = 0x000000000fc02046.
    expect(new DataView(sync.buffer).getBigUint64(0, true)).toBe(0x0fc02046n);
    const { code, doc } = await replayJson([streamFile([tlbi, sync])]);
    expect(code).toBe(0);
    expect(doc.consumed.byOpcode).toEqual({ TLBI_NH_VA: 1, CMD_SYNC: 1 });
    expect(doc.invalidations.vaPages).toBe(64);
    expect(doc.smmu.ril).toBe(true);
    expect(doc.prodWrites).toBe(1);
    expect(doc.serviceNs).toBe(DEFAULTS.tlbiNs + DEFAULTS.syncNs);
  });

  it('Linux 6.1 bring-up (facts file: CFGI_ALL, TLBI_NSNH_ALL, per device CFGI_STE x2, PREFETCH_CONFIG, TLBI_NH_ASID) replays clean', async () => {
    const ste = cmd({ op: 'CFGI_STE', sid: 0x10, leaf: true });
    const entries = [
      cmd({ op: 'CFGI_ALL' }),
      SYNC_SEV,
      cmd({ op: 'TLBI_NSNH_ALL' }),
      SYNC_SEV,
      ste,
      SYNC_SEV,
      ste,
      SYNC_SEV,
      raw(0x01, 0x10), // PREFETCH_CONFIG SID 0x10 (no CMD_SYNC after it)
      NH_ASID,
      SYNC_SEV,
    ];
    const { code, doc } = await replayJson([streamFile(entries)]);
    expect(doc.errors).toEqual([]);
    expect(code).toBe(0);
    expect(doc.consumed.byOpcode.CMD_SYNC).toBe(5);
  });

  it('--json writes a versioned document that agrees with the text', async () => {
    const f = streamFile([NH_ASID, raw(0x7f), SYNC_SEV]);
    const { code, doc } = await replayJson([f, '--tlbi-ns', '1us', '--sync-ns', '2000', '--no-ril']);
    expect(code).toBe(1);
    expect(doc).toMatchObject({
      schemaVersion: REPLAY_SCHEMA_VERSION,
      kind: 'replay',
      file: f,
      accepted: false,
      commands: 3,
      smmu: {
        ril: false,
        msi: true,
        sev: true,
        queueEntries: DEFAULTS.queueEntries,
        tlbiNs: 1000,
        syncNs: 2000,
      },
      consumed: { total: 3, byOpcode: { TLBI_NH_ASID: 1, CMD_SYNC: 2 } },
      invalidations: { byOpcode: { TLBI_NH_ASID: 1 }, vaPages: 0 },
      serviceNs: 1000 + 2 * 2000,
      msiRetargeted: 0,
    });
    expect(doc.errors).toHaveLength(1);
    expect(doc.errors[0]).toMatchObject({ index: 1, error: 'ILL' });
  });
});

describe('the real binary', () => {
  it('dispatches replay: exit 0 for a clean stream, 1 for a CERROR_ILL, 2 for a 17-byte file', () => {
    const run = (f: string) =>
      spawnSync(process.execPath, [resolve(__dirname, '../dist/run.js'), 'replay', f], { encoding: 'utf8' });
    const ok = run(streamFile([NH_ASID, SYNC_SEV]));
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('CERROR_ILL: none: every command was accepted');
    const ill = run(streamFile([NH_ASID, raw(0x7f), SYNC_SEV]));
    expect(ill.status, ill.stderr).toBe(1);
    expect(ill.stdout).toContain('CERROR_ILL at command 1 (byte 16): undefined opcode 0x7f');
    const bad = run(streamFile([SYNC_SEV, new Uint8Array(1)]));
    expect(bad.status).toBe(2);
    expect(bad.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(bad.stderr).not.toMatch(/\bat \S+:\d+/); // no stack trace
  });
});

describe('bad input: one line, exit 2', () => {
  const cases: [string, () => string[], RegExp][] = [
    [
      'a 17-byte file',
      () => [streamFile([SYNC_SEV, new Uint8Array(1)])],
      /^tlbsync-emu: replay: .*s\d+\.bin: 17 bytes is not a whole number of 16-byte commands \(1 left over\)$/,
    ],
    ['an empty file', () => [streamFile([])], /: the stream is empty: no commands to replay$/],
    [
      'a missing file',
      () => [join(dir, 'none.bin')],
      /^tlbsync-emu: replay: cannot read .*: no such file or directory$/,
    ],
    ['a directory', () => [dir], /: it is a directory$/],
    [
      'a bad --tlbi-ns',
      () => [streamFile([SYNC_SEV]), '--tlbi-ns', 'x'],
      /^tlbsync-emu: --tlbi-ns: expected/,
    ],
    [
      'a bad --queue-entries',
      () => [streamFile([SYNC_SEV]), '--queue-entries', '100'],
      /^tlbsync-emu: --queue-entries: 100 is not a power of two/,
    ],
    ['no FILE', () => [], /^tlbsync-emu: replay: missing required argument 'FILE'/],
    [
      'an unknown flag',
      () => [streamFile([SYNC_SEV]), '--bogus'],
      /^tlbsync-emu: replay: unknown option '--bogus'/,
    ],
  ];
  for (const [what, args, re] of cases)
    it(what, async () => {
      const { code, out, err } = await replay(args());
      expect(code).toBe(2);
      expect(out).toBe('');
      expect(err.endsWith('\n')).toBe(true);
      expect(err.trimEnd().split('\n')).toHaveLength(1);
      expect(err.trimEnd()).toMatch(re);
    });
});
