// The run's shared memory comes from a shared WebAssembly.Memory (page-aligned, so the layout's
// 64-byte lines are the host's cache lines): it must still behave as the SharedArrayBuffer every
// module and worker expects.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { SHARED_MEMORY_PAGE_ALIGNED, sharedBuffer } from '../src/hardware/shared-memory.js';
import { allocate, computeLayout } from '../src/hardware/layout.js';
import { layoutParamsFor } from '../src/workload/params.js';
import { DEFAULTS } from '../src/config/config.js';

describe('sharedBuffer', () => {
  it('is a zeroed SharedArrayBuffer of whole 64 KiB pages, at least as long as asked', () => {
    expect(SHARED_MEMORY_PAGE_ALIGNED).toBe(true); // WebAssembly is there on Node 20
    for (const bytes of [1, 64, 65536, 65537, 164_352]) {
      const b = sharedBuffer(bytes);
      expect(b).toBeInstanceOf(SharedArrayBuffer);
      expect(b.byteLength).toBeGreaterThanOrEqual(bytes);
      expect(b.byteLength % 65536).toBe(0);
      expect(b.byteLength - bytes).toBeLessThan(65536);
      expect(new Uint8Array(b).every((x) => x === 0)).toBe(true);
    }
  });

  it('is shared with a worker both ways, with Atomics.wait/notify across it', async () => {
    const b = sharedBuffer(4096);
    const w = new Int32Array(b);
    w[16] = 7; // plain store before the post: visible to the worker
    const worker = new Worker(
      `const { workerData } = require('node:worker_threads');
       const w = new Int32Array(workerData.b);
       Atomics.store(w, 1, w[16] + 1);
       Atomics.notify(w, 1);
       Atomics.wait(w, 2, 0);
       Atomics.store(w, 3, Atomics.load(w, 2) * 10);`,
      { eval: true, workerData: { b } },
    );
    const exited = new Promise<number>((res) => worker.once('exit', res));
    // Event, not time: the worker's store to word 1 ends the wait.
    while (Atomics.load(w, 1) === 0) Atomics.wait(w, 1, 0, 1000);
    expect(Atomics.load(w, 1)).toBe(8);
    Atomics.store(w, 2, 5);
    Atomics.notify(w, 2);
    expect(await exited).toBe(0);
    expect(Atomics.load(w, 3)).toBe(50);
  });

  it("is what a run's layout is allocated in", () => {
    const l = computeLayout(layoutParamsFor({ ...DEFAULTS, cpus: 1 }, 'batched'));
    const v = allocate(l);
    expect(v.sab.byteLength % 65536).toBe(0);
    expect(v.sab.byteLength).toBeGreaterThanOrEqual(l.totalBytes);
  });
});
