// Where the time goes, per thread: runs `node --cpu-prof dist/run.js <args>` (V8 writes one
// .cpuprofile per thread: the main thread, the SMMU worker and every CPU worker) and prints, for
// each thread, the functions with the most self time and the share of samples spent in them.
//
//   npm run build && node dist/bench/profile.js [--top N] [--keep] -- <dist/run.js arguments>
//   node dist/bench/profile.js --summarize <dir>       (summarize profiles written earlier)
//
// Profiles go to bench/build/prof-<time>/ (git-ignored); --keep leaves them there to open in
// Chrome DevTools, otherwise they are removed after the summary.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(here, '../..');

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface FunctionCost {
  name: string;
  where: string;
  selfMs: number;
  share: number;
}

export interface ThreadSummary {
  file: string;
  role: string;
  totalMs: number;
  /** Share of samples not idle (V8's "(idle)" and "(program)" excluded from the total). */
  top: FunctionCost[];
  /** Self time by source file (our files only), share of the thread's busy samples. */
  byFile: { file: string; share: number }[];
  /** For each function in CALLERS_OF: who called it (3 frames), share of the thread's busy samples. */
  callers: { fn: string; chain: string; share: number }[];
}

/** Functions whose callers the summary breaks down: a wait or a clock read says little on its own. */
const CALLERS_OF = new Set(['waitForChange', 'now', 'storeAndWake']);

function frameName(n: ProfileNode): string {
  return n.callFrame.functionName || '(anonymous)';
}

function shortUrl(url: string): string {
  const i = url.indexOf('/dist/');
  if (i >= 0) return url.slice(i + 6).replace(/\.js$/, '.ts');
  const j = url.indexOf('/node_modules/');
  if (j >= 0) return url.slice(j + 1);
  return url.replace(/^node:/, 'node:');
}

export function summarize(file: string, topN: number): ThreadSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  // Self time per node from samples x time deltas (hitCount alone ignores uneven intervals).
  const self = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const dt = deltas[i + 1] ?? deltas[i] ?? 0;
    self.set(samples[i], (self.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const callers = new Map<string, { fn: string; chain: string; us: number }>();
  const agg = new Map<string, FunctionCost>();
  const files = new Map<string, number>();
  let busy = 0;
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const name = frameName(n);
    total += us;
    if (name === '(idle)' || name === '(program)') continue;
    busy += us;
    const where = n.callFrame.url ? `${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : '';
    const key = `${name} ${where}`;
    const a = agg.get(key) ?? { name, where, selfMs: 0, share: 0 };
    a.selfMs += us / 1000;
    agg.set(key, a);
    if (n.callFrame.url.includes('/dist/')) {
      const f = shortUrl(n.callFrame.url);
      files.set(f, (files.get(f) ?? 0) + us);
    }
    if (CALLERS_OF.has(name)) {
      const chain: string[] = [];
      for (let q = parent.get(id); q !== undefined && chain.length < 3; q = parent.get(q)) {
        const m = byId.get(q)!;
        chain.push(`${frameName(m)}${m.callFrame.url ? `:${m.callFrame.lineNumber + 1}` : ''}`);
      }
      const key = `${name} ${chain.join(' < ')}`;
      const c = callers.get(key) ?? { fn: name, chain: chain.join(' < '), us: 0 };
      c.us += us;
      callers.set(key, c);
    }
  }
  const top = [...agg.values()]
    .map((a) => ({ ...a, share: busy > 0 ? (a.selfMs * 1000) / busy : 0 }))
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, topN);
  // The thread's role, from the functions it ran.
  const names = new Set(p.nodes.map(frameName));
  const role = names.has('runCpu')
    ? 'CPU worker'
    : names.has('run') && p.nodes.some((n) => n.callFrame.url.includes('smmu-engine'))
      ? 'SMMU worker'
      : p.nodes.some((n) => n.callFrame.url.includes('orchestrator'))
        ? 'main thread'
        : 'other thread';
  return {
    file,
    role,
    totalMs: total / 1000,
    top,
    byFile: [...files.entries()]
      .map(([f, us]) => ({ file: f, share: busy > 0 ? us / busy : 0 }))
      .sort((a, b) => b.share - a.share)
      .slice(0, 8),
    callers: [...callers.values()]
      .map((c) => ({ fn: c.fn, chain: c.chain, share: busy > 0 ? c.us / busy : 0 }))
      .filter((c) => c.share >= 0.005)
      .sort((a, b) => b.share - a.share)
      .slice(0, 8),
  };
}

export function summarizeDir(dir: string, topN: number): ThreadSummary[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => summarize(join(dir, f), topN))
    .sort((a, b) => a.role.localeCompare(b.role));
}

export function formatSummaries(ts: readonly ThreadSummary[]): string {
  const out: string[] = [];
  for (const t of ts) {
    if (t.role === 'other thread' && t.top.length === 0) continue;
    out.push(`## ${t.role} (${t.file.split('/').pop()}), ${(t.totalMs / 1000).toFixed(2)} s sampled`);
    out.push('');
    out.push('| self ms | share of busy | function | where |');
    out.push('| ---: | ---: | --- | --- |');
    for (const f of t.top)
      out.push(`| ${f.selfMs.toFixed(0)} | ${(f.share * 100).toFixed(1)} % | ${f.name} | ${f.where} |`);
    out.push('');
    if (t.byFile.length > 0)
      out.push(`By file: ${t.byFile.map((f) => `${f.file} ${(f.share * 100).toFixed(0)} %`).join(', ')}`, '');
    if (t.callers.length > 0) {
      out.push('Called from (share of busy samples):', '');
      for (const c of t.callers) out.push(`- ${(c.share * 100).toFixed(1)} % ${c.fn} < ${c.chain}`);
      out.push('');
    }
  }
  return out.join('\n');
}

function main(): void {
  const argv = process.argv.slice(2);
  const topI = argv.indexOf('--top');
  const topN = topI >= 0 ? Number(argv[topI + 1]) : 15;
  const sumI = argv.indexOf('--summarize');
  if (sumI >= 0) {
    process.stdout.write(formatSummaries(summarizeDir(argv[sumI + 1], topN)));
    return;
  }
  const dd = argv.indexOf('--');
  const runArgs = dd >= 0 ? argv.slice(dd + 1) : ['--cpus', '1', '--strategy', 'batched', '--duration', '2s'];
  const dir = join(ROOT, 'bench/build', `prof-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  execFileSync(
    process.execPath,
    ['--cpu-prof', '--cpu-prof-dir', dir, join(ROOT, 'dist/run.js'), ...runArgs, '-q'],
    { stdio: 'inherit' },
  );
  process.stdout.write(`node --cpu-prof dist/run.js ${runArgs.join(' ')} -q\n\n`);
  process.stdout.write(formatSummaries(summarizeDir(dir, topN)));
  if (argv.includes('--keep')) process.stdout.write(`\nprofiles kept in ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
