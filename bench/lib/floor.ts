// The floor under the twin section's ratios: what each side's own code costs alone, in one thread
// (no second core, no cache line crossing), measured side by side. C: `bench/build/twin floor`
// (bench/twin.c floor_main()); the emulator: the rigs of src/run/calibrate/rigs.ts that
// bench/hotpath.ts times, with the hand-offs a `--wait spin` run makes (release stores, no fence:
// concurrency/wait.ts handOff). Three figures each: the locked issue path per command (cpuRig, 16
// TLBI_NH_VA per round, CONS moved up by hand), the SMMU loop per command with every latency 0
// (smmuRig, rounds of 16 TLBI_NH_VA + CMD_SYNC), and one clock read (nowNs() against
// clock_gettime()). Each is the minimum over its trials: a trial the host preempts is only slower.
import { execFileSync } from 'node:child_process';
import { nowNs } from '../../src/concurrency/clock.js';
import { elideHandOffFences, handOffPhase } from '../../src/concurrency/wait.js';
import { Phase } from '../../src/hardware/layout.js';
import { cpuRig, smmuRig } from '../../src/run/calibrate/rigs.js';
import { TWIN_BIN } from './paths.js';

export interface Floor {
  /** The 2017 locked issue path, ns per command. */
  issueNsPerCommand: number;
  /** The SMMU's consume loop with every latency 0, ns per command. */
  consumeNsPerCommand: number;
  /** One read of the clock the side times with, ns. */
  clockNs: number;
}

/** Trials per figure; each JavaScript trial is 32,000 or 34,000 commands, or 100,000 clock reads. */
export const FLOOR_TRIALS = 31;

/** ns per operation in each of `trials` runs of `run`, which returns how many operations it did
 *  (bench/hotpath.ts prints their median and minimum; the floor keeps the minimum). */
export function trial(trials: number, run: () => number): number[] {
  const out: number[] = [];
  for (let t = 0; t < trials; t++) {
    const t0 = nowNs();
    const n = run();
    out.push((nowNs() - t0) / n);
  }
  return out;
}

const minOver = (trials: number, run: () => number): number => Math.min(...trial(trials, run));

export function cFloor(trials = FLOOR_TRIALS): Floor {
  const out = execFileSync(TWIN_BIN, ['floor', String(trials)], { encoding: 'utf8', timeout: 120_000 });
  return JSON.parse(out) as Floor;
}

/**
 * Runs f with this thread's hand-offs as a worker of a `--wait spin` run makes them in its measured
 * window (the orchestrator's handOffElision: release stores, no fence), then fenced again.
 */
export function asSpinRun<T>(f: () => T): T {
  elideHandOffFences({ from: Phase.WARMUP, until: Phase.STOP });
  handOffPhase(Phase.MEASURE);
  try {
    return f();
  } finally {
    elideHandOffFences(null);
  }
}

export function jsFloor(trials = FLOOR_TRIALS): Floor {
  return asSpinRun(() => {
    const cpu = cpuRig(true);
    const issueNsPerCommand = minOver(trials, () => cpu.issue(2000));
    const smmu = smmuRig(2000);
    const consumeNsPerCommand = minOver(trials, () => smmu.consume());
    const clockNs = minOver(trials, () => {
      let x = 0;
      for (let i = 0; i < 100_000; i++) x += nowNs();
      // Uses the readings, so that the loop is not optimised away (a sum of 0 is no measurement).
      return x > 0 ? 100_000 : 0;
    });
    return { issueNsPerCommand, consumeNsPerCommand, clockNs };
  });
}
