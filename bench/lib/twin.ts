// The C twin of the emulator's one-CPU unmap path (bench/twin.c): built here, run one strategy at
// a time, its mean time inside iommu_unmap read from the JSON line it prints.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { startNoiseProbe } from './host.js';
import { BUILD, rel, TWIN_BIN, TWIN_SRC } from './paths.js';

/** Compiles bench/twin.c; returns the command as the report shows it. */
export function buildTwin(): string {
  mkdirSync(BUILD, { recursive: true });
  const args = ['-O2', '-pthread', '-Wall', '-o', TWIN_BIN, TWIN_SRC];
  execFileSync('gcc', args, { stdio: 'inherit' });
  return `gcc ${args.map(rel).join(' ')}`;
}

export interface TwinRun {
  meanUnmapNs: number;
  p50UnmapNs: number;
  unmaps: number;
  commandsPerUnmap: number;
  othersCores: number;
}

export interface TwinSpec {
  strategy: 'per-page' | 'batched';
  pages: number;
  tlbiNs: number;
  syncNs: number;
  warmupMs: number;
  durationMs: number;
}

export const twinArgs = (s: TwinSpec): string[] =>
  [s.strategy, s.pages, s.tlbiNs, s.syncNs, s.warmupMs, s.durationMs].map(String);

export function cTwin(s: TwinSpec): TwinRun {
  const noise = startNoiseProbe();
  const out = execFileSync(TWIN_BIN, twinArgs(s), { encoding: 'utf8', timeout: 60_000 + s.durationMs });
  const r = JSON.parse(out) as Omit<TwinRun, 'othersCores'>;
  return { ...r, othersCores: noise.stop().othersCores };
}
