// Section 2, locks: 2 threads, ~100 ns critical section: each JS lock (src/concurrency/locks) against the
// same algorithm in C (bench/locks.c, compiled with gcc -O2 -pthread), and the C locks that have
// no JS twin (pthread spinlock and mutex).
import { LOCK_NAMES, type LockName } from '../../src/concurrency/lock.js';
import { cCalibrate, cLock, jsCalibrate, jsLock, type Calibration, type LockSample } from '../lib/machine.js';
import { codeBlock, verdict, type Target, type TargetRow } from '../lib/markdown.js';
import { log } from '../lib/retry.js';
import { cell, fmtCount, fmtNs, fmtPct, fmtRatio, summarize, table, type Summary } from '../lib/stats.js';
import { renderTemplate } from '../lib/template.js';
import type { BenchSection, RunContext } from './section.js';

const C_LOCKS = ['tas', 'ttas', 'ticket', 'mcs', 'pthread_spin', 'pthread_mutex'] as const;
type CLockName = (typeof C_LOCKS)[number];
/** Which C lock each JS lock is compared with (spin-park: glibc's futex mutex is the nearest). */
const C_PEER: Record<LockName, CLockName> = {
  tas: 'tas',
  ttas: 'ttas',
  ticket: 'ticket',
  mcs: 'mcs',
  'spin-park': 'pthread_mutex',
};

export interface LockFigures {
  acqPerSec: Summary | null;
  handoffPerSec: Summary | null;
  utilization: Summary | null;
}

export interface LocksRep {
  js: Record<string, LockSample>;
  c: Record<string, LockSample>;
  jsCal: Calibration;
  cCal: Calibration;
}

export interface LocksResult {
  commands: string[];
  calibration: {
    jsCsNs: Summary | null;
    jsIters: Summary | null;
    cCsNs: Summary | null;
    cIters: Summary | null;
  };
  js: Record<LockName, LockFigures>;
  c: Record<CLockName, LockFigures>;
  ratios: Record<LockName, { peer: CLockName; jsOverC: Summary | null; target: Target | null }>;
  npmMutex: { installed: boolean; reason: string };
  samples: LocksRep[];
}

async function run(ctx: RunContext): Promise<LocksResult> {
  const { timings: t, retry } = ctx;
  const samples: LocksRep[] = [];
  for (let rep = 0; rep < ctx.reps; rep++) {
    log(`locks: repetition ${rep + 1}/${ctx.reps}`);
    const jsCal = await jsCalibrate();
    const cCal = cCalibrate();
    const js: Record<string, LockSample[]> = {};
    const c: Record<string, LockSample[]> = {};
    const add = (side: Record<string, LockSample[]>, name: string, x: LockSample) =>
      (side[name] ??= []).push(x);
    // Alternate languages lock by lock, so that a slow spell of the host hits both sides, and do it
    // in t.lockRounds shorter rounds whose order alternates: a repetition's figure for a lock is its
    // mean over the rounds.
    for (let round = 0; round < t.lockRounds; round++) {
      const cDone = new Set<string>();
      for (const name of LOCK_NAMES) {
        const peer = C_PEER[name];
        const runJs = async () =>
          add(js, name, await retry.quietest(() => jsLock(name, jsCal, t.lockWarmupMs, t.lockMs)));
        const runC = async () => {
          if (cDone.has(peer)) return;
          cDone.add(peer);
          add(c, peer, await retry.quietest(() => cLock(peer, cCal, t.lockMs)));
        };
        if ((rep + round) % 2 === 0) {
          await runJs();
          await runC();
        } else {
          await runC();
          await runJs();
        }
      }
      for (const name of C_LOCKS)
        if (!cDone.has(name)) add(c, name, await retry.quietest(() => cLock(name, cCal, t.lockMs)));
    }
    const mean = (xs: LockSample[]): LockSample => ({
      acqPerSec: xs.reduce((a, x) => a + x.acqPerSec, 0) / xs.length,
      handoffPerSec: xs.reduce((a, x) => a + x.handoffPerSec, 0) / xs.length,
      utilization: xs.reduce((a, x) => a + x.utilization, 0) / xs.length,
      othersCores: Math.max(...xs.map((x) => x.othersCores)),
    });
    samples.push({
      js: Object.fromEntries(Object.entries(js).map(([k, xs]) => [k, mean(xs)])),
      c: Object.fromEntries(Object.entries(c).map(([k, xs]) => [k, mean(xs)])),
      jsCal,
      cCal,
    });
  }
  const sum = (side: 'js' | 'c', name: string): LockFigures => {
    const oth = samples.map((s) => s[side][name]?.othersCores);
    const of = (k: 'acqPerSec' | 'handoffPerSec' | 'utilization') =>
      summarize(
        samples.map((s) => s[side][name]?.[k]),
        oth,
      );
    return { acqPerSec: of('acqPerSec'), handoffPerSec: of('handoffPerSec'), utilization: of('utilization') };
  };
  return {
    commands: [
      ctx.gccCommand,
      `bench/build/locks calibrate 100; bench/build/locks lock <name> ${t.lockMs} <iters>   # C, 2 threads`,
      `# JS: 2 worker threads over src/concurrency/locks, SPIN policy, ${t.lockWarmupMs} ms warm-up, ${t.lockMs} ms window`,
      `# ${t.lockRounds} round(s) per repetition, JS and C alternating lock by lock, the order flipping each round; a repetition's figure is the mean over its rounds`,
    ],
    calibration: {
      jsCsNs: summarize(samples.map((s) => s.jsCal.csNs)),
      jsIters: summarize(samples.map((s) => s.jsCal.iters)),
      cCsNs: summarize(samples.map((s) => s.cCal.csNs)),
      cIters: summarize(samples.map((s) => s.cCal.iters)),
    },
    js: Object.fromEntries(LOCK_NAMES.map((n) => [n, sum('js', n)])) as LocksResult['js'],
    c: Object.fromEntries(C_LOCKS.map((n) => [n, sum('c', n)])) as LocksResult['c'],
    ratios: Object.fromEntries(
      LOCK_NAMES.map((n) => [
        n,
        {
          peer: C_PEER[n],
          jsOverC: summarize(
            samples.map((s) => s.js[n].acqPerSec / s.c[C_PEER[n]].acqPerSec),
            samples.map((s) => Math.max(s.js[n].othersCores, s.c[C_PEER[n]].othersCores)),
          ),
          target: n === 'ttas' ? { what: 'JS ttas >= 0.7x C ttas', min: 0.7 } : null,
        },
      ]),
    ) as LocksResult['ratios'],
    npmMutex: {
      installed: false,
      reason:
        'no popular npm mutex over SharedArrayBuffer installs from the registry here (docs/performance.md, "npm SAB mutex")',
    },
    samples,
  };
}

function render(lk: LocksResult) {
  const targets: TargetRow[] = [];
  const iters = (x: number) => x.toFixed(0);
  const jsTable = table(
    [
      'lock',
      'JS acq/s',
      'JS hand-offs/s',
      'JS util.',
      'C peer',
      'C acq/s',
      'C hand-offs/s',
      'C util.',
      'JS/C',
      'target',
    ],
    LOCK_NAMES.map((n) => {
      const peer = C_PEER[n];
      const rt = lk.ratios[n];
      const v = verdict(rt.jsOverC, rt.target);
      if (rt.target)
        targets.push(['2. JS ttas >= 0.7x C ttas (acquisitions/s)', cell(rt.jsOverC, fmtRatio), v]);
      return [
        n,
        cell(lk.js[n].acqPerSec, fmtCount),
        cell(lk.js[n].handoffPerSec, fmtCount),
        cell(lk.js[n].utilization, fmtPct),
        peer,
        cell(lk.c[peer].acqPerSec, fmtCount),
        cell(lk.c[peer].handoffPerSec, fmtCount),
        cell(lk.c[peer].utilization, fmtPct),
        cell(rt.jsOverC, fmtRatio),
        rt.target ? `>= 0.7x: ${v}` : '',
      ];
    }),
    'lrrrlrrrrl',
  );
  const unpaired = C_LOCKS.filter((n) => !Object.values(C_PEER).includes(n));
  const cTable = table(
    ['C lock', 'acq/s', 'hand-offs/s', 'util.'],
    unpaired.map((n) => [
      n,
      cell(lk.c[n].acqPerSec, fmtCount),
      cell(lk.c[n].handoffPerSec, fmtCount),
      cell(lk.c[n].utilization, fmtPct),
    ]),
  );
  const markdown = renderTemplate('locks', {
    commands: codeBlock(lk.commands),
    jsIters: cell(lk.calibration.jsIters, iters),
    jsCsNs: cell(lk.calibration.jsCsNs, fmtNs),
    cIters: cell(lk.calibration.cIters, iters),
    cCsNs: cell(lk.calibration.cCsNs, fmtNs),
    jsTable,
    cTable,
    npmMutexReason: lk.npmMutex.reason,
  });
  return { markdown, targets };
}

export const locks: BenchSection<LocksResult> = {
  name: 'locks',
  needsC: true,
  byDefault: () => true,
  run,
  render,
};
