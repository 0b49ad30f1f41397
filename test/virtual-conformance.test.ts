// One protocol, two engines (docs/virtual-time.md): every strategy x command-queue design x lock
// the virtual engine implements, held to the threads engine. At 1 CPU the SMMU-consumed command
// stream, decoded by hardware/commands.ts, equals the threads engine's --cmd-log for the same
// configuration; at 8 and 64 CPUs the invariants hold: exact commands per unmap, everything issued
// consumed once the run drains, every queue empty, every cmdq lock acquisition released.
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
import { config, decodeLog } from './helpers/runs.js';
import { canonical, decodeWords } from './helpers/virtual.js';

const STRATEGIES = ['per-page', 'batched', 'range'] as const;
const DESIGNS: readonly CmdqDesign[] = ['locked', 'lockfree', 'ecmdq'];
/** The locks a design takes: only the locked design has the global cmdq lock. */
const locksOf = (d: CmdqDesign): readonly LockName[] => (d === 'locked' ? LOCK_NAMES : ['ttas']);

/** Commands per unmap of `pages` pages: [TLBI_NH_VA, CMD_SYNC]. */
function perUnmap(strategy: string, pages: number): [number, number] {
  if (strategy === 'per-page') return [pages, pages];
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
        const strategies = pages === 4 ? [...STRATEGIES] : ['range'];
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
          // The log may begin inside an unmap: start both at an unmap's first TLBI.
          const log = decodeLog(cmdLogPath(base, strategy));
          const threads = log.slice(
            log.findIndex((c) => c.op === 'TLBI_NH_VA' && c.addr === VA_BASE_PAGE * 4096),
          );
          const plan = virtualPlan(strategy, k.design);
          const v = runVirtual({
            cpus: 1,
            ...plan,
            lock: k.lock,
            seed: 1,
            durationNs: 1e6,
            warmupNs: 0,
            recordCommands: true,
            params: { pages, syncMode: k.syncMode, queueShift: Math.log2(cfg.queueEntries) },
          });
          const virtual: Command[] = decodeWords(v.commandWords!);
          if (k.syncMode === 'poll')
            expect(virtual.find((c) => c.op === 'CMD_SYNC')).toMatchObject({ cs: CS_SEV });
          const [t, s] = perUnmap(strategy, pages);
          const per = t + s;
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
