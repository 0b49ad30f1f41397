// The safety oracle: proves that no stale translation is ever used after an IOVA is reused.
// A translation served from an IOTLB entry that was filled from an earlier mapping of the same IOVA
// (its generation is older than the page's current mapping generation) is a stale translation use:
// the IOVA was freed and mapped again while the old entry survived, which a strategy that frees
// only after its invalidations are synced can never allow. Hits on a page whose PTE is currently
// clear (unmapped, not yet remapped) are counted apart as deferred-window uses: a strict strategy
// allows them only while its unmap is in flight, lazy mode until its flush.
//
// Shared memory (region "safety", 64-byte aligned):
//   line 0                 int32 [0] first-violation claim (0 free, 1 taken)
//   line 1                 float64 first violation: cpu, device, asid, vaPage, ppn, nsAfterUnmap,
//                          entryGen, currentGen
//   per CPU, one line      float64 counters (Sf below), written only by that CPU's thread
//   per CPU, one line      int32 live buffer: [0] first VA page (0 = none), [1] ASID — read by devices
//   per domain and slot    float64 clock of the slot's last unmap (for "how long after the unmap")
import { nowNs } from '../concurrency/clock.js';
import { VA_BASE_PAGE, type LayoutGeometry } from '../hardware/layout.js';
import { alignUp, checkRegion, LINE, PAGE_SHIFT, REGION, type RegionDecl } from '../hardware/region.js';

export const enum Sf {
  CHECKED = 0, // translations checked (every DMA read)
  STALE = 1,
  DEFERRED = 2,
  DEVICE_FAULTS = 3, // device reads of a buffer that was unmapped under them
  PEER_READS = 4, // device reads of another CPU's live buffer
}

export const enum Viol {
  CPU = 0,
  DEVICE,
  ASID,
  VA_PAGE,
  PPN,
  NS_AFTER_UNMAP,
  ENTRY_GEN,
  CURRENT_GEN,
}

export interface OracleGeometry {
  readonly cpus: number;
  readonly domains: number;
  readonly slotsPerDomain: number;
}

export function oracleBytes(g: OracleGeometry): number {
  return 2 * LINE + 2 * g.cpus * LINE + alignUp(g.domains * g.slotsPerDomain * 8);
}

export const SAFETY_DECL: RegionDecl<LayoutGeometry> = {
  name: REGION.SAFETY,
  bytes: (g) => oracleBytes({ cpus: g.cpus, domains: g.domains, slotsPerDomain: g.iovaSlotsPerDomain }),
  align: LINE,
};

/** Offsets inside the region (bytes from its start). */
const countersOff = (cpu: number): number => 2 * LINE + cpu * LINE;
const liveOff = (g: OracleGeometry, cpu: number): number => 2 * LINE + g.cpus * LINE + cpu * LINE;
const unmapTimesOff = (g: OracleGeometry): number => 2 * LINE + 2 * g.cpus * LINE;

export interface Violation {
  cpu: number;
  device: number;
  asid: number;
  iova: string;
  ppn: number;
  nsAfterUnmap: number | null;
  entryGeneration: number;
  currentGeneration: number;
}

/** The oracle's verdict on a run (runs[].safety in the JSON; see src/report/types.ts). */
export interface SafetySummary {
  staleTranslationUses: number;
  checkedTranslations: number;
  deferredWindowUses: number;
  deviceFaults: number;
  peerReads: number;
  firstViolation: Violation | null;
}

export class Oracle {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly base: number;
  private readonly counters: number;
  private readonly live: number;
  private readonly unmapTimes: number;
  /** Float64 index of the live buffer's unmap-time slot, found when it goes live (setLive). */
  private liveSlot = -1;

  constructor(
    i32: Int32Array,
    f64: Float64Array,
    regionOff: number,
    private readonly g: OracleGeometry,
    private readonly slotPages: number,
    cpu: number,
    /** The clock unmap times are on: the host's, or the virtual engine's (virtual ns). */
    private readonly clock: () => number = nowNs,
  ) {
    checkRegion(i32.buffer, REGION.SAFETY, regionOff, oracleBytes(g));
    this.i32 = i32;
    this.f64 = f64;
    this.base = regionOff;
    this.counters = (regionOff + countersOff(cpu)) >> 3;
    this.live = (regionOff + liveOff(g, cpu)) >> 2;
    this.unmapTimes = (regionOff + unmapTimesOff(g)) >> 3;
  }

  count(field: Sf, n = 1): void {
    this.f64[this.counters + field] += n;
  }

  /** Publishes this CPU's live buffer for devices (vaPage 0: none). */
  setLive(vaPage: number, asid: number): void {
    // The page is the entry's validity: published after the ASID, withdrawn before it.
    if (vaPage !== 0) {
      // Looked up here, after the map, so that stamping the unmap (inside iommu_unmap's timed
      // window) is a single store: the oracle's work is not what the unmap time measures.
      this.liveSlot = this.slotIdx(asid - 1, vaPage);
      Atomics.store(this.i32, this.live + 1, asid);
      Atomics.store(this.i32, this.live, vaPage);
    } else {
      Atomics.store(this.i32, this.live, 0);
      Atomics.store(this.i32, this.live + 1, 0);
    }
  }

  /** Another CPU's live buffer: [vaPage, asid], vaPage 0 when it has none. */
  liveOf(cpu: number, out: Int32Array): void {
    const at = (this.base + liveOff(this.g, cpu)) >> 2;
    out[0] = Atomics.load(this.i32, at);
    out[1] = Atomics.load(this.i32, at + 1);
    // Read across a withdrawal and a new publication: treat a torn pair as "none".
    if (out[1] === 0) out[0] = 0;
  }

  private slotIdx(domain: number, vaPage: number): number {
    return (
      this.unmapTimes + domain * this.g.slotsPerDomain + Math.floor((vaPage - VA_BASE_PAGE) / this.slotPages)
    );
  }

  /** Records when the buffer at vaPage was unmapped (t = 0: the time is unknown). */
  unmapped(domain: number, vaPage: number, t: number): void {
    this.f64[this.slotIdx(domain, vaPage)] = t;
  }

  /**
   * unmapped() for the live buffer (setLive; its domain is its ASID - 1): one store, for inside
   * iommu_unmap's timed window. Written before the unmap's first PTE clear, so that a stale use by
   * another CPU during the unmap (a strategy freeing the IOVA before its sync) finds it.
   */
  unmappedLive(t: number): void {
    this.f64[this.liveSlot] = t;
  }

  /** A stale translation use: counted, and recorded if it is the first of the run. */
  stale(
    cpu: number,
    device: number,
    domain: number,
    asid: number,
    vaPage: number,
    ppn: number,
    entryGen: number,
    gen: number,
  ): void {
    this.count(Sf.STALE);
    if (Atomics.compareExchange(this.i32, this.base >> 2, 0, 1) !== 0) return;
    const r = (this.base + LINE) >> 3;
    const f = this.f64;
    const t = f[this.slotIdx(domain, vaPage)];
    f[r + Viol.CPU] = cpu;
    f[r + Viol.DEVICE] = device;
    f[r + Viol.ASID] = asid;
    f[r + Viol.VA_PAGE] = vaPage;
    f[r + Viol.PPN] = ppn;
    f[r + Viol.NS_AFTER_UNMAP] = t > 0 ? this.clock() - t : -1;
    f[r + Viol.ENTRY_GEN] = entryGen;
    f[r + Viol.CURRENT_GEN] = gen;
  }
}

/** Orchestrator side: the run's safety summary. */
export function readSafety(
  i32: Int32Array,
  f64: Float64Array,
  regionOff: number,
  g: OracleGeometry,
): SafetySummary {
  const sum = (field: Sf): number => {
    let s = 0;
    for (let c = 0; c < g.cpus; c++) s += f64[((regionOff + countersOff(c)) >> 3) + field];
    return s;
  };
  let firstViolation: Violation | null = null;
  if (Atomics.load(i32, regionOff >> 2) !== 0) {
    const r = (regionOff + LINE) >> 3;
    const ns = f64[r + Viol.NS_AFTER_UNMAP];
    firstViolation = {
      cpu: f64[r + Viol.CPU],
      device: f64[r + Viol.DEVICE],
      asid: f64[r + Viol.ASID],
      iova: `0x${(f64[r + Viol.VA_PAGE] * 2 ** PAGE_SHIFT).toString(16)}`,
      ppn: f64[r + Viol.PPN],
      nsAfterUnmap: ns >= 0 ? ns : null,
      entryGeneration: f64[r + Viol.ENTRY_GEN],
      currentGeneration: f64[r + Viol.CURRENT_GEN],
    };
  }
  return {
    staleTranslationUses: sum(Sf.STALE),
    checkedTranslations: sum(Sf.CHECKED),
    deferredWindowUses: sum(Sf.DEFERRED),
    deviceFaults: sum(Sf.DEVICE_FAULTS),
    peerReads: sum(Sf.PEER_READS),
    firstViolation,
  };
}
