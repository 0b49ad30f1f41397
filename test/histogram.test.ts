// The log-linear latency histogram: every value lands in the bucket whose bounds hold it, bucket
// width stays within 1/16 of the value, and quantiles agree with exact ones within that error.
import { describe, expect, it } from 'vitest';
import {
  bucketHigh,
  bucketLow,
  bucketOf,
  count,
  HIST_BUCKETS,
  mergeInto,
  quantile,
  record,
} from '../src/concurrency/histogram.js';

describe('histogram', () => {
  it('puts every value in the bucket that holds it, with width <= 1/16 of the value', () => {
    const bad: string[] = [];
    const values = [
      0,
      1,
      2,
      15,
      16,
      17,
      31,
      32,
      33,
      100,
      1000,
      12345,
      2 ** 20 + 7,
      2 ** 31 - 1,
      2 ** 31,
      2 ** 31 + 5,
      2 ** 40,
      3.7,
      16.9,
    ];
    for (let v = 1; v < 1e7; v = Math.ceil(v * 1.37)) values.push(v);
    for (const v of values) {
      const b = bucketOf(v);
      const iv = Math.floor(v);
      if (!(bucketLow(b) <= iv && iv < bucketHigh(b)))
        bad.push(`${v} -> ${b} [${bucketLow(b)}, ${bucketHigh(b)})`);
      if (iv >= 16 && (bucketHigh(b) - bucketLow(b)) / bucketLow(b) > 1 / 16)
        bad.push(`${v}: bucket too wide`);
    }
    expect(bad).toEqual([]);
    for (let b = 0; b < HIST_BUCKETS - 1; b++) expect(bucketOf(bucketLow(b))).toBe(b);
    expect(bucketOf(-5)).toBe(0);
    expect(bucketOf(2 ** 60)).toBe(HIST_BUCKETS - 1);
  });

  it('gives quantiles within the bucket error of the exact ones, clamped to the exact min and max', () => {
    const h = new Float64Array(HIST_BUCKETS);
    let x = 12345;
    const samples: number[] = [];
    for (let i = 0; i < 20000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const v = 50 + (x % 100000) * ((x >>> 7) % 3 === 0 ? 10 : 1);
      samples.push(v);
      record(h, 0, v);
    }
    samples.sort((a, b) => a - b);
    const min = samples[0];
    const max = samples[samples.length - 1];
    expect(count(h, 0)).toBe(samples.length);
    for (const q of [0.5, 0.9, 0.99, 0.999]) {
      const exact = samples[Math.ceil(q * samples.length) - 1];
      expect(Math.abs(quantile(h, 0, q, min, max) - exact) / exact).toBeLessThan(1 / 16);
    }
    expect(quantile(h, 0, 1, min, max)).toBe(max);
    expect(quantile(new Float64Array(HIST_BUCKETS), 0, 0.5, 0, 0)).toBe(0);
  });

  it('merges histograms bucket by bucket', () => {
    const a = new Float64Array(2 * HIST_BUCKETS);
    const b = new Float64Array(HIST_BUCKETS);
    record(a, HIST_BUCKETS, 100);
    record(b, 0, 100);
    record(b, 0, 5000);
    mergeInto(a, HIST_BUCKETS, b, 0);
    expect(count(a, HIST_BUCKETS)).toBe(3);
    expect(a[HIST_BUCKETS + bucketOf(100)]).toBe(2);
  });
});
