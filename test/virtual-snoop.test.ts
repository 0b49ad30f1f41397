// The SMMU's coherent fetch of a queue entry (params.smmuFetch = 1) is an I/O master's read
// (coherence.ts snoopReadNs): a transfer only when the line was written since the reader's last
// fetch, and no copy taken, so the CPU that writes the entries keeps the line.
import { describe, expect, it } from 'vitest';
import { Machine } from '../src/virtual/machine.js';
import { DEFAULT_VIRTUAL_PARAMS } from '../src/virtual/params.js';
import { store } from '../src/virtual/requests.js';

describe('snoopReadNs: an I/O-coherent read', () => {
  it('costs a transfer after each write to the line, a hit otherwise, and leaves the writer its line', () => {
    const p = { ...DEFAULT_VIRTUAL_PARAMS, lineTransferNs: 100, hitNs: 1 };
    const m = new Machine({ ...p, agents: 2, seed: 1, freeMmioAgents: new Set() });
    const cpu = 0;
    const smmu = 1;
    const line = 0x1000;
    // The CPU takes the line (uncached: no other copy to take), then writes into it again: a hit.
    const costs: number[] = [];
    const write = (addr: number): void => {
      const t0 = m.now;
      m.mem.access(cpu, store(addr, 7), () => costs.push(m.now - t0));
      m.run(m.now + 1000);
    };
    write(line);
    write(line + 16);
    expect(costs).toEqual([1, 1]);
    // The SMMU fetches entry 0: a transfer; entries 1-3 of the same line: hits.
    expect(m.mem.snoopReadNs(smmu, line)).toBe(100);
    expect(m.mem.snoopReadNs(smmu, line + 16)).toBe(1);
    expect(m.mem.snoopReadNs(smmu, line + 48)).toBe(1);
    // The CPU still owns the line: its next entry write hits ...
    write(line + 32);
    expect(costs[2]).toBe(1);
    // ... and that write makes the SMMU's next fetch of the line a transfer again.
    expect(m.mem.snoopReadNs(smmu, line + 32)).toBe(100);
    expect(m.mem.snoopReadNs(smmu, line + 32)).toBe(1);
  });
});
