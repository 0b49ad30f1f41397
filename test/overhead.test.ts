// runs[].overhead: the emulator's own time per command inside iommu_unmap, from the run's own
// command counts (the 2017 protocol at one CPU issues exactly P TLBI_NH_VA + P CMD_SYNC per
// per-page unmap and P + 1 per batched one; lazy's unmap issues nothing), in the JSON, the text
// report and the CSV.
import { beforeAll, describe, expect, it } from 'vitest';
import { runConfig } from '../src/index.js';
import { toCsv } from '../src/report/csv.js';
import { unmapOverhead } from '../src/report/overhead.js';
import { int } from '../src/report/table.js';
import { runSummary } from '../src/report/text.js';
import type { ResultDocument, RunReport } from '../src/report/types.js';
import { config } from './helpers/runs.js';

const PAGES = 4;
const TLBI_NS = 100;
const SYNC_NS = 1000;

describe('unmapOverhead', () => {
  it('subtracts the modelled SMMU time of the unmap and divides by its commands', () => {
    const o = unmapOverhead(
      { TLBI_NH_VA: 16, TLBI_NH_ASID: 0, CMD_SYNC: 1, other: 0 },
      false,
      7200,
      100,
      1000,
    );
    expect(o).toEqual({
      commandsPerUnmap: 17,
      modelledUnmapNs: 2600,
      measuredUnmapNs: 7200,
      overheadUnmapNs: 4600,
      nsPerCommand: 4600 / 17,
      unmapEfficiency: 2600 / 7200,
      note: null,
    });
  });

  it('says why there is no figure instead of dividing by zero', () => {
    const lazy = unmapOverhead({ TLBI_NH_ASID: 0.01, CMD_SYNC: 0.01 }, true, 900, 100, 1000);
    expect(lazy).toMatchObject({ commandsPerUnmap: 0, modelledUnmapNs: 0, overheadUnmapNs: 900 });
    expect(lazy.nsPerCommand).toBeNull();
    expect(lazy.unmapEfficiency).toBeNull();
    expect(lazy.note).toBe('unmap issues no commands (invalidation deferred to flushes)');
    const counters = unmapOverhead({ TLBI_NH_VA: 16, CMD_SYNC: 1 }, false, null, 100, 1000);
    expect(counters).toMatchObject({ modelledUnmapNs: 2600, nsPerCommand: null, overheadUnmapNs: null });
    expect(counters.note).toBe('not timed (--stats counters)');
    expect(unmapOverhead({ TLBI_NH_VA: 0, CMD_SYNC: 0 }, false, 0, 100, 1000).note).toBe(
      'no unmaps measured',
    );
    // Every latency 0: the overhead is the whole unmap; there is no efficiency to speak of.
    const zero = unmapOverhead({ TLBI_NH_VA: 16, CMD_SYNC: 1 }, false, 1700, 0, 0);
    expect(zero).toMatchObject({ modelledUnmapNs: 0, nsPerCommand: 100, unmapEfficiency: null });
  });
});

describe('runs[].overhead of a real run (1 CPU, --pages 4, 100/1000)', () => {
  let doc: ResultDocument;
  beforeAll(async () => {
    ({ doc } = await runConfig(
      config({
        cpus: 1,
        pages: PAGES,
        tlbiNs: TLBI_NS,
        syncNs: SYNC_NS,
        strategies: ['per-page', 'batched', 'lazy'],
        durationMs: 150,
        warmupMs: 20,
      }),
      () => {},
    ));
  });
  const run = (s: string): RunReport => doc.runs.find((r) => r.strategy === s)!;

  it('takes the command counts and the modelled time from the run itself', () => {
    for (const [s, perUnmap, modelled] of [
      ['per-page', 2 * PAGES, PAGES * (TLBI_NS + SYNC_NS)],
      ['batched', PAGES + 1, PAGES * TLBI_NS + SYNC_NS],
    ] as const) {
      const r = run(s);
      const o = r.overhead!;
      expect(r.totals.unmaps, s).toBeGreaterThan(0);
      // The counts the formula uses are the run's, and the protocol fixes them exactly.
      const issued = r.driver.commandsIssued.byOpcode;
      expect((issued.TLBI_NH_VA + issued.CMD_SYNC) / r.totals.unmaps, s).toBe(perUnmap);
      expect(o.commandsPerUnmap, s).toBe(perUnmap);
      expect(o.modelledUnmapNs, s).toBe(modelled);
      expect(o.measuredUnmapNs, s).toBe(r.unmapLatencyNs.mean);
      expect(o.overheadUnmapNs, s).toBe(r.unmapLatencyNs.mean! - modelled);
      expect(o.nsPerCommand, s).toBe((r.unmapLatencyNs.mean! - modelled) / perUnmap);
      expect(o.unmapEfficiency, s).toBe(modelled / r.unmapLatencyNs.mean!);
      expect(o.note, s).toBeNull();
    }
  });

  it('reports lazy, whose unmap issues nothing, without a per-command figure', () => {
    const o = run('lazy').overhead!;
    expect(o).toMatchObject({ commandsPerUnmap: 0, modelledUnmapNs: 0, nsPerCommand: null });
    expect(o.overheadUnmapNs).toBe(run('lazy').unmapLatencyNs.mean);
    expect(o.note).toMatch(/no commands/);
  });

  it('prints the overhead line and the unmap path efficiency beside the whole-cycle one', () => {
    const text = doc.runs.map(runSummary).join('\n');
    for (const s of ['per-page', 'batched']) {
      const o = run(s).overhead!;
      expect(text).toContain(`emulator overhead: ${int(o.nsPerCommand!)} ns per command (unmap mean `);
      expect(text).toContain(`, unmap path ${(100 * o.unmapEfficiency!).toFixed(1)}%\n`);
    }
    expect(text).toContain(
      'emulator overhead: n/a, unmap issues no commands (invalidation deferred to flushes)',
    );
    expect(text.match(/^ {2}\(efficiency: whole cycles .* unmap path: modelled SMMU time/gm)).toHaveLength(2);
    // A result saved before the field existed (`report`, `merge`): no line, no unmap path.
    const old = runSummary({ ...run('batched'), overhead: undefined });
    expect(old).not.toMatch(/emulator overhead|unmap path/);
    expect(old).toMatch(/^model bound: .*; efficiency [\d.]+%$/m);
  });

  it('writes overheadNsPerCommand to the CSV (empty for lazy)', () => {
    const [head, ...rows] = toCsv(doc)
      .trimEnd()
      .split('\r\n')
      .map((l) => l.split(','));
    const col = head.indexOf('overheadNsPerCommand');
    expect(col).toBeGreaterThan(0);
    doc.runs.forEach((r, i) => {
      const v = r.overhead!.nsPerCommand;
      expect(rows[i][col], r.strategy).toBe(v === null ? '' : String(v));
    });
  });
});
