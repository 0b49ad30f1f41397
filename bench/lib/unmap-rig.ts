// The emulator's own work inside iommu_unmap apart from its commands, alone in the calling thread:
// the oracle's unmap stamp and the PTE clears of IommuDomain.unmap(), with a strategy that issues
// nothing (bench/hotpath.ts --side unmap). What Linux also does (the clears) and what it does not
// (the stamp), at the cost the unmap's timed window sees.
import { DEFAULTS, type Config } from '../../src/config/config.js';
import { IommuDomain } from '../../src/driver/iommu.js';
import type { InvalidationStrategy } from '../../src/driver/strategies/strategy.js';
import { allocate, computeLayout, pteIdx, VA_BASE_PAGE } from '../../src/hardware/layout.js';
import { Oracle } from '../../src/safety/oracle.js';
import { layoutParamsFor } from '../../src/workload/params.js';
import { RIG_PAGES } from '../../src/run/calibrate/rigs.js';

export interface UnmapRig {
  /** Maps the buffer, then stamps and unmaps it `unmaps` times; returns the unmaps done. */
  cycle(unmaps: number): number;
  /** The PTE of page p of the buffer (0: clear). */
  readonly pte: (p: number) => number;
}

export function unmapRig(): UnmapRig {
  const cfg: Config = { ...DEFAULTS, cpus: 1 } as Config;
  const layout = computeLayout(layoutParamsFor(cfg, 'batched'));
  const { i32, f64 } = allocate(layout);
  const none: InvalidationStrategy = { tlbAddPage() {}, iotlbSync() {}, releaseIova() {} };
  const domain = new IommuDomain(i32, layout, 0, none);
  const geometry = { cpus: 1, domains: layout.domains, slotsPerDomain: layout.iovaSlotsPerDomain };
  const oracle = new Oracle(i32, f64, layout.safetyOff, geometry, layout.slotPages, 0);
  const va = VA_BASE_PAGE;
  return {
    cycle(unmaps) {
      domain.map(va, RIG_PAGES, 100);
      oracle.setLive(va, domain.asid);
      // The clock is not read: the stamp's value does not change its cost.
      for (let u = 1; u <= unmaps; u++) {
        oracle.unmappedLive(u);
        domain.unmap(va, RIG_PAGES);
      }
      return unmaps;
    },
    pte: (p) => i32[pteIdx(layout, 0, p)],
  };
}
