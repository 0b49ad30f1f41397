// The command-queue designs and the cmdq locks side by side in virtual time, until
// `--engine virtual` exists:
//   node dist/src/virtual/protocols.js [cpus, default 64] [ms of virtual time, default 5] [validation]
// prints batched on each design (per-CPU map+unmap rate, mean unmap, issue share, cmpxchg success)
// and, on the locked queue, each --lock's throughput and fairness: the slowest and fastest CPU's
// unmaps, Jain's fairness index over the CPUs' unmaps (1: all equal, 1/N: one CPU did everything),
// the contended share of acquisitions, the mean and longest contended wait, and the share of
// acquisitions that bounced the lock to another CPU.
import { LOCK_NAMES, type LockName } from './locks.js';
import { DEFAULT_VIRTUAL_PARAMS, VALIDATION_PARAMS } from './params.js';
import { runVirtual, type VirtualDesign, type VirtualResult } from './run.js';

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]): string => r.map((c, i) => c.padStart(w[i])).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

/** Jain's fairness index of xs: (sum x)^2 / (n sum x^2). */
export function jain(xs: readonly number[]): number {
  const s = xs.reduce((a, x) => a + x, 0);
  const q = xs.reduce((a, x) => a + x * x, 0);
  return q > 0 ? (s * s) / (xs.length * q) : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const cpus = Number(process.argv[2] ?? 64);
  const ms = Number(process.argv[3] ?? 5);
  const params = process.argv[4] === 'validation' ? VALIDATION_PARAMS : DEFAULT_VIRTUAL_PARAMS;
  const run = (design: VirtualDesign, lock: LockName = 'ttas'): VirtualResult =>
    runVirtual({
      cpus,
      design,
      strategy: 'batched',
      lock,
      seed: 1,
      durationNs: ms * 1e6,
      warmupNs: 1e6,
      params,
    });
  console.log(
    `${cpus} CPUs, batched, ${ms} ms of virtual time, ${params === VALIDATION_PARAMS ? 'validation' : 'default'} parameters`,
  );
  const designs: string[][] = [];
  for (const d of ['lockfree', 'ecmdq', 'locked'] as const) {
    const r = run(d);
    designs.push([
      d,
      String(Math.round(r.perCpuOpsPerSec)),
      String(Math.round(r.meanUnmapNs)),
      r.issueFraction.toFixed(3),
      r.lockfree !== null ? `1/${(1 / r.lockfree.cmpxchgSuccessRate).toFixed(1)}` : '-',
    ]);
  }
  console.log(table(['design', 'per-CPU/s', 'unmap ns', 'issue', 'cmpxchg'], designs));
  console.log();
  const locks: string[][] = [];
  for (const lock of LOCK_NAMES) {
    const r = run('locked', lock);
    const sum = (f: (s: (typeof r.perCpu)[number]['cmdqLock']) => number): number =>
      r.perCpu.reduce((a, c) => a + f(c.cmdqLock), 0);
    const acq = sum((l) => l.acquisitions);
    const con = sum((l) => l.contentions);
    locks.push([
      lock,
      String(Math.round(r.perCpuOpsPerSec)),
      String(Math.min(...r.perCpuUnmaps)),
      String(Math.max(...r.perCpuUnmaps)),
      jain(r.perCpuUnmaps).toFixed(3),
      (con / acq).toFixed(3),
      String(Math.round(sum((l) => l.waitTotal) / Math.max(1, con))),
      String(Math.round(Math.max(...r.perCpu.map((c) => c.cmdqLock.waitMax)))),
      (sum((l) => l.acqBounces) / acq).toFixed(3),
    ]);
  }
  console.log(
    table(
      [
        'lock',
        'per-CPU/s',
        'min unmaps',
        'max unmaps',
        'Jain',
        'contended',
        'wait ns',
        'max wait ns',
        'bounced',
      ],
      locks,
    ),
  );
}
