// Log-linear latency histogram stored in a Float64Array slice (shared memory), HDR-style:
// values below 2^SUB_BITS get one bucket each; above, every power of two is split into
// 2^SUB_BITS buckets, so a bucket's width is at most 1/16 of its value (6.25% error).
// Recording is a clz32, a shift and one add: cheap enough for the hot path.

export const SUB_BITS = 4;
const SUB = 1 << SUB_BITS;
export const MAX_EXP = 44; // 2^44 ns = 4.9 hours: anything larger lands in the last bucket
export const HIST_BUCKETS = (MAX_EXP - SUB_BITS + 1) * SUB + SUB;

export function bucketOf(ns: number): number {
  if (ns < 2147483648) {
    // Integer-only path (the hot one): truncate, find the power of two, take SUB_BITS below it.
    const v = ns > 0 ? ns | 0 : 0;
    if (v < SUB) return v;
    const shift = 31 - Math.clz32(v) - SUB_BITS;
    return ((shift + 1) << SUB_BITS) + ((v >>> shift) - SUB);
  }
  return bucketOfLarge(ns);
}

/** bucketOf() from 2^31 ns (2.1 s) up: out of line, so the hot path stays small enough to inline. */
function bucketOfLarge(ns: number): number {
  const e = Math.floor(Math.log2(ns));
  if (e > MAX_EXP) return HIST_BUCKETS - 1;
  const shift = e - SUB_BITS;
  return (shift + 1) * SUB + (Math.floor(ns / 2 ** shift) - SUB);
}

/** Smallest value that falls in bucket b. */
export function bucketLow(b: number): number {
  if (b < SUB) return b;
  const shift = Math.floor(b / SUB) - 1;
  const sub = b % SUB;
  return (SUB + sub) * 2 ** shift;
}

/** First value above bucket b. */
export function bucketHigh(b: number): number {
  if (b < SUB) return b + 1;
  const shift = Math.floor(b / SUB) - 1;
  return bucketLow(b) + 2 ** shift;
}

export function record(h: Float64Array, base: number, ns: number): void {
  h[base + bucketOf(ns)]++;
}

/** Adds histogram src[srcBase..] into dst[dstBase..]. */
export function mergeInto(dst: Float64Array, dstBase: number, src: Float64Array, srcBase: number): void {
  for (let i = 0; i < HIST_BUCKETS; i++) dst[dstBase + i] += src[srcBase + i];
}

export function count(h: Float64Array, base: number): number {
  let n = 0;
  for (let i = 0; i < HIST_BUCKETS; i++) n += h[base + i];
  return n;
}

/**
 * Value at quantile q (0..1): the midpoint of the bucket that holds it, clamped to the exact
 * min and max that were recorded beside the histogram (so p100 == max and tiny samples are exact).
 */
export function quantile(h: Float64Array, base: number, q: number, min: number, max: number): number {
  const n = count(h, base);
  if (n === 0) return 0;
  const rank = Math.max(1, Math.ceil(q * n));
  if (rank >= n) return max;
  let seen = 0;
  for (let i = 0; i < HIST_BUCKETS; i++) {
    seen += h[base + i];
    if (seen >= rank) {
      const mid = (bucketLow(i) + bucketHigh(i)) / 2;
      return Math.min(max, Math.max(min, mid));
    }
  }
  return max;
}
