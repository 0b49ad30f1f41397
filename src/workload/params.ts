// From the configuration to the shared-memory layout of one strategy run.
import type { Config } from '../config/config.js';
import { IOTLB_WAYS } from '../hardware/iotlb.js';
import type { LayoutParams } from '../hardware/layout.js';
import { log2Exact } from '../hardware/queue.js';
import { getLockAlgorithm } from '../concurrency/locks/index.js';
import { lockClassesFor } from './task.js';
import { designOf, getStrategy, iovaOf } from '../driver/strategies/index.js';
import { TRACE_DECL } from '../trace/ring.js';
import { CMDQ_DESIGNS } from '../driver/cmdq-designs.js';
import { IOVA_RCACHE_DECL } from '../driver/iova-rcache.js';
import { layoutParamsOf } from './regions.js';

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
  const geometry = {
    cpus: cfg.cpus,
    queueShift: log2Exact(cfg.queueEntries),
    domains: shared ? 1 : cfg.cpus,
    iovaSlotsPerDomain: buffersPerDomain,
    slotPages: nextPow2(cfg.pages),
    iotlbSets: cfg.iotlbEntries / IOTLB_WAYS,
    lockBytes: getLockAlgorithm(cfg.lock).bytes(cfg.cpus),
    lockClasses: lockClassesFor(iovaOf(cfg, strategy)),
    fqSize: cfg.fqSize,
  };
  const optional = [
    ...CMDQ_DESIGNS[designOf(cfg, strategy)].regions,
    ...(def.regions ?? []),
    ...(iovaOf(cfg, strategy) === 'rcache' ? [IOVA_RCACHE_DECL] : []),
    ...(cfg.trace !== null ? [TRACE_DECL] : []),
  ];
  return layoutParamsOf(
    geometry,
    optional.map((d) => d.name),
  );
}
