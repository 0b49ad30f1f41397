// The real SMMU worker on a layout of its own, probed and ready, for the calibration rigs that
// need the other side of a run: the CMD_SYNC round trip (sync-rtt.ts) and the DMA cycle with the
// SMMU's TLBIs applied on its own thread (step-rig.ts), as in a run where the device's IOTLB fills
// happen on the CPU's thread and the invalidations on the SMMU's.
//
// The bench imports the rigs from its snapshot of dist/ (bench/run-bench.ts), so the SMMU worker
// this starts is the snapshot's too.
import { DEFAULTS, type Config } from '../../config/config.js';
import { probeSmmu } from '../../driver/probe.js';
import type { Layout, SharedViews } from '../../hardware/layout.js';
import type { SmmuTiming } from '../../hardware/smmu-engine.js';
import { SPIN } from '../../concurrency/wait.js';
import { layoutParamsFor } from '../../workload/params.js';
import { startStandaloneSmmu } from '../../workload/smmu-standalone.js';

export interface SmmuPeer {
  readonly cfg: Config;
  readonly layout: Layout;
  readonly views: SharedViews;
  /** Disables the queue and waits (at most 2 s) for the worker to leave, then terminates it. */
  stop(): Promise<void>;
}

/** A 1-CPU batched layout for `cfg` (DEFAULTS otherwise), the SMMU worker on it with `timing`. */
export async function startSmmuPeer(timing: SmmuTiming, cfg: Partial<Config> = {}): Promise<SmmuPeer> {
  const full: Config = { ...DEFAULTS, ...cfg, cpus: 1 } as Config;
  const {
    layout,
    views,
    regs,
    worker: smmu,
  } = startStandaloneSmmu(layoutParamsFor(full, 'batched'), {
    features: { msi: false, sev: false, ril: false },
    timing,
    idlePolicy: SPIN,
  });
  const stopped = new Promise<void>((res) => smmu.once('exit', () => res()));
  const stop = async (): Promise<void> => {
    regs.write32('CR0', 0);
    await Promise.race([stopped, new Promise((res) => setTimeout(res, 2000))]);
    await smmu.terminate();
  };
  try {
    await probeSmmu(views, layout);
  } catch (e) {
    await stop();
    throw e;
  }
  return { cfg: full, layout, views, stop };
}
