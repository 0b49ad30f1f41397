// The virtual engine's driver state (src/virtual/state.ts): the IOVA allocator, page tables, IOTLB,
// device reads and safety oracle run on the run's real layout. Every safe strategy is clean at 1, 8
// and 64 CPUs and leaves nothing behind; unsafe-free-before-sync is caught in every run; the IOVA
// locks are taken exactly as often as in the threads engine; lazy's flushes are exact at 1 CPU and
// its command stream is the threads engine's.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cmdLogPath, runConfig } from '../src/index.js';
import type { ResultDocument, RunReport } from '../src/report/types.js';
import {
  runVirtual,
  type VirtualDesign,
  type VirtualResult,
  type VirtualRunOptions,
} from '../src/virtual/run.js';
import type { VirtualStrategy } from '../src/virtual/cpu.js';
import { DEFAULTS, type Config } from '../src/config/config.js';
import { VA_BASE_PAGE } from '../src/hardware/layout.js';
import { config, decodeLog, decodeWords } from './helpers/runs.js';

const CLI = resolve(__dirname, '../dist/run.js');

function run(
  cpus: number,
  strategy: VirtualStrategy,
  design: VirtualDesign,
  over: Partial<VirtualRunOptions> = {},
): VirtualResult {
  return runVirtual({
    cpus,
    strategy,
    design,
    seed: 1,
    durationNs: 300_000,
    warmupNs: 50_000,
    // Small rings and a short timer, so that lazy flushes inside a short window.
    state: { fqSize: 8, fqTimeoutMs: 0.1 },
    // Buffers stay mapped for a while, so that peer devices find live buffers to read.
    params: { dmaNs: 1000 },
    ...over,
  });
}

const lockOf = (r: RunReport, name: string): number =>
  r.locks.find((l) => l.name === name)?.acquisitions ?? 0;

describe('safe strategies: oracle clean, every IOVA freed, no IOTLB entry left', () => {
  const cases: [VirtualStrategy, VirtualDesign][] = [
    ['per-page', 'locked'],
    ['batched', 'locked'],
    ['batched', 'lockfree'],
    ['lazy', 'locked'],
  ];
  for (const cpus of [1, 8, 64])
    for (const [strategy, design] of cases)
      it(`${cpus} CPU(s), ${strategy} on ${design}`, () => {
        // At 64 CPUs an iteration takes tens of microseconds (the IOVA locks' hand-offs): a longer
        // DMA keeps buffers live long enough for peer devices to find some.
        const r = run(cpus, strategy, design, { params: { dmaNs: cpus === 64 ? 10_000 : 1000 } });
        const s = r.state!;
        expect(s.safety.staleTranslationUses).toBe(0);
        expect(s.safety.firstViolation).toBeNull();
        expect(s.totals.iterations).toBeGreaterThanOrEqual(cpus);
        // Every device read was checked: the CPUs' own pages, and their peers' reads.
        expect(s.safety.checkedTranslations).toBeGreaterThanOrEqual(s.totals.iterations * r.params.pages);
        if (cpus > 1) expect(s.safety.peerReads).toBeGreaterThan(0);
        expect(s.endState).toEqual({ iotlbEntries: 0, iotlbEntriesUnmapped: 0, iovasOutstanding: 0 });
        if (strategy === 'lazy') {
          expect(s.lazy!.flushes).toBeGreaterThan(0);
          expect(s.issuedTlbiAsid).toBe(s.lazy!.flushes);
          expect(r.consumed.TLBI_NH_ASID).toBe(r.consumed.CMD_SYNC);
          expect(r.consumed.TLBI_NH_VA).toBeUndefined();
        }
      });

  it('1 CPU: every own read misses (a fresh mapping) and every TLBI removes the entry it read', () => {
    const r = run(1, 'batched', 'locked', { params: { dmaNs: 0 } });
    const s = r.state!;
    expect(r.maps).toBeGreaterThan(10);
    expect(s.iotlb).toMatchObject({ translations: 16 * r.maps, hits: 0, misses: 16 * r.maps, faults: 0 });
    // Whole run: each consumed TLBI_NH_VA invalidated the one entry its page's read filled.
    expect(s.iotlb.invalidations).toBe(r.consumed.TLBI_NH_VA);
    // The window's share (the threads engine's Smmu.IOTLB_INVALIDATIONS): one per page unmapped,
    // give or take the unmap straddling each end of the window.
    expect(Math.abs(s.iotlb.invalidationsMeasured - 16 * r.unmaps)).toBeLessThanOrEqual(32);
    expect(r.consumed.TLBI_NH_VA).toBe(16 * s.totals.iterations);
  });

  it('1 CPU: the rcache hands back the IOVA just freed, so the stream is the stateless one', () => {
    const r = run(1, 'batched', 'lockfree', { recordCommands: true });
    const cmds = decodeWords(r.commandWords!);
    expect(cmds.length).toBe(17 * r.state!.totals.iterations);
    for (let i = 0; i < cmds.length; i += 17) {
      for (let p = 0; p < 16; p++)
        expect(cmds[i + p]).toMatchObject({ op: 'TLBI_NH_VA', asid: 1, addr: (VA_BASE_PAGE + p) * 4096 });
      expect(cmds[i + 16].op).toBe('CMD_SYNC');
    }
  });

  it('one seed gives a byte-identical result with the state; another seed a different one', () => {
    const a = run(8, 'lazy', 'lockfree', { seed: 3 });
    const b = run(8, 'lazy', 'lockfree', { seed: 3 });
    const c = run(8, 'lazy', 'lockfree', { seed: 4 });
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(JSON.stringify(c)).not.toBe(JSON.stringify(a));
  });
});

describe('unsafe-free-before-sync is caught in every run (deterministic: 1 of 1 per seed)', () => {
  // The lock-free queue at 2 CPUs with an SMMU slower per TLBI (300 ns) than the CPU inserts one:
  // the freeing CPU's TLBIs pile up behind the other CPU's CMD_SYNC, the other CPU's sync completes,
  // it allocates the IOVA just freed (the rbtree's free list is LIFO), maps it and its device reads
  // the pages before their TLBIs have run: the entries filled from the old mapping are still there.
  const unsafe = (
    seed: number,
    strategy: VirtualStrategy = 'unsafe-free-before-sync',
    design: VirtualDesign = 'lockfree',
  ) => run(2, strategy, design, { seed, params: { tlbiNs: 300 } });
  for (const seed of [1, 2, 3, 4, 5])
    it(`seed ${seed}`, () => {
      const s = unsafe(seed).state!;
      expect(s.iova).toBe('rbtree');
      expect(s.safety.staleTranslationUses).toBeGreaterThan(0);
      const v = s.safety.firstViolation!;
      expect(v.asid).toBe(1);
      expect(v.currentGeneration).toBeGreaterThan(v.entryGeneration);
      expect(v.iova).toMatch(/^0x[0-9a-f]+000$/);
      // Virtual ns from the IOVA's unmap to the stale use: after the map, before the TLBIs ran.
      expect(v.nsAfterUnmap).toBeGreaterThan(0);
      expect(v.nsAfterUnmap).toBeLessThan(100_000);
    });

  // More CPUs contend for {prod, cons}, so each inserts more slowly: the SMMU must be slower still
  // (1 us per TLBI) to fall behind; at 64 CPUs the IOTLB must hold every CPU's buffer (64 x 16
  // pages), or the stale entries are evicted before they are used.
  for (const [cpus, seeds, iotlbEntries] of [
    [8, [1, 2, 3], 256],
    [64, [1, 2], 4096],
  ] as const)
    it(`${cpus} CPUs, 1 us per TLBI, seeds ${seeds.join(', ')}`, () => {
      for (const seed of seeds) {
        const s = run(cpus, 'unsafe-free-before-sync', 'lockfree', {
          seed,
          params: { tlbiNs: 1000, dmaNs: 1000 },
          state: { iotlbEntries },
        }).state!;
        expect(s.safety.staleTranslationUses, `seed ${seed}`).toBeGreaterThan(0);
      }
    });

  // unsafe-free-before-sync through the CLI, as a user runs it: every run is caught (exit code 5,
  // the SAFETY line on stderr); returns the --json document.
  const cliUnsafe = (seed: number, args: readonly string[]): ResultDocument => {
    const dir = mkdtempSync(join(tmpdir(), 'vunsafe-'));
    const json = join(dir, 'r.json');
    const r = spawnSync(
      process.execPath,
      [
        CLI,
        ...['--engine', 'virtual', '--strategy', 'unsafe-free-before-sync'],
        ...args,
        ...['--seed', String(seed), '--json', json, '-q'],
      ],
      { encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(5);
    expect(r.stderr).toMatch(/SAFETY: stale translation uses in unsafe-free-before-sync/);
    return JSON.parse(readFileSync(json, 'utf8')) as ResultDocument;
  };

  // Through the CLI, as a user runs it (docs/virtual-time.md: the parameters that open the window):
  // 2 CPUs on the lock-free queue, 300 ns per TLBI, buffers mapped 1 us; every seed caught, exit 5.
  for (const seed of [1, 2, 3])
    it(`CLI, seed ${seed}: --json reports stale translation uses, exit code 5`, () => {
      const doc = cliUnsafe(seed, [
        ...['--cmdq', 'lockfree', '--cpus', '2', '--tlbi-ns', '300', '--dma-ns', '1000'],
        ...['--duration', '1ms'],
      ]);
      const run = doc.runs[0];
      expect(run.engine).toBe('virtual');
      expect(run.safety.staleTranslationUses).toBeGreaterThan(0);
      expect(run.safety.firstViolation!.currentGeneration).toBeGreaterThan(
        run.safety.firstViolation!.entryGeneration,
      );
    });

  // The other two designs, as a user runs them (docs/virtual-time.md, "unsafe-free-before-sync in
  // virtual time"): ECMDQs at the default parameters with 8 CPUs (each CPU's queue drains on its
  // own, so a CPU that allocates the IOVA another just freed maps and reads it while the freeing
  // CPU's TLBIs still wait behind the SMMU's round over the other queues); the 2017 queue with MSI
  // completion (its waiter spins outside the cmdq lock) and an SMMU at 1 us a TLBI.
  for (const seed of [1, 2, 3])
    it(`CLI, ECMDQs at the default parameters, 8 CPUs, seed ${seed}: caught, exit code 5`, () => {
      const doc = cliUnsafe(seed, ['--cmdq', 'ecmdq', '--cpus', '8', '--duration', '2ms']);
      expect(doc.config.cmdq).toBe('ecmdq');
      expect(doc.config.tlbiNs).toBe(DEFAULTS.tlbiNs);
      expect(doc.config.syncMode).toBe(DEFAULTS.syncMode);
      expect(doc.runs[0].safety.staleTranslationUses).toBeGreaterThan(0);
    });
  for (const seed of [1, 2, 3])
    it(`CLI, the 2017 queue with MSI completion, 1 us a TLBI, 2 CPUs, seed ${seed}: caught, exit code 5`, () => {
      const doc = cliUnsafe(seed, [
        ...['--cmdq', 'locked', '--cpus', '2', '--sync-mode', 'msi'],
        ...['--tlbi-ns', '1000', '--dma-ns', '1000', '--duration', '2ms'],
      ]);
      expect(doc.config.cmdq).toBe('locked');
      expect(doc.runs[0].safety.staleTranslationUses).toBeGreaterThan(0);
    });

  it('the same settings with the safe ordering (batched) are clean', () => {
    for (const seed of [1, 2]) expect(unsafe(seed, 'batched').state!.safety.staleTranslationUses).toBe(0);
  });

  it('with per-CPU rcaches the early free is not observed (the IOVA comes back to its own CPU only)', () => {
    const r = run(2, 'unsafe-free-before-sync', 'lockfree', {
      params: { tlbiNs: 300 },
      state: { iova: 'rcache' },
    });
    expect(r.state!.iova).toBe('rcache');
    expect(r.state!.safety.staleTranslationUses).toBe(0);
    expect(r.state!.safety.peerReads).toBeGreaterThan(0);
  });

  it('the 2017 queue with polled CMD_SYNC masks the early free at 2 CPUs (the sync drains the queue under the cmdq lock)', () => {
    expect(unsafe(1, 'unsafe-free-before-sync', 'locked').state!.safety.staleTranslationUses).toBe(0);
  });
});

describe('the IOVA locks run the --lock algorithm (as in the threads engine)', () => {
  // 64 CPUs on the lock-free queue with iova_rbtree_lock the only allocator lock: the queue at the
  // allocator decides the rate. The ticket lock's every hand-off re-reads `serving` on every
  // spinner's core (O(N) transfers), MCS's one transfer to the successor's node: measured 83 vs
  // 229 unmaps in 1 ms, every ticket acquisition contended at ~300 us, no MCS one.
  const at64 = (lock: 'ticket' | 'mcs') =>
    run(64, 'batched', 'lockfree', {
      lock,
      durationNs: 1e6,
      warmupNs: 200_000,
      state: { iova: 'rbtree' },
      params: {},
    });
  it('64 CPUs: ticket queues every taker for ~hundreds of us, mcs hands over in one transfer', () => {
    const ticket = at64('ticket');
    const mcs = at64('mcs');
    const t = ticket.state!.locks.iova;
    const m = mcs.state!.locks.iova;
    expect(t.contentions).toBe(t.acquisitions);
    expect(t.waitTotal / t.contentions).toBeGreaterThan(100_000);
    expect(m.acquisitions).toBeGreaterThan(2 * t.acquisitions);
    expect(m.contentions).toBeLessThan(m.acquisitions / 10);
    expect(mcs.unmaps).toBeGreaterThan(2 * ticket.unmaps);
    for (const r of [ticket, mcs]) expect(r.state!.totals.unpairedLocks).toEqual([]);
  });
});

describe('IOVA lock acquisitions at 1 CPU, against the threads engine', () => {
  const threads = async (iova: 'rcache' | 'rbtree'): Promise<RunReport> =>
    (
      await runConfig(
        config({ cpus: 1, strategies: ['batched'], iova, durationMs: 100, warmupMs: 20 }),
        () => {},
      )
    ).doc.runs[0];

  it('rcache: the CPU lock twice per unmap (alloc, free), the depot and rbtree once at the first miss', async () => {
    const t = await threads('rcache');
    expect(t.totals.unmaps).toBeGreaterThan(0);
    expect(lockOf(t, 'rcache')).toBe(2 * t.totals.unmaps);
    // The first miss (depot, then rbtree) falls in the warm-up unless a loaded host let the
    // warm-up end before the first unmap: then it is in the window, once each.
    expect(lockOf(t, 'depot')).toBeLessThanOrEqual(1);
    expect(lockOf(t, 'iova')).toBe(lockOf(t, 'depot'));
    const s = run(1, 'batched', 'locked').state!;
    expect(s.totals.lockAcquisitions).toEqual({ iova: 1, depot: 1, rcache: 2 * s.totals.iterations });
    // The measured window: after the warm-up's miss, only the CPU lock, uncontended.
    expect(s.locks.iova.acquisitions).toBe(0);
    expect(s.locks.depot.acquisitions).toBe(0);
    expect(s.locks.rcache.contentions).toBe(0);
    expect(s.locks.rcache.holdTotal).toBe(s.locks.rcache.acquisitions * 10); // iovaMagazineNs
  });

  it('rbtree: the rbtree lock twice per unmap', async () => {
    const t = await threads('rbtree');
    expect(lockOf(t, 'iova')).toBe(2 * t.totals.unmaps);
    // A whole threads Config may be given: the state takes only its own settings from it.
    const cfg: Config = { ...DEFAULTS, cpus: 8, iova: 'rbtree' };
    const s = run(1, 'batched', 'locked', { state: cfg }).state!;
    expect(s.totals.lockAcquisitions).toEqual({ iova: 2 * s.totals.iterations });
    // Every completed hold is iovaRbtreeNs; the run may end inside one (taken, not yet released).
    expect(s.locks.iova.holdTotal).toBe(s.locks.iova.holdSamples * 150);
    expect(s.locks.iova.acquisitions - s.locks.iova.holdSamples).toBeGreaterThanOrEqual(0);
    expect(s.locks.iova.acquisitions - s.locks.iova.holdSamples).toBeLessThanOrEqual(1);
  });
});

describe('lazy', () => {
  it("1 CPU: the unmap window holds the PTE clears only, as the threads engine's (the queue_iova comes after it)", () => {
    const r = run(1, 'lazy', 'locked');
    expect(r.unmaps).toBeGreaterThan(10);
    expect(r.meanUnmapNs).toBe(r.params.pages * r.params.pteClearNs);
    expect(r.params.pteClearNs).toBeGreaterThan(0);
    // No PTE without the state: there, the unmap is the strategy's commands only.
    const stateless = runVirtual({
      cpus: 1,
      strategy: 'batched',
      design: 'locked',
      seed: 1,
      durationNs: 100_000,
      warmupNs: 0,
    });
    const stated = run(1, 'batched', 'locked', { params: {}, durationNs: 100_000, warmupNs: 0 });
    // The clears move the SMMU's work against the CPU's a little (CONS polls): within 5 ns.
    expect(Math.abs(stated.meanUnmapNs - stateless.meanUnmapNs - 16 * r.params.pteClearNs)).toBeLessThan(5);
  });

  it('1 CPU, ring of 8, no timer: one flush per 8 unmaps and one at the drain; every IOVA freed', () => {
    const r = run(1, 'lazy', 'locked', { state: { fqSize: 8, fqTimeoutMs: 1000 } });
    const s = r.state!;
    const n = s.totals.iterations;
    expect(n).toBeGreaterThan(50);
    expect(r.consumed.TLBI_NH_ASID).toBe(Math.floor((n - 1) / 8) + 1);
    expect(s.lazy!.flushesTimeout).toBe(0);
    expect(s.lazy!.flushesFull).toBe(s.lazy!.flushes);
    expect(s.endState.iovasOutstanding).toBe(0);
    expect(s.endState.iotlbEntries).toBe(0);
  });

  it('1 CPU, ring of 256, 20 us timer: the timer flushes, claimed by the CPU', () => {
    const s = run(1, 'lazy', 'locked', { state: { fqTimeoutMs: 0.02 } }).state!;
    expect(s.lazy!.flushesTimeout).toBeGreaterThan(5);
    expect(s.lazy!.flushesFull).toBe(0);
    expect(s.lazy!.staleWindowMaxNs).toBeGreaterThan(20_000);
    expect(s.endState.iovasOutstanding).toBe(0);
  });

  it("8 CPUs: other CPUs' flushes free a ring's entries; the one domain timer fires", () => {
    const s = run(8, 'lazy', 'locked').state!;
    expect(s.lazy!.iovasFreedOthersFlush).toBeGreaterThan(0);
    expect(s.lazy!.flushesTimeout).toBeGreaterThan(0);
    // One timer per domain: at most one timeout flush per period of the window (300 us / 100 us).
    expect(s.lazy!.flushesTimeout).toBeLessThanOrEqual(4);
  });

  it("1 CPU: the command stream is the threads engine's --cmd-log (TLBI_NH_ASID + CMD_SYNC per flush)", async () => {
    const base = join(mkdtempSync(join(tmpdir(), 'vstate-')), 'log');
    await runConfig(config({ cpus: 1, pages: 4, strategies: ['lazy'], fqSize: 8, cmdLog: base }), () => {});
    const log = decodeLog(cmdLogPath(base, 'lazy'));
    const threads = log.slice(log.findIndex((c) => c.op === 'TLBI_NH_ASID'));
    const v = run(1, 'lazy', 'locked', {
      recordCommands: true,
      state: { fqSize: 8, fqTimeoutMs: 1000 },
      params: { pages: 4 },
    });
    const virtual = decodeWords(v.commandWords!);
    const n = Math.min(threads.length, virtual.length, 40) & ~1;
    expect(n).toBeGreaterThanOrEqual(6);
    expect(virtual.slice(0, n)).toEqual(threads.slice(0, n));
    expect(virtual[0]).toMatchObject({ op: 'TLBI_NH_ASID', asid: 1 });
  });
});
