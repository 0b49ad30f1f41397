// The performance bench: `npm run bench` (about 10 minutes) or `npm run bench -- --quick` (under 3).
// It measures, side by side in one run, how close the emulator gets to its timing model and to
// the machine it runs on, and writes bench/results/<name>.json and the generated part of
// docs/performance.md. This file only drives: the sections are bench/sections/*.ts (registered in
// bench/sections/index.ts), their prose bench/templates/*.md; `--help` lists the options.
//
// Every figure is the median of the repetitions (5, or 3 with --quick) with min and max; ratios
// are taken within a repetition (both sides measured back to back) and then summarized. Each
// sample records how many cores other processes kept busy meanwhile (this is a shared VM); a noisy
// sample is retried (within a time budget) and the quietest attempt kept.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { UsageError } from '../src/config/parse.js';
import { readResults, renderDoc, writeDoc, type BenchDocument } from './lib/doc.js';
import { describeHost } from './lib/host.js';
import { buildC } from './lib/machine.js';
import { parseBenchOptions, type BenchOptions } from './lib/options.js';
import { DOC, rel, RESULTS, snapshotDist, TMP } from './lib/paths.js';
import { log, Retrier } from './lib/retry.js';
import { timings } from './lib/timings.js';
import { SECTIONS } from './sections/index.js';
import type { BenchSection, RunContext } from './sections/section.js';

async function measure(o: BenchOptions, args: readonly string[]): Promise<BenchDocument> {
  const t = timings(o.quick);
  const started = performance.now();
  const host = describeHost();
  log(
    `tlbsync-emu bench (${o.quick ? 'quick' : 'full'}, ${o.reps} repetitions): ${host.cores} cores, ${host.cpuModel}, Node ${host.node}`,
  );
  const retry = new Retrier(t.maxAttempts, t.retryBudgetMs);
  const selected = SECTIONS.filter((s) => o.only.includes(s.name));
  const results = new Map<string, unknown>();
  snapshotDist();
  mkdirSync(TMP, { recursive: true });
  mkdirSync(RESULTS, { recursive: true });
  const ctx: RunContext = {
    quick: o.quick,
    reps: o.reps,
    timings: t,
    retry,
    host,
    gccCommand: selected.some((s) => s.needsC) ? buildC() : '',
    resultOf: <R>(s: BenchSection<R>) => results.get(s.name) as R | undefined,
  };
  const sectionMs: Record<string, number> = {};
  for (const s of selected) {
    const t0 = performance.now();
    results.set(s.name, await s.run(ctx));
    sectionMs[s.name] = Math.round(performance.now() - t0);
    log(`${s.name}: ${(sectionMs[s.name] / 1000).toFixed(1)} s`);
  }
  return {
    name: o.name,
    command: `npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`,
    options: { quick: o.quick, reps: o.reps, only: o.only },
    host,
    timings: t,
    ...Object.fromEntries(results),
    sectionMs,
    retries: { retries: retry.retries, spentMs: retry.spentMs },
    elapsedMs: performance.now() - started,
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const parsed = parseBenchOptions(args, SECTIONS);
  if (parsed.kind === 'exit') {
    (parsed.code === 0 ? process.stdout : process.stderr).write(parsed.output);
    process.exitCode = parsed.code;
    return;
  }
  const o = parsed.options;
  let doc: BenchDocument;
  if (o.renderOnly !== null) {
    try {
      doc = readResults(o.renderOnly);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      process.stderr.write(`bench: ${e.message}\n`);
      process.exitCode = 2;
      return;
    }
  } else {
    doc = await measure(o, args);
  }
  const file = join(RESULTS, `${doc.name}.json`);
  if (o.renderOnly === null) writeFileSync(file, `${JSON.stringify(doc, null, 1)}\n`);
  const md = renderDoc(doc, SECTIONS);
  if (o.doc) writeDoc(md);
  process.stdout.write(`${md}\n`);
  log(
    o.renderOnly !== null
      ? `rendered ${o.renderOnly}${o.doc ? ` into ${rel(DOC)}` : ''}`
      : `wrote ${rel(file)}${o.doc ? ` and ${rel(DOC)}` : ''} in ${(doc.elapsedMs / 1000).toFixed(0)} s`,
  );
}

await main();
