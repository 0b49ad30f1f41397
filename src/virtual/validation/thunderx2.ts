// Experiment 3, ThunderX2 iperf -P 64 (facts file; the v5.4 lock-free queue's commit): CPU time in
// the command-queue helper 15-20% with the locked queue (v5.3), 1-2% with the lock-free one. Goal:
// the ordering, and each value within an order of magnitude of its published range.
//
// The workload's unknown is the CPU work per packet between map and unmap (the network stack),
// W. It is not published, and nothing is tuned to the locked value: W is fitted to the lock-free
// datum alone (the W at which the lock-free queue takes share f of CPU time at 64 CPUs, for f
// across 1-2%), and the locked queue's share at that W is the prediction. Rows span that range.
import type { SyncMode } from '../../config/config.js';
import type { VirtualResult } from '../run.js';
import { VALIDATION_PARAMS } from '../params.js';
import {
  factorOff,
  fixed,
  int,
  issueNsPerUnmap,
  measure,
  pct,
  verdict,
  type ValidationTable,
  type Workload,
} from './common.js';

/** One page per packet buffer; strict mode (one TLBI_NH_VA + one CMD_SYNC per unmap). */
export const THUNDERX2_WORKLOAD: Workload = { pages: 1 };

export const THUNDERX2_CPUS = 64;
/** arm64's spinlock in v5.3: the queued spinlock, an MCS queue (one hand-off per release). */
export const THUNDERX2_LOCK = 'mcs';
/** Published ranges, as fractions of CPU time. */
export const LOCKED_PUBLISHED = [0.15, 0.2] as const;
export const LOCKFREE_PUBLISHED = [0.01, 0.02] as const;
/** The lock-free shares W is derived from: the published range, in steps. */
export const DERIVE_FROM = [0.02, 0.0175, 0.015, 0.0125, 0.01] as const;

export interface ThunderX2Options {
  readonly ms: number;
  /** CMD_SYNC completion (default: the parameter set's). */
  readonly syncMode?: SyncMode;
  readonly fractions?: readonly number[];
}

export interface ThunderX2Point {
  /** The lock-free share W was fitted to. */
  readonly from: number;
  readonly workNs: number;
  readonly locked: VirtualResult;
  readonly lockfree: VirtualResult;
}

/** W for which a lock-free unmap costing issueNs in the issue path takes share f of CPU time. */
export function workFor(f: number, issueNs: number): number {
  return Math.max(0, Math.round(issueNs * (1 / f - 1) - VALIDATION_PARAMS.mapNs));
}

/** Fixed-point steps of the fit: W from the issue time, the issue time at that W, again. */
const FIT_STEPS = 3;
/** Far beyond any queue contention (one unmap per CPU per ms): the fit's first issue time. */
const IDLE_WORK_NS = 1e6;

export function thunderx2Points(o: ThunderX2Options): ThunderX2Point[] {
  const durationNs = o.ms * 1e6;
  const at = (design: 'locked' | 'lockfree', dmaNs: number): VirtualResult =>
    measure({
      cpus: THUNDERX2_CPUS,
      design,
      strategy: 'batched',
      durationNs,
      warmupNs: durationNs / 10,
      workload: { ...THUNDERX2_WORKLOAD, dmaNs, ...(o.syncMode ? { syncMode: o.syncMode } : {}) },
      lock: THUNDERX2_LOCK,
    });
  const idle = issueNsPerUnmap(at('lockfree', IDLE_WORK_NS), durationNs);
  return (o.fractions ?? DERIVE_FROM).map((from) => {
    let workNs = workFor(from, idle);
    let lockfree = at('lockfree', workNs);
    for (let k = 1; k < FIT_STEPS; k++) {
      workNs = workFor(from, issueNsPerUnmap(lockfree, durationNs));
      lockfree = at('lockfree', workNs);
    }
    return { from, workNs, locked: at('locked', workNs), lockfree };
  });
}

/** How far a value lies outside [lo, hi] (1 inside). */
const offRange = (v: number, [lo, hi]: readonly [number, number]): number =>
  v < lo ? factorOff(v, lo) : v > hi ? factorOff(v, hi) : 1;

export function thunderx2Table(points: readonly ThunderX2Point[]): ValidationTable {
  const syncMode = points[0].locked.params.syncMode;
  let pass = true;
  const rows = points.map((p) => {
    const l = p.locked.issueFraction;
    const f = p.lockfree.issueFraction;
    const ordered = l > f;
    const lOff = offRange(l, LOCKED_PUBLISHED);
    const fOff = offRange(f, LOCKFREE_PUBLISHED);
    const magnitude = lOff < 10 && fOff < 10;
    pass &&= ordered && magnitude;
    const offs = [
      lOff > 1.05 ? `locked ${fixed(lOff, 1)}x` : '',
      fOff > 1.05 ? `lock-free ${fixed(fOff, 1)}x` : '',
    ]
      .filter((s) => s !== '')
      .join(', ');
    return [
      int(p.workNs),
      pct(p.from),
      '15-20%',
      pct(l),
      '1-2%',
      pct(f),
      f > 0 ? fixed(l / f, 1) : '-',
      verdict(ordered, 'inverted'),
      `${magnitude ? 'pass' : 'MISS'}${offs !== '' ? ` (${offs} off)` : ''}`,
    ];
  });
  return {
    id: `thunderx2-${syncMode}`,
    title: `ThunderX2, ${THUNDERX2_CPUS} CPUs: share of CPU time in the command-queue issue path (${syncMode} CMD_SYNC)`,
    headers: [
      'W, ns per unmap (--dma-ns)',
      'W fitted to lock-free share',
      'locked, published',
      'locked, virtual',
      'lock-free, published',
      'lock-free, virtual',
      'locked / lock-free',
      'ordering',
      'order of magnitude',
    ],
    rows,
    pass,
  };
}
