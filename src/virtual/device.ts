// The device side and the IOTLB on the virtual machine, on the run's real layout: a CPU's device
// translates every page of its freshly mapped buffer through the SMMU's IOTLB (hardware/iotlb.ts:
// a hit, or a walk of the page table that fills an entry stamped with the page's mapping
// generation), and its peer devices read one page of another CPU's live buffer, each read checked
// by the safety oracle (safety/devices.ts, safety/oracle.ts), as workload/cpu-loop.ts does. The SMMU
// removes entries when it executes a TLBI (iotlbEffect, after the command's time has passed, as
// hardware/smmu-engine.ts execute()).
//
// Time: a translation costs the CPU nothing (the device works while the CPU waits out the DMA time);
// the reads take place at their instants in the DMA window (state.ts). Peer devices pick their CPU
// with safety/devices.ts's per-CPU xorshift, seeded from the run's PRNG.
import { devicesOf, type Config } from '../config/config.js';
import {
  OP,
  opcodeOf,
  tlbiAddrPage,
  tlbiAsid,
  tlbiNum,
  tlbiScale,
  tlbiTg,
  tlbiVmid,
} from '../hardware/commands.js';
import { FAULT, Iotlb } from '../hardware/iotlb.js';
import type { Layout, SharedViews } from '../hardware/layout.js';
import { SPIN } from '../concurrency/wait.js';
import { DeviceAgents, OWN_DMA } from '../safety/devices.js';
import { Oracle } from '../safety/oracle.js';
import type { VCpuStats } from './cpu-stats.js';

export class VDevices {
  readonly oracle: Oracle;
  private readonly iotlb: Iotlb;
  private readonly agents: DeviceAgents;

  constructor(
    views: SharedViews,
    layout: Layout,
    cfg: Config,
    cpu: number,
    clock: { readonly now: number },
    /** From the run's PRNG: which peer buffers the devices read follows the seed. */
    seed: number,
  ) {
    this.iotlb = new Iotlb(views.i32, layout, SPIN);
    this.oracle = new Oracle(
      views.i32,
      views.f64,
      layout.safetyOff,
      { cpus: layout.cpus, domains: layout.domains, slotsPerDomain: layout.iovaSlotsPerDomain },
      layout.slotPages,
      cpu,
      () => clock.now,
    );
    this.agents = new DeviceAgents(
      this.oracle,
      this.iotlb,
      cpu,
      layout.cpus,
      devicesOf(cfg),
      cfg.pages,
      seed,
    );
  }

  /** The CPU's own device reads page i of its buffer. */
  readOwn(asid: number, vaPage: number, st: VCpuStats): void {
    st.translations++;
    if (this.agents.read(asid, vaPage, OWN_DMA) === FAULT) st.translationFaults++;
    else if (this.iotlb.lastHit) st.iotlbHits++;
    else st.iotlbMisses++;
  }

  /** Each device this CPU hosts reads one page of another CPU's live buffer. */
  peerReads(): void {
    this.agents.peerReads();
  }
}

/** 4K pages a TLBI by address covers (hardware/smmu-engine.ts tlbiPages). */
function tlbiPages(w: Int32Array): number {
  const tg = tlbiTg(w, 0);
  if (tg === 0) return 1;
  return (tlbiNum(w, 0) + 1) * 2 ** (tlbiScale(w, 0) + 2 * (tg - 1));
}

/**
 * A consumed command's effect on the IOTLB (hardware/smmu-engine.ts execute(), the invalidations);
 * returns the entries removed. Commands the SMMU holds nothing for (CFGI, CMD_SYNC, ...) do nothing.
 */
export function iotlbEffect(iotlb: Iotlb, w: Int32Array): number {
  switch (opcodeOf(w, 0)) {
    case OP.TLBI_NH_VA: {
      const asid = tlbiAsid(w, 0);
      if (asid === 0 || tlbiVmid(w, 0) !== 0) return 0;
      return iotlb.invalidateRange(asid, tlbiAddrPage(w, 0), tlbiPages(w));
    }
    case OP.TLBI_NH_VAA:
      return tlbiVmid(w, 0) !== 0 ? 0 : iotlb.invalidateRangeAnyAsid(tlbiAddrPage(w, 0), tlbiPages(w));
    case OP.TLBI_NH_ASID: {
      const asid = tlbiAsid(w, 0);
      return asid === 0 || tlbiVmid(w, 0) !== 0 ? 0 : iotlb.invalidateAsid(asid);
    }
    case OP.TLBI_NH_ALL:
    case OP.TLBI_S12_VMALL:
      return tlbiVmid(w, 0) !== 0 ? 0 : iotlb.invalidateAsid(0);
    case OP.TLBI_NSNH_ALL:
      return iotlb.invalidateAsid(0);
    default:
      return 0;
  }
}
