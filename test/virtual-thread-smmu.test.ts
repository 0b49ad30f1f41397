// smmuFetch 2: the SMMU as the threads engine's SMMU worker, a CPU thread (docs/virtual-time.md).
// Its loads of an entry's line and of PROD's line keep shared copies, so the CPU's next store into
// either is a transfer; the entry's stores are posted (store-buffer.ts); the doorbell's store,
// after its busy-wait, claims PROD's line while they are still in flight, and its fence waits for
// all of them (concurrency/store.ts storeSeqCst: a plain store, then a fence).
import { describe, expect, it } from 'vitest';
import { CMDQ_PROD_REG, PROD_LINE, QUEUE_BASE } from '../src/virtual/address-map.js';
import { Machine } from '../src/virtual/machine.js';
import { DEFAULT_VIRTUAL_PARAMS, SMMU_FETCH_THREAD } from '../src/virtual/params.js';
import { mmioWrite, store, writeWords, type Proc } from '../src/virtual/requests.js';
import { threadSmmuMachine } from '../src/virtual/smmu.js';
import { runVirtual } from '../src/virtual/run.js';

const CPU = 0;
const SMMU = 1;
const p = { ...DEFAULT_VIRTUAL_PARAMS, lineTransferNs: 100, hitNs: 1, mmioWriteNs: 30, mmioExtraNs: 0 };

function machine(): Machine {
  return new Machine({ ...p, agents: 2, seed: 1, freeMmioAgents: new Set([SMMU]), ...threadSmmuMachine(8) });
}

const transfers = (m: Machine, addr: number): number => m.mem.lineStats.get(addr & ~63)?.transfers ?? 0;

describe('sharedReadNs and claimNs: a CPU thread loading, a CPU storing', () => {
  it("a load keeps a shared copy, so the writer's next store is a transfer, and the load after it another", () => {
    const m = machine();
    const costs: number[] = [];
    const write = (addr: number): void => {
      const t0 = m.now;
      m.mem.access(CPU, store(addr, 7), () => costs.push(m.now - t0));
      m.run(m.now + 1000);
    };
    const line = 0x3000;
    write(line);
    expect(m.mem.sharedReadNs(SMMU, line)).toBe(100);
    expect(m.mem.sharedReadNs(SMMU, line + 16)).toBe(1); // its copy serves the line's other entries
    write(line + 16); // the SMMU's copy goes: a transfer
    write(line + 32); // the CPU owns the line again: a hit
    expect(costs).toEqual([1, 100, 1]);
    expect(m.mem.sharedReadNs(SMMU, line + 32)).toBe(100);
    expect(transfers(m, line)).toBe(3);
    // claimNs: a hit while nobody else holds the line, a transfer once the SMMU has read it.
    expect(m.mem.claimNs(CPU, PROD_LINE)).toBe(1);
    expect(m.mem.claimNs(CPU, PROD_LINE)).toBe(1);
    expect(m.mem.sharedReadNs(SMMU, PROD_LINE)).toBe(100);
    expect(m.mem.claimNs(CPU, PROD_LINE)).toBe(100);
    expect(m.mem.sharedReadNs(SMMU, PROD_LINE)).toBe(100);
    expect(transfers(m, PROD_LINE)).toBe(3);
  });
});

describe('upgradeNs: a store by an agent that holds a shared copy', () => {
  it('costs upgradeNs instead of a transfer, through a transaction and through claimNs; 0 keeps the transfer', () => {
    for (const [upgradeNs, want] of [
      [0, 100],
      [40, 40],
    ] as const) {
      const m = new Machine({
        ...p,
        upgradeNs,
        agents: 2,
        seed: 1,
        freeMmioAgents: new Set([SMMU]),
        ...threadSmmuMachine(8),
      });
      const line = 0x3000;
      const costs: number[] = [];
      const write = (agent: number, addr: number): void => {
        const t0 = m.now;
        m.mem.access(agent, store(addr, 7), () => costs.push(m.now - t0));
        m.run(m.now + 1000);
      };
      write(CPU, line); // nobody holds it: a hit
      m.mem.sharedReadNs(SMMU, line); // both hold copies now
      write(CPU, line + 4); // the CPU's copy is still valid: an upgrade
      write(SMMU, line + 8); // the SMMU's copy went with it: a full transfer, whatever upgradeNs
      expect(costs).toEqual([1, want, 100]);
      expect(m.mem.claimNs(CPU, PROD_LINE)).toBe(1);
      expect(m.mem.sharedReadNs(SMMU, PROD_LINE)).toBe(100);
      expect(m.mem.claimNs(CPU, PROD_LINE)).toBe(want); // the CPU kept its copy: an upgrade
      expect(m.mem.claimNs(SMMU, PROD_LINE)).toBe(100); // the SMMU's copy is gone: a transfer
    }
  });
});

describe('posted entry stores and the doorbell (smmuFetch 2)', () => {
  it("the entry store overlaps the doorbell's busy-wait and PROD's claim; the fence waits for both", () => {
    const m = machine();
    const entry = QUEUE_BASE + 16 * 5;
    m.mem.sharedReadNs(SMMU, entry); // the SMMU worker peeked at the entry at CONS
    m.mem.sharedReadNs(SMMU, PROD_LINE); // and polls PROD
    const at: number[] = [];
    function* cpu(): Proc {
      yield writeWords(entry, [1, 2, 3, 4]);
      at.push(m.now); // posted: the CPU goes on after a hit
      yield mmioWrite(CMDQ_PROD_REG, 6);
      at.push(m.now); // busy-wait 1-31; PROD's claim 31-131, the entry's transfer 0-100
    }
    m.spawn(CPU, cpu());
    m.run(10_000);
    expect(at).toEqual([1, 131]);
    expect(m.reg(CMDQ_PROD_REG)).toBe(6);
    expect(m.mem.peek(entry + 12)).toBe(4);
    // One transfer each for the SMMU's reads and one each for the CPU's stores.
    expect(transfers(m, entry)).toBe(2);
    expect(transfers(m, PROD_LINE)).toBe(2);
  });

  it('with nothing to wait for, the doorbell costs its busy-wait and a hit', () => {
    const m = machine();
    const at: number[] = [];
    function* cpu(): Proc {
      yield writeWords(QUEUE_BASE, [1, 2, 3, 4]);
      yield mmioWrite(CMDQ_PROD_REG, 1);
      at.push(m.now);
    }
    m.spawn(CPU, cpu());
    m.run(10_000);
    expect(at).toEqual([1 + 30 + 1]);
    expect(transfers(m, QUEUE_BASE)).toBe(0);
    expect(transfers(m, PROD_LINE)).toBe(0);
  });
});

describe('runVirtual with smmuFetch 2', () => {
  it('is deterministic and costs batched more than the I/O fetch does', () => {
    const run = (smmuFetch: number) =>
      runVirtual({
        cpus: 1,
        design: 'locked',
        strategy: 'batched',
        seed: 3,
        durationNs: 200_000,
        warmupNs: 20_000,
        params: { smmuFetch, lineTransferNs: 200 },
      });
    const a = run(SMMU_FETCH_THREAD);
    const b = run(SMMU_FETCH_THREAD);
    expect(b.unmaps).toBe(a.unmaps);
    expect(b.events).toBe(a.events);
    expect(a.unmaps).toBeLessThan(run(1).unmaps);
  });
});
