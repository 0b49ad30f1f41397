// From the configuration to the shared-memory layout of one strategy run.
import type { Config } from '../config/config.js';
import { IOTLB_WAYS } from '../hardware/iotlb.js';
import type { LayoutParams } from '../hardware/layout.js';
import { log2Exact } from '../hardware/queue.js';
import { getLockAlgorithm } from '../sync/locks/index.js';
import { lockClassesFor } from './task.js';
import { designOf, getStrategy } from '../driver/strategies/index.js';
import { ringBytes, traceCapacity, TRACE_REGION } from '../trace/ring.js';
import { CMDQ_DESIGNS } from '../driver/cmdq-designs.js';
import { IOVA_RCACHE_REGION, rcacheRegionBytes } from '../driver/iova-rcache.js';

export function nextPow2(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, n)));
}

export function layoutParamsFor(cfg: Config, strategy: string): LayoutParams {
  const def = getStrategy(strategy);
  const shared = cfg.domains === 'shared';
  // Each CPU holds one buffer at a time (more under lazy flushing); twice that leaves the
  // allocator room to pick from.
  const perCpu = def.buffersPerCpu ? def.buffersPerCpu(cfg) : 1;
  const buffersPerDomain = (shared ? cfg.cpus : 1) * perCpu * 2;
  const base = {
    cpus: cfg.cpus,
    queueShift: log2Exact(cfg.queueEntries),
    domains: shared ? 1 : cfg.cpus,
    iovaSlotsPerDomain: buffersPerDomain,
    slotPages: nextPow2(cfg.pages),
    iotlbSets: cfg.iotlbEntries / IOTLB_WAYS,
    lockBytes: getLockAlgorithm(cfg.lock).bytes(cfg.cpus),
    lockClasses: lockClassesFor(cfg.iova),
  };
  const regions = [
    ...CMDQ_DESIGNS[designOf(cfg, strategy)].regions(base),
    ...(def.regions?.(base, cfg) ?? []),
  ];
  if (cfg.iova === 'rcache') regions.push({ name: IOVA_RCACHE_REGION, bytes: rcacheRegionBytes(base) });
  if (cfg.trace !== null) {
    const threads = cfg.cpus + 1;
    regions.push({ name: TRACE_REGION, bytes: threads * ringBytes(traceCapacity(threads)) });
  }
  return { ...base, regions };
}
