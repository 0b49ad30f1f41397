// Runs of the emulator itself: in-process through runConfig (as `node dist/run.js` would run it)
// or as a child process of the real CLI, always from the snapshot of dist/ (paths.ts).
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULTS, type Config } from '../../src/config/config.js';
import type { ResultDocument, RunReport } from '../../src/report/types.js';
import { runChild, type ChildResult } from './child.js';
import { startNoiseProbe } from './host.js';
import { MAIN_URL, RSS_WRAP_JS, RUN_JS, TMP } from './paths.js';

export type RunSpec = Partial<Config> & { strategies: readonly string[] };

/**
 * The protocol of the C programs the emulator is compared with (bench/twin.c, the hand-off and
 * ping-pong of bench/locks.c): a ttas cmdq lock, spinning waits, CMD_SYNC polled under the lock,
 * free MMIO (their queue registers are plain memory) and CONS re-read until it changes (no udelay
 * back-off loop).
 */
export const LIKE_C = {
  lock: 'ttas',
  wait: 'spin',
  syncMode: 'poll',
  mmioReadNs: 0,
  mmioWriteNs: 0,
  consPoll: 'spin',
} as const satisfies Partial<Config>;

export function cliArgs(c: RunSpec): string[] {
  const a: string[] = [];
  if (c.cpus !== undefined) a.push('--cpus', String(c.cpus));
  a.push('--strategy', c.strategies.join(','));
  if (c.pages !== undefined) a.push('--pages', String(c.pages));
  if (c.tlbiNs !== undefined) a.push('--tlbi-ns', String(c.tlbiNs));
  if (c.syncNs !== undefined) a.push('--sync-ns', String(c.syncNs));
  if (c.lock !== undefined) a.push('--lock', c.lock);
  if (c.wait !== undefined) a.push('--wait', c.wait);
  if (c.syncMode !== undefined) a.push('--sync-mode', c.syncMode);
  if (c.mmioReadNs !== undefined) a.push('--mmio-read-ns', String(c.mmioReadNs));
  if (c.mmioWriteNs !== undefined) a.push('--mmio-write-ns', String(c.mmioWriteNs));
  if (c.consPoll !== undefined) a.push('--cons-poll', c.consPoll);
  if (c.stats !== undefined) a.push('--stats', c.stats);
  if (c.durationMs !== undefined) a.push('--duration', `${c.durationMs}ms`);
  if (c.warmupMs !== undefined) a.push('--warmup', `${c.warmupMs}ms`);
  if (c.engine !== undefined) a.push('--engine', c.engine);
  if (c.seed !== undefined) a.push('--seed', String(c.seed));
  if (c.calibration) a.push('--calibration', c.calibration);
  return a;
}

/** In-process with runConfig (src/index.ts), as `node dist/run.js <cliArgs>` would run it. */
export async function inProcess(c: RunSpec): Promise<{ doc: ResultDocument; othersCores: number }> {
  // From the snapshot of dist/ (see paths.ts), imported on first use.
  const { runConfig } = (await import(MAIN_URL)) as typeof import('../../src/index.js');
  const cfg: Config = { ...DEFAULTS, ...c, quiet: true, json: null };
  const noise = startNoiseProbe();
  const { doc } = await runConfig(cfg, () => {});
  return { doc, othersCores: noise.stop().othersCores };
}

export interface CliRun {
  child: ChildResult;
  doc: ResultDocument | null;
  maxRssKb: number | null;
  othersCores: number;
}

let tmpSeq = 0;
/** `node dist/run.js <args> --json <tmp> -q` as a child, under rss-wrap for its peak RSS. */
export async function cliRun(args: readonly string[], timeoutMs: number): Promise<CliRun> {
  mkdirSync(TMP, { recursive: true });
  const json = join(TMP, `run-${process.pid}-${tmpSeq}.json`);
  const probe = join(TMP, `probe-${process.pid}-${tmpSeq++}.json`);
  rmSync(json, { force: true });
  rmSync(probe, { force: true });
  const child = await runChild(process.execPath, [RSS_WRAP_JS, RUN_JS, ...args, '--json', json, '-q'], {
    timeoutMs,
    env: { TLBSYNC_BENCH_PROBE: probe },
  });
  const read = <T>(f: string): T | null => {
    try {
      return JSON.parse(readFileSync(f, 'utf8')) as T;
    } catch {
      return null;
    }
  };
  const doc = read<ResultDocument>(json);
  const p = read<{ maxRssKb: number }>(probe);
  rmSync(json, { force: true });
  rmSync(probe, { force: true });
  return { child, doc, maxRssKb: p?.maxRssKb ?? null, othersCores: child.othersCores };
}

export const cmdqLock = (r: RunReport) => r.locks.find((l) => l.name === 'cmdq') ?? null;
