// Runs of the virtual-time engine for the bench, through the same path as `node dist/run.js
// --engine virtual` (the snapshot of dist/, paths.ts): in-process through runConfig for the
// comparison points, and as a child of the real CLI (cliRun, under rss-wrap) for the scale points
// whose peak RSS is wanted. Either way the run has the driver state (IOVA allocator, PTEs, IOTLB,
// oracle) and the reporting of a user's run, and the calibration comes in as a --calibration file.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CalibrationDocument } from '../../src/run/calibrate/calibrate.js';
import type { ResultDocument } from '../../src/report/types.js';
import { cliArgs, cliRun, inProcess, type RunSpec } from './emulator.js';
import { TMP } from './paths.js';

export type VirtualStrategyName = 'per-page' | 'batched' | 'lockfree';

export interface VirtualPointSpec {
  cpus: number;
  strategy: VirtualStrategyName;
  durationMs: number;
  warmupMs: number;
  seed: number;
  /** A --calibration file (writeCalibration), or null: the engine's defaults. */
  calibration: string | null;
}

export interface VirtualPoint {
  unmapsPerSec: number;
  meanUnmapNs: number;
  events: number;
  /** Host time of the simulation alone (events / runs[].virtual.eventsPerSec), ms. */
  runMs: number;
}

/** A calibrate() result as the file `node dist/run.js calibrate` writes, for --calibration. */
export function writeCalibration(doc: CalibrationDocument): string {
  mkdirSync(TMP, { recursive: true });
  const file = join(TMP, `calibration-${process.pid}.json`);
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
  return file;
}

/** The run a point is, as the CLI takes it. */
export function virtualSpec(s: VirtualPointSpec): RunSpec {
  return {
    cpus: s.cpus,
    strategies: [s.strategy],
    durationMs: s.durationMs,
    warmupMs: s.warmupMs,
    engine: 'virtual',
    seed: s.seed,
    calibration: s.calibration,
  };
}

/** The point's figures from the document of its run; throws when the run produced none. */
function pointOf(doc: ResultDocument | null, s: VirtualPointSpec): VirtualPoint {
  const r = doc?.runs.find((x) => x.strategy === s.strategy);
  const v = r?.virtual;
  if (!r || !v) throw new Error(`virtual: no ${s.strategy} run in the document at ${s.cpus} CPU(s)`);
  return {
    unmapsPerSec: r.totals.unmapsPerSec,
    meanUnmapNs: r.unmapLatencyNs.mean ?? NaN,
    events: v.events,
    runMs: v.eventsPerSec > 0 ? (v.events / v.eventsPerSec) * 1000 : 0,
  };
}

/** One point, in this process, through runConfig as `node dist/run.js --engine virtual` runs it. */
export async function virtualPoint(s: VirtualPointSpec): Promise<VirtualPoint> {
  const { doc } = await inProcess(virtualSpec(s));
  return pointOf(doc, s);
}

export interface ProbeResult extends VirtualPoint {
  maxRssKb: number | null;
}

/** One point as a child of the real CLI: its wall time and peak RSS. probe null: failed. */
export async function virtualPointInChild(
  s: VirtualPointSpec,
  timeoutMs: number,
): Promise<{ probe: ProbeResult | null; childWallMs: number; error: string | null }> {
  const c = await cliRun(cliArgs(virtualSpec(s)), timeoutMs);
  const ch = c.child;
  if (ch.code !== 0 || ch.timedOut || c.doc === null)
    return {
      probe: null,
      childWallMs: ch.wallMs,
      error: ch.timedOut
        ? `killed after ${timeoutMs} ms`
        : (ch.stderr.trim().split('\n')[0] ?? `exit ${ch.code}`),
    };
  return { probe: { ...pointOf(c.doc, s), maxRssKb: c.maxRssKb }, childWallMs: ch.wallMs, error: null };
}
