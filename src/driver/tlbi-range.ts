// Range invalidation planning (SMMUv3.2 RIL) as Linux's __arm_smmu_tlb_inv_range does it: driver
// logic, so it lives here; the hardware side only knows the TG/NUM/SCALE/TTL fields (commands.ts).
import { TLBI_RANGE_NUM_MAX } from '../hardware/commands.js';

const TWO_32 = 2 ** 32;
/** Byte addresses are JS numbers: a 52-bit VA (arm64's largest) stays exact. */
const ADDR_LIMIT = 2 ** 52;

export interface TlbiRange {
  addrPage: number; // first page of the command, in granule pages (4K pages for the default granule)
  num: number; // encoded NUM field: the command covers (num + 1) << scale pages
  scale: number;
  tg: number; // TG_4K / TG_16K / TG_64K
  ttl: number; // 3: leaf entries of a page-sized granule are at level 3 for every granule
}

/** Pages covered by one range TLBI with encoded fields NUM and SCALE. */
export function rangePages(num: number, scale: number): number {
  return (num + 1) * 2 ** scale;
}

/** Index of the lowest set bit of a positive integer below 2^53 (Linux __ffs). */
function lowestSetBit(n: number): number {
  const lo = n % TWO_32;
  if (lo !== 0) return 31 - Math.clz32(lo & -lo);
  const hi = Math.floor(n / TWO_32);
  return 32 + 31 - Math.clz32(hi & -hi);
}

/**
 * Split [startPage, startPage + numPages) into range TLBIs as Linux's __arm_smmu_tlb_inv_range does
 * with RIL: each command takes the 5 bits of the remaining count starting at its lowest set bit, so
 * a count needs at most one command per 5-bit group. Leaf invalidation only (Linux's non-leaf
 * TTL=0 case and its NUM adjustment are not modelled). Pages are of 2^tgLog2 bytes.
 */
export function tlbiRangePlan(startPage: number, numPages: number, tgLog2 = 12): TlbiRange[] {
  if (tgLog2 !== 12 && tgLog2 !== 14 && tgLog2 !== 16) {
    throw new RangeError(`tlbiRangePlan: tgLog2=${tgLog2} is not 12, 14 or 16`);
  }
  if (!Number.isInteger(startPage) || startPage < 0) {
    throw new RangeError(`tlbiRangePlan: startPage=${startPage} is not a page number`);
  }
  if (!Number.isInteger(numPages) || numPages < 0) {
    throw new RangeError(`tlbiRangePlan: numPages=${numPages} is not a page count`);
  }
  if ((startPage + numPages) * 2 ** tgLog2 > ADDR_LIMIT) {
    throw new RangeError(`tlbiRangePlan: pages ${startPage}+${numPages} end beyond a 52-bit address`);
  }
  const tg = (tgLog2 - 10) / 2; // 12, 14, 16 -> 1, 2, 3, as Linux converts it
  const plan: TlbiRange[] = [];
  let page = startPage;
  let remaining = numPages;
  while (remaining > 0) {
    const scale = lowestSetBit(remaining);
    if (scale > 31) throw new RangeError(`tlbiRangePlan: numPages=${numPages} needs SCALE=${scale} > 31`);
    const num = Math.floor(remaining / 2 ** scale) % (TLBI_RANGE_NUM_MAX + 1);
    const pages = num * 2 ** scale;
    plan.push({ addrPage: page, num: num - 1, scale, tg, ttl: 3 });
    page += pages;
    remaining -= pages;
  }
  return plan;
}
