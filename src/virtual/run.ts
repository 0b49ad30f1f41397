// One run of the virtual engine: N CPUs and the SMMU on a virtual clock, from the queue as
// bring-up leaves it (PROD = CONS = 3, as driver/probe.ts does) through a warm-up and a measured
// window. The result holds only simulated quantities (no host or wall-clock field), so one seed
// gives a byte-identical result.
import { OP } from '../hardware/commands.js';
import { LINE_SHIFT } from './coherence.js';
import { LLQ, OWNER_PROD, SPINLOCK } from './address-map.js';
import { VLockedCmdq, initLocked } from './cmdq-locked.js';
import { VLockfreeCmdq, initLockfree } from './cmdq-lockfree.js';
import { cpuProcess, type VirtualStrategy } from './cpu.js';
import { VCpuStats } from './cpu-stats.js';
import { Machine } from './machine.js';
import { DEFAULT_VIRTUAL_PARAMS, type VirtualParams } from './params.js';
import { smmuProcess, type SmmuRecord } from './smmu.js';

/** Where bring-up leaves PROD and CONS: CFGI_ALL + CMD_SYNC, TLBI_NSNH_ALL (driver/probe.ts). */
export const BRINGUP_PROD = 3;

export type VirtualDesign = 'locked' | 'lockfree';

export interface VirtualRunOptions {
  readonly cpus: number;
  readonly strategy: VirtualStrategy;
  readonly design: VirtualDesign;
  readonly seed: number;
  readonly durationNs: number;
  readonly warmupNs: number;
  readonly params?: Partial<VirtualParams>;
  /** Keep every consumed command's words (result.commandWords). */
  readonly recordCommands?: boolean;
}

export interface VirtualResult {
  readonly engine: 'virtual';
  readonly cpus: number;
  readonly strategy: VirtualStrategy;
  readonly design: VirtualDesign;
  readonly seed: number;
  readonly params: VirtualParams;
  readonly virtualNs: number;
  readonly events: number;
  readonly unmaps: number;
  readonly maps: number;
  /** map+unmap pairs per CPU per second of virtual time (Garry's metric). */
  readonly perCpuOpsPerSec: number;
  readonly unmapsPerSec: number;
  readonly meanUnmapNs: number;
  /** Share of CPU time spent in the command-queue issue path. */
  readonly issueFraction: number;
  /** Issued by completed unmaps. */
  readonly commands: { readonly tlbiNhVa: number; readonly cmdSync: number };
  /** Issued over the whole run (warm-up and unmaps still in flight at the end included). */
  readonly issued: { readonly tlbiNhVa: number; readonly cmdSync: number };
  /** Consumed by the SMMU in the whole run (warm-up included), by opcode name. */
  readonly consumed: Record<string, number>;
  readonly lockfree: {
    readonly cmpxchgAttempts: number;
    readonly cmpxchgSuccesses: number;
    /** Successes per attempt (Linux at 64 CPUs: about 1 in 12). */
    readonly cmpxchgSuccessRate: number;
    readonly ownerElections: number;
    readonly commandsPerOwner: number;
    readonly consRefreshes: number;
    readonly lastReaderConsUpdates: number;
  } | null;
  readonly queueFullWaits: number;
  /** Line transfers of the hot words' lines over the whole run. */
  readonly lineTransfers: Record<string, number>;
  readonly perCpuUnmaps: readonly number[];
  /** Every consumed entry's four int32 words (recordCommands). */
  readonly commandWords?: readonly number[];
}

export function runVirtual(o: VirtualRunOptions): VirtualResult {
  const p: VirtualParams = { ...DEFAULT_VIRTUAL_PARAMS, ...o.params };
  const smmuAgent = o.cpus;
  const m = new Machine({
    ...p,
    agents: o.cpus + 1,
    seed: o.seed,
    freeMmioAgents: new Set([smmuAgent]),
  });
  const stats = Array.from({ length: o.cpus }, () => new VCpuStats());
  if (o.design === 'lockfree') initLockfree(m, p.queueShift, BRINGUP_PROD);
  else initLocked(m, BRINGUP_PROD);
  const rec: SmmuRecord = { byOpcode: new Map(), log: o.recordCommands === true ? [] : null };
  m.spawn(smmuAgent, smmuProcess(m, smmuAgent, p, rec));
  const work = {
    mapNs: p.mapNs,
    unmapNs: p.unmapNs,
    dmaNs: p.dmaNs,
    pages: p.pages,
    cmdNs: p.cmdNs,
    issueNs: o.design === 'lockfree' ? p.lockfreeIssueNs : p.lockedIssueNs,
    strategy: o.strategy,
    gather: o.design === 'lockfree',
    measureFrom: o.warmupNs,
  };
  for (let c = 0; c < o.cpus; c++) {
    const cmdq =
      o.design === 'lockfree'
        ? new VLockfreeCmdq(p.queueShift, p.syncMode, stats[c])
        : new VLockedCmdq(p.queueShift, p.syncMode, stats[c]);
    // A random start within one map time, so that CPUs do not march in lockstep.
    m.spawn(c, cpuProcess(m, c, work, cmdq, stats[c]), o.cpus > 1 ? m.rng.below(Math.max(1, p.mapNs)) : 0);
  }
  // The measured window starts with fresh protocol counters (maps and unmaps count from there too).
  m.at(o.warmupNs, () => {
    for (const s of stats) {
      const { maps, unmaps, tlbiNhVa, cmdSync, unmapNs, issueNs, issuedTlbi, issuedSync } = s;
      Object.assign(s, new VCpuStats(), {
        maps,
        unmaps,
        tlbiNhVa,
        cmdSync,
        unmapNs,
        issueNs,
        issuedTlbi,
        issuedSync,
      });
    }
  });
  m.run(o.warmupNs + o.durationNs);

  const sum = (f: (s: VCpuStats) => number): number => stats.reduce((a, s) => a + f(s), 0);
  const unmaps = sum((s) => s.unmaps);
  const seconds = o.durationNs / 1e9;
  const attempts = sum((s) => s.cmpxchgAttempts);
  const successes = sum((s) => s.cmpxchgSuccesses);
  const elections = sum((s) => s.ownerElections);
  const consumed: Record<string, number> = {};
  for (const [op, n] of [...rec.byOpcode].sort((a, b) => a[0] - b[0]))
    consumed[Object.keys(OP).find((k) => OP[k as keyof typeof OP] === op) ?? `0x${op.toString(16)}`] = n;
  const lineOf = (a: number): number => (a >> LINE_SHIFT) << LINE_SHIFT;
  const hot: Record<string, number> =
    o.design === 'lockfree' ? { llq: LLQ, 'owner_prod+lock': OWNER_PROD } : { 'cmdq.lock': SPINLOCK };
  const lineTransfers: Record<string, number> = {};
  for (const [name, a] of Object.entries(hot))
    lineTransfers[name] = m.mem.lineStats.get(lineOf(a))?.transfers ?? 0;
  return {
    engine: 'virtual',
    cpus: o.cpus,
    strategy: o.strategy,
    design: o.design,
    seed: o.seed,
    params: p,
    virtualNs: o.warmupNs + o.durationNs,
    events: m.events,
    unmaps,
    maps: sum((s) => s.maps),
    perCpuOpsPerSec: unmaps / seconds / o.cpus,
    unmapsPerSec: unmaps / seconds,
    meanUnmapNs: unmaps > 0 ? sum((s) => s.unmapNs) / unmaps : 0,
    issueFraction: sum((s) => s.issueNs) / (o.cpus * o.durationNs),
    commands: { tlbiNhVa: sum((s) => s.tlbiNhVa), cmdSync: sum((s) => s.cmdSync) },
    issued: { tlbiNhVa: sum((s) => s.issuedTlbi), cmdSync: sum((s) => s.issuedSync) },
    consumed,
    lockfree:
      o.design === 'lockfree'
        ? {
            cmpxchgAttempts: attempts,
            cmpxchgSuccesses: successes,
            cmpxchgSuccessRate: attempts > 0 ? successes / attempts : 0,
            ownerElections: elections,
            commandsPerOwner: elections > 0 ? sum((s) => s.ownerPublishedCmds) / elections : 0,
            consRefreshes: sum((s) => s.consRefreshes),
            lastReaderConsUpdates: sum((s) => s.lastReaderConsUpdates),
          }
        : null,
    queueFullWaits: sum((s) => s.queueFullWaits),
    lineTransfers,
    perCpuUnmaps: stats.map((s) => s.unmaps),
    ...(rec.log !== null ? { commandWords: rec.log } : {}),
  };
}
