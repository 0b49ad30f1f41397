// `calibrate`: measures this host with the threads engine's own code and derives the virtual
// engine's host-dependent parameters from it (docs/virtual-time.md#calibration):
//   lineTransferNs  <- a two-thread Atomics ping-pong, half a round trip
//   hitNs, atomicNs <- Atomics.load / compareExchange on a line the thread holds
//   cmdNs, lockfreeIssueNs <- the v5.4 lock-free issue path, MMIO free, no SMMU, cmdlists of 16
//                      and of 1 command (rigs.ts): the slope per command and the fixed part
//   lockedIssueNs   <- the 2017 locked issue path per command (a lock round trip each) - cmdNs
//   upgradeNs       <- the same path beside the real SMMU worker (issue-rig.ts) - the path alone:
//                      its stores into the entry's and PROD's lines, which the worker holds shared
//   mmioExtraNs     <- the busy-wait of a costed MMIO access (spinUntil(nowNs() + 1)) - 1 ns
//   smmuCmdNs       <- the SMMU engine consuming with every latency 1 ns, per command, - 1 ns
//                      (rigs.ts): its work and the clock reads of its busy-wait; plus the
//                      cross-core part of its TLBIs: consuming round by round with the IOTLB
//                      filled by a peer thread (iotlb-peer.ts) minus filled in its own thread
//   wakeNs          <- the CMD_SYNC round trip through the real SMMU worker, latencies 0
//                      (sync-rtt.ts): (median wait - SMMU per command - the entry's fetch, a
//                      line transfer) / 2, one crossing each way
//   mapNs, unmapNs  <- the DMA cycle's own work outside the queue on the real objects (step-rig.ts),
//                      the real SMMU worker beside it applying each cycle's TLBIs (smmu-peer.ts)
//   smmuFetch = 2   the SMMU worker is a CPU thread: its loads of the entries and of PROD keep
//                      shared copies, so the CPU's next stores into those lines are upgrades
//                      (upgradeNs)
// Each figure is the smallest of `rounds` trials (noise on a shared host only adds time): the
// host's costs, not its load of the moment.
import { DEFAULTS, hostInfo } from '../../config/config.js';
import { SMMU_FETCH_THREAD, type VirtualParams } from '../../virtual/params.js';
import { TOOL } from '../../version.js';
import { localAtomicNs, pingPongNs } from './ping-pong.js';
import { nowNs, spinUntil } from '../../concurrency/clock.js';
import { cpuRig, lockfreeRig, RIG_PAGES, smmuRig, type CpuRig } from './rigs.js';
import { Iotlb } from '../../hardware/iotlb.js';
import { computeLayout, VA_BASE_PAGE } from '../../hardware/layout.js';
import { SPIN } from '../../concurrency/wait.js';
import { startIotlbPeer } from './iotlb-peer.js';
import { startSmmuPeer } from './smmu-peer.js';
import { lockedBesideSmmu } from './issue-rig.js';
import { stepRig } from './step-rig.js';
import { measureSyncRoundTrip } from './sync-rtt.js';

export const CALIBRATION_KIND = 'tlbsync-emu-calibration';
export const CALIBRATION_VERSION = 1;

/** The VirtualParams keys a calibration sets (all numbers). */
export const CALIBRATED_PARAMS = [
  'lineTransferNs',
  'upgradeNs',
  'atomicNs',
  'hitNs',
  'cmdNs',
  'lockedIssueNs',
  'lockfreeIssueNs',
  'mmioExtraNs',
  'smmuCmdNs',
  'wakeNs',
  'mapNs',
  'unmapNs',
  'smmuFetch',
] as const satisfies readonly (keyof VirtualParams)[];
export type CalibratedParam = (typeof CALIBRATED_PARAMS)[number];

export interface CalibrationDocument {
  readonly kind: typeof CALIBRATION_KIND;
  readonly version: typeof CALIBRATION_VERSION;
  readonly tool: { readonly name: string; readonly version: string };
  readonly createdAt: string;
  readonly host: {
    readonly cores: number;
    readonly cpuModel: string;
    readonly nodeVersion: string;
    readonly platform: string;
    readonly arch: string;
  };
  readonly params: Record<CalibratedParam, number>;
  /** What was measured, ns (the smallest of the rounds), by name. */
  readonly measurements: Record<string, number>;
}

export interface CalibrateOptions {
  /** Trials per measurement (the smallest is kept). */
  readonly rounds: number;
  /** Progress, one line per measurement. */
  readonly log: (line: string) => void;
}

/** Work per trial: small enough that `--rounds 3` finishes in a few seconds. */
const PING_PONG_ROUND_TRIPS = 1_000;
const PING_PONG_BUDGET_MS = 10;
const ATOMIC_OPS = 200_000;
const ISSUE_UNMAPS = 200;
const SPINS = 20_000;
const SMMU_ROUNDS = 200;
const SYNCS = 20_000;
const SYNC_BUDGET_MS = 100;
const STEP_CYCLES = 500;
/** Rounds of 16 TLBI_NH_VA + CMD_SYNC per trial of the SMMU rig consuming round by round. */
const SMMU_PEER_ROUNDS = 50;
/** Short trials, many of them: on a loaded host some fall inside one time slice. */
const TRIALS_PER_ROUND = 10;
const WARMUP_TRIALS = 50;

/** The SMMU worker is a CPU thread: its loads of entries and PROD keep shared copies (params.smmuFetch). */
const SMMU_FETCH = SMMU_FETCH_THREAD;

const least = (xs: readonly number[]): number => Math.min(...xs);

function trials(rounds: number, f: () => number): number {
  // Untimed: the optimising compiler takes tens of trials to settle on the lock-free path.
  for (let i = 0; i < WARMUP_TRIALS; i++) f();
  return least(Array.from({ length: rounds * TRIALS_PER_ROUND }, f));
}

/** Rounded to 0.1 ns; never negative. */
const ns = (x: number): number => Math.max(0, Math.round(x * 10) / 10);

export async function calibrate(o: CalibrateOptions): Promise<CalibrationDocument> {
  const { rounds, log } = o;
  const m: Record<string, number> = {};
  const step = (name: string, v: number, what: string): void => {
    m[name] = ns(v);
    log(`calibrate: ${what}: ${m[name]} ns`);
  };

  step(
    'pingPongOneWayNs',
    least(await pingPongNs(PING_PONG_ROUND_TRIPS, rounds * TRIALS_PER_ROUND, PING_PONG_BUDGET_MS)),
    'line transfer (ping-pong, one way)',
  );
  localAtomicNs(ATOMIC_OPS); // untimed: the JIT settles
  const atomics = Array.from({ length: rounds * TRIALS_PER_ROUND }, () => localAtomicNs(ATOMIC_OPS));
  step('atomicLoadNs', least(atomics.map((a) => a.loadNs)), 'Atomics.load, line held');
  step('atomicRmwNs', least(atomics.map((a) => a.rmwNs)), 'Atomics.compareExchange, line held');

  const timed = DEFAULTS.stats === 'full';
  const perCommand = (rig: CpuRig, n: number) => () => {
    const t0 = performance.now();
    const c = rig.issue(n);
    return ((performance.now() - t0) * 1e6) / c;
  };
  step(
    'lockedNsPerCommand',
    trials(rounds, perCommand(cpuRig(timed), ISSUE_UNMAPS)),
    'locked issue path per command (MMIO free, no SMMU)',
  );
  step(
    'lockfreeNsPerList16',
    RIG_PAGES * trials(rounds, perCommand(lockfreeRig(timed, RIG_PAGES), ISSUE_UNMAPS)),
    `lock-free issue path per cmdlist of ${RIG_PAGES}`,
  );
  step(
    'lockfreeNsPerList1',
    trials(rounds, perCommand(lockfreeRig(timed, 1), ISSUE_UNMAPS * RIG_PAGES)),
    'lock-free issue path per cmdlist of 1',
  );
  step(
    'costedMmioNs',
    trials(rounds, () => {
      const t0 = nowNs();
      for (let i = 0; i < SPINS; i++) spinUntil(nowNs() + 1);
      return (nowNs() - t0) / SPINS;
    }),
    'a costed MMIO access of 1 ns (its busy-wait)',
  );
  const smmu = smmuRig(SMMU_ROUNDS, 1);
  step(
    'smmuNsPerCommand',
    trials(rounds, () => {
      const t0 = performance.now();
      const n = smmu.consume();
      return ((performance.now() - t0) * 1e6) / n;
    }),
    'SMMU engine per command (latencies 1 ns: the busy-wait counted)',
  );
  // The same engine round by round, the IOTLB filled before each round by this thread or by a
  // peer thread (as the CPU worker's DMA fills it in a run): the difference is what the TLBIs pay
  // for sets whose lines another core last wrote; the rounds' own overhead cancels out.
  const byRound = smmuRig(SMMU_PEER_ROUNDS, 1);
  const iotlbPeer = await startIotlbPeer(byRound.views, byRound.layoutParams);
  try {
    const own = new Iotlb(byRound.views.i32, computeLayout(byRound.layoutParams), SPIN);
    const fillHere = () => {
      for (let p = 0; p < RIG_PAGES; p++) own.translate(1, VA_BASE_PAGE + p);
    };
    const fillThere = () => iotlbPeer.fill(1, VA_BASE_PAGE, RIG_PAGES);
    step(
      'smmuRoundsLocalFillNs',
      trials(rounds, () => byRound.consumeRounds(fillHere)),
      'SMMU per command, round by round, IOTLB filled here',
    );
    step(
      'smmuRoundsPeerFillNs',
      trials(rounds, () => byRound.consumeRounds(fillThere)),
      'SMMU per command, round by round, IOTLB filled by another thread',
    );
  } finally {
    await iotlbPeer.stop();
  }

  const rtt: { wait: number; p50: number; cycle: number }[] = [];
  for (let r = 0; r < rounds; r++) {
    const x = await measureSyncRoundTrip(SYNCS, SYNCS >> 2, SYNC_BUDGET_MS);
    rtt.push({ wait: x.waitMeanNs, p50: x.waitP50Ns, cycle: x.cycleNs });
  }
  step('syncWaitMeanNs', least(rtt.map((x) => x.wait)), 'CMD_SYNC round trip, mean wait (latencies 0)');
  step('syncWaitP50Ns', least(rtt.map((x) => x.p50)), 'CMD_SYNC round trip, median wait');
  step('syncCycleNs', least(rtt.map((x) => x.cycle)), 'CMD_SYNC round trip, whole cycle');

  const alone = stepRig(RIG_PAGES);
  alone(STEP_CYCLES);
  const local = Array.from({ length: rounds * TRIALS_PER_ROUND }, () => alone(STEP_CYCLES));
  step(
    'mapStepAloneNs',
    least(local.map((s) => s.mapNs)),
    `map side per ${RIG_PAGES}-page cycle, one thread (alloc, map, DMA reads, free)`,
  );
  // As a run does it: the SMMU worker on the other core applies each cycle's TLBIs, so the next
  // cycle's device reads fill IOTLB sets whose lines it last wrote.
  const smmuPeer = await startSmmuPeer(
    { tlbiNs: DEFAULTS.tlbiNs, syncNs: DEFAULTS.syncNs },
    { pages: RIG_PAGES },
  );
  try {
    const cycle = stepRig(RIG_PAGES, smmuPeer);
    cycle(STEP_CYCLES);
    const steps = Array.from({ length: rounds * TRIALS_PER_ROUND }, () => cycle(STEP_CYCLES));
    step(
      'mapStepNs',
      least(steps.map((s) => s.mapNs)),
      `map side per ${RIG_PAGES}-page cycle, the SMMU worker applying its TLBIs`,
    );
    step('unmapStepNs', least(steps.map((s) => s.unmapNs)), `unmap PTE clears per ${RIG_PAGES}-page cycle`);
    const issue = lockedBesideSmmu(smmuPeer);
    step(
      'lockedBesideSmmuNs',
      trials(rounds, () => issue(ISSUE_UNMAPS)),
      'locked issue path per command beside the SMMU worker (MMIO free)',
    );
  } finally {
    await smmuPeer.stop();
  }

  const h = hostInfo({ ...DEFAULTS, cpus: 1 });
  return {
    kind: CALIBRATION_KIND,
    version: CALIBRATION_VERSION,
    tool: { name: TOOL.name, version: TOOL.version },
    createdAt: new Date().toISOString(),
    host: {
      cores: h.cores,
      cpuModel: h.cpuModel,
      nodeVersion: h.nodeVersion,
      platform: h.platform,
      arch: h.arch,
    },
    params: {
      lineTransferNs: m.pingPongOneWayNs,
      // The issue path beside the SMMU worker pays, per command, for its stores into the entry's
      // and PROD's lines, both of which the worker holds shared copies of (upgrades, in flight
      // together until the doorbell's fence): what that path costs beyond the same path alone.
      // Floored at 0.1 ns because 0 means "a full transfer" (params.ts).
      upgradeNs: Math.max(0.1, ns(m.lockedBesideSmmuNs - m.lockedNsPerCommand)),
      // > 0 (calibration.ts refuses 0: time must advance); a load below 0.05 ns rounds to 0.
      hitNs: Math.max(0.1, m.atomicLoadNs),
      atomicNs: ns(m.atomicRmwNs - m.atomicLoadNs),
      cmdNs: ns((m.lockfreeNsPerList16 - m.lockfreeNsPerList1) / (RIG_PAGES - 1)),
      // Alone, not beside the SMMU worker (lockedBesideSmmuNs gives upgradeNs): docs/virtual-time.md.
      lockedIssueNs: ns(
        m.lockedNsPerCommand - (m.lockfreeNsPerList16 - m.lockfreeNsPerList1) / (RIG_PAGES - 1),
      ),
      lockfreeIssueNs: ns(
        m.lockfreeNsPerList1 - (m.lockfreeNsPerList16 - m.lockfreeNsPerList1) / (RIG_PAGES - 1),
      ),
      mmioExtraNs: ns(m.costedMmioNs - 1),
      smmuCmdNs: ns(m.smmuNsPerCommand - 1 + Math.max(0, m.smmuRoundsPeerFillNs - m.smmuRoundsLocalFillNs)),
      // One crossing each way: the idle SMMU seeing PROD, the CPU seeing CONS. The round trip also
      // holds the SMMU's fetch of the CMD_SYNC's entry from the CPU's cache, which the virtual
      // engine charges apart (smmuFetch 2: a line transfer), so it is not counted twice. The
      // doorbell's own store (its claim of PROD's line) comes before the wait is timed.
      wakeNs: ns((m.syncWaitP50Ns - m.smmuNsPerCommand + 1 - m.pingPongOneWayNs) / 2),
      mapNs: m.mapStepNs,
      unmapNs: m.unmapStepNs,
      // The SMMU worker loads the entries the CPU thread wrote, and PROD, from shared memory.
      smmuFetch: SMMU_FETCH,
    },
    measurements: m,
  };
}
