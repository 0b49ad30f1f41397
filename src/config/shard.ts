// --shard K/N: one machine's slice of a sweep, so that a sweep too big for one host runs as a job
// array (Slurm) or an Indexed Job (Kubernetes) and is merged afterwards (`tlbsync-emu merge`).
// Points are dealt round-robin in the sweep's run order: point i belongs to slice i mod N. The
// assignment depends only on the sweep spec, so every shard of the same command line agrees on it,
// every point is in exactly one slice, and each slice gets a similar mix of CPU counts.
import { UsageError } from './parse.js';

export interface Shard {
  /** 0-based slice number. */
  readonly index: number;
  readonly count: number;
}

/** How it reads in messages and in the JSON: 1-based, as on the command line. */
export function shardLabel(s: Shard): string {
  return `${s.index + 1}/${s.count}`;
}

function whole(label: string, what: string, raw: string | undefined, min: number): number {
  if (raw === undefined || !/^\d+$/.test(raw.trim()))
    throw new UsageError(
      `${label}: ${what} is ${raw === undefined ? 'not set' : `"${raw}"`}, expected a whole number`,
    );
  const n = Number(raw.trim());
  if (n < min) throw new UsageError(`${label}: ${what} is ${n}, expected ${min} or more`);
  return n;
}

/**
 * `K/N` (1 <= K <= N), or `auto`: from a Slurm job array (SLURM_ARRAY_TASK_ID minus
 * SLURM_ARRAY_TASK_MIN, of SLURM_ARRAY_TASK_COUNT) or a Kubernetes Indexed Job
 * (JOB_COMPLETION_INDEX, 0-based, of `shards`, which the Job spec's `completions` fixes and the
 * environment does not carry). `shards`, when given, is N in every form.
 */
export function parseShard(
  label: string,
  spec: string,
  env: Record<string, string | undefined>,
  shards: number | null,
): Shard {
  const s = spec.trim();
  let index: number;
  let count: number;
  if (s === 'auto') {
    if (env.SLURM_ARRAY_TASK_ID !== undefined) {
      const id = whole(label, 'SLURM_ARRAY_TASK_ID', env.SLURM_ARRAY_TASK_ID, 0);
      const min =
        env.SLURM_ARRAY_TASK_MIN === undefined
          ? 0
          : whole(label, 'SLURM_ARRAY_TASK_MIN', env.SLURM_ARRAY_TASK_MIN, 0);
      index = id - min;
      count = shards ?? whole(label, 'SLURM_ARRAY_TASK_COUNT', env.SLURM_ARRAY_TASK_COUNT, 1);
    } else if (env.JOB_COMPLETION_INDEX !== undefined) {
      index = whole(label, 'JOB_COMPLETION_INDEX', env.JOB_COMPLETION_INDEX, 0);
      if (shards === null)
        throw new UsageError(
          `${label} auto: JOB_COMPLETION_INDEX does not say how many shards there are; add --shards N (the Job's completions)`,
        );
      count = shards;
    } else
      throw new UsageError(
        `${label} auto: neither SLURM_ARRAY_TASK_ID (Slurm job array) nor JOB_COMPLETION_INDEX (Kubernetes Indexed Job) is set`,
      );
  } else {
    const m = /^(\d+)\/(\d+)$/.exec(s);
    if (!m)
      throw new UsageError(
        `${label}: expected K/N (the K-th of N slices, 1 <= K <= N) or auto, got "${spec}"`,
      );
    index = Number(m[1]) - 1;
    count = Number(m[2]);
    if (count < 1) throw new UsageError(`${label} ${spec}: N must be 1 or more`);
    if (index < 0) throw new UsageError(`${label} ${spec}: K counts from 1`);
    if (shards !== null && shards !== count)
      throw new UsageError(`${label} ${spec} contradicts --shards ${shards}`);
  }
  if (index >= count)
    throw new UsageError(`${label}: slice ${index + 1} of ${count} does not exist (allowed: 1 to ${count})`);
  return { index, count };
}

/** The points of `points` (in run order) that belong to `shard`; all of them without one. */
export function shardPoints<T>(points: readonly T[], shard: Shard | null | undefined): T[] {
  return shard ? points.filter((_, i) => i % shard.count === shard.index) : [...points];
}
