// Section 6, profile (full mode, or --profile): node --cpu-prof of the one-CPU runs, the top
// functions per thread and the share of each thread's samples spent waiting.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runChild } from '../lib/child.js';
import { cliArgs, type RunSpec } from '../lib/emulator.js';
import { BUILD, RUN_JS } from '../lib/paths.js';
import { log } from '../lib/retry.js';
import { fmtPct } from '../lib/stats.js';
import { renderTemplate } from '../lib/template.js';
import { formatSummaries, summarizeDir, type FunctionCost, type ThreadSummary } from '../profile.js';
import type { BenchSection, RunContext } from './section.js';

/** Functions that are a thread waiting for another (or spending modelled latency), not working. */
const WAITING = new Set(['waitForChange', 'until', 'spinUntil', 'atomicsWaitLoop', '(idle)']);

export interface ProfiledThread {
  role: string;
  /** Share of the thread's busy samples in WAITING functions. */
  waitingShare: number;
  top: FunctionCost[];
  byFile: ThreadSummary['byFile'];
}

export interface ProfileResult {
  runs: { command: string; othersCores: number; threads: ProfiledThread[]; text: string }[];
}

async function run(ctx: RunContext): Promise<ProfileResult> {
  const specs: RunSpec[] = [
    { cpus: 1, strategies: ['batched'], durationMs: ctx.quick ? 1000 : 3000, warmupMs: 200 },
    { cpus: 1, strategies: ['per-page'], durationMs: ctx.quick ? 1000 : 3000, warmupMs: 200 },
  ];
  const out: ProfileResult['runs'] = [];
  for (const spec of specs) {
    log(`profile: ${spec.strategies.join(',')}`);
    const dir = join(BUILD, `prof-${process.pid}-${spec.strategies[0]}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const args = ['--cpu-prof', '--cpu-prof-dir', dir, RUN_JS, ...cliArgs(spec), '-q'];
    const c = await runChild(process.execPath, args, { timeoutMs: 60_000 });
    const threads: ThreadSummary[] = summarizeDir(dir, 12).filter((x) => x.role !== 'main thread');
    rmSync(dir, { recursive: true, force: true });
    out.push({
      command: `node --cpu-prof dist/run.js ${cliArgs(spec).join(' ')} -q`,
      othersCores: c.othersCores,
      threads: threads.map((th) => ({
        role: th.role,
        waitingShare: th.top.filter((f) => WAITING.has(f.name)).reduce((a, f) => a + f.share, 0),
        top: th.top,
        byFile: th.byFile,
      })),
      text: formatSummaries(threads),
    });
  }
  return { runs: out };
}

function render(pr: ProfileResult) {
  const runs = pr.runs.map((r) =>
    renderTemplate('profile-run', {
      command: r.command,
      others: r.othersCores.toFixed(2),
      threads: r.threads
        .map((th) => renderTemplate('profile-thread', { role: th.role, waiting: fmtPct(th.waitingShare) }))
        .join('\n'),
      text: r.text,
    }),
  );
  return { markdown: renderTemplate('profile', { runs: runs.join('\n\n') }), targets: [] };
}

export const profile: BenchSection<ProfileResult> = {
  name: 'profile',
  needsC: false,
  byDefault: (mode) => !mode.quick || mode.profile,
  run,
  render,
};
