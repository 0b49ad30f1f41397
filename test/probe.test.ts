// Driver bring-up (driver/probe.ts) against Linux 6.1's arm_smmu_device_reset and the facts file:
// the register writes in order, and the exact commands left in the normal queue. The SMMU here is
// a stand-in on the test's own thread that answers what the probe polls for (CR0ACK, ENACK, CONS)
// on each turn of the event loop, so every step is driven by the probe's own polling.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULTS, type Config } from '../src/config/config.js';
import { probeSmmu } from '../src/driver/probe.js';
import { CS_IRQ, decodeWords, type Command } from '../src/hardware/commands.js';
import {
  allocate,
  cmdqEntryIdx,
  computeLayout,
  ecmdqCount,
  ecmdqRegIdx,
  type Layout,
  type SharedViews,
} from '../src/hardware/layout.js';
import { RegisterFile } from '../src/hardware/regfile.js';
import { CR0_CMDQEN, ECMDQ_CONS_ENACK, ECMDQ_PROD_EN, IDR0_HYP } from '../src/hardware/registers.js';
import { resetSmmu } from '../src/hardware/smmu-reset.js';
import { layoutParamsFor } from '../src/workload/params.js';
import { POLLED_SYNC } from './helpers/runs.js';

/**
 * Answers the probe's polls: CR0ACK = CR0, ENACK for every ECMDQ_PROD.EN, CONS = PROD (the bring-up
 * commands are legal; the engine's own acceptance of them is replay.test.ts's). `events` records
 * the order in which it saw CMDQEN and each ECMDQ enable, and whether CR0ACK.CMDQEN was already
 * acknowledged when an ECMDQ enable first appeared.
 */
function standIn(views: SharedViews, layout: Layout) {
  const i32 = views.i32;
  const regs = new RegisterFile(i32, layout);
  const events: string[] = [];
  const timer = setInterval(() => {
    for (let n = 0; n < ecmdqCount(layout); n++) {
      const prod = ecmdqRegIdx(layout, n, 'ECMDQ_PROD');
      const cons = ecmdqRegIdx(layout, n, 'ECMDQ_CONS');
      if (
        (Atomics.load(i32, prod) & ECMDQ_PROD_EN) === 0 ||
        (Atomics.load(i32, cons) & ECMDQ_CONS_ENACK) !== 0
      )
        continue;
      const acked = (regs.read32('CR0ACK') & CR0_CMDQEN) !== 0;
      events.push(`ECMDQ${n}.EN${acked ? '' : ' before CR0ACK.CMDQEN'}`);
      Atomics.store(i32, cons, Atomics.load(i32, cons) | ECMDQ_CONS_ENACK);
    }
    const cr0 = regs.read32('CR0');
    if (cr0 !== regs.read32('CR0ACK')) {
      events.push(`CR0 0x${cr0.toString(16)}`);
      regs.write32('CR0ACK', cr0);
    }
    if ((cr0 & CR0_CMDQEN) !== 0) regs.write32('CMDQ_CONS', regs.read32('CMDQ_PROD'));
  }, 0);
  return { events, regs, stop: () => clearInterval(timer) };
}

function rig(strategy: string, cpus: number, domains: Config['domains']) {
  const cfg: Config = { ...DEFAULTS, cpus, domains } as Config;
  const layout = computeLayout(layoutParamsFor(cfg, strategy));
  const views = allocate(layout);
  const regs = new RegisterFile(views.i32, layout);
  resetSmmu(regs, { msi: false, sev: false, ril: true }, layout.domains);
  return { layout, views, regs };
}

/** The normal queue's entries 0 .. PROD - 1 (bring-up never wraps a queue of 256 entries). */
function queued(views: SharedViews, layout: Layout, regs: RegisterFile): Command[] {
  const prod = regs.read32('CMDQ_PROD');
  expect(prod).toBeLessThan(layout.queueEntries);
  return Array.from({ length: prod }, (_, i) => decodeWords(views.i32, cmdqEntryIdx(layout, i)));
}

/** Linux 6.1's arm_smmu_device_reset + one arm_smmu_write_strtab_ent/attach per device. */
function linuxBringUp(domains: number, sync: Command, hyp: boolean): Command[] {
  const out: Command[] = [{ op: 'CFGI_ALL' }, sync];
  if (hyp) out.push({ op: 'TLBI_EL2_ALL' }, sync);
  out.push({ op: 'TLBI_NSNH_ALL' }, sync);
  for (let d = 0; d < domains; d++) {
    const ste: Command = { op: 'CFGI_STE', sid: d, leaf: true };
    out.push(ste, sync, ste, sync);
    out.push({ op: 'PREFETCH_CONFIG', ssv: false, ssid: 0, sid: d });
    out.push({ op: 'TLBI_NH_ASID', asid: d + 1, vmid: 0 }, sync);
  }
  return out;
}

let stop: (() => void) | null = null;
afterEach(() => {
  stop?.();
  stop = null;
  vi.restoreAllMocks();
});

describe('bring-up as Linux 6.1 does it', () => {
  it.each([1, 3])(
    'issues the exact command sequence, polled CMD_SYNCs as Linux builds them (%i domains)',
    async (n) => {
      const { layout, views, regs } = rig('batched', n, 'per-cpu');
      expect(layout.domains).toBe(n);
      const smmu = standIn(views, layout);
      stop = smmu.stop;
      await probeSmmu(views, layout);
      const hyp = (regs.read32('IDR0') & IDR0_HYP) !== 0;
      expect(hyp).toBe(true); // the emulated SMMU advertises HYP: its EL2 TLBIs are legal
      const cmds = queued(views, layout, regs);
      expect(cmds).toEqual(linuxBringUp(n, POLLED_SYNC, hyp));
      expect(cmds).toHaveLength(6 + 7 * n);
      // Word 0 of each CMD_SYNC is the facts file's 0x000000000fc02046.
      for (let i = 0; i < cmds.length; i++) {
        if (cmds[i].op !== 'CMD_SYNC') continue;
        const w = cmdqEntryIdx(layout, i);
        expect([views.i32[w] >>> 0, views.i32[w + 1], views.i32[w + 2], views.i32[w + 3]]).toEqual([
          0x0fc02046, 0, 0, 0,
        ]);
      }
    },
  );

  it('programs CMDQ_BASE, PROD and CONS before CR0.CMDQEN, as arm_smmu_device_reset', async () => {
    const { layout, views } = rig('batched', 1, 'shared');
    const smmu = standIn(views, layout);
    stop = smmu.stop;
    // A recording register file: every write the driver (not the stand-in SMMU) makes, in order.
    const writes: string[] = [];
    const w32 = RegisterFile.prototype.write32;
    const w64 = RegisterFile.prototype.write64;
    vi.spyOn(RegisterFile.prototype, 'write32').mockImplementation(function (this: RegisterFile, r, v) {
      if (this !== smmu.regs) writes.push(r);
      w32.call(this, r, v);
    });
    vi.spyOn(RegisterFile.prototype, 'write64').mockImplementation(function (this: RegisterFile, r, v) {
      if (this !== smmu.regs) writes.push(r);
      w64.call(this, r, v);
    });
    await probeSmmu(views, layout);
    // The first four register writes of the driver; after them only CMDQ_PROD doorbells.
    expect(writes.slice(0, 4)).toEqual(['CMDQ_BASE', 'CMDQ_PROD', 'CMDQ_CONS', 'CR0']);
    expect(new Set(writes.slice(4))).toEqual(new Set(['CMDQ_PROD']));
  });

  it('enables the ECMDQs only after CR0.CMDQEN is acknowledged, then sends the same commands', async () => {
    const { layout, views, regs } = rig('ecmdq', 2, 'shared');
    const smmu = standIn(views, layout);
    stop = smmu.stop;
    const probe = await probeSmmu(views, layout);
    expect(probe.ecmdqs).toBe(2);
    expect(smmu.events).toEqual([`CR0 0x${CR0_CMDQEN.toString(16)}`, 'ECMDQ0.EN', 'ECMDQ1.EN']);
    // An ECMDQ SMMU has MSI + COHACC: each bring-up CMD_SYNC has its MSI written over its own slot.
    const cmds = queued(views, layout, regs);
    const msi = (i: number): Command =>
      ({ ...POLLED_SYNC, cs: CS_IRQ, msiaddr: cmdqEntryIdx(layout, i) * 4 }) as Command;
    const want = linuxBringUp(1, POLLED_SYNC, true).map((c, i) => (c.op === 'CMD_SYNC' ? msi(i) : c));
    expect(cmds).toEqual(want);
  });
});
