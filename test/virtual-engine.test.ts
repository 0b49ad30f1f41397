// The virtual-time engine's foundation (src/virtual/): determinism, exact command counts per unmap
// and the published v5.4 scaling shape. The comparison with the threads engine over every strategy
// x design x lock is virtual-conformance.test.ts.
import { describe, expect, it } from 'vitest';
import { VA_BASE_PAGE } from '../src/hardware/layout.js';
import { runVirtual, type VirtualDesign, type VirtualResult } from '../src/virtual/run.js';
import type { VirtualStrategy } from '../src/virtual/cpu.js';
import { VALIDATION_PARAMS } from '../src/virtual/params.js';
import { decodeWords } from './helpers/virtual.js';

function run(
  cpus: number,
  design: VirtualDesign,
  strategy: VirtualStrategy,
  over: Partial<Parameters<typeof runVirtual>[0]> = {},
): VirtualResult {
  return runVirtual({ cpus, design, strategy, seed: 1, durationNs: 300_000, warmupNs: 50_000, ...over });
}

describe('determinism', () => {
  it('one seed gives a byte-identical result; another seed a different one with the same invariants', () => {
    const a = run(8, 'lockfree', 'batched', { seed: 7 });
    const b = run(8, 'lockfree', 'batched', { seed: 7 });
    const c = run(8, 'lockfree', 'batched', { seed: 8 });
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(JSON.stringify(c)).not.toBe(JSON.stringify(a));
    for (const r of [a, c]) {
      expect(r.unmaps).toBeGreaterThan(0);
      expect(r.commands.tlbiNhVa).toBe(r.params.pages * r.unmaps);
      expect(r.commands.cmdSync).toBe(r.unmaps);
    }
  });
});

describe('exact commands per unmap', () => {
  const cases: [VirtualDesign, VirtualStrategy, number][] = [
    ['lockfree', 'batched', 1],
    ['locked', 'batched', 1],
    ['locked', 'per-page', 16],
  ];
  for (const cpus of [1, 2, 64])
    for (const [design, strategy, syncs] of cases)
      it(`${cpus} CPU(s), ${strategy} on ${design}: 16 TLBI_NH_VA + ${syncs} CMD_SYNC per unmap`, () => {
        // The 2017 queue takes a lock round trip per command: at 64 CPUs an unmap takes milliseconds.
        const durationNs = design === 'lockfree' ? 400_000 : cpus === 64 ? 30e6 : 2e6;
        const r = run(cpus, design, strategy, { durationNs });
        const pages = r.params.pages;
        expect(pages).toBe(16);
        expect(r.unmaps).toBeGreaterThanOrEqual(cpus === 64 ? 1 : 10);
        expect(r.commands.tlbiNhVa).toBe(pages * r.unmaps);
        expect(r.commands.cmdSync).toBe(syncs * r.unmaps);
        // The SMMU consumed what was issued, less what was still queued when the run ended.
        const inFlight = cpus * (pages + syncs);
        expect(r.consumed.TLBI_NH_VA).toBeLessThanOrEqual(r.issued.tlbiNhVa);
        expect(r.consumed.TLBI_NH_VA).toBeGreaterThanOrEqual(r.issued.tlbiNhVa - inFlight);
        expect(r.consumed.CMD_SYNC).toBeLessThanOrEqual(r.issued.cmdSync);
        expect(r.consumed.CMD_SYNC).toBeGreaterThanOrEqual(r.issued.cmdSync - inFlight);
      });

  it('1 CPU: the stream decodes to whole unmaps, page by page', () => {
    const r = run(1, 'lockfree', 'batched', { recordCommands: true });
    const cmds = decodeWords(r.commandWords!);
    expect(cmds.length).toBeGreaterThan(17 * 10);
    for (let i = 0; i + 17 <= cmds.length; i += 17) {
      for (let p = 0; p < 16; p++)
        expect(cmds[i + p]).toMatchObject({
          op: 'TLBI_NH_VA',
          asid: 1,
          addr: (VA_BASE_PAGE + p) * 4096,
          leaf: true,
        });
      expect(cmds[i + 16].op).toBe('CMD_SYNC');
    }
  });
});

describe("v5.4 lock-free queue against Garry's 2020 measurements (validation parameters, one set)", () => {
  const garry = { 8: 1, 16: 0.41, 32: 0.13, 64: 0.039 } as const;
  const results = new Map<number, VirtualResult>();
  const at = (cpus: number): VirtualResult => {
    if (!results.has(cpus))
      results.set(
        cpus,
        runVirtual({
          cpus,
          design: 'lockfree',
          strategy: 'batched',
          seed: 1,
          durationNs: 4e6,
          warmupNs: 1e6,
          params: VALIDATION_PARAMS,
        }),
      );
    return results.get(cpus)!;
  };

  it('cmpxchg succeeds between 1 in 24 and 1 in 6 at 64 CPUs', () => {
    const rate = at(64).lockfree!.cmpxchgSuccessRate;
    expect(rate).toBeGreaterThan(1 / 24);
    expect(rate).toBeLessThan(1 / 6);
  });

  it('per-CPU map+unmap rate relative to 8 CPUs within a factor of 2 of 1, 0.41, 0.13, 0.039', () => {
    const base = at(8).perCpuOpsPerSec;
    for (const [cpus, want] of Object.entries(garry)) {
      const ratio = at(Number(cpus)).perCpuOpsPerSec / base;
      expect(ratio, `${cpus} CPUs: ${ratio.toFixed(3)} vs ${want}`).toBeGreaterThan(want / 2);
      expect(ratio, `${cpus} CPUs: ${ratio.toFixed(3)} vs ${want}`).toBeLessThan(want * 2);
    }
  });

  it('FIFO service of a contended line (the other policy) collapses the queue instead', () => {
    const fifo = runVirtual({
      cpus: 64,
      design: 'lockfree',
      strategy: 'batched',
      seed: 1,
      durationNs: 2e6,
      warmupNs: 5e5,
      params: { ...VALIDATION_PARAMS, service: 'fifo' },
    });
    expect(fifo.lockfree!.cmpxchgSuccessRate).toBeLessThan(at(64).lockfree!.cmpxchgSuccessRate / 4);
  });
});
