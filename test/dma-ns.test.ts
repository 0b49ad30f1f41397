// --dma-ns (-x, dma_map_benchmark's dma_trans_ns): the time a CPU keeps each buffer mapped besides
// its device reads. Checked by counts, not deadlines: every measured unmap was preceded by one full
// --dma-ns spent in that CPU's loop, so unmaps x dma-ns cannot exceed the CPU's measured window
// (plus the iterations that straddle its opening and its closing).
import { describe, expect, it } from 'vitest';
import { runConfig } from '../src/index.js';
import { parseArgs } from '../src/cli/args.js';
import { parseSweeps, sweepPoints } from '../src/config/sweep.js';
import { DEFAULTS } from '../src/config/config.js';
import { toCsv } from '../src/report/csv.js';
import { config } from './helpers/runs.js';

// 1 ms rather than dma_map_benchmark's usual 100 us: on the loaded 2-core box one CPU without the
// spin managed only ~770 lazy unmaps in 300 ms (load average 16), which 100 us (3,002) would not catch.
const DMA_NS = 1_000_000;

describe('--dma-ns', () => {
  it('parses -x / --dma-ns like the other latencies; 0 by default', () => {
    expect(DEFAULTS.dmaNs).toBe(0);
    for (const [argv, ns] of [
      [['-x', '100us'], 100_000],
      [['--dma-ns', '2500'], 2500],
      [['--dma-ns', '10ms'], 10_000_000],
      [[], 0],
    ] as const) {
      const out = parseArgs([...argv]);
      expect(out.kind).toBe('run');
      if (out.kind === 'run') expect(out.config.dmaNs).toBe(ns);
    }
    const pts = sweepPoints(config({}), parseSweeps('--sweep', ['dma-ns=0,1us']));
    expect(pts.map((p) => p.cfg.dmaNs)).toEqual([0, 1000]);
  });

  it('1ms per iteration: unmaps x 1ms fit in the measured window; recorded in JSON and CSV', async () => {
    const cfg = config({ cpus: 1, strategies: ['lazy'], dmaNs: DMA_NS });
    const { doc } = await runConfig(cfg, () => {});
    const r = doc.runs[0];
    expect(r.errors).toEqual([]);
    expect(r.totals.unmaps).toBeGreaterThan(0);
    // With the spin at most 302 in 300 ms.
    expect(r.perCpu[0].unmaps * DMA_NS).toBeLessThanOrEqual(r.durationMs * 1e6 + 2 * DMA_NS);
    expect(doc.config.dmaNs).toBe(DMA_NS);
    const [header, row] = toCsv(doc)
      .split('\r\n')
      .map((l) => l.split(','));
    expect(Number(row[header.indexOf('dmaNs')])).toBe(DMA_NS);
  });
});
