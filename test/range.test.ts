// The `range` strategy (SMMUv3.2 range invalidation): first the command batches it builds, checked
// without threads for every unmap size up to MAX_PAGES, then end to end with real worker threads,
// reconstructing from the command log which pages each TLBI_NH_VA covered per unmap.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runConfig } from '../src/index.js';
import { DEFAULTS, MAX_PAGES } from '../src/config/config.js';
import { CmdBatch } from '../src/driver/cmd-batch.js';
import type { CmdqIssuer } from '../src/driver/cmdq.js';
import { getStrategy, STRATEGY_NAMES } from '../src/driver/strategies/index.js';
import type { InvalidationStrategy } from '../src/driver/strategies/strategy.js';
import { decodeWords, TG_4K, type Command } from '../src/hardware/commands.js';
import { rangePages, tlbiRangePlan } from '../src/driver/tlbi-range.js';
import { VA_BASE_PAGE } from '../src/hardware/layout.js';
import type { ResultDocument, RunReport } from '../src/report/types.js';
import { cpuStatsSlots, CpuStats } from '../src/concurrency/counters.js';
import { checkLog, config, iovaOpAcquisitions, isPolledSync } from './helpers/runs.js';

// ---- Helpers (the small ones of test/e2e.test.ts, copied) ---------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'tlbsync-range-'));

/** Commands still in flight at the two edges of the measured window: a CPU's whole unmap each. */
function inFlight(r: RunReport, perUnmap: number): number {
  return 2 * r.cpus * perUnmap;
}

// ---- Plan arithmetic -----------------------------------------------------------------------------

/** Fewest range TLBIs covering n pages, by dynamic programming over every (NUM+1) << SCALE. */
function fewestCommands(max: number): Int32Array {
  const sizes = new Set<number>();
  for (let scale = 0; scale <= 31; scale++)
    for (let n = 1; n <= 32; n++) if (rangePages(n - 1, scale) <= max) sizes.add(rangePages(n - 1, scale));
  const sorted = [...sizes].sort((a, b) => a - b);
  const best = new Int32Array(max + 1).fill(0x7fffffff);
  best[0] = 0;
  for (let n = 1; n <= max; n++)
    for (const s of sorted) {
      if (s > n) break;
      best[n] = Math.min(best[n], best[n - s] + 1);
    }
  return best;
}

// ---- The strategy's batches, without threads -------------------------------------------------------

interface Issued {
  cmds: Command[];
  sync: boolean;
}

/** A CmdqIssuer that decodes and records every batch it is given. */
function recordingStrategy(): { s: InvalidationStrategy; issued: Issued[]; freed: number[] } {
  const issued: Issued[] = [];
  const freed: number[] = [];
  const stats = new CpuStats(new Float64Array(cpuStatsSlots(2)), 0);
  const cmdq: CmdqIssuer = {
    stats,
    issue(batch: CmdBatch, sync: boolean) {
      const cmds: Command[] = [];
      for (let i = 0; i < batch.num; i++) cmds.push(decodeWords(batch.words, i * 4));
      issued.push({ cmds, sync });
    },
  };
  const s = getStrategy('range').create({
    cpu: 0,
    cmdq,
    freeIova: (p) => freed.push(p),
    cfg: DEFAULTS,
    stats: () => stats,
  });
  return { s, issued, freed };
}

/** What iommu_unmap does: one tlbAddPage per page, then iotlbSync. */
function unmap(s: InvalidationStrategy, asid: number, start: number, pages: number): void {
  for (let p = start; p < start + pages; p++) s.tlbAddPage(asid, p);
  s.iotlbSync(asid, start, pages);
}

/** Returns a description of what is wrong with cmds as the invalidation of [start, start+pages). */
function coverageError(cmds: Command[], asid: number, start: number, pages: number): string | null {
  let next = start;
  for (const c of cmds) {
    if (c.op !== 'TLBI_NH_VA') return `${c.op} in a range unmap`;
    if (c.asid !== asid || c.vmid !== 0 || !c.leaf || c.tg !== TG_4K || c.ttl !== 3)
      return `fields ${JSON.stringify(c)}`;
    // Contiguous and in order: the union is exact only if no command overlaps or leaves a gap.
    if (c.addr / 4096 !== next) return `starts at page ${c.addr / 4096}, expected ${next}`;
    next += rangePages(c.num, c.scale);
  }
  return next === start + pages ? null : `covers up to page ${next}, expected ${start + pages}`;
}

describe('range: the batch each unmap issues', () => {
  const best = fewestCommands(MAX_PAGES);
  // Page-aligned and odd starts, and one whose byte address needs the top bits of a 52-bit VA.
  const starts = [VA_BASE_PAGE, VA_BASE_PAGE + 1, VA_BASE_PAGE + 3 * 4096 + 17, 2 ** 40 - 2 * MAX_PAGES - 3];

  it.each(starts)(
    'covers exactly the unmapped pages with the fewest TLBI_NH_VA + one CMD_SYNC, 1..4096 pages from %i',
    (start) => {
      const { s, issued } = recordingStrategy();
      const bad: string[] = [];
      for (let pages = 1; pages <= MAX_PAGES; pages++) {
        issued.length = 0;
        unmap(s, 7, start, pages);
        if (issued.length !== 1 || !issued[0].sync) {
          bad.push(`${pages} pages: ${issued.length} batches, sync ${issued[0]?.sync}`);
          continue;
        }
        const cmds = issued[0].cmds;
        const why = coverageError(cmds, 7, start, pages);
        if (why) bad.push(`${pages} pages: ${why}`);
        if (cmds.length !== best[pages])
          bad.push(`${pages} pages: ${cmds.length} commands, fewest is ${best[pages]}`);
        if (pages > 1 && cmds.length >= pages) bad.push(`${pages} pages: ${cmds.length} commands`);
        // Exactly Linux's split (tlbiRangePlan), field by field.
        const plan = tlbiRangePlan(start, pages);
        const same = (c: Command, i: number): boolean =>
          c.op === 'TLBI_NH_VA' &&
          c.addr / 4096 === plan[i].addrPage &&
          c.num === plan[i].num &&
          c.scale === plan[i].scale &&
          c.tg === plan[i].tg &&
          c.ttl === plan[i].ttl;
        if (cmds.length !== plan.length || !cmds.every(same)) bad.push(`${pages} pages: not tlbiRangePlan`);
      }
      expect(bad.slice(0, 5)).toEqual([]);
    },
  );

  it('issues nothing per page, nothing for an empty gather, and frees the IOVA at once', () => {
    const { s, issued, freed } = recordingStrategy();
    for (let p = 0; p < 5; p++) s.tlbAddPage(1, VA_BASE_PAGE + p);
    expect(issued).toEqual([]);
    s.iotlbSync(1, VA_BASE_PAGE, 5);
    expect(issued.length).toBe(1);
    s.iotlbSync(1, VA_BASE_PAGE, 0);
    expect(issued.length).toBe(1);
    s.releaseIova(1, VA_BASE_PAGE);
    expect(freed).toEqual([VA_BASE_PAGE]);
  });

  it('syncs what it has gathered before a page that does not extend the range (as Linux)', () => {
    const { s, issued } = recordingStrategy();
    const a = VA_BASE_PAGE;
    for (const p of [a, a + 1, a + 2, a + 10, a + 11]) s.tlbAddPage(1, p);
    s.tlbAddPage(2, a + 12); // another ASID: a new range too
    s.iotlbSync(2, a + 12, 1);
    expect(issued.map((b) => b.sync)).toEqual([true, true, true]);
    expect(coverageError(issued[0].cmds, 1, a, 3)).toBeNull();
    expect(coverageError(issued[1].cmds, 1, a + 10, 2)).toBeNull();
    expect(coverageError(issued[2].cmds, 2, a + 12, 1)).toBeNull();
  });

  it('is registered with IDR3.RIL required and the locked command queue', () => {
    expect(STRATEGY_NAMES).toContain('range');
    const def = getStrategy('range');
    expect(def.ril).toBe(true);
    expect(def.cmdq).toBe('locked');
    expect(def.summary).toMatch(/Rob Herring/);
    expect(def.summary).toMatch(/v5\.8/);
  });
});

// ---- End to end --------------------------------------------------------------------------------------

describe('range, end to end', () => {
  let doc: ResultDocument;
  const base = join(dir, 'cmds');
  beforeAll(async () => {
    doc = (await runConfig(config({ strategies: ['range'], cmdLog: base }), () => {})).doc;
  });

  it('issues one range TLBI_NH_VA per 8-page unmap and one CMD_SYNC; counts are exact', () => {
    const r = doc.runs[0];
    const perUnmap = tlbiRangePlan(0, 8).length;
    expect(perUnmap).toBe(1);
    expect(r.errors).toEqual([]);
    expect(r.complete).toBe(true);
    expect(r.totals.unmaps).toBeGreaterThan(0);
    expect(r.totals.maps).toBe(r.totals.unmaps);
    expect(r.totals.pagesUnmapped).toBe(r.totals.unmaps * 8);
    const issued = r.driver.commandsIssued.byOpcode;
    expect(issued.TLBI_NH_VA).toBe(r.totals.unmaps * perUnmap);
    expect(issued.TLBI_NH_VA).toBeLessThan(r.totals.pagesUnmapped);
    expect(issued.CMD_SYNC).toBe(r.totals.unmaps);
    expect(issued.TLBI_NH_ASID).toBe(0);
    // Every insertion takes the cmdq lock once; every unmap takes the iova lock twice.
    const cmdq = r.locks.find((l) => l.name === 'cmdq')!;
    expect(cmdq.acquisitions).toBe(r.driver.commandsIssued.total);
    expect(iovaOpAcquisitions(r)).toBe(2 * r.totals.unmaps);
    const edge = inFlight(r, perUnmap + 1);
    expect(Math.abs(r.commands.byOpcode.TLBI_NH_VA - issued.TLBI_NH_VA)).toBeLessThanOrEqual(edge);
    expect(Math.abs(r.commands.byOpcode.CMD_SYNC - issued.CMD_SYNC)).toBeLessThanOrEqual(edge);
    expect(r.commands.byOpcode.TLBI_NH_ASID).toBe(0);
    expect(r.endState).toEqual({ iotlbEntries: 0, iovasOutstanding: 0 });
    expect(r.iotlb.faults).toBe(0);
    expect(r.iotlb.translations).toBe(r.totals.pagesMapped);
    expect(r.smmu.cmdqErrors).toBe(0);
  });

  it('logs exactly the counts reported, every TLBI a 4K range of the 8 pages of one IOVA slot', () => {
    const r = doc.runs[0];
    const cmds = checkLog(r, base);
    // 8 = 1 << 3: one command with NUM=0 (one unit) and SCALE=3 (of 8 pages).
    const [want] = tlbiRangePlan(0, 8);
    expect([want.num, want.scale]).toEqual([0, 3]);
    const bad: string[] = [];
    for (const c of cmds) {
      if (c.op === 'TLBI_NH_VA') {
        const page = c.addr / 4096;
        if (
          c.asid !== 1 ||
          !c.leaf ||
          c.tg !== TG_4K ||
          c.ttl !== 3 ||
          c.num !== want.num ||
          c.scale !== want.scale ||
          page < VA_BASE_PAGE ||
          (page - VA_BASE_PAGE) % 8 !== 0
        )
          bad.push(JSON.stringify(c));
      } else if (c.op === 'CMD_SYNC') {
        if (!isPolledSync(c)) bad.push(JSON.stringify(c));
      } else bad.push(JSON.stringify(c));
    }
    expect(bad.slice(0, 3)).toEqual([]);
  });
});

describe('range with one CPU: the pages each unmap invalidated, from the log', () => {
  it.each([1, 2, 3, 7, 16, 31, 33, 64, 100, 257, 4096])('%i pages', async (pages) => {
    const base = join(dir, `one-${pages}`);
    const { doc } = await runConfig(
      // --wait park: two spinning threads on the 2-core box collapse when other work loads it.
      config({
        cpus: 1,
        pages,
        strategies: ['range'],
        durationMs: 200,
        warmupMs: 30,
        wait: 'park',
        cmdLog: base,
      }),
      () => {},
    );
    const r = doc.runs[0];
    expect(r.errors).toEqual([]);
    expect(r.complete).toBe(true);
    expect(r.endState).toEqual({ iotlbEntries: 0, iovasOutstanding: 0 });
    const plan = tlbiRangePlan(0, pages);
    expect(r.driver.commandsIssued.byOpcode.TLBI_NH_VA).toBe(r.totals.unmaps * plan.length);
    expect(r.driver.commandsIssued.byOpcode.CMD_SYNC).toBe(r.totals.unmaps);
    if (pages > 1) expect(plan.length).toBeLessThan(pages);
    const cmds = checkLog(r, base);

    // One CPU: the log is unmap after unmap, each its TLBIs then its CMD_SYNC. The window may open
    // in the middle of an unmap (drop the first group) and close before a CMD_SYNC (drop the tail).
    const groups: Command[][] = [];
    let cur: Command[] = [];
    for (const c of cmds) {
      if (c.op === 'CMD_SYNC') {
        groups.push(cur);
        cur = [];
      } else cur.push(c);
    }
    const whole = groups.slice(1);
    expect(whole.length).toBeGreaterThan(0);
    const slot = 2 ** Math.ceil(Math.log2(pages));
    const bad: string[] = [];
    for (const g of whole) {
      const first = g[0];
      const start = first?.op === 'TLBI_NH_VA' ? first.addr / 4096 : -1;
      if (start < VA_BASE_PAGE || (start - VA_BASE_PAGE) % slot !== 0) {
        bad.push(`unmap starting at page ${start}: not an IOVA slot`);
        continue;
      }
      const why = coverageError(g, 1, start, pages);
      if (why) bad.push(why);
      else if (g.length !== plan.length) bad.push(`${g.length} commands, plan has ${plan.length}`);
    }
    expect(bad.slice(0, 3)).toEqual([]);
  });
});
