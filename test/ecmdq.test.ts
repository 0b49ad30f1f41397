// SMMUv3.3 Enhanced Command queues: register bring-up against the real SMMU worker, the SMMU's
// per-queue error handling, and end-to-end runs with real threads (one ECMDQ per CPU, no cmdq
// lock, the batched command pattern on the lock-free cmdlist protocol, a command log that
// interleaves the queues).
// Workers load from dist/: run `npx tsc -p tsconfig.json` first.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runConfig } from '../src/index.js';
import { probeSmmu } from '../src/driver/probe.js';
import {
  CS_IRQ,
  CS_SEV,
  decode,
  writeCmdSync,
  writeRaw,
  writeTlbiNhVa,
  type Command,
} from '../src/hardware/commands.js';
import {
  computeLayout,
  ctlIdx,
  Ctl,
  ecmdqCount,
  ecmdqDoorbellIdx,
  ecmdqEntryIdx,
  ecmdqQueueOff,
  ecmdqRegIdx,
  Phase,
  VA_BASE_PAGE,
  type Layout,
  type SharedViews,
} from '../src/hardware/layout.js';
import { RegisterFile } from '../src/hardware/regfile.js';
import {
  CMDQ_ERR_ILL,
  CONTROL_PAGE0_OFFSET,
  CONTROL_PAGE_PRESET,
  ECMDQ_CONS_ENACK,
  ECMDQ_CONS_ERR,
  ECMDQ_CONS_ERR_REASON_SHIFT,
  ECMDQ_INDEX_MASK,
  ECMDQ_PROD_EN,
  ECMDQ_PROD_ERRACK,
  GERROR_CMDQP_ERR,
  IDR0_COHACC,
  IDR0_MSI,
  IDR1_ECMDQ,
  IDR6_LOG2NUMP_SHIFT,
  IDR6_LOG2NUMQ_SHIFT,
} from '../src/hardware/registers.js';
import { doorbellWanted, ringDoorbell } from '../src/hardware/ecmdq.js';
import type { ResultDocument, RunReport } from '../src/report/types.js';
import { layoutParamsFor } from '../src/workload/params.js';
import type { SmmuMessage } from '../src/workload/smmu-messages.js';
import { checkLog, configWith, until, iovaOpAcquisitions, isPolledSync } from './helpers/runs.js';
import { startStandaloneSmmu } from '../src/workload/smmu-standalone.js';

const dir = mkdtempSync(join(tmpdir(), 'tlbsync-ecmdq-'));
const PAGES = 8;

const config = configWith({ pages: PAGES, strategies: ['ecmdq'] });

/** Checks every ECMDQ run must pass, whatever its sync mode and domains. */
function checkRun(r: RunReport): void {
  expect(r.complete).toBe(true);
  expect(r.cmdq).toBe('ecmdq');
  expect(r.totals.unmaps).toBeGreaterThan(0);
  expect(r.totals.pagesUnmapped).toBe(r.totals.unmaps * PAGES);
  // The driver side is exact: P TLBI_NH_VA and one CMD_SYNC per unmap, nothing else.
  const issued = r.driver.commandsIssued;
  expect(issued.byOpcode.TLBI_NH_VA).toBe(r.totals.pagesUnmapped);
  expect(issued.byOpcode.CMD_SYNC).toBe(r.totals.unmaps);
  expect(issued.byOpcode.TLBI_NH_ASID).toBe(0);
  expect(issued.total).toBe(r.totals.unmaps * (PAGES + 1));
  expect(r.syncWaitNs.count).toBe(r.totals.unmaps);
  // No shared lock: the cmdq spinlock is never taken; the IOVA lock as in every strategy.
  const cmdq = r.locks.find((l) => l.name === 'cmdq')!;
  expect(cmdq.acquisitions).toBe(0);
  expect(cmdq.contentions).toBe(0);
  expect(iovaOpAcquisitions(r)).toBe(2 * r.totals.unmaps);
  // Every CPU's queue was used, and the per-queue counts add up to what the SMMU consumed (the
  // normal queue only carries the bring-up commands, before the measured window).
  const queues = r.ecmdq!.queues;
  expect(queues.map((q) => q.queue)).toEqual([...Array(r.cpus).keys()]);
  for (const q of queues) {
    expect(q.commandsConsumed, `queue ${q.queue}`).toBeGreaterThan(0);
    // A CPU posts an unmap's P TLBIs and its CMD_SYNC with one ECMDQ_PROD write and waits for the
    // sync before its next: the SMMU sees exactly P + 1 at the first command of each unmap.
    expect(q.maxDepth, `queue ${q.queue}`).toBe(PAGES + 1);
    expect(q.syncWaitP99Ns, `queue ${q.queue}`).toBeGreaterThan(0);
  }
  expect(queues.reduce((s, q) => s + q.commandsConsumed, 0)).toBe(r.smmu.commandsConsumed);
  expect(Math.max(...queues.map((q) => q.maxDepth))).toBe(r.smmu.maxQueueDepth);
  // Consumed vs issued differ only by the unmaps in flight at the window's two edges.
  const inFlight = 2 * r.cpus * (PAGES + 1);
  expect(Math.abs(r.commands.byOpcode.TLBI_NH_VA - issued.byOpcode.TLBI_NH_VA)).toBeLessThanOrEqual(inFlight);
  expect(Math.abs(r.commands.byOpcode.CMD_SYNC - issued.byOpcode.CMD_SYNC)).toBeLessThanOrEqual(inFlight);
  expect(r.smmu.cmdqErrors).toBe(0);
  expect(r.endState).toEqual({ iotlbEntries: 0, iovasOutstanding: 0 });
  expect(r.safety.staleTranslationUses).toBe(0);
  expect(r.iotlb.faults).toBe(0);
  expect(r.extra.counters.ecmdqErrorsHandled).toBe(0);
}

describe('ecmdq end to end (poll mode, shared domain)', () => {
  let doc: ResultDocument;
  const base = join(dir, 'poll');
  beforeAll(async () => {
    doc = (await runConfig(config({ cmdLog: base }), () => {})).doc;
  });

  it('gives every CPU its own queue, no cmdq lock, P TLBI_NH_VA + 1 CMD_SYNC per unmap', () => {
    const r = doc.runs[0];
    expect(r.strategy).toBe('ecmdq');
    checkRun(r);
    // One per unmap, up to an unmap per CPU at each edge of the window (a count, not a ratio).
    expect(Math.abs(r.commands.byOpcode.CMD_SYNC - r.totals.unmaps)).toBeLessThanOrEqual(2 * r.cpus);
  });

  it('writes a command log that decodes to exactly the counts reported', () => {
    const r = doc.runs[0];
    const cmds = checkLog(r, base);
    const bad: string[] = [];
    for (const c of cmds) {
      if (c.op === 'TLBI_NH_VA') {
        if (c.asid !== 1 || !c.leaf || c.addr / 4096 < VA_BASE_PAGE || c.num + c.scale + c.tg + c.ttl !== 0)
          bad.push(JSON.stringify(c));
      } else if (c.op === 'CMD_SYNC') {
        if (!isPolledSync(c)) bad.push(JSON.stringify(c));
      } else bad.push(JSON.stringify(c));
    }
    expect(bad.slice(0, 3)).toEqual([]);
  });
});

describe('ecmdq end to end (msi mode, per-CPU domains, 3 CPUs)', () => {
  it('interleaves the queues in the log; each queue alone is exactly [P TLBIs, its own CMD_SYNC]', async () => {
    const base = join(dir, 'msi');
    const cfg = config({ cpus: 3, syncMode: 'msi', domains: 'per-cpu', cmdLog: base });
    const { doc } = await runConfig(cfg, () => {});
    const r = doc.runs[0];
    checkRun(r);
    const cmds = checkLog(r, base);
    // Attribute every command to its queue: a TLBI by its ASID (CPU n's domain is ASID n + 1), a
    // CMD_SYNC by its MSI target, which is its own slot in its queue (upstream's MSI-into-the-slot).
    const layout = computeLayout(layoutParamsFor(cfg, 'ecmdq'));
    const qBytes = 16 << layout.queueShift;
    const msiQueue = (addr: number): number =>
      [...Array(cfg.cpus).keys()].find(
        (n) => addr >= ecmdqQueueOff(layout, n) && addr < ecmdqQueueOff(layout, n) + qBytes,
      ) ?? -1;
    const perQueue: Command[][] = Array.from({ length: cfg.cpus }, () => []);
    const order: number[] = [];
    const bad: string[] = [];
    for (const c of cmds) {
      let q = -1;
      if (c.op === 'TLBI_NH_VA') q = c.asid - 1;
      else if (c.op === 'CMD_SYNC' && c.cs === CS_IRQ && c.msidata === 0) q = msiQueue(c.msiaddr);
      if (q < 0 || q >= cfg.cpus) bad.push(JSON.stringify(c));
      else {
        perQueue[q].push(c);
        order.push(q);
      }
    }
    expect(bad.slice(0, 3)).toEqual([]);
    // One log, several queues (the exact service order is checked at register level below).
    let switches = 0;
    for (let i = 1; i < order.length; i++) if (order[i] !== order[i - 1]) switches++;
    expect(switches).toBeGreaterThan(0);
    perQueue.forEach((cs, q) => {
      expect(cs.length, `queue ${q}`).toBe(r.ecmdq!.queues[q].commandsConsumed);
      // Skip to the first CMD_SYNC: the window may open in the middle of an unmap.
      const start = cs.findIndex((c) => c.op === 'CMD_SYNC') + 1;
      let tlbis = 0;
      let prevPage = -1;
      for (const c of cs.slice(start)) {
        if (c.op === 'TLBI_NH_VA') {
          // An unmap's pages, in order, in its own domain.
          const page = c.addr / 4096;
          if (tlbis > 0 && page !== prevPage + 1) bad.push(`queue ${q}: page ${page} after ${prevPage}`);
          prevPage = page;
          tlbis++;
        } else if (c.op === 'CMD_SYNC') {
          // Exactly P TLBIs before each sync (batches of 64 > P never split an unmap here), the
          // sync in the slot right after them.
          if (tlbis !== PAGES) bad.push(`queue ${q}: CMD_SYNC after ${tlbis} TLBIs`);
          tlbis = 0;
        }
      }
      expect(tlbis).toBeLessThanOrEqual(PAGES);
    });
    expect(bad.slice(0, 3)).toEqual([]);
  });
});

// ---- Register level, against the real SMMU worker (no CPUs) ---------------------------------

interface Rig {
  views: SharedViews;
  layout: Layout;
  regs: RegisterFile;
  worker: Worker;
  done: Promise<void>;
  /** Commands the SMMU consumed while the phase word said MEASURE (complete once done). */
  log: Command[];
}

let rig: Rig | null = null;

async function powerOn(strategy: string, cpus: number, tlbiNs = 0): Promise<Rig> {
  const cfg = config({ cpus });
  const { layout, views, regs, worker } = startStandaloneSmmu(layoutParamsFor(cfg, strategy), {
    features: { msi: false, sev: false, ril: false },
    timing: { tlbiNs, syncNs: tlbiNs },
    idlePolicy: { park: true, spinNs: 10_000, drainIdx: -1, drainAt: 0 },
    log: true,
  });
  const log: Command[] = [];
  const done = new Promise<void>((resolve, reject) => {
    worker.on('message', (m: SmmuMessage) => {
      if (m.type === 'log') for (let o = 0; o < m.chunk.length; o += 16) log.push(decode(m.chunk, o));
      else resolve();
    });
    worker.on('error', reject);
    worker.on('exit', () => resolve());
  });
  rig = { views, layout, regs, worker, done, log };
  return rig;
}

async function powerOff(r: Rig): Promise<void> {
  r.regs.write32('CR0', 0);
  if (ecmdqCount(r.layout) > 0) ringDoorbell(r.views.i32, ecmdqDoorbellIdx(r.layout));
  await Promise.race([r.done, new Promise((res) => setTimeout(res, 2000))]);
  await r.worker.terminate();
}

afterEach(async () => {
  if (!rig) return;
  const r = rig;
  rig = null;
  await powerOff(r);
});

describe('ECMDQ registers', () => {
  it('are advertised and enabled one per CPU after the probe of an ecmdq run', async () => {
    const cpus = 3;
    const { views, layout, regs } = await powerOn('ecmdq', cpus);
    const i32 = views.i32;
    // Reset: IDR1.ECMDQ with the MSI + COHACC it implies; IDR6: one page of 4 queues (>= 3 CPUs).
    expect(regs.read32('IDR1') & IDR1_ECMDQ).not.toBe(0);
    expect(regs.read32('IDR0') & (IDR0_MSI | IDR0_COHACC)).toBe(IDR0_MSI | IDR0_COHACC);
    expect(regs.read32('IDR6')).toBe((0 << IDR6_LOG2NUMP_SHIFT) | (2 << IDR6_LOG2NUMQ_SHIFT));
    expect(ecmdqCount(layout)).toBe(4);
    const page = regs.read64('CMDQ_CONTROL_PAGE_BASE0');
    expect(page & CONTROL_PAGE_PRESET).toBe(CONTROL_PAGE_PRESET);
    expect(page - (page % 0x10000)).toBe(CONTROL_PAGE0_OFFSET);
    expect(regs.read32('CMDQ_CONTROL_PAGE_CFG0')).toBe(1);
    expect(regs.read32('CMDQ_CONTROL_PAGE_STATUS0')).toBe(1);

    const probe = await probeSmmu(views, layout);
    expect(probe.ecmdqs).toBe(cpus);
    for (let n = 0; n < 4; n++) {
      const prod = Atomics.load(i32, ecmdqRegIdx(layout, n, 'ECMDQ_PROD')) >>> 0;
      const cons = Atomics.load(i32, ecmdqRegIdx(layout, n, 'ECMDQ_CONS')) >>> 0;
      const b = ecmdqRegIdx(layout, n, 'ECMDQ_BASE');
      if (n < cpus) {
        // BASE = the queue's address + LOG2SIZE; EN and ENACK set; empty.
        expect(i32[b] >>> 0, `queue ${n} BASE`).toBe(ecmdqQueueOff(layout, n) + layout.queueShift);
        expect(ecmdqQueueOff(layout, n) % (16 << layout.queueShift), 'naturally aligned').toBe(0);
        expect(i32[b + 1]).toBe(0);
        expect(prod, `queue ${n} PROD`).toBe(ECMDQ_PROD_EN >>> 0);
        expect(cons, `queue ${n} CONS`).toBe(ECMDQ_CONS_ENACK >>> 0);
      } else {
        // A queue no CPU owns stays disabled.
        expect(prod & (ECMDQ_PROD_EN >>> 0), `queue ${n} PROD.EN`).toBe(0);
        expect(cons & (ECMDQ_CONS_ENACK >>> 0), `queue ${n} CONS.ENACK`).toBe(0);
      }
    }
    // The normal queue's bring-up commands (Linux 6.1's with IDR0.HYP: 6, then 7 per device) were consumed.
    expect(regs.read32('CMDQ_CONS')).toBe(6 + 7 * layout.domains);
  });

  it('are not advertised for any other design', async () => {
    const { views, layout, regs } = await powerOn('batched', 2);
    expect(regs.read32('IDR1') & IDR1_ECMDQ).toBe(0);
    expect(regs.read32('IDR0') & IDR0_MSI).toBe(0);
    expect(regs.read32('IDR6')).toBe(0);
    expect(regs.read64('CMDQ_CONTROL_PAGE_BASE0')).toBe(0);
    expect(ecmdqCount(layout)).toBe(0);
    const probe = await probeSmmu(views, layout);
    expect(probe.ecmdqs).toBe(0);
    expect(regs.read32('CMDQ_CONS')).toBe(6 + 7 * layout.domains);
  });

  it('an illegal command stops only its own queue until ERRACK acknowledges it', async () => {
    const { views, layout, regs } = await powerOn('ecmdq', 2);
    const i32 = views.i32;
    await probeSmmu(views, layout);
    const db = ecmdqDoorbellIdx(layout);
    const prod = (n: number): number => ecmdqRegIdx(layout, n, 'ECMDQ_PROD');
    const cons = (n: number): number => ecmdqRegIdx(layout, n, 'ECMDQ_CONS');
    const push = (n: number, v: number): void => {
      Atomics.store(i32, prod(n), v);
      if (doorbellWanted(i32, db)) ringDoorbell(i32, db);
    };
    // Queue 0: an undefined opcode, then a CMD_SYNC. Queue 1: a TLBI and a CMD_SYNC.
    writeRaw(i32, ecmdqEntryIdx(layout, 0, 0), [0x7f, 0, 0, 0]);
    writeCmdSync(i32, ecmdqEntryIdx(layout, 0, 1), CS_SEV, 0, 0);
    writeTlbiNhVa(i32, ecmdqEntryIdx(layout, 1, 0), 1, 0, VA_BASE_PAGE * 4096, true, 0, 0, 0, 0);
    writeCmdSync(i32, ecmdqEntryIdx(layout, 1, 1), CS_SEV, 0, 0);
    push(0, ECMDQ_PROD_EN | 2);
    push(1, ECMDQ_PROD_EN | 2);
    // Queue 1 completes; queue 0 reports ERR (toggled from 0) with ERR_REASON ILL at RD = 0.
    await until(() => (Atomics.load(i32, cons(1)) & ECMDQ_INDEX_MASK) === 2, 'queue 1 to drain');
    await until(() => (Atomics.load(i32, cons(0)) & ECMDQ_CONS_ERR) !== 0, 'queue 0 to report ERR');
    const c0 = Atomics.load(i32, cons(0));
    expect(c0 & ECMDQ_INDEX_MASK).toBe(0);
    expect((c0 >>> ECMDQ_CONS_ERR_REASON_SHIFT) & 7).toBe(CMDQ_ERR_ILL);
    expect(c0 & ECMDQ_CONS_ENACK).not.toBe(0);
    expect((regs.read32('GERROR') ^ regs.read32('GERRORN')) & GERROR_CMDQP_ERR).toBe(GERROR_CMDQP_ERR);
    // While ERRACK != ERR nothing more is consumed from queue 0.
    await new Promise((res) => setTimeout(res, 20));
    expect(Atomics.load(i32, cons(0)) & ECMDQ_INDEX_MASK).toBe(0);
    // The driver replaces the entry and toggles ERRACK: the queue resumes and drains.
    writeCmdSync(i32, ecmdqEntryIdx(layout, 0, 0), CS_SEV, 0, 0);
    push(0, ECMDQ_PROD_EN | ECMDQ_PROD_ERRACK | 2);
    await until(() => (Atomics.load(i32, cons(0)) & ECMDQ_INDEX_MASK) === 2, 'queue 0 to resume');
  });
});

describe('ecmdq with an injected illegal command', () => {
  it('the owning CPU replaces it and acknowledges ERRACK; the run completes', async () => {
    const { doc } = await runConfig(
      config({ inject: [{ kind: 'illegal-cmd', cpu: 0, atMs: 50 }], durationMs: 300 }),
      () => {},
    );
    const r = doc.runs[0];
    expect(r.complete).toBe(true);
    expect(r.smmu.cmdqErrors).toBe(1);
    expect(r.extra.counters.ecmdqErrorsHandled).toBe(1);
    expect(r.endState).toEqual({ iotlbEntries: 0, iovasOutstanding: 0 });
  });
});

describe('ECMDQ service order', () => {
  it('is round-robin, one command per queue per turn; a CMD_SYNC waits for its own queue only', async () => {
    const r = await powerOn('ecmdq', 2);
    const { views, layout } = r;
    const i32 = views.i32;
    await probeSmmu(views, layout);
    Atomics.store(i32, ctlIdx(layout, Ctl.PHASE), Phase.MEASURE); // log from now on
    // Held by the stall word while both queues are posted, so the SMMU finds them both full
    // whatever the scheduler does, and the order below is the engine's alone.
    const stall = ctlIdx(layout, Ctl.SMMU_STALL);
    Atomics.store(i32, stall, 1);
    const va = VA_BASE_PAGE * 4096;
    // Queue 0: three TLBIs (ASID 1) then a CMD_SYNC; queue 1: one TLBI (ASID 2) then a CMD_SYNC.
    // MSIDATA tells the two syncs apart in the log.
    for (let i = 0; i < 3; i++)
      writeTlbiNhVa(i32, ecmdqEntryIdx(layout, 0, i), 1, 0, va + i * 4096, true, 0, 0, 0, 0);
    writeCmdSync(i32, ecmdqEntryIdx(layout, 0, 3), CS_SEV, 0, 0);
    writeTlbiNhVa(i32, ecmdqEntryIdx(layout, 1, 0), 2, 0, va, true, 0, 0, 0, 0);
    writeCmdSync(i32, ecmdqEntryIdx(layout, 1, 1), CS_SEV, 1, 0); // MSIDATA labels the queue (ignored without CS=IRQ)
    Atomics.store(i32, ecmdqRegIdx(layout, 0, 'ECMDQ_PROD'), ECMDQ_PROD_EN | 4);
    Atomics.store(i32, ecmdqRegIdx(layout, 1, 'ECMDQ_PROD'), ECMDQ_PROD_EN | 2);
    ringDoorbell(i32, ecmdqDoorbellIdx(layout));
    const cons = (n: number): number =>
      Atomics.load(i32, ecmdqRegIdx(layout, n, 'ECMDQ_CONS')) & ECMDQ_INDEX_MASK;
    expect([cons(0), cons(1)]).toEqual([0, 0]);
    Atomics.store(i32, stall, 0);
    Atomics.notify(i32, stall);
    await until(() => cons(0) === 4 && cons(1) === 2, 'both queues to complete their CMD_SYNC');
    rig = null;
    await powerOff(r);
    const seen = r.log.map((c) =>
      c.op === 'TLBI_NH_VA' ? `T${c.asid}` : c.op === 'CMD_SYNC' ? `S${c.msidata + 1}` : c.op,
    );
    // q0 T, q1 T, q0 T, q1 SYNC, q0 T, q0 SYNC: queue 1's CMD_SYNC completes (its CONS is published
    // as it is consumed) before queue 0's third TLBI, behind none of queue 0's later commands.
    expect(seen).toEqual(['T1', 'T2', 'T1', 'S2', 'T1', 'S1']);
  });
});
