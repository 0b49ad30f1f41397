// --sweep and --repeat: which parameters can be swept, how each value is validated (by the same
// parser as the flag it stands for, so the same ranges and messages), and the list of points.
// Parsing only; src/run/run-plan.ts runs a plan.
import {
  CMDQ_DESIGN_NAMES,
  ENGINE_NAMES,
  MAX_SEED,
  IOVA_MODES,
  MAX_CPUS,
  MAX_PAGES,
  SWEEP_KEYS,
  type Config,
  type SweepKey,
} from './config.js';
import { parseChoice, parseCount, parseNs, parsePowerOfTwo, UsageError } from './parse.js';
import { Q_MAX_SHIFT } from '../hardware/queue.js';
import { LOCK_NAMES } from '../concurrency/lock.js';
import type { Shard } from './shard.js';

/** Longest modelled latency per command, and --dma-ns's bound (dma_map_benchmark's
 *  DMA_MAP_MAX_TRANS_DELAY): beyond 10 ms a run measures nothing useful. */
export const MAX_LATENCY_NS = 10_000_000;
/** points x strategies x repetitions above this is refused (a typo, not a plan). */
export const MAX_RUNS = 10_000;
export const MAX_REPEAT = 1000;

type Value = string | number;

interface AxisDef {
  /** The flag the parameter stands for; the --sweep name is the flag without its dashes. */
  readonly flag: string;
  readonly parse: (label: string, raw: string) => Value;
}

/** Sweepable parameters, keyed by their Config key (which is also their name in params and CSV). */
export const AXES = {
  cpus: { flag: '--cpus', parse: (l, r) => parseCount(l, r, 1, MAX_CPUS) },
  pages: { flag: '--pages', parse: (l, r) => parseCount(l, r, 1, MAX_PAGES) },
  queueEntries: {
    flag: '--queue-entries',
    parse: (l, r) => parsePowerOfTwo(l, r, 2, 2 ** Q_MAX_SHIFT),
  },
  tlbiNs: { flag: '--tlbi-ns', parse: (l, r) => parseNs(l, r, MAX_LATENCY_NS) },
  syncNs: { flag: '--sync-ns', parse: (l, r) => parseNs(l, r, MAX_LATENCY_NS) },
  mmioReadNs: { flag: '--mmio-read-ns', parse: (l, r) => parseNs(l, r, MAX_LATENCY_NS) },
  mmioWriteNs: { flag: '--mmio-write-ns', parse: (l, r) => parseNs(l, r, MAX_LATENCY_NS) },
  lock: { flag: '--lock', parse: (l, r) => parseChoice(l, r, LOCK_NAMES) },
  syncMode: { flag: '--sync-mode', parse: (l, r) => parseChoice(l, r, ['poll', 'msi']) },
  wait: { flag: '--wait', parse: (l, r) => parseChoice(l, r, ['spin', 'park', 'auto']) },
  domains: { flag: '--domains', parse: (l, r) => parseChoice(l, r, ['shared', 'per-cpu']) },
  iova: { flag: '--iova', parse: (l, r) => parseChoice(l, r, IOVA_MODES) },
  cmdq: { flag: '--cmdq', parse: (l, r) => parseChoice(l, r, CMDQ_DESIGN_NAMES) },
  dmaNs: { flag: '--dma-ns', parse: (l, r) => parseNs(l, r, MAX_LATENCY_NS) },
  engine: { flag: '--engine', parse: (l, r) => parseChoice(l, r, ENGINE_NAMES) },
  seed: { flag: '--seed', parse: (l, r) => parseCount(l, r, 0, MAX_SEED) },
} as const satisfies Record<SweepKey, AxisDef>;

export type AxisKey = SweepKey;
export const AXIS_KEYS: readonly AxisKey[] = SWEEP_KEYS;

/** The name --sweep takes for an axis: its flag without the dashes (queue-entries). */
export function axisName(key: AxisKey): string {
  return AXES[key].flag.slice(2);
}

function axisOf(name: string): AxisKey | undefined {
  return AXIS_KEYS.find((k) => k === name || axisName(k) === name);
}

export interface SweepAxis {
  readonly key: AxisKey;
  readonly values: readonly Value[];
}

export type Params = Record<string, Value>;

/** What an invocation runs beyond one Config: the sweep, repetitions, and the extra outputs. */
export interface Plan {
  /** Axes in the order given; null without --sweep. */
  readonly sweep: readonly SweepAxis[] | null;
  readonly repeat: number;
  readonly csv: string | null;
  readonly report: string | null;
  /** --shard: run only this slice of the points (src/config/shard.ts); null or absent: all. */
  readonly shard?: Shard | null;
}

export const SINGLE_RUN: Plan = { sweep: null, repeat: 1, csv: null, report: null, shard: null };

/**
 * One `PARAM=V1,V2,...` spec. `label` is what messages start with: `--sweep`, or `FILE: sweep`
 * for a config file; a bad value reads e.g. `--sweep cpus: 0 is out of range (allowed: 1 to 256)`.
 */
export function parseSweepSpec(label: string, spec: string): SweepAxis {
  const m = /^\s*([A-Za-z-]+)\s*=(.*)$/.exec(spec);
  if (!m) throw new UsageError(`${label}: expected PARAM=V1,V2,... (e.g. cpus=1,2,4), got "${spec}"`);
  const key = axisOf(m[1]);
  if (!key)
    throw new UsageError(`${label}: cannot sweep "${m[1]}" (allowed: ${AXIS_KEYS.map(axisName).join(', ')})`);
  const at = `${label} ${axisName(key)}`;
  const parts = m[2].split(',').map((p) => p.trim());
  if (m[2].trim() === '') throw new UsageError(`${at}: no values (expected ${m[1]}=v1,v2,...)`);
  if (parts.some((p) => p === '')) throw new UsageError(`${at}: empty item in "${m[2]}"`);
  const values = parts.map((p) => AXES[key].parse(at, p));
  const dup = values.findIndex((v, i) => values.indexOf(v) !== i);
  if (dup >= 0) throw new UsageError(`${at}: ${parts[dup]} is listed twice`);
  return { key, values };
}

export function parseSweeps(label: string, specs: readonly string[]): SweepAxis[] {
  const axes: SweepAxis[] = [];
  for (const spec of specs) {
    const axis = parseSweepSpec(label, spec);
    if (axes.some((a) => a.key === axis.key))
      throw new UsageError(
        `${label} ${axisName(axis.key)}: swept twice (list every value in one ${label} ${axisName(axis.key)}=...)`,
      );
    axes.push(axis);
  }
  return axes;
}

export interface Point {
  /** The swept values ({} without --sweep), keys in the order the axes were given. */
  readonly params: Params;
  /** The base Config with the point's values applied. */
  readonly cfg: Config;
}

/**
 * The cross product of the axes, in run order: the first axis varies slowest, except that a cpus
 * axis always varies slowest of all, so each CPU pool is created once and used for all the points
 * of its size. Without a sweep, the one point is the base Config.
 */
export function sweepPoints(base: Config, sweep: readonly SweepAxis[] | null): Point[] {
  if (!sweep || sweep.length === 0) return [{ params: {}, cfg: base }];
  const order = [...sweep.filter((a) => a.key === 'cpus'), ...sweep.filter((a) => a.key !== 'cpus')];
  let combos: Params[] = [{}];
  for (const axis of order) combos = combos.flatMap((c) => axis.values.map((v) => ({ ...c, [axis.key]: v })));
  return combos.map((c) => {
    const params: Params = {};
    for (const a of sweep) params[a.key] = c[a.key];
    return { params, cfg: { ...base, ...params } as Config };
  });
}

export function paramsLabel(params: Params, sep = ' '): string {
  return Object.entries(params)
    .map(([k, v]) => `${axisName(k as AxisKey)}=${v}`)
    .join(sep);
}

/**
 * Rules between settings, checked for every point: `describe(key)` says where a value came from
 * (`--lock spin-park`, `--sweep lock=spin-park`, `job.yaml: lock spin-park`).
 */
export function checkPoint(cfg: Config, params: Params, describe: (key: keyof Config) => string): void {
  if (cfg.lock === 'spin-park' && cfg.wait === 'spin')
    throw new UsageError(
      `${describe('lock')} contradicts ${describe('wait')}: the spin-park lock always parks (use --wait auto or park)`,
    );
  if ('cpus' in params)
    for (const f of cfg.inject)
      if ('cpu' in f && f.cpu >= cfg.cpus)
        throw new UsageError(
          `--inject: cpu=${f.cpu} is not a CPU of the sweep point cpus=${cfg.cpus} (allowed: 0 to ${cfg.cpus - 1})`,
        );
}

export function totalRuns(points: number, strategies: number, repeat: number): number {
  return points * strategies * repeat;
}
