// Runs of the virtual-time engine for the bench, from the snapshot of dist/ (paths.ts). Until the
// CLI has --engine virtual, a point runs through runVirtual() (src/virtual/run.ts) in-process, or
// in a child (bench/virtual-probe.ts) where its peak RSS is wanted; `virtualPoint` is the one
// function to switch to `node dist/run.js --engine virtual --calibration FILE` later.
import type { Config } from '../../src/config/config.js';
import type { VirtualParams } from '../../src/virtual/params.js';
import type { VirtualResult } from '../../src/virtual/run.js';
import { runChild } from './child.js';
import { VIRTUAL_PROBE_JS, VIRTUAL_RUN_URL } from './paths.js';

/** The threads engine's strategy names, as the virtual engine runs them. */
export const VIRTUAL_STRATEGIES = {
  'per-page': { strategy: 'per-page', design: 'locked' },
  batched: { strategy: 'batched', design: 'locked' },
  lockfree: { strategy: 'batched', design: 'lockfree' },
} as const;
export type VirtualStrategyName = keyof typeof VIRTUAL_STRATEGIES;

/** The virtual engine's parameters for a threads-engine Config, with a calibration on top. */
export function virtualParamsFor(cfg: Config, calibrated: Partial<VirtualParams>): Partial<VirtualParams> {
  return {
    tlbiNs: cfg.tlbiNs,
    syncNs: cfg.syncNs,
    syncMode: cfg.syncMode,
    pages: cfg.pages,
    dmaNs: cfg.dmaNs,
    queueShift: Math.log2(cfg.queueEntries),
    mmioReadNs: cfg.mmioReadNs,
    mmioWriteNs: cfg.mmioWriteNs,
    ...calibrated,
  };
}

export interface VirtualPointSpec {
  cpus: number;
  strategy: VirtualStrategyName;
  durationMs: number;
  warmupMs: number;
  seed: number;
  params: Partial<VirtualParams>;
}

export interface VirtualPoint {
  unmapsPerSec: number;
  meanUnmapNs: number;
  events: number;
  /** Host time of the run, ms. */
  wallMs: number;
}

type RunVirtual = typeof import('../../src/virtual/run.js').runVirtual;

/** One point through `runVirtual` (the snapshot's, or the probe's own import of it). */
export function runPoint(runVirtual: RunVirtual, s: VirtualPointSpec): VirtualPoint {
  const t0 = performance.now();
  const r: VirtualResult = runVirtual({
    cpus: s.cpus,
    ...VIRTUAL_STRATEGIES[s.strategy],
    seed: s.seed,
    durationNs: s.durationMs * 1e6,
    warmupNs: s.warmupMs * 1e6,
    params: s.params,
  });
  return {
    unmapsPerSec: r.unmapsPerSec,
    meanUnmapNs: r.meanUnmapNs,
    events: r.events,
    wallMs: performance.now() - t0,
  };
}

/** One point, in this process, from the snapshot of dist/. */
export async function virtualPoint(s: VirtualPointSpec): Promise<VirtualPoint> {
  const { runVirtual } = (await import(VIRTUAL_RUN_URL)) as typeof import('../../src/virtual/run.js');
  return runPoint(runVirtual, s);
}

export interface ProbeResult extends VirtualPoint {
  maxRssKb: number;
}

/** One point in a child process (bench/virtual-probe.ts): its wall time and peak RSS. null: failed. */
export async function virtualPointInChild(
  s: Omit<VirtualPointSpec, 'params'>,
  timeoutMs: number,
): Promise<{ probe: ProbeResult | null; childWallMs: number; error: string | null }> {
  const args = [
    VIRTUAL_PROBE_JS,
    String(s.cpus),
    s.strategy,
    String(s.durationMs),
    String(s.warmupMs),
    String(s.seed),
  ];
  const c = await runChild(process.execPath, args, { timeoutMs });
  if (c.code !== 0 || c.timedOut)
    return {
      probe: null,
      childWallMs: c.wallMs,
      error: c.timedOut
        ? `killed after ${timeoutMs} ms`
        : (c.stderr.trim().split('\n')[0] ?? `exit ${c.code}`),
    };
  return { probe: JSON.parse(c.stdout) as ProbeResult, childWallMs: c.wallMs, error: null };
}
