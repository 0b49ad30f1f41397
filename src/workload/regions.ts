// Which regions a run's shared memory holds, in placement order, each declared by the module that
// owns its format; hardware/layout.ts only places the list it is given. Workers rebuild the list
// with their own code and compare fingerprints: tests run src/ against the worker bundles in
// dist/, and a stale bundle must refuse to run rather than disagree on offsets.
import {
  computeLayout,
  CONTROL_DECL,
  CPU_STATE_DECL,
  layoutFingerprint,
  type Layout,
  type LayoutGeometry,
  type LayoutParams,
} from '../hardware/layout.js';
import { specOf, type RegionDecl } from '../hardware/region.js';
import { REGISTER_DECLS } from '../hardware/regfile.js';
import { CMDQ_DECL } from '../hardware/queue.js';
import { IOTLB_DECL } from '../hardware/iotlb.js';
import { SMMU_STATS_DECL } from '../hardware/smmu-stats.js';
import { LOCKS_DECL } from '../concurrency/lock.js';
import { CPU_STATS_DECL } from '../concurrency/counters.js';
import { IOVA_DECL } from '../driver/iova.js';
import { PTE_DECLS } from '../driver/iommu.js';
import { SAFETY_DECL } from '../safety/oracle.js';
import { CMDQ_DESIGNS } from '../driver/cmdq-designs.js';
import { STRATEGIES } from '../driver/strategies/index.js';
import { IOVA_RCACHE_DECL } from '../driver/iova-rcache.js';
import { TRACE_DECL } from '../trace/ring.js';

/** The regions every run has, in the order they are placed (docs/architecture.md's table). */
const COMMON: readonly RegionDecl<LayoutGeometry>[] = [
  CONTROL_DECL,
  ...REGISTER_DECLS,
  CMDQ_DECL,
  LOCKS_DECL,
  CPU_STATE_DECL,
  IOVA_DECL,
  ...PTE_DECLS,
  IOTLB_DECL,
  SMMU_STATS_DECL,
  CPU_STATS_DECL,
  SAFETY_DECL,
];

/** Every optional region by name: the designs', the strategies', the rcache and the trace. */
const OPTIONAL: ReadonlyMap<string, RegionDecl<LayoutGeometry>> = new Map(
  [
    ...Object.values(CMDQ_DESIGNS).flatMap((d) => d.regions),
    ...STRATEGIES.flatMap((s) => s.regions ?? []),
    IOVA_RCACHE_DECL,
    TRACE_DECL,
  ].map((d) => [d.name, d]),
);

/** The layout parameters of a run: the common regions, then the named optional ones, in that order. */
export function layoutParamsOf(g: LayoutGeometry, optional: readonly string[]): LayoutParams {
  const decls = [
    ...COMMON,
    ...optional.map((name) => {
      const d = OPTIONAL.get(name);
      if (d === undefined) throw new Error(`layout: no module declares a region "${name}"`);
      return d;
    }),
  ];
  return { ...geometryOf(g), regions: decls.map((d) => specOf(d, g)) };
}

/**
 * The same regions with their sizes evaluated again by this code, for `changes` to the geometry
 * (every size follows them, unlike a spread over LayoutParams).
 */
export function reevaluated(p: LayoutParams, changes: Partial<LayoutGeometry> = {}): LayoutParams {
  const common = new Set(COMMON.map((d) => d.name));
  return layoutParamsOf(
    { ...p, ...changes },
    p.regions.map((r) => r.name).filter((n) => !common.has(n)),
  );
}

export const STALE_WORKER =
  "stale dist/? the worker's layout differs from the orchestrator's: run npm run build";

/**
 * A worker's layout, rebuilt from the parameters' geometry and region names with this bundle's
 * declarations; throws STALE_WORKER unless it is the layout the orchestrator fingerprinted.
 */
export function workerLayout(p: LayoutParams, fingerprint: string): Layout {
  let layout: Layout;
  try {
    layout = computeLayout(reevaluated(p));
  } catch (cause) {
    throw new Error(STALE_WORKER, { cause });
  }
  if (layoutFingerprint(layout) !== fingerprint) throw new Error(STALE_WORKER);
  return layout;
}

function geometryOf(g: LayoutGeometry): LayoutGeometry {
  return {
    cpus: g.cpus,
    queueShift: g.queueShift,
    domains: g.domains,
    iovaSlotsPerDomain: g.iovaSlotsPerDomain,
    slotPages: g.slotPages,
    iotlbSets: g.iotlbSets,
    lockBytes: g.lockBytes,
    lockClasses: g.lockClasses,
    fqSize: g.fqSize,
  };
}
