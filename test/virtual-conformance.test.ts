// One protocol, two engines (docs/virtual-time.md): every strategy x command-queue design x lock
// the virtual engine implements, held to the threads engine. At 1 CPU the SMMU-consumed command
// stream, decoded by hardware/commands.ts, equals the threads engine's --cmd-log for the same
// configuration (with the driver state, as the CLI runs it, and without); at 8 and 64 CPUs the
// invariants hold: exact commands per unmap, everything issued consumed once the run drains, every
// queue empty, every lock acquisition released; with the driver state also the oracle clean (safe
// strategies), every IOVA freed and no IOTLB entry of an unmapped page left; exact counts at 2
// and 256 CPUs.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cmdLogPath, runConfig } from '../src/index.js';
import { CS_SEV, decode, encode, type Command } from '../src/hardware/commands.js';
import { VA_BASE_PAGE } from '../src/hardware/layout.js';
import type { CmdqDesign, SyncMode } from '../src/config/config.js';
import { tlbiRangePlan } from '../src/driver/tlbi-range.js';
import { LOCK_NAMES, type LockName } from '../src/virtual/locks.js';
import { runVirtual, type VirtualResult } from '../src/virtual/run.js';
import { virtualPlan } from '../src/virtual/strategies.js';
import type { VirtualStrategy } from '../src/virtual/cpu.js';
import { config, decodeLog } from './helpers/runs.js';
import { canonical, decodeWords } from './helpers/virtual.js';

const STRATEGIES = ['per-page', 'batched', 'range'] as const;
/** The strategies only the driver state runs (lazy's flush queue, the early free). */
const STATE_STRATEGIES = ['lazy', 'unsafe-free-before-sync'] as const;
/** The aliases of batched on their own design. */
const ALIASES: Partial<Record<CmdqDesign, string>> = { lockfree: 'lockfree', ecmdq: 'ecmdq' };

/** The virtual strategy and design of a threads strategy name on `design`. */
function planOf(name: string, design: CmdqDesign): { strategy: VirtualStrategy; design: CmdqDesign } {
  return (STATE_STRATEGIES as readonly string[]).includes(name)
    ? { strategy: name as VirtualStrategy, design }
    : virtualPlan(name, design);
}
const DESIGNS: readonly CmdqDesign[] = ['locked', 'lockfree', 'ecmdq'];
/** The locks a design takes: only the locked design has the global cmdq lock. */
const locksOf = (d: CmdqDesign): readonly LockName[] => (d === 'locked' ? LOCK_NAMES : ['ttas']);

/** Commands per unmap of `pages` pages: [TLBI_NH_VA, CMD_SYNC]. */
function perUnmap(strategy: string, pages: number): [number, number] {
  if (strategy === 'per-page') return [pages, pages];
  if (strategy === 'lazy') return [0, 0];
  if (strategy === 'range') return [tlbiRangePlan(0, pages).length, 1];
  return [pages, 1];
}

describe('1 CPU: the same command stream as the threads engine', () => {
  // One threads run per design x lock x sync mode covers the three strategies (one --cmd-log each).
  // The lock cannot change a 1-CPU stream, but each lock is its own protocol code: all are run.
  const runs: { design: CmdqDesign; lock: LockName; syncMode: SyncMode }[] = [];
  for (const design of DESIGNS) {
    for (const lock of locksOf(design)) runs.push({ design, lock, syncMode: 'poll' });
    runs.push({ design, lock: 'ticket', syncMode: 'msi' });
  }
  // 33 pages: the range planner's two commands (1 page, then 32), beyond the rcache's 32 pages.
  for (const pages of [4, 33])
    for (const k of runs.filter((r) => pages === 4 || (r.design === 'locked' && r.lock === 'ticket')))
      it(`${k.design} queue, --lock ${k.lock}, ${k.syncMode}, ${pages} pages`, async () => {
        const base = join(mkdtempSync(join(tmpdir(), 'vconf-')), 'log');
        // With 4 pages every strategy, the design's alias too.
        const extra =
          pages === 4
            ? [...STATE_STRATEGIES, ...(ALIASES[k.design] !== undefined ? [ALIASES[k.design]!] : [])]
            : [];
        const strategies = pages === 4 ? [...STRATEGIES, ...extra] : ['range'];
        const cfg = config({
          cpus: 1,
          pages,
          strategies,
          cmdq: k.design,
          lock: k.lock,
          syncMode: k.syncMode,
          // Parking waits: this shared host is loaded, and the stream does not depend on the policy.
          wait: 'park',
          durationMs: 150,
          warmupMs: 20,
          cmdLog: base,
        });
        await runConfig(cfg, () => {});
        for (const strategy of strategies) {
          const lazy = strategy === 'lazy';
          // The log may begin inside an unmap: start both at an unmap's first TLBI (lazy: a flush's
          // TLBI_NH_ASID; its flushes are all alike, so the stream is exact even though the threads
          // engine's timer flushes come at wall-clock times and the virtual ones at virtual times).
          const log = decodeLog(cmdLogPath(base, strategy));
          const threads = log.slice(
            log.findIndex((c) =>
              lazy ? c.op === 'TLBI_NH_ASID' : c.op === 'TLBI_NH_VA' && c.addr === VA_BASE_PAGE * 4096,
            ),
          );
          const plan = planOf(strategy, k.design);
          // With the driver state (as the CLI runs it; the state's strategies need it), and
          // without: it does not change a 1-CPU stream (the rcache and the rbtree's LIFO free list
          // hand back the IOVA just freed).
          for (const stated of (STATE_STRATEGIES as readonly string[]).includes(strategy)
            ? [true]
            : [false, true]) {
            const v = runVirtual({
              cpus: 1,
              ...plan,
              lock: k.lock,
              seed: 1,
              // Lazy flushes once per 256 unmaps (the ring): a longer window for a few flushes.
              durationNs: lazy ? 3e6 : 1e6,
              warmupNs: 0,
              recordCommands: true,
              ...(stated ? { state: true } : {}),
              params: { pages, syncMode: k.syncMode, queueShift: Math.log2(cfg.queueEntries) },
            });
            if (stated) expect(v.state!.safety.staleTranslationUses, strategy).toBe(0);
            const virtual: Command[] = decodeWords(v.commandWords!);
            if (k.syncMode === 'poll')
              expect(virtual.find((c) => c.op === 'CMD_SYNC')).toMatchObject({ cs: CS_SEV });
            const [t, s] = perUnmap(strategy, pages);
            // Lazy: a flush (TLBI_NH_ASID + CMD_SYNC) is the unit.
            const per = lazy ? 2 : t + s;
            // Up to 40 whole unmaps, at least 3.
            const n = Math.floor(Math.min(threads.length, virtual.length, 40 * per) / per) * per;
            expect(
              n,
              `${strategy}: threads ${threads.length} (log ${log.length}), virtual ${virtual.length}`,
            ).toBe(Math.min(40, Math.floor(Math.min(threads.length, virtual.length) / per)) * per);
            expect(n, strategy).toBeGreaterThanOrEqual(3 * per);
            expect(canonical(virtual.slice(0, n), cfg.queueEntries), strategy).toEqual(
              canonical(threads.slice(0, n), cfg.queueEntries),
            );
            for (const c of virtual.slice(0, per)) expect(decode(encode(c))).toEqual(c);
            if (lazy) expect(virtual.slice(0, 2).map((c) => c.op)).toEqual(['TLBI_NH_ASID', 'CMD_SYNC']);
          }
        }
      });
});

describe('8 and 64 CPUs: the invariants', () => {
  function check(r: VirtualResult, strategy: string): void {
    const [t, s] = perUnmap(strategy, r.params.pages);
    // No warm-up and a drained run: every CPU's first unmap at least is counted.
    expect(r.unmaps).toBeGreaterThanOrEqual(r.cpus);
    expect(r.commands.tlbiNhVa).toBe(t * r.unmaps);
    expect(r.commands.cmdSync).toBe(s * r.unmaps);
    // Drained: every issued command was consumed, every queue is empty.
    expect(r.drained?.idle).toBe(true);
    expect(r.drained!.stopped, 'CPUs that finished').toBe(r.cpus);
    expect(r.consumed.TLBI_NH_VA).toBe(r.issued.tlbiNhVa);
    expect(r.consumed.CMD_SYNC).toBe(r.issued.cmdSync);
    const mask = (2 << r.params.queueShift) - 1;
    for (const q of r.drained!.queues) expect(q.prod & mask).toBe(q.cons & mask);
    if (r.design === 'locked') {
      // One lock round trip per command (the 2017 driver), every one released.
      const lock = r.cmdqLock!;
      expect(lock.acquired).toBe(r.issued.tlbiNhVa + r.issued.cmdSync);
      expect(lock.released).toBe(lock.acquired);
      expect(lock.heldBy).toBe(-1);
      const window = r.perCpu.reduce((a, c) => a + c.cmdqLock.acquisitions, 0);
      const contended = r.perCpu.reduce((a, c) => a + c.cmdqLock.contentions, 0);
      expect(window).toBeGreaterThan(0);
      expect(contended).toBeGreaterThan(0);
      for (const c of r.perCpu)
        expect(c.cmdqLock.holdSamples).toBeLessThanOrEqual(c.cmdqLock.acquisitions + 1);
    } else expect(r.cmdqLock).toBeNull();
  }

  for (const cpus of [8, 64])
    for (const design of DESIGNS)
      for (const strategy of STRATEGIES)
        for (const lock of locksOf(design))
          it(`${cpus} CPUs, ${strategy} on ${design}${design === 'locked' ? `, --lock ${lock}` : ''}`, () => {
            const r = runVirtual({
              cpus,
              ...virtualPlan(strategy, design),
              lock,
              seed: 3,
              durationNs: 20_000,
              warmupNs: 0,
              drain: true,
            });
            check(r, strategy);
          });

  it('the aliases are batched on their designs, and refuse another design', () => {
    expect(virtualPlan('lockfree', null)).toEqual({ strategy: 'batched', design: 'lockfree' });
    expect(virtualPlan('ecmdq', null)).toEqual({ strategy: 'batched', design: 'ecmdq' });
    expect(virtualPlan('range', null)).toEqual({ strategy: 'range', design: 'locked' });
    expect(() => virtualPlan('ecmdq', 'locked')).toThrow(/--cmdq locked contradicts --strategy ecmdq/);
  });
});

describe('with the driver state (as the CLI runs): the invariants at 2, 8, 64 and 256 CPUs', () => {
  /** Every IOVA allocator lock taken for an op: the rbtree lock, or the CPU's own cpu_rcache lock. */
  const opLock = (iova: string): string => (iova === 'rbtree' ? 'iova' : 'rcache');

  function stateRun(cpus: number, name: string, design: CmdqDesign, lock: LockName, durationNs: number) {
    return runVirtual({
      cpus,
      ...planOf(name, design),
      lock,
      seed: 5,
      durationNs,
      warmupNs: 0,
      drain: true,
      state: true,
      // The buffer stays mapped a while, so that peer devices find live buffers to read.
      params: { dmaNs: 500 },
    });
  }

  /** Whole-run counts (warm-up, window and drain): the SMMU consumed everything once drained. */
  function checkState(r: VirtualResult, name: string): void {
    const s = r.state!;
    const n = s.totals.iterations;
    expect(n).toBeGreaterThanOrEqual(r.cpus);
    expect(r.drained?.idle).toBe(true);
    expect(r.drained!.stopped, 'CPUs that finished').toBe(r.cpus);
    const mask = (2 << r.params.queueShift) - 1;
    for (const q of r.drained!.queues) expect(q.prod & mask).toBe(q.cons & mask);
    // Exact commands per unmap (lazy: none at unmap; one TLBI_NH_ASID + CMD_SYNC per flush).
    const [t, sync] = perUnmap(r.strategy, r.params.pages);
    if (r.strategy === 'lazy') {
      expect(r.consumed.TLBI_NH_VA).toBeUndefined();
      expect(r.consumed.TLBI_NH_ASID).toBeGreaterThan(0);
      expect(r.consumed.CMD_SYNC).toBe(r.consumed.TLBI_NH_ASID);
    } else {
      expect(r.consumed.TLBI_NH_VA, name).toBe(t * n);
      expect(r.consumed.CMD_SYNC, name).toBe(sync * n);
      expect(r.consumed.TLBI_NH_ASID).toBeUndefined();
    }
    // The window's unmaps were counted with their exact commands too.
    expect(r.commands.tlbiNhVa).toBe(t * r.unmaps);
    expect(r.commands.cmdSync).toBe(sync * r.unmaps);
    if (r.strategy !== 'unsafe-free-before-sync') {
      expect(s.safety.staleTranslationUses, name).toBe(0);
      expect(s.safety.firstViolation).toBeNull();
    }
    // Every IOVA freed, no IOTLB entry of an unmapped page left.
    expect(s.endState.iovasOutstanding).toBe(0);
    expect(s.endState.iotlbEntriesUnmapped).toBe(0);
    // Every lock acquisition released; one acquisition of the op's first lock per alloc and free.
    expect(s.totals.unpairedLocks).toEqual([]);
    expect(s.totals.lockAcquisitions[opLock(s.iova)], `${s.iova} lock`).toBe(2 * n);
    if (r.design === 'locked') {
      const l = r.cmdqLock!;
      expect(l.released).toBe(l.acquired);
      expect(l.heldBy).toBe(-1);
    } else expect(r.cmdqLock).toBeNull();
  }

  const NAMES = [...STRATEGIES, ...STATE_STRATEGIES];
  // 8 CPUs: every strategy x design x lock (the IOVA and fq locks take --lock on every design);
  // the aliases on their design. 64 CPUs: every strategy x design, the locks in turn.
  for (const design of DESIGNS) {
    const names = [...NAMES, ...(ALIASES[design] !== undefined ? [ALIASES[design]!] : [])];
    for (const name of names)
      it(`8 CPUs, ${name} on ${design}, every lock`, () => {
        for (const lock of LOCK_NAMES) checkState(stateRun(8, name, design, lock, 20_000), `${name} ${lock}`);
      });
    NAMES.forEach((name, i) => {
      const lock = LOCK_NAMES[(i + DESIGNS.indexOf(design)) % LOCK_NAMES.length];
      it(`64 CPUs, ${name} on ${design}, --lock ${lock}`, () => {
        checkState(stateRun(64, name, design, lock, 20_000), name);
      });
    });
  }

  for (const design of ['lockfree', 'locked'] as const)
    it(`256 CPUs, batched on ${design}: exact counts`, () => {
      const r = stateRun(256, 'batched', design, 'ticket', 5_000);
      checkState(r, 'batched');
      // Every CPU finished at least its first iteration (the drain lets it), with exactly 16
      // TLBI_NH_VA and one CMD_SYNC (checkState: consumed = iterations x per unmap).
      expect(r.state!.totals.iterations).toBeGreaterThanOrEqual(256);
      expect(r.consumed.TLBI_NH_VA).toBe(16 * r.state!.totals.iterations);
    });

  it('2 CPUs, batched on both designs: exact counts, one seed one result', () => {
    for (const design of ['lockfree', 'locked'] as const) {
      const r = stateRun(2, 'batched', design, 'ttas', 200_000);
      checkState(r, 'batched');
      expect(r.unmaps).toBeGreaterThan(10);
      expect(JSON.stringify(stateRun(2, 'batched', design, 'ttas', 200_000))).toBe(JSON.stringify(r));
    }
  });
});
