// The performance bench: `npm run bench` (about 10 minutes) or `npm run bench -- --quick` (under 3).
// It measures, side by side in one run, how close the emulator gets to its timing model and to
// the machine it runs on, and writes bench/results/<name>.json and the generated part of
// docs/performance.md. Sections (each can be picked with --only):
//
//   efficiency  one CPU: measured unmaps/s against the model bound and the "machine floor" bound
//               (model + one bare ping-pong per CMD_SYNC waited on); the CMD_SYNC round trip at
//               zero latency against a bare Atomics ping-pong between two threads (JS and C)
//   locks       2 threads, ~100 ns critical section: each JS lock (src/sync/locks) against the
//               same algorithms in C (bench/locks.c, compiled here with gcc -O2 -pthread)
//   stats       --stats full against --stats counters (and --trace, once the CLI has it)
//   scaling     --cpus 1..64 x --wait spin|park|auto as child processes: unmaps/s, cmdq p99 lock
//               wait, wall time per run against its duration + 2 s, peak RSS
//   startup     process start to the first measured unmap at --cpus 8; peak RSS per CPU worker
//
// Every figure is the median of the repetitions (5, or 3 with --quick) with min and max; ratios
// are taken within a repetition (both sides measured back to back) and then summarized. Each
// sample also records how many cores other processes kept busy meanwhile (this is a shared VM).
//
//   npm run bench [-- --quick] [--reps N] [--only a,b] [--name NAME] [--no-doc]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { DEFAULTS, type Config } from '../src/config/config.js';
import type { ResultDocument, RunReport } from '../src/report/types.js';
import { LOCK_NAMES, type LockName } from '../src/sync/lock.js';
import { runChild, type ChildResult } from './lib/child.js';
import { describeHost, startNoiseProbe, type HostDescription } from './lib/host.js';
import {
  cell,
  fmtCount,
  fmtNs,
  fmtPct,
  fmtRatio,
  slope,
  summarize,
  table,
  type Summary,
} from './lib/stats.js';
import { SAB_BYTES, W, type WorkerJob } from './workers/bench-worker.js';

const here = dirname(fileURLToPath(import.meta.url)); // dist/bench
const ROOT = resolve(here, '../..');
const RUN_JS = join(ROOT, 'dist/run.js');
const WORKER_JS = join(here, 'workers/bench-worker.js');
const PROBE_JS = join(here, 'startup-probe.js');
const RSS_HOOK_URL = pathToFileURL(join(here, 'rss-hook.js')).href;
const C_SRC = join(ROOT, 'bench/locks.c');
const BUILD = join(ROOT, 'bench/build');
const C_BIN = join(BUILD, 'locks');
const TMP = join(BUILD, 'tmp');
const RESULTS = join(ROOT, 'bench/results');
const DOC = join(ROOT, 'docs/performance.md');

/** A sample taken while other processes kept more than this many cores busy is marked noisy. */
const NOISY_CORES = 0.25;
const C_LOCKS = ['tas', 'ttas', 'ticket', 'mcs', 'pthread_spin', 'pthread_mutex'] as const;
/** Which C lock each JS lock is compared with (spin-park: glibc's futex mutex is the nearest). */
const C_PEER: Record<LockName, (typeof C_LOCKS)[number]> = {
  tas: 'tas',
  ttas: 'ttas',
  ticket: 'ticket',
  mcs: 'mcs',
  'spin-park': 'pthread_mutex',
};
const SCALING_CPUS = [1, 2, 4, 8, 16, 32, 64];
const WAITS = ['spin', 'park', 'auto'] as const;
const SECTIONS = ['efficiency', 'locks', 'stats', 'scaling', 'startup'] as const;
type Section = (typeof SECTIONS)[number];

// ---- options -------------------------------------------------------------------------------------

interface Options {
  quick: boolean;
  reps: number;
  only: Set<Section>;
  name: string;
  doc: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const quick = argv.includes('--quick');
  const val = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);
  };
  const reps = Number(val('--reps') ?? (quick ? 3 : 5));
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps: expected a whole number >= 1`);
  const only = new Set<Section>();
  for (const s of (val('--only') ?? SECTIONS.join(',')).split(',')) {
    if (!(SECTIONS as readonly string[]).includes(s))
      throw new Error(`--only: unknown section '${s}' (${SECTIONS.join(', ')})`);
    only.add(s as Section);
  }
  return { quick, reps, only, name: val('--name') ?? (quick ? 'quick' : 'full'), doc: !argv.includes('--no-doc') };
}

/** Durations per mode, ms. */
function timings(quick: boolean) {
  return quick
    ? { efficiencyMs: 500, efficiencyWarmupMs: 100, lockMs: 300, lockWarmupMs: 100, pingRoundTrips: 100_000,
        statsMs: 500, statsWarmupMs: 100, scalingMs: 300, scalingWarmupMs: 100 }
    : { efficiencyMs: 1000, efficiencyWarmupMs: 200, lockMs: 1000, lockWarmupMs: 200, pingRoundTrips: 300_000,
        statsMs: 1000, statsWarmupMs: 200, scalingMs: 1000, scalingWarmupMs: 200 };
}

const log = (s: string): void => void process.stderr.write(`${s}\n`);

// ---- machine measurements: ping-pong, calibration, locks ------------------------------------------

function startWorker(job: WorkerJob): { worker: Worker; message: Promise<unknown>; online: Promise<void> } {
  const worker = new Worker(WORKER_JS, { workerData: job });
  const message = new Promise<unknown>((res, rej) => {
    worker.once('message', res);
    worker.once('error', rej);
    worker.once('exit', (code) => rej(new Error(`bench worker (${job.kind}) exited with code ${code}`)));
  });
  const online = new Promise<void>((res) => worker.once('online', () => res()));
  return { worker, message, online };
}

async function jsPingPong(roundTrips: number): Promise<number> {
  const sab = new SharedArrayBuffer(SAB_BYTES);
  const warmup = Math.floor(roundTrips / 10);
  const pong = startWorker({ kind: 'pong', sab, roundTrips, warmup });
  await pong.online;
  const ping = startWorker({ kind: 'ping', sab, roundTrips, warmup });
  const { rtNs } = (await ping.message) as { rtNs: number };
  await pong.message;
  await Promise.all([ping.worker.terminate(), pong.worker.terminate()]);
  return rtNs;
}

function cRun(args: readonly string[]): Record<string, unknown> {
  return JSON.parse(execFileSync(C_BIN, args, { encoding: 'utf8', timeout: 60_000 })) as Record<string, unknown>;
}

interface Calibration {
  nsPerIter: number;
  iters: number;
  csNs: number;
}

async function jsCalibrate(): Promise<Calibration> {
  const w = startWorker({ kind: 'calibrate', targetNs: 100 });
  const r = (await w.message) as Calibration;
  await w.worker.terminate();
  return r;
}

interface LockSample {
  acqPerSec: number;
  handoffPerSec: number;
  /** Share of the window the lock spent running critical sections: acquisitions x csNs. */
  utilization: number;
  othersCores: number;
}

async function jsLock(lock: LockName, iters: number, csNs: number, warmupMs: number, ms: number): Promise<LockSample> {
  const sab = new SharedArrayBuffer(SAB_BYTES);
  const i32 = new Int32Array(sab);
  const threads = 2;
  const ws = Array.from({ length: threads }, (_, me) =>
    startWorker({ kind: 'lock', sab, lock, threads, me, iters }),
  );
  await Promise.all(ws.map((w) => w.online));
  const counts = (): number[][] =>
    Array.from({ length: threads }, (_, me) => [
      Atomics.load(i32, W.COUNTS + 16 * me),
      Atomics.load(i32, W.COUNTS + 16 * me + 1),
    ]);
  Atomics.store(i32, W.START, 1);
  Atomics.notify(i32, W.START);
  await sleep(warmupMs);
  const noise = startNoiseProbe();
  const c0 = counts();
  const t0 = performance.now();
  await sleep(ms);
  const c1 = counts();
  const t1 = performance.now();
  const { othersCores } = noise.stop();
  Atomics.store(i32, W.STOP, 1);
  await Promise.all(ws.map((w) => w.message));
  await Promise.all(ws.map((w) => w.worker.terminate()));
  const total = counts().reduce((a, c) => a + c[0], 0);
  if (i32[W.COUNTER] !== total) throw new Error(`js ${lock}: lost updates (counter ${i32[W.COUNTER]} != ${total})`);
  const secs = (t1 - t0) / 1000;
  const acq = c1.reduce((a, c, i) => a + c[0] - c0[i][0], 0);
  const hand = c1.reduce((a, c, i) => a + c[1] - c0[i][1], 0);
  return { acqPerSec: acq / secs, handoffPerSec: hand / secs, utilization: (acq / secs) * csNs * 1e-9, othersCores };
}

function cLock(lock: string, iters: number, csNs: number, ms: number): LockSample {
  const noise = startNoiseProbe();
  const r = cRun(['lock', lock, String(ms), String(iters)]) as { ns: number; acquisitions: number; handoffs: number };
  const { othersCores } = noise.stop();
  const secs = r.ns / 1e9;
  return {
    acqPerSec: r.acquisitions / secs,
    handoffPerSec: r.handoffs / secs,
    utilization: (r.acquisitions / secs) * csNs * 1e-9,
    othersCores,
  };
}

function buildC(): string {
  mkdirSync(BUILD, { recursive: true });
  const args = ['-O2', '-pthread', '-Wall', '-o', C_BIN, C_SRC];
  execFileSync('gcc', args, { stdio: 'inherit' });
  return `gcc ${args.map((a) => a.replace(`${ROOT}/`, '')).join(' ')}`;
}

// ---- emulator runs -------------------------------------------------------------------------------

function cliArgs(c: Partial<Config> & { strategies: readonly string[] }): string[] {
  const a: string[] = [];
  if (c.cpus !== undefined) a.push('--cpus', String(c.cpus));
  a.push('--strategy', c.strategies.join(','));
  if (c.tlbiNs !== undefined) a.push('--tlbi-ns', String(c.tlbiNs));
  if (c.syncNs !== undefined) a.push('--sync-ns', String(c.syncNs));
  if (c.wait !== undefined) a.push('--wait', c.wait);
  if (c.stats !== undefined) a.push('--stats', c.stats);
  if (c.durationMs !== undefined) a.push('--duration', `${c.durationMs}ms`);
  if (c.warmupMs !== undefined) a.push('--warmup', `${c.warmupMs}ms`);
  return a;
}

/** In-process (runConfig), as `node dist/run.js <cliArgs>` would run it. */
async function inProcess(c: Partial<Config> & { strategies: readonly string[] }): Promise<{
  doc: ResultDocument;
  othersCores: number;
}> {
  const cfg: Config = { ...DEFAULTS, ...c, quiet: true, json: null };
  // Imported here, not at the top: the machine-only sections still run while the CLI is mid-edit.
  const { runConfig } = await import('../src/cli/main.js');
  const noise = startNoiseProbe();
  const { doc } = await runConfig(cfg, () => {});
  return { doc, othersCores: noise.stop().othersCores };
}

interface CliRun {
  child: ChildResult;
  doc: ResultDocument | null;
  maxRssKb: number | null;
  preloadNs: number | null;
}

let tmpSeq = 0;
async function cliRun(args: readonly string[], timeoutMs: number): Promise<CliRun> {
  mkdirSync(TMP, { recursive: true });
  const json = join(TMP, `run-${process.pid}-${tmpSeq}.json`);
  const probe = join(TMP, `probe-${process.pid}-${tmpSeq++}.json`);
  rmSync(json, { force: true });
  rmSync(probe, { force: true });
  const child = await runChild(process.execPath, ['--import', RSS_HOOK_URL, RUN_JS, ...args, '--json', json, '-q'], {
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
  const p = read<{ maxRssKb: number; preloadNs: number }>(probe);
  rmSync(json, { force: true });
  rmSync(probe, { force: true });
  return { child, doc, maxRssKb: p?.maxRssKb ?? null, preloadNs: p?.preloadNs ?? null };
}

const cmdqLock = (r: RunReport) => r.locks.find((l) => l.name === 'cmdq') ?? null;

// ---- sections ------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

interface EfficiencyRep {
  pingJsNs: number;
  pingCNs: number;
  othersCores: number[];
  /** By latency setting ("100/1000", "10/100") and strategy. */
  runs: Record<string, Record<string, { unmapsPerSec: number; modelBound: number | null; syncsPerUnmap: number; syncWaitMean: number | null; syncWaitP50: number | null; complete: boolean }>>;
}

const LATENCIES = [
  { key: '100/1000', tlbiNs: 100, syncNs: 1000 },
  { key: '10/100', tlbiNs: 10, syncNs: 100 },
  { key: '0/0', tlbiNs: 0, syncNs: 0 },
] as const;
const EFF_STRATEGIES = ['per-page', 'batched'];

async function efficiency(o: Options): Promise<Json> {
  const t = timings(o.quick);
  const reps: EfficiencyRep[] = [];
  const commands: string[] = [];
  for (const l of LATENCIES)
    commands.push(
      `node dist/run.js ${cliArgs({ cpus: 1, strategies: EFF_STRATEGIES, tlbiNs: l.tlbiNs, syncNs: l.syncNs, durationMs: t.efficiencyMs, warmupMs: t.efficiencyWarmupMs }).join(' ')}   (run in-process with runConfig)`,
    );
  commands.push(`bench/build/locks pingpong ${t.pingRoundTrips}   (C); JS: two worker threads, ${t.pingRoundTrips} round trips`);
  for (let rep = 0; rep < o.reps; rep++) {
    log(`efficiency: repetition ${rep + 1}/${o.reps}`);
    const r: EfficiencyRep = { pingJsNs: NaN, pingCNs: NaN, othersCores: [], runs: {} };
    let noise = startNoiseProbe();
    r.pingJsNs = await jsPingPong(t.pingRoundTrips);
    r.pingCNs = (cRun(['pingpong', String(t.pingRoundTrips)]) as { rtNs: number }).rtNs;
    r.othersCores.push(noise.stop().othersCores);
    for (const l of LATENCIES) {
      noise = startNoiseProbe();
      const { doc } = await inProcess({
        cpus: 1,
        strategies: EFF_STRATEGIES,
        tlbiNs: l.tlbiNs,
        syncNs: l.syncNs,
        durationMs: t.efficiencyMs,
        warmupMs: t.efficiencyWarmupMs,
      });
      r.othersCores.push(noise.stop().othersCores);
      r.runs[l.key] = {};
      for (const run of doc.runs)
        r.runs[l.key][run.strategy] = {
          unmapsPerSec: run.totals.unmapsPerSec,
          modelBound: run.modelBound.unmapsPerSec,
          syncsPerUnmap: run.totals.unmaps > 0 ? run.syncWaitNs.count / run.totals.unmaps : NaN,
          syncWaitMean: run.syncWaitNs.mean,
          syncWaitP50: run.syncWaitNs.p50,
          complete: run.complete,
        };
    }
    reps.push(r);
  }
  // Per repetition: ratios against the bounds computed from that repetition's ping-pong.
  const rows: Json[] = [];
  for (const l of LATENCIES.filter((x) => x.syncNs > 0)) {
    for (const s of EFF_STRATEGIES) {
      const per = reps.map((r) => {
        const x = r.runs[l.key]?.[s];
        if (!x || x.modelBound === null) return null;
        const modelNs = 1e9 / x.modelBound;
        const floor = 1e9 / (modelNs + x.syncsPerUnmap * r.pingJsNs);
        return { measured: x.unmapsPerSec, model: x.modelBound, floor, vsModel: x.unmapsPerSec / x.modelBound, vsFloor: x.unmapsPerSec / floor, syncsPerUnmap: x.syncsPerUnmap };
      });
      const ok = per.filter((p): p is NonNullable<typeof p> => p !== null);
      rows.push({
        latencies: l.key,
        strategy: s,
        measured: summarize(ok.map((p) => p.measured)),
        modelBound: summarize(ok.map((p) => p.model)),
        floorBound: summarize(ok.map((p) => p.floor)),
        vsModel: summarize(ok.map((p) => p.vsModel)),
        vsFloor: summarize(ok.map((p) => p.vsFloor)),
        syncsPerUnmap: summarize(ok.map((p) => p.syncsPerUnmap)),
        target: l.key === '100/1000' ? { what: 'measured >= 0.85x floor bound', min: 0.85 } : null,
      });
    }
  }
  const syncRt = EFF_STRATEGIES.map((s) => ({
    strategy: s,
    meanNs: summarize(reps.map((r) => r.runs['0/0']?.[s]?.syncWaitMean)),
    p50Ns: summarize(reps.map((r) => r.runs['0/0']?.[s]?.syncWaitP50)),
    meanVsPingJs: summarize(reps.map((r) => (r.runs['0/0']?.[s]?.syncWaitMean ?? NaN) / r.pingJsNs)),
    p50VsPingJs: summarize(reps.map((r) => (r.runs['0/0']?.[s]?.syncWaitP50 ?? NaN) / r.pingJsNs)),
    unmapsPerSec: summarize(reps.map((r) => r.runs['0/0']?.[s]?.unmapsPerSec)),
    target: s === 'per-page' ? { what: 'mean CMD_SYNC wait <= 1.5x JS ping-pong', max: 1.5 } : null,
  }));
  return {
    commands,
    pingJsNs: summarize(reps.map((r) => r.pingJsNs)),
    pingCNs: summarize(reps.map((r) => r.pingCNs)),
    pingJsVsC: summarize(reps.map((r) => r.pingJsNs / r.pingCNs)),
    rows,
    syncRt,
    othersCores: summarize(reps.flatMap((r) => r.othersCores)),
    noisySamples: reps.flatMap((r) => r.othersCores).filter((x) => x > NOISY_CORES).length,
    samples: reps.flatMap((r) => r.othersCores).length,
    reps,
  };
}

async function locks(o: Options, gccCommand: string): Promise<Json> {
  const t = timings(o.quick);
  const samples: { js: Record<string, LockSample>; c: Record<string, LockSample>; jsCal: Calibration; cCal: Calibration }[] = [];
  for (let rep = 0; rep < o.reps; rep++) {
    log(`locks: repetition ${rep + 1}/${o.reps}`);
    const jsCal = await jsCalibrate();
    const cCal = cRun(['calibrate', '100']) as unknown as Calibration;
    const js: Record<string, LockSample> = {};
    const c: Record<string, LockSample> = {};
    // Alternate languages lock by lock, so that a slow spell of the host hits both sides.
    for (const name of LOCK_NAMES) {
      js[name] = await jsLock(name, jsCal.iters, jsCal.csNs, t.lockWarmupMs, t.lockMs);
      const peer = C_PEER[name];
      if (!c[peer]) c[peer] = cLock(peer, cCal.iters, cCal.csNs, t.lockMs);
    }
    for (const name of C_LOCKS) if (!c[name]) c[name] = cLock(name, cCal.iters, cCal.csNs, t.lockMs);
    samples.push({ js, c, jsCal, cCal });
  }
  const sum = (side: 'js' | 'c', name: string) => ({
    acqPerSec: summarize(samples.map((s) => s[side][name]?.acqPerSec)),
    handoffPerSec: summarize(samples.map((s) => s[side][name]?.handoffPerSec)),
    utilization: summarize(samples.map((s) => s[side][name]?.utilization)),
    othersCores: summarize(samples.map((s) => s[side][name]?.othersCores)),
  });
  return {
    commands: [
      gccCommand,
      `bench/build/locks calibrate 100; bench/build/locks lock <name> ${t.lockMs} <iters>   (C, 2 threads)`,
      `JS: 2 worker threads over src/sync/locks with the SPIN policy, ${t.lockWarmupMs} ms warm-up, ${t.lockMs} ms window`,
    ],
    calibration: {
      jsCsNs: summarize(samples.map((s) => s.jsCal.csNs)),
      jsIters: summarize(samples.map((s) => s.jsCal.iters)),
      cCsNs: summarize(samples.map((s) => s.cCal.csNs)),
      cIters: summarize(samples.map((s) => s.cCal.iters)),
    },
    js: Object.fromEntries(LOCK_NAMES.map((n) => [n, sum('js', n)])),
    c: Object.fromEntries(C_LOCKS.map((n) => [n, sum('c', n)])),
    ratios: Object.fromEntries(
      LOCK_NAMES.map((n) => [
        n,
        {
          peer: C_PEER[n],
          jsOverC: summarize(samples.map((s) => s.js[n].acqPerSec / s.c[C_PEER[n]].acqPerSec)),
          target: n === 'ttas' ? { what: 'JS ttas >= 0.7x C ttas', min: 0.7 } : null,
        },
      ]),
    ),
    npmMutex: {
      installed: false,
      reason:
        'no popular SharedArrayBuffer mutex on npm installs here: see docs/performance.md ("npm SAB mutex")',
    },
    samples,
  };
}

async function traceFlag(): Promise<{ available: boolean; args: (file: string) => string[]; helpLine: string | null }> {
  const help = execFileSync(process.execPath, [RUN_JS, '--help'], { encoding: 'utf8' });
  const line = help.split('\n').find((l) => /^\s*--trace\b/.test(l)) ?? null;
  if (line === null) return { available: false, args: () => [], helpLine: null };
  const m = /^\s*--trace\s+([<[])/.exec(line);
  return { available: true, args: (file) => (m ? ['--trace', file] : ['--trace']), helpLine: line.trim() };
}

async function statsCost(o: Options): Promise<Json> {
  const t = timings(o.quick);
  const trace = await traceFlag();
  const base = { cpus: 1, strategies: ['batched'], durationMs: t.statsMs, warmupMs: t.statsWarmupMs };
  const variants: { key: string; args: (i: number) => string[] }[] = [
    { key: 'counters', args: () => cliArgs({ ...base, stats: 'counters' }) },
    { key: 'full', args: () => cliArgs({ ...base, stats: 'full' }) },
  ];
  if (trace.available)
    variants.push({
      key: 'full+trace',
      args: (i) => [...cliArgs({ ...base, stats: 'full' }), ...trace.args(join(TMP, `trace-${process.pid}-${i}.bin`))],
    });
  const reps: Record<string, { unmapsPerSec: number | null; othersCores: number }>[] = [];
  for (let rep = 0; rep < o.reps; rep++) {
    log(`stats: repetition ${rep + 1}/${o.reps}`);
    const r: (typeof reps)[number] = {};
    for (const v of variants) {
      const run = await cliRun(v.args(rep), t.statsWarmupMs + t.statsMs + 30_000);
      r[v.key] = { unmapsPerSec: run.doc?.runs[0]?.totals.unmapsPerSec ?? null, othersCores: run.child.othersCores };
    }
    rmSync(join(TMP, `trace-${process.pid}-${rep}.bin`), { force: true });
    reps.push(r);
  }
  const ratio = (k: string) => summarize(reps.map((r) => (r[k].unmapsPerSec ?? NaN) / (r.counters.unmapsPerSec ?? NaN)));
  return {
    commands: variants.map((v) => `node dist/run.js ${v.args(0).join(' ').replace(/trace-\d+-0\.bin/, 'trace.bin')}`),
    tracing: trace.available ? `available: ${trace.helpLine}` : 'tracing: not available yet',
    unmapsPerSec: Object.fromEntries(variants.map((v) => [v.key, summarize(reps.map((r) => r[v.key].unmapsPerSec))])),
    fullOverCounters: ratio('full'),
    traceOverCounters: trace.available ? ratio('full+trace') : null,
    target: { what: '--stats full costs <= 5 % (full/counters >= 0.95)', min: 0.95 },
    othersCores: summarize(reps.flatMap((r) => Object.values(r).map((x) => x.othersCores))),
    reps,
  };
}

interface ScalingSample {
  wallMs: number;
  metBudget: boolean;
  exit: string;
  outcome: string;
  unmapsPerSec: number | null;
  cmdqP99Ns: number | null;
  cmdqContention: number | null;
  maxRssKb: number | null;
  othersCores: number;
}

async function scaling(o: Options, cores: number): Promise<Json> {
  const t = timings(o.quick);
  const budgetMs = t.scalingWarmupMs + t.scalingMs + 2000;
  const key = (cpus: number, wait: string) => `${cpus}/${wait}`;
  const samples = new Map<string, ScalingSample[]>();
  const args = (cpus: number, wait: (typeof WAITS)[number]) =>
    cliArgs({ cpus, wait, strategies: ['batched'], durationMs: t.scalingMs, warmupMs: t.scalingWarmupMs });
  for (let rep = 0; rep < o.reps; rep++) {
    for (const cpus of SCALING_CPUS) {
      log(`scaling: repetition ${rep + 1}/${o.reps}, --cpus ${cpus}`);
      for (const wait of WAITS) {
        const run = await cliRun(args(cpus, wait), budgetMs + 20_000);
        const r = run.doc?.runs[0];
        const l = r ? cmdqLock(r) : null;
        const c = run.child;
        const s: ScalingSample = {
          wallMs: c.wallMs,
          metBudget: !c.timedOut && c.code === 0 && c.wallMs <= budgetMs,
          exit: c.timedOut ? 'killed (timeout)' : c.signal ? `signal ${c.signal}` : `exit ${c.code}`,
          outcome: r?.outcome ?? (c.stderr.trim().split('\n').find((x) => /Error|error/.test(x)) ?? 'no JSON').slice(0, 160),
          unmapsPerSec: r?.totals.unmapsPerSec ?? null,
          cmdqP99Ns: l?.waitNs.p99 ?? null,
          cmdqContention: l && l.acquisitions > 0 ? l.contentions / l.acquisitions : null,
          maxRssKb: run.maxRssKb,
          othersCores: c.othersCores,
        };
        if (!samples.has(key(cpus, wait))) samples.set(key(cpus, wait), []);
        samples.get(key(cpus, wait))!.push(s);
      }
    }
  }
  const rows = SCALING_CPUS.flatMap((cpus) =>
    WAITS.map((wait) => {
      const ss = samples.get(key(cpus, wait)) ?? [];
      return {
        cpus,
        wait,
        oversubscribed: cpus + 1 > cores,
        unmapsPerSec: summarize(ss.map((s) => s.unmapsPerSec)),
        cmdqP99Ns: summarize(ss.map((s) => s.cmdqP99Ns)),
        cmdqContention: summarize(ss.map((s) => s.cmdqContention)),
        wallMs: summarize(ss.map((s) => s.wallMs)),
        met: ss.filter((s) => s.metBudget).length,
        runs: ss.length,
        failures: ss.filter((s) => !s.metBudget).map((s) => `${s.exit}, ${s.outcome}, ${(s.wallMs / 1000).toFixed(1)} s`),
        maxRssKb: summarize(ss.map((s) => s.maxRssKb)),
        othersCores: summarize(ss.map((s) => s.othersCores)),
      };
    }),
  );
  return {
    commands: [`node dist/run.js ${args(0, 'spin').join(' ').replace('--cpus 0', '--cpus N').replace('--wait spin', '--wait W')} --json <tmp> -q`],
    budgetMs,
    rows,
    samples: Object.fromEntries(samples),
  };
}

async function startup(o: Options, scalingRows: Json[] | null): Promise<Json> {
  const cpus = 8;
  const reps: { warmup0: Json | null; warmupDefault: Json | null; cliWallMs: number; othersCores: number[] }[] = [];
  for (let rep = 0; rep < o.reps; rep++) {
    log(`startup: repetition ${rep + 1}/${o.reps}`);
    const probe = async (warmupMs: number): Promise<Json | null> => {
      const c = await runChild(process.execPath, [PROBE_JS, String(cpus), String(warmupMs), '100'], { timeoutMs: 30_000 });
      const line = c.stdout.trim().split('\n').pop() ?? '';
      try {
        const p = JSON.parse(line) as { mainNs: number; poolNs: number; measureStartNs: number; firstUnmapNs: number | null };
        return {
          toMainMs: (p.mainNs - c.spawnNs) / 1e6,
          toPoolMs: (p.poolNs - c.spawnNs) / 1e6,
          toMeasureMs: (p.measureStartNs - c.spawnNs) / 1e6,
          toFirstUnmapMs: p.firstUnmapNs === null ? null : (p.firstUnmapNs - c.spawnNs) / 1e6,
          othersCores: c.othersCores,
        };
      } catch {
        log(`startup probe failed: ${c.stderr.trim().slice(0, 300)}`);
        return null;
      }
    };
    const warmup0 = await probe(0);
    const warmupDefault = await probe(DEFAULTS.warmupMs);
    // From outside, with the real CLI: the whole invocation for a 10 ms window without warm-up.
    const cli = await cliRun(cliArgs({ cpus, strategies: ['batched'], durationMs: 10, warmupMs: 0 }), 30_000);
    reps.push({
      warmup0,
      warmupDefault,
      cliWallMs: cli.child.wallMs,
      othersCores: [warmup0?.othersCores as number, warmupDefault?.othersCores as number, cli.child.othersCores],
    });
  }
  const pick = (k: 'warmup0' | 'warmupDefault', f: string) => summarize(reps.map((r) => (r[k]?.[f] as number) ?? null));
  // Peak RSS by CPU count, from the scaling runs with --wait auto (or their own runs if scaling was skipped).
  const rssCpus = [1, 2, 4, 8];
  let rss: { cpus: number; maxRssKb: Summary | null }[];
  if (scalingRows) {
    rss = rssCpus.map((c) => ({
      cpus: c,
      maxRssKb: (scalingRows.find((r) => r.cpus === c && r.wait === 'auto')?.maxRssKb as Summary | null) ?? null,
    }));
  } else {
    rss = [];
    for (const c of rssCpus) {
      const xs: (number | null)[] = [];
      for (let rep = 0; rep < o.reps; rep++)
        xs.push((await cliRun(cliArgs({ cpus: c, strategies: ['batched'], durationMs: 300, warmupMs: 100 }), 30_000)).maxRssKb);
      rss.push({ cpus: c, maxRssKb: summarize(xs) });
    }
  }
  const pts = rss.filter((r) => r.maxRssKb !== null);
  const perWorkerKb = slope(pts.map((r) => r.cpus), pts.map((r) => r.maxRssKb!.median));
  return {
    commands: [
      `node dist/bench/startup-probe.js ${cpus} 0 100   (runStrategy as runConfig calls it; reads FIRST_UNMAP_NS)`,
      `node dist/bench/startup-probe.js ${cpus} ${DEFAULTS.warmupMs} 100`,
      `node dist/run.js ${cliArgs({ cpus, strategies: ['batched'], durationMs: 10, warmupMs: 0 }).join(' ')} --json <tmp> -q   (whole invocation, from outside)`,
      `peak RSS: node --import dist/bench/rss-hook.js dist/run.js ... (process.resourceUsage().maxRSS at exit)`,
    ],
    cpus,
    toMainMs: pick('warmup0', 'toMainMs'),
    toPoolMs: pick('warmup0', 'toPoolMs'),
    toMeasureMs: pick('warmup0', 'toMeasureMs'),
    toFirstUnmapMs: pick('warmup0', 'toFirstUnmapMs'),
    toFirstMeasuredUnmapDefaultWarmupMs: pick('warmupDefault', 'toFirstUnmapMs'),
    cliWallMs: summarize(reps.map((r) => r.cliWallMs)),
    target: { what: 'process start to first measured unmap at --cpus 8 <= 500 ms (warm-up 0)', max: 500 },
    rss,
    perWorkerKb,
    othersCores: summarize(reps.flatMap((r) => r.othersCores)),
    reps,
  };
}

// ---- report --------------------------------------------------------------------------------------

type Verdict = 'met' | 'MISSED' | 'n/a';
function verdict(s: Summary | null, t: { min?: number; max?: number } | null): Verdict {
  if (!s || !t) return 'n/a';
  if (t.min !== undefined) return s.median >= t.min ? 'met' : 'MISSED';
  if (t.max !== undefined) return s.median <= t.max ? 'met' : 'MISSED';
  return 'n/a';
}

const S = (x: unknown) => x as Summary | null;

function renderDoc(res: Json): string {
  const host = res.host as HostDescription;
  const opts = res.options as { quick: boolean; reps: number };
  const intro: string[] = [];
  const out: string[] = [];
  let p = (s = '') => void intro.push(s);
  p(`Generated by \`${res.command as string}\` on ${host.date.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}, ` +
    `in ${((res.elapsedMs as number) / 1000).toFixed(0)} s. Raw samples: \`bench/results/${res.name as string}.json\`.`);
  p();
  p(`Host: ${host.cores} cores, ${host.cpuModel}, Node ${host.node}, ${host.kernel}, ${host.gcc}; load average at start ${host.loadAverage.join(' / ')}.`);
  p();
  p(`Every cell is the **median (min–max) of ${opts.reps} repetitions**${opts.quick ? ' (quick mode: 3 repetitions and shorter windows)' : ''}; ` +
    'ratios are formed within each repetition from runs made back to back, then summarized. ' +
    'This is a noisy 2-core VM shared with other jobs: "others" is how many cores other processes kept busy during the samples (median), ' +
    `and a sample with more than ${NOISY_CORES} is noisy.`);
  p();
  p = (s = '') => void out.push(s);
  const targets: string[][] = [];

  const eff = res.efficiency as Json | undefined;
  if (eff) {
    p('### 1. Emulation efficiency (one CPU, no contention)');
    p();
    p('Commands:');
    p();
    for (const c of eff.commands as string[]) p(`    ${c}`);
    p();
    p(`Bare ping-pong round trip (A stores, B sees and stores back, A sees: two cross-core line transfers): ` +
      `JS (Atomics, two worker threads) ${cell(S(eff.pingJsNs), fmtNs)}, C ${cell(S(eff.pingCNs), fmtNs)}, JS/C ${cell(S(eff.pingJsVsC), fmtRatio)}. ` +
      `Others: ${cell(S(eff.othersCores), (x) => x.toFixed(2))} cores; ${eff.noisySamples as number} of ${eff.samples as number} samples noisy.`);
    p();
    p('The model bound is `runs[].modelBound` (per-page: P x (tlbi + sync), batched: P x tlbi + sync per unmap); the floor bound adds one bare JS ping-pong per CMD_SYNC waited on.');
    p();
    p(table(
      ['tlbi/sync ns', 'strategy', 'unmaps/s', 'model bound', 'measured/model', 'floor bound', 'measured/floor', 'target'],
      (eff.rows as Json[]).map((r) => {
        const v = verdict(S(r.vsFloor), r.target as { min: number } | null);
        if (r.target) targets.push([`efficiency ${r.strategy as string} at 100/1000: measured/floor >= 0.85`, cell(S(r.vsFloor), fmtRatio), v]);
        return [r.latencies as string, r.strategy as string, cell(S(r.measured), fmtCount), cell(S(r.modelBound), fmtCount),
          cell(S(r.vsModel), fmtRatio), cell(S(r.floorBound), fmtCount), cell(S(r.vsFloor), fmtRatio), r.target ? `>= 0.85: ${v}` : ''];
      }),
      'llrrrrrl',
    ));
    p();
    p('Emulator CMD_SYNC round trip with every latency 0 (`--tlbi-ns 0 --sync-ns 0`, one CPU; `syncWaitNs`): per-page waits for one TLBI and its CMD_SYNC, batched for 16 TLBIs and the CMD_SYNC.');
    p();
    p(table(
      ['strategy', 'mean CMD_SYNC wait', 'p50', 'mean / JS ping-pong', 'p50 / JS ping-pong', 'unmaps/s', 'target'],
      (eff.syncRt as Json[]).map((r) => {
        const v = verdict(S(r.meanVsPingJs), r.target as { max: number } | null);
        if (r.target) targets.push([`CMD_SYNC round trip (${r.strategy as string}, mean) <= 1.5x ping-pong`, cell(S(r.meanVsPingJs), fmtRatio), v]);
        return [r.strategy as string, cell(S(r.meanNs), fmtNs), cell(S(r.p50Ns), fmtNs), cell(S(r.meanVsPingJs), fmtRatio),
          cell(S(r.p50VsPingJs), fmtRatio), cell(S(r.unmapsPerSec), fmtCount), r.target ? `<= 1.5x: ${v}` : ''];
      }),
      'lrrrrrl',
    ));
    p();
  }

  const lk = res.locks as Json | undefined;
  if (lk) {
    const cal = lk.calibration as Json;
    p('### 2. Lock primitives against the machine (2 threads, ~100 ns critical section)');
    p();
    p('Commands:');
    p();
    for (const c of lk.commands as string[]) p(`    ${c}`);
    p();
    p(`Critical section: a plain counter increment, a hand-off check and a busy loop calibrated to 100 ns in each language — ` +
      `JS ${cell(S(cal.jsIters), (x) => x.toFixed(0))} iterations = ${cell(S(cal.jsCsNs), fmtNs)}, ` +
      `C ${cell(S(cal.cIters), (x) => x.toFixed(0))} iterations = ${cell(S(cal.cCsNs), fmtNs)} (measured per call). ` +
      'Utilization = acquisitions/s x critical-section time: the share of the window the lock spent doing useful work (1.0 is the ceiling). ' +
      'Hand-offs/s counts acquisitions by the other thread than the last holder. JS locks run with the SPIN policy (2 threads, 2 cores).');
    p();
    const js = lk.js as Record<string, Json>;
    const c = lk.c as Record<string, Json>;
    const ratios = lk.ratios as Record<string, Json>;
    p(table(
      ['lock', 'JS acq/s', 'JS hand-offs/s', 'JS util.', 'C peer', 'C acq/s', 'C hand-offs/s', 'C util.', 'JS/C', 'target'],
      LOCK_NAMES.map((n) => {
        const peer = C_PEER[n];
        const rt = ratios[n];
        const v = verdict(S(rt.jsOverC), rt.target as { min: number } | null);
        if (rt.target) targets.push(['JS ttas >= 0.7x C ttas', cell(S(rt.jsOverC), fmtRatio), v]);
        return [n, cell(S(js[n].acqPerSec), fmtCount), cell(S(js[n].handoffPerSec), fmtCount), cell(S(js[n].utilization), fmtPct),
          peer, cell(S(c[peer].acqPerSec), fmtCount), cell(S(c[peer].handoffPerSec), fmtCount), cell(S(c[peer].utilization), fmtPct),
          cell(S(rt.jsOverC), fmtRatio), rt.target ? `>= 0.7x: ${v}` : ''];
      }),
      'lrrrlrrrrl',
    ));
    p();
    const extra = C_LOCKS.filter((n) => !Object.values(C_PEER).includes(n));
    if (extra.length > 0) {
      p(table(['C lock', 'acq/s', 'hand-offs/s', 'util.'], extra.map((n) => [n, cell(S(c[n].acqPerSec), fmtCount), cell(S(c[n].handoffPerSec), fmtCount), cell(S(c[n].utilization), fmtPct)])));
      p();
    }
    p(`npm SAB mutex: not measured — ${(lk.npmMutex as Json).reason as string}.`);
    p();
  }

  const st = res.stats as Json | undefined;
  if (st) {
    p('### 3. Instrumentation cost');
    p();
    p('Commands (child processes, interleaved):');
    p();
    for (const c of st.commands as string[]) p(`    ${c}`);
    p();
    const ups = st.unmapsPerSec as Record<string, Summary | null>;
    const v = verdict(S(st.fullOverCounters), st.target as { min: number });
    targets.push(['--stats full costs <= 5 %', cell(S(st.fullOverCounters), fmtRatio), v]);
    p(table(['variant', 'unmaps/s', 'ratio to counters'], [
      ['--stats counters', cell(ups.counters, fmtCount), '1'],
      ['--stats full', cell(ups.full, fmtCount), `${cell(S(st.fullOverCounters), fmtRatio)} (target >= 0.95: ${v})`],
      ...(ups['full+trace'] ? [['--stats full --trace', cell(ups['full+trace'], fmtCount), cell(S(st.traceOverCounters), fmtRatio)]] : []),
    ]));
    p();
    p(`${st.tracing as string}. Others: ${cell(S(st.othersCores), (x) => x.toFixed(2))} cores.`);
    p();
  }

  const sc = res.scaling as Json | undefined;
  if (sc) {
    p('### 4. Scaling and oversubscription (strategy batched)');
    p();
    p('Command (a child process per run, so wall time includes Node start-up, workers and shutdown):');
    p();
    for (const c of sc.commands as string[]) p(`    ${c}`);
    p();
    const budget = sc.budgetMs as number;
    p(`Budget per run: warm-up + duration + 2 s = ${(budget / 1000).toFixed(1)} s from spawn to exit. **OVER** marks runs where threads (cpus + 1) exceed the ${host.cores} cores. ` +
      'cmdq p99 is the 99th percentile of contended cmdq lock waits (lockstat: over contended acquisitions only); contention is contended/all acquisitions.');
    p();
    const rows = sc.rows as Json[];
    let allMet = 0;
    let all = 0;
    p(table(
      ['cpus', 'threads', 'wait', 'unmaps/s', 'cmdq p99 wait', 'contention', 'wall', 'within budget', 'others'],
      rows.map((r) => {
        allMet += r.met as number;
        all += r.runs as number;
        return [String(r.cpus), `${(r.cpus as number) + 1}${r.oversubscribed ? ' OVER' : ''}`, r.wait as string,
          cell(S(r.unmapsPerSec), fmtCount), cell(S(r.cmdqP99Ns), fmtNs), cell(S(r.cmdqContention), fmtPct),
          cell(S(r.wallMs), (x) => `${(x / 1000).toFixed(2)} s`), `${r.met as number}/${r.runs as number}`,
          cell(S(r.othersCores), (x) => x.toFixed(2))];
      }),
      'lrlrrrrrr',
    ));
    p();
    targets.push(['every scaling run within duration + 2 s', `${allMet}/${all} runs`, allMet === all ? 'met' : 'MISSED']);
    const failures = rows.flatMap((r) => (r.failures as string[]).map((f) => `--cpus ${r.cpus as number} --wait ${r.wait as string}: ${f}`));
    if (failures.length > 0) {
      p('Runs that missed the budget:');
      p();
      for (const f of failures) p(`- ${f}`);
      p();
    }
  }

  const su = res.startup as Json | undefined;
  if (su) {
    p('### 5. Start-up and memory');
    p();
    p('Commands:');
    p();
    for (const c of su.commands as string[]) p(`    ${c}`);
    p();
    const v = verdict(S(su.toFirstUnmapMs), su.target as { max: number });
    targets.push(['start-up to first measured unmap, --cpus 8 <= 500 ms', cell(S(su.toFirstUnmapMs), (x) => `${x.toFixed(0)} ms`), v]);
    const ms = (x: number) => `${x.toFixed(0)} ms`;
    p(`From spawn (clock read by the parent just before spawn(); the same monotonic clock as the child's), --cpus ${su.cpus as number}:`);
    p();
    p(table(['milestone', 'time since spawn'], [
      ['probe module running (Node boot + imports)', cell(S(su.toMainMs), ms)],
      ['CPU pool created', cell(S(su.toPoolMs), ms)],
      ['measured window opens (warm-up 0)', cell(S(su.toMeasureMs), ms)],
      [`**first measured unmap (warm-up 0)** — target <= 500 ms: ${v}`, cell(S(su.toFirstUnmapMs), ms)],
      [`first measured unmap with the default --warmup ${DEFAULTS.warmupMs}ms`, cell(S(su.toFirstMeasuredUnmapDefaultWarmupMs), ms)],
      ['whole CLI invocation, --duration 10ms --warmup 0 (upper bound, incl. shutdown)', cell(S(su.cliWallMs), ms)],
    ]));
    p();
    const rss = su.rss as { cpus: number; maxRssKb: Summary | null }[];
    p(table(['--cpus', 'peak RSS'], rss.map((r) => [String(r.cpus), cell(r.maxRssKb, (x) => `${(x / 1024).toFixed(1)} MiB`)])));
    p();
    const pw = su.perWorkerKb as number | null;
    p(`Peak RSS per CPU worker (least-squares slope over --cpus 1, 2, 4, 8 of the medians): ${pw === null ? 'n/a' : `${(pw / 1024).toFixed(1)} MiB`}.`);
    p();
  }

  const head: string[] = [];
  head.push('### Targets');
  head.push('');
  head.push(table(['target', 'measured (median, min–max)', 'verdict'], targets, 'lrl'));
  head.push('');
  return [...intro, ...head, ...out].join('\n');
}

const BEGIN = '<!-- bench:begin: generated by `npm run bench`; everything up to bench:end is overwritten -->';
const END = '<!-- bench:end -->';

function writeDoc(generated: string): void {
  const block = `${BEGIN}\n\n${generated}\n${END}`;
  let text: string;
  if (existsSync(DOC)) {
    const cur = readFileSync(DOC, 'utf8');
    const a = cur.indexOf('<!-- bench:begin');
    const b = cur.indexOf(END);
    text = a >= 0 && b > a ? cur.slice(0, a) + block + cur.slice(b + END.length) : `${cur.trimEnd()}\n\n${block}\n`;
  } else {
    text = `# Performance\n\n## Results\n\n${block}\n\n## What was found\n\n(nothing yet)\n`;
  }
  writeFileSync(DOC, text);
}

// ---- main ----------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const started = performance.now();
  const host = describeHost();
  const command = `npm run bench${o.quick ? ' -- --quick' : ''}${o.reps !== (o.quick ? 3 : 5) ? ` --reps ${o.reps}` : ''}${o.only.size < SECTIONS.length ? ` --only ${[...o.only].join(',')}` : ''}`;
  log(`tlbsync-emu bench (${o.quick ? 'quick' : 'full'}, ${o.reps} repetitions): ${host.cores} cores, ${host.cpuModel}, Node ${host.node}`);
  const res: Json = { name: o.name, command, options: { quick: o.quick, reps: o.reps, only: [...o.only] }, host, timings: timings(o.quick) };
  mkdirSync(TMP, { recursive: true });
  mkdirSync(RESULTS, { recursive: true });
  const needC = o.only.has('efficiency') || o.only.has('locks');
  const gccCommand = needC ? buildC() : '';
  if (o.only.has('efficiency')) res.efficiency = await efficiency(o);
  if (o.only.has('locks')) res.locks = await locks(o, gccCommand);
  if (o.only.has('stats')) res.stats = await statsCost(o);
  if (o.only.has('scaling')) res.scaling = await scaling(o, host.cores);
  if (o.only.has('startup'))
    res.startup = await startup(o, res.scaling ? ((res.scaling as Json).rows as Json[]) : null);
  res.elapsedMs = performance.now() - started;
  const file = join(RESULTS, `${o.name}.json`);
  writeFileSync(file, `${JSON.stringify(res, null, 1)}\n`);
  const md = renderDoc(res);
  if (o.doc) writeDoc(md);
  process.stdout.write(`${md}\n`);
  log(`wrote ${file.replace(`${ROOT}/`, '')}${o.doc ? ` and ${DOC.replace(`${ROOT}/`, '')}` : ''} in ${((res.elapsedMs as number) / 1000).toFixed(0)} s`);
}

await main();
