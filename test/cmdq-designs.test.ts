// --cmdq: every strategy on every command-queue design, with the commands each unmap issues exact;
// the design named per run in the text report, JSON and CSV, and swept; the lockfree and ecmdq
// strategy names as aliases of batched; and ECMDQs driven by the v5.4 lock-free protocol as
// upstream merged it (PROD written with ECMDQ_PROD_EN, MSI into the CMD_SYNC's own slot).
// Workers load from dist/: run `npm run build` first.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runIdentity } from '../src/report/compare-documents.js';
import { runConfig } from '../src/index.js';
import type { Config } from '../src/config/config.js';
import { CmdBatch } from '../src/driver/cmd-batch.js';
import { CMDQ_DESIGN_NAMES, type CmdqDesign } from '../src/driver/cmdq.js';
import { EcmdqCmdq, initEcmdqCmdq } from '../src/driver/cmdq-ecmdq.js';
import { ConsPoller } from '../src/driver/cons-poll.js';
import { Mmio, MMIO_FREE } from '../src/driver/mmio.js';
import { probeSmmu } from '../src/driver/probe.js';
import { CS_IRQ, CS_SEV, decode, type Command } from '../src/hardware/commands.js';
import { tlbiRangePlan } from '../src/driver/tlbi-range.js';
import { ringDoorbell } from '../src/hardware/ecmdq.js';
import {
  cpuStatsBase,
  Ctl,
  ctlIdx,
  ecmdqDoorbellIdx,
  ecmdqEntryIdx,
  ecmdqRegIdx,
  Phase,
  VA_BASE_PAGE,
} from '../src/hardware/layout.js';
import { ECMDQ_INDEX_MASK, ECMDQ_PROD_EN } from '../src/hardware/registers.js';
import { runParam } from '../src/report/csv.js';
import type { ResultDocument, RunReport } from '../src/report/types.js';
import { CpuStats, initCpuStats } from '../src/concurrency/counters.js';
import { SPIN } from '../src/concurrency/wait.js';
import { LOCK_NAMES } from '../src/concurrency/lock.js';
import { layoutParamsFor } from '../src/workload/params.js';
import { LOCK_CLASSES } from '../src/workload/task.js';
import type { SmmuMessage } from '../src/workload/smmu-messages.js';
import { config } from './helpers/runs.js';
import { startStandaloneSmmu } from '../src/workload/smmu-standalone.js';

const RUN = resolve(__dirname, '../dist/run.js');
const dir = mkdtempSync(join(tmpdir(), 'tlbsync-cmdq-'));
const PAGES = 8;
const STRATEGIES = ['per-page', 'batched', 'range', 'lazy'];
/** Commands of the range plan of one unmap (every unmap has PAGES pages). */
const RANGE_CMDS = tlbiRangePlan(0, PAGES).length;

function cfgFor(cmdq: CmdqDesign | null, cpus: number, over: Partial<Config> = {}): Config {
  // A lazy flush queue of 16 flushes several times per run (the timeout alone would be ~10 ms);
  // parking waits, so that a 1-CPU run ("a core per thread": spin) progresses on a loaded host.
  return config({
    cpus,
    pages: PAGES,
    cmdq,
    strategies: STRATEGIES,
    durationMs: 300,
    fqSize: 16,
    wait: 'park',
    ...over,
  });
}

/** The driver side of a run, exact: what the strategy issues per unmap, as cmdlists of the design. */
function checkCounts(r: RunReport, design: CmdqDesign): void {
  const what = `${r.strategy} on ${design} at ${r.cpus} CPUs`;
  expect(r.complete, what).toBe(true);
  expect(r.cmdq, what).toBe(design);
  const u = r.totals.unmaps;
  const pages = r.totals.pagesUnmapped;
  expect(u, what).toBeGreaterThan(0);
  expect(pages, what).toBe(u * PAGES);
  const op = r.driver.commandsIssued.byOpcode;
  const flushes = r.extra.counters.flushes;
  // [TLBI_NH_VA, TLBI_NH_ASID, CMD_SYNC] and the cmdlists (one reservation each) they went in.
  const want: Record<string, [number, number, number, number]> = {
    'per-page': [pages, 0, pages, pages], // each page's TLBI + CMD_SYNC is one cmdlist
    batched: [pages, 0, u, u], // PAGES < 64: one cmdlist of P TLBIs + CMD_SYNC
    range: [u * RANGE_CMDS, 0, u, u],
    lazy: [0, flushes, flushes, flushes],
  };
  const [va, asid, sync, lists] = want[r.strategy];
  expect([op.TLBI_NH_VA, op.TLBI_NH_ASID, op.CMD_SYNC], what).toEqual([va, asid, sync]);
  expect(r.driver.commandsIssued.total, what).toBe(va + asid + sync);
  expect(r.syncWaitNs.count, what).toBe(sync);
  if (r.strategy === 'lazy') {
    expect(flushes, what).toBeGreaterThan(0);
    // The strategy's own distribution, not mixed with the lock-free queue's commandsPerOwner.
    expect(r.extra.histogram?.name, what).toBe('staleWindowNs');
    expect(r.extra.histogram?.count, what).toBe(r.extra.counters.iovasFlushed);
  }
  const cmdqLock = r.locks.find((l) => l.name === 'cmdq')!;
  if (design === 'locked') {
    expect(cmdqLock.acquisitions, what).toBeGreaterThan(0);
    expect(r.extra.counters.cmpxchgSuccesses, what).toBeUndefined();
  } else {
    expect(cmdqLock.acquisitions, what).toBe(0);
    expect(r.extra.counters.cmpxchgSuccesses, what).toBe(lists);
    // One ECMDQ per CPU: every reservation finds OWNED clear and publishes its own cmdlist.
    if (design === 'ecmdq') expect(r.extra.counters.ownerElections, what).toBe(lists);
    if (r.strategy !== 'lazy') expect(r.extra.histogram?.name, what).toBe('commandsPerOwner');
  }
  expect(r.ecmdq != null, what).toBe(design === 'ecmdq');
  expect(r.safety.staleTranslationUses, what).toBe(0);
  expect(r.endState, what).toEqual({ iotlbEntries: 0, iovasOutstanding: 0 });
}

describe.each(CMDQ_DESIGN_NAMES.flatMap((d) => [1, 2].map((cpus) => [d, cpus] as const)))(
  '--cmdq %s at %i CPU(s)',
  (design, cpus) => {
    it('runs per-page, batched, range and lazy with the exact commands per unmap', async () => {
      const { doc } = await runConfig(cfgFor(design, cpus), () => {});
      expect(doc.runs.map((r) => r.strategy)).toEqual(STRATEGIES);
      for (const r of doc.runs) checkCounts(r, design);
    }, 60_000);
  },
);

// Many CPUs under the threads engine as well (the virtual engine's side of the conformance suite
// is virtual-conformance.test.ts): every lock on the locked design, and the two lock-free designs,
// at 4 CPUs (oversubscribed here: parking waits), with the same exact counts and end state.
describe.each([
  ...LOCK_NAMES.map((lock) => ['locked', lock] as const),
  ['lockfree', 'ttas'] as const,
  ['ecmdq', 'ttas'] as const,
])('--cmdq %s --lock %s at 4 CPUs', (design, lock) => {
  it('every strategy: the exact commands per unmap, the oracle clean, every IOVA freed', async () => {
    const { doc } = await runConfig(cfgFor(design, 4, { lock }), () => {});
    expect(doc.runs.map((r) => r.strategy)).toEqual(STRATEGIES);
    for (const r of doc.runs) checkCounts(r, design);
  }, 60_000);
});

describe('without --cmdq', () => {
  it('each strategy keeps its historical design', async () => {
    const { doc } = await runConfig(
      cfgFor(null, 2, { strategies: ['per-page', 'range', 'lockfree', 'ecmdq', 'unsafe-free-before-sync'] }),
      () => {},
    );
    expect(doc.config.cmdq).toBeNull();
    expect(doc.runs.map((r) => r.cmdq)).toEqual(['locked', 'locked', 'lockfree', 'ecmdq', 'locked']);
  }, 60_000);
});

describe('the lockfree and ecmdq strategy names', () => {
  it.each(['lockfree', 'ecmdq'] as const)(
    '%s behaves as batched on that design',
    async (alias) => {
      const { doc } = await runConfig(cfgFor(alias, 2, { strategies: [alias, 'batched'] }), () => {});
      const [a, b] = doc.runs;
      expect([a.strategy, b.strategy]).toEqual([alias, 'batched']);
      for (const r of doc.runs) {
        checkCounts({ ...r, strategy: 'batched' }, alias);
        expect(Object.keys(r.extra.counters)).toEqual(Object.keys(a.extra.counters));
      }
    },
    60_000,
  );

  it('refuses a --cmdq that contradicts the alias, in one line with exit 2', () => {
    const r = spawnSync(process.execPath, [RUN, '--strategy', 'ecmdq', '--cmdq', 'lockfree'], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      'tlbsync-emu: --cmdq lockfree contradicts --strategy ecmdq (batched on the ecmdq design): ' +
        'use --strategy batched --cmdq lockfree\n',
    );
  });

  it.each([
    [['--cmdq', 'fifo'], '--cmdq: unknown value "fifo" (allowed: locked, lockfree, ecmdq)'],
    [
      ['--strategy', 'range', '--cmdq', 'ecmdq', '--queue-entries', '64'],
      '--queue-entries 64 is too small for --strategy range on --cmdq ecmdq (allowed: 128 or more',
    ],
    [
      ['--strategy', 'per-page', '--sweep', 'cmdq=locked,lockfree', '--queue-entries', '64'],
      '(at --sweep point cmdq=lockfree)',
    ],
  ])('%j: exit 2, one line', (args, msg) => {
    const r = spawnSync(process.execPath, [RUN, ...args], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.split('\n')).toHaveLength(2);
    expect(r.stderr).toContain(msg);
  });
});

describe('--sweep cmdq=locked,lockfree,ecmdq', () => {
  let doc: ResultDocument;
  let csv: string[][];
  beforeAll(() => {
    const json = join(dir, 'sweep.json');
    const csvFile = join(dir, 'sweep.csv');
    const r = spawnSync(
      process.execPath,
      [
        RUN,
        ...['--strategy', 'range,lazy', '--sweep', 'cmdq=locked,lockfree,ecmdq', '--cpus', '2', '-g', '8'],
        ...['-s', '100ms', '--warmup', '20ms', '--json', json, '--csv', csvFile],
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    doc = JSON.parse(readFileSync(json, 'utf8')) as ResultDocument;
    csv = readFileSync(csvFile, 'utf8')
      .trimEnd()
      .split('\r\n')
      .map((l) => l.split(','));
  }, 240_000);

  it('runs every strategy at each design and names the design per run in JSON and CSV', () => {
    expect(doc.runs.map((r) => `${r.strategy}@${r.cmdq}`)).toEqual([
      'range@locked',
      'lazy@locked',
      'range@lockfree',
      'lazy@lockfree',
      'range@ecmdq',
      'lazy@ecmdq',
    ]);
    for (const r of doc.runs) expect(r.params).toEqual({ cmdq: r.cmdq });
    const col = csv[0].indexOf('cmdq');
    expect(col).toBeGreaterThanOrEqual(0);
    const strat = csv[0].indexOf('strategy');
    expect(csv.slice(1).map((row) => `${row[strat]}@${row[col]}`)).toEqual(
      doc.runs.map((r) => `${r.strategy}@${r.cmdq}`),
    );
  });

  it('names the design in the text report and its config line', () => {
    // (a sweep prints its table instead of the per-run reports)
    const r = spawnSync(
      process.execPath,
      [
        RUN,
        '--strategy',
        'per-page,lockfree',
        '--cmdq',
        'lockfree',
        '--cpus',
        '1',
        '-s',
        '50ms',
        '--warmup',
        '0ms',
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^config: --strategy per-page,lockfree --cmdq lockfree /m);
    const designs = [...r.stdout.matchAll(/^command queue: (\w+); IOVA allocator: rcache$/gm)].map(
      (m) => m[1],
    );
    expect(designs).toEqual(['lockfree', 'lockfree']);
  });

  it('makes the design part of a run identity (compare) and the CSV column without a sweep', () => {
    const r = doc.runs[2];
    const unswept = { ...r, params: {} };
    expect(runIdentity(doc, unswept).cmdq).toBe('lockfree');
    expect(runParam(doc, unswept, 'cmdq')).toBe('lockfree');
  });
});

// ---- ECMDQ as upstream drives it, against the real SMMU worker -------------------------------

let stop: (() => Promise<void>) | null = null;
afterEach(async () => {
  if (stop) await stop();
  stop = null;
});

async function ecmdqRig(syncMode: 'poll' | 'msi') {
  const cfg = cfgFor('ecmdq', 1, { syncMode, strategies: ['batched'] });
  const { layout, views, regs, worker } = startStandaloneSmmu(layoutParamsFor(cfg, 'batched'), {
    features: { msi: syncMode === 'msi', sev: false, ril: false },
    timing: { tlbiNs: 0, syncNs: 0 },
    idlePolicy: { park: true, spinNs: 10_000, drainIdx: -1, drainAt: 0 },
    log: true,
  });
  const log: Command[] = [];
  const done = new Promise<void>((res, rej) => {
    worker.on('message', (m: SmmuMessage) => {
      if (m.type === 'log') for (let o = 0; o < m.chunk.length; o += 16) log.push(decode(m.chunk, o));
      else res();
    });
    worker.on('error', rej);
    worker.on('exit', () => res());
  });
  stop = async () => {
    regs.write32('CR0', 0);
    ringDoorbell(views.i32, ecmdqDoorbellIdx(layout));
    await done;
    await worker.terminate();
  };
  await probeSmmu(views, layout);
  initEcmdqCmdq(views, layout);
  Atomics.store(views.i32, ctlIdx(layout, Ctl.PHASE), Phase.MEASURE); // the SMMU logs from now on
  const base = cpuStatsBase(layout, 0, false);
  initCpuStats(views.f64, base, LOCK_CLASSES.length);
  const mmio = new Mmio(views.i32, MMIO_FREE);
  const opts = {
    cpu: 0,
    syncMode,
    syncTimeoutNs: Infinity,
    pollCs: CS_SEV,
    timed: false,
    sampleOwners: true,
    mmio,
    poll: new ConsPoller(views.i32, mmio, SPIN, 'spin', false, false),
  };
  const q = new EcmdqCmdq(views, layout, SPIN, opts, new CpuStats(views.f64, base));
  const finish = async (): Promise<Command[]> => {
    const s = stop!;
    stop = null;
    await s();
    return log;
  };
  return { views, layout, q, finish };
}

describe('ECMDQ on the lock-free cmdlist protocol', () => {
  it.each(['poll', 'msi'] as const)(
    '%s mode: the owner writes PROD | ECMDQ_PROD_EN once per cmdlist; CMD_SYNC completes',
    async (mode) => {
      const { views, layout, q, finish } = await ecmdqRig(mode);
      const i32 = views.i32;
      const prodReg = ecmdqRegIdx(layout, 0, 'ECMDQ_PROD');
      const consReg = ecmdqRegIdx(layout, 0, 'ECMDQ_CONS');
      const batch = new CmdBatch();
      for (let p = 0; p < 3; p++) batch.tlbiNhVa(1, VA_BASE_PAGE + p, true, 0, 0, 0, 0);
      q.issue(batch, true); // 3 TLBIs + CMD_SYNC: slots 0-3
      expect(Atomics.load(i32, prodReg) >>> 0).toBe((ECMDQ_PROD_EN | 4) >>> 0);
      // issue() returned after the CMD_SYNC completed: the SMMU has consumed it.
      expect((Atomics.load(i32, consReg) & ECMDQ_INDEX_MASK) >>> 0).toBeGreaterThanOrEqual(
        mode === 'msi' ? 3 : 4,
      );
      batch.reset();
      q.issue(batch, true); // a lone CMD_SYNC: slot 4
      expect(Atomics.load(i32, prodReg) >>> 0).toBe((ECMDQ_PROD_EN | 5) >>> 0);
      const log = await finish();
      expect(log.map((c) => c.op)).toEqual([
        'TLBI_NH_VA',
        'TLBI_NH_VA',
        'TLBI_NH_VA',
        'CMD_SYNC',
        'CMD_SYNC',
      ]);
      const syncs = log.filter((c) => c.op === 'CMD_SYNC');
      if (mode === 'msi') {
        // MSIADDR is the CMD_SYNC's own entry; the SMMU wrote MSIDATA = 0 over its first word.
        expect(syncs.map((c) => [c.cs, c.msiaddr, c.msidata])).toEqual([
          [CS_IRQ, ecmdqEntryIdx(layout, 0, 3) * 4, 0],
          [CS_IRQ, ecmdqEntryIdx(layout, 0, 4) * 4, 0],
        ]);
        expect(i32[ecmdqEntryIdx(layout, 0, 3)]).toBe(0);
        expect(i32[ecmdqEntryIdx(layout, 0, 4)]).toBe(0);
      } else {
        expect(syncs.map((c) => [c.cs, c.msiaddr])).toEqual([
          [CS_SEV, 0],
          [CS_SEV, 0],
        ]);
      }
    },
    30_000,
  );
});
