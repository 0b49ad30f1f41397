// DMA agents for the safety oracle. Every translation a device makes goes through the SMMU's IOTLB
// and is checked by the oracle. Device agents are hosted on the CPU threads (device d on CPU
// d mod cpus), so --devices adds no thread to the host: in each loop iteration a CPU first reads
// its own freshly mapped buffer (the DMA of "process data"), then each device it hosts reads one
// page of another CPU's live buffer. Those peer reads genuinely race with that CPU's unmap on
// another thread: they may hit an entry inside its unmap window (counted as a deferred-window
// use), fault because the page is already unmapped, or reach the IOVA's next mapping.
import { FAULT, type Iotlb } from '../hardware/iotlb.js';
import { Sf, type Oracle } from './oracle.js';

/** Device id reported for the CPU's own "process data" reads (the device it handed the buffer to). */
export const OWN_DMA = -1;

export class DeviceAgents {
  private readonly hosted: number[] = [];
  private rng: number;
  private readonly live = new Int32Array(2);

  constructor(
    private readonly oracle: Oracle,
    private readonly iotlb: Iotlb,
    private readonly cpu: number,
    private readonly cpus: number,
    devices: number,
    private readonly pages: number,
    /** Mixed into the peer-choice generator (the virtual engine's run seed); 0 in the threads engine. */
    seed = 0,
  ) {
    for (let d = cpu; d < devices; d += cpus) this.hosted.push(d);
    this.rng = ((cpu + 1) * 0x9e3779b1) ^ seed || 1;
  }

  /** One checked DMA read through the IOTLB; returns the PPN or FAULT. */
  read(asid: number, vaPage: number, device: number): number {
    const tlb = this.iotlb;
    const ppn = tlb.translate(asid, vaPage);
    this.oracle.count(Sf.CHECKED);
    if (ppn !== FAULT && tlb.lastHit) {
      if (tlb.lastGen !== tlb.currentGen)
        this.oracle.stale(this.cpu, device, asid - 1, asid, vaPage, ppn, tlb.lastGen, tlb.currentGen);
      else if (tlb.lastUnmapped) this.oracle.count(Sf.DEFERRED);
    }
    return ppn;
  }

  private next(): number {
    // xorshift32: cheap, per thread, no shared state.
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x;
    return x >>> 0;
  }

  /** Each hosted device reads one page of a random other CPU's live buffer. */
  peerReads(): void {
    if (this.cpus < 2) return;
    for (let i = 0; i < this.hosted.length; i++) {
      const r = this.next();
      let other = r % (this.cpus - 1);
      if (other >= this.cpu) other++;
      this.oracle.liveOf(other, this.live);
      const vaPage = this.live[0];
      if (vaPage === 0) continue;
      this.oracle.count(Sf.PEER_READS);
      if (this.read(this.live[1], vaPage + ((r >>> 16) % this.pages), this.hosted[i]) === FAULT)
        this.oracle.count(Sf.DEVICE_FAULTS);
    }
  }
}
