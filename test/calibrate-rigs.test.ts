// The calibration's two-thread rigs do what a run does between the threads, so that what they time
// is the run's cost (docs/virtual-time.md, "Two-thread rigs"): the SMMU rig consumed round by round
// removes each round's 16 IOTLB entries, filled before it here or by a peer thread; the DMA-cycle
// rig with the SMMU worker beside it leaves each cycle's invalidation to that worker, through the
// real queue, 16 TLBI_NH_VA + CMD_SYNC a cycle.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RIG_PAGES, smmuRig } from '../src/run/calibrate/rigs.js';
import { startSmmuPeer } from '../src/run/calibrate/smmu-peer.js';
import { stepRig } from '../src/run/calibrate/step-rig.js';
import { lockedBesideSmmu } from '../src/run/calibrate/issue-rig.js';
import { Iotlb } from '../src/hardware/iotlb.js';
import { computeLayout, regIdx, smmuStatsBase, VA_BASE_PAGE } from '../src/hardware/layout.js';
import { Smmu } from '../src/hardware/smmu-stats.js';
import { SPIN } from '../src/concurrency/wait.js';

// The peer's worker imports the compiled Iotlb next to its module, so it is loaded from dist/.
const PEER_URL = pathToFileURL(resolve(import.meta.dirname, '../dist/src/run/calibrate/iotlb-peer.js')).href;
type PeerModule = typeof import('../src/run/calibrate/iotlb-peer.js');

const ROUNDS = 6;

describe('smmuRig.consumeRounds', () => {
  for (const where of ['this thread', 'a peer thread'] as const) {
    it(`removes the 16 entries of every round, the IOTLB filled by ${where}`, async () => {
      const rig = smmuRig(ROUNDS, 1);
      const layout = computeLayout(rig.layoutParams);
      const iotlb = new Iotlb(rig.views.i32, layout, SPIN);
      const { startIotlbPeer } = (await import(PEER_URL)) as PeerModule;
      const peer = where === 'a peer thread' ? await startIotlbPeer(rig.views, rig.layoutParams) : null;
      let fills = 0;
      try {
        const ns = rig.consumeRounds(() => {
          fills++;
          if (peer !== null) peer.fill(1, VA_BASE_PAGE, RIG_PAGES);
          else for (let p = 0; p < RIG_PAGES; p++) iotlb.translate(1, VA_BASE_PAGE + p);
          expect(iotlb.entries()).toHaveLength(RIG_PAGES);
        });
        expect(Number.isFinite(ns) && ns > 0).toBe(true);
      } finally {
        await peer?.stop();
      }
      expect(fills).toBe(ROUNDS);
      const f = rig.views.f64;
      const st = smmuStatsBase(layout);
      expect(f[st + Smmu.COMMANDS_CONSUMED]).toBe(ROUNDS * (RIG_PAGES + 1));
      expect(f[st + Smmu.IOTLB_INVALIDATIONS]).toBe(ROUNDS * RIG_PAGES);
      expect(iotlb.entries()).toEqual([]);
    });
  }
});

describe('stepRig with the SMMU worker beside it', () => {
  it('hands every cycle the invalidation through the queue: 17 commands a cycle, the IOTLB left empty', async () => {
    const peer = await startSmmuPeer({ tlbiNs: 0, syncNs: 0 }, { pages: RIG_PAGES });
    try {
      const { layout, views } = peer;
      const i32 = views.i32;
      const consIdx = regIdx(layout, 'CMDQ_CONS');
      const mask = (2 << layout.queueShift) - 1;
      const before = Atomics.load(i32, consIdx) & mask;
      const cycles = 3;
      const t = stepRig(RIG_PAGES, peer)(cycles);
      expect(t.mapNs).toBeGreaterThan(0);
      expect(t.unmapNs).toBeGreaterThan(0);
      const after = Atomics.load(i32, consIdx) & mask;
      expect((after - before) & mask).toBe(cycles * (RIG_PAGES + 1));
      expect(new Iotlb(i32, layout, SPIN).entries()).toEqual([]);
      expect(() => stepRig(RIG_PAGES + 1, peer)).toThrow(/16-page buffers, not 17/);
    } finally {
      await peer.stop();
    }
  });
});

describe('lockedBesideSmmu', () => {
  it('issues 16 TLBI_NH_VA and a CMD_SYNC per unmap to the SMMU worker, which drains them all', async () => {
    const peer = await startSmmuPeer({ tlbiNs: 0, syncNs: 0 });
    try {
      const { layout, views } = peer;
      const mask = (2 << layout.queueShift) - 1;
      const cons = (): number => Atomics.load(views.i32, regIdx(layout, 'CMDQ_CONS')) & mask;
      const before = cons();
      const unmaps = 4;
      const ns = lockedBesideSmmu(peer)(unmaps);
      expect(Number.isFinite(ns) && ns > 0).toBe(true);
      expect((cons() - before) & mask).toBe(unmaps * (RIG_PAGES + 1));
      expect(cons()).toBe(Atomics.load(views.i32, regIdx(layout, 'CMDQ_PROD')) & mask);
    } finally {
      await peer.stop();
    }
  });
});
