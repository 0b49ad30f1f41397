// The SMMU's IOTLB, in shared memory: set-associative, IOTLB_WAYS ways per set, round-robin
// replacement within a set (each set keeps a victim pointer; a fill takes the next way, evicting
// whatever is there). Translation lookups come from the device side (the threads that issue DMA)
// and invalidations from the SMMU's command processor, concurrently, as the two engines run in
// hardware; a per-set lock makes a page-table walk + fill atomic with respect to a TLBI of the same
// set, so a fill can never resurrect an entry that an invalidation has already removed.
//
// Set format (int32 words; IOTLB_SET_BYTES = two 64-byte lines per set, line-aligned):
//   line 0, the tags: word 0 set lock (0 free, 1 held)   word 1 its waiter count
//     word 2 victim way   word 3 pad   then per way, 2 words: ASID (0 = invalid entry), VA page
//     (IOVA >> PAGE_SHIFT); words 12-15 pad
//   line 1, the payload: per way, 2 words: PPN, generation
// A TLBI (the SMMU's thread) reads and writes line 0 only: the device's fill on another thread
// last wrote the set, so each line the invalidation touches is a cross-core transfer, and with
// the tags and the lock on one line it is one per TLBI (with 4 words a way, way 3 sat on the
// second line, which the invalidation read every time). The payload is only the translation's.
// A mapping's generation (pteGen) is stamped into the entry at fill time so that the safety
// oracle can tell an entry filled from an earlier mapping of the same IOVA.
import { pteGenIdx, pteIdx, VA_BASE_PAGE, type Layout, type LayoutGeometry } from './layout.js';
import { checkRegion, LINE, REGION, type RegionDecl } from './region.js';
import { waitForChange, handOff, type WaitPolicy } from '../concurrency/wait.js';

export const IOTLB_WAYS = 4;
export const IOTLB_SET_BYTES = 128;

export const IOTLB_DECL: RegionDecl<LayoutGeometry> = {
  name: REGION.IOTLB,
  bytes: (g) => g.iotlbSets * IOTLB_SET_BYTES,
  align: LINE,
};

/** Int32 index of IOTLB set s. */
export const iotlbSetIdx = (l: Layout, set: number): number => (l.iotlbOff + set * IOTLB_SET_BYTES) >> 2;
/** Int32 offsets in a set: way w's tag at TAG0 + 2w (ASID, PAGE), its payload at DATA0 + 2w. */
const TAG0 = 4;
/** Word 3 of a set: unused, so that warm() can take the tag line without writing anything. */
const SET_PAD = 3;
const DATA0 = 16;

/** Words of a way's tag (line 0). */
export const enum Tag {
  ASID = 0,
  PAGE = 1,
}

/** Words of a way's payload (line 1). */
export const enum Payload {
  PPN = 0,
  GEN = 1,
}

/** Result of a translation: a PPN >= 0, or FAULT when no valid PTE exists. */
export const FAULT = -1;

export class Iotlb {
  private readonly setMask: number;
  /** Filled by translate(): did the last lookup hit? */
  lastHit = false;
  /** Filled by translate() on a hit: generation stamped in the entry that served it. */
  lastGen = 0;
  /** On a hit: the page's mapping generation when the hit was served (!= lastGen: stale entry). */
  currentGen = 0;
  /** On a hit: the page's PTE was clear when the hit was served (use inside an unmap window). */
  lastUnmapped = false;

  constructor(
    private readonly i32: Int32Array,
    private readonly layout: Layout,
    private readonly policy: WaitPolicy,
  ) {
    checkRegion(i32.buffer, REGION.IOTLB, layout.iotlbOff, layout.iotlbSets * IOTLB_SET_BYTES);
    this.setMask = layout.iotlbSets - 1;
  }

  setOf(asid: number, page: number): number {
    return (page + asid * 0x9e37) & this.setMask;
  }

  private lock(s: number): void {
    const i32 = this.i32;
    while (Atomics.compareExchange(i32, s, 0, 1) !== 0) waitForChange(i32, s, 1, this.policy);
  }

  private unlock(s: number): void {
    handOff(this.i32, s, 0);
  }

  /** Device-side translation of (asid, page): IOTLB hit, or walk the page table and fill. */
  translate(asid: number, page: number): number {
    const i32 = this.i32;
    const s = iotlbSetIdx(this.layout, this.setOf(asid, page));
    this.lock(s);
    for (let w = 0, e = s + TAG0; w < IOTLB_WAYS; w++, e += 2) {
      if (i32[e + Tag.ASID] === asid && i32[e + Tag.PAGE] === page) {
        const d = s + DATA0 + w * 2;
        const ppn = i32[d + Payload.PPN];
        this.lastHit = true;
        this.lastGen = i32[d + Payload.GEN];
        // The safety oracle's probe (not hardware behaviour): compare the entry with the page's
        // mapping at the instant the hit is served, under the set lock, so a remap that happens
        // after this hit cannot be mistaken for one before it.
        const t = page - VA_BASE_PAGE;
        const inTable = t >= 0 && t < this.layout.pagesPerDomain;
        this.currentGen = inTable ? Atomics.load(i32, pteGenIdx(this.layout, asid - 1, t)) : this.lastGen;
        this.lastUnmapped = inTable && Atomics.load(i32, pteIdx(this.layout, asid - 1, t)) === 0;
        this.unlock(s);
        return ppn;
      }
    }
    this.lastHit = false;
    const domain = asid - 1;
    const t = page - VA_BASE_PAGE;
    const pte =
      t >= 0 && t < this.layout.pagesPerDomain ? Atomics.load(i32, pteIdx(this.layout, domain, t)) : 0;
    if (pte === 0) {
      this.unlock(s);
      return FAULT;
    }
    const victim = i32[s + 2];
    i32[s + 2] = (victim + 1) % IOTLB_WAYS;
    const e = s + TAG0 + victim * 2;
    const d = s + DATA0 + victim * 2;
    i32[e + Tag.ASID] = asid;
    i32[e + Tag.PAGE] = page;
    i32[d + Payload.PPN] = pte - 1;
    i32[d + Payload.GEN] = Atomics.load(i32, pteGenIdx(this.layout, domain, t));
    this.unlock(s);
    return pte - 1;
  }

  /**
   * Starts taking the tag line of (asid, page)'s set into this thread's cache for writing, and
   * changes nothing: a plain store to the set's unused pad word, which does not wait for the line.
   */
  warm(asid: number, page: number): void {
    this.i32[iotlbSetIdx(this.layout, this.setOf(asid, page)) + SET_PAD] = 0;
  }

  /** TLBI by VA for `count` pages from `page`; returns entries removed. */
  invalidateRange(asid: number, page: number, count: number): number {
    if (count >= this.layout.iotlbSets * IOTLB_WAYS) return this.scan(asid, page, page + count);
    let removed = 0;
    for (let p = page; p < page + count; p++) {
      const s = iotlbSetIdx(this.layout, this.setOf(asid, p));
      this.lock(s);
      removed += this.removeInSet(s, asid, p, p + 1);
      this.unlock(s);
    }
    return removed;
  }

  /** TLBI_NH_VAA: `count` pages from `page` whatever their ASID. The set depends on the ASID, so
   *  every set is looked at. */
  invalidateRangeAnyAsid(page: number, count: number): number {
    return this.scan(0, page, page + count);
  }

  /** TLBI by ASID (asid > 0) or everything (asid = 0); returns entries removed. */
  invalidateAsid(asid: number): number {
    return this.scan(asid, 0, Infinity);
  }

  private scan(asid: number, lo: number, hi: number): number {
    let removed = 0;
    for (let set = 0; set < this.layout.iotlbSets; set++) {
      const s = iotlbSetIdx(this.layout, set);
      this.lock(s);
      removed += this.removeInSet(s, asid, lo, hi);
      this.unlock(s);
    }
    return removed;
  }

  private removeInSet(s: number, asid: number, lo: number, hi: number): number {
    const i32 = this.i32;
    let removed = 0;
    for (let w = 0, e = s + TAG0; w < IOTLB_WAYS; w++, e += 2) {
      const a = i32[e + Tag.ASID];
      if (a === 0 || (asid !== 0 && a !== asid)) continue;
      const p = i32[e + Tag.PAGE];
      if (p >= lo && p < hi) {
        i32[e + Tag.ASID] = 0;
        removed++;
      }
    }
    return removed;
  }

  /** Every valid entry, for tests and end-of-run checks (not for the hot path). */
  entries(): { asid: number; page: number; ppn: number; gen: number }[] {
    const out = [];
    for (let set = 0; set < this.layout.iotlbSets; set++) {
      const s = iotlbSetIdx(this.layout, set);
      for (let w = 0, e = s + TAG0; w < IOTLB_WAYS; w++, e += 2) {
        const asid = Atomics.load(this.i32, e + Tag.ASID);
        const d = s + DATA0 + w * 2;
        if (asid !== 0)
          out.push({
            asid,
            page: this.i32[e + Tag.PAGE],
            ppn: this.i32[d + Payload.PPN],
            gen: this.i32[d + Payload.GEN],
          });
      }
    }
    return out;
  }
}
