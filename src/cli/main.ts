// The invocation: parse, run every strategy one after another on one CPU pool, report, write files.
// Exit codes: 0 done, 2 bad input, 3 a run failed or was incomplete (what was measured is still
// printed and written, marked incomplete).
import { hostInfo, type Config, type HostInfo } from '../config/config.js';
import { writeFileAtomic } from '../report/atomic-write.js';
import { collectRun } from '../report/collect.js';
import { compareRuns } from '../report/compare.js';
import { fullReport } from '../report/text.js';
import { SCHEMA_VERSION, type ResultDocument, type RunReport } from '../report/types.js';
import { runStrategy } from '../workload/orchestrator.js';
import { CpuPool } from '../workload/pool.js';
import { parseArgs } from './args.js';
import { TOOL } from './version.js';

export const EXIT_OK = 0;
export const EXIT_USAGE = 2;
export const EXIT_RUN_FAILED = 3;

export function cmdLogPath(base: string, strategy: string): string {
  return `${base}.${strategy}.bin`;
}

export function buildDocument(
  cfg: Config,
  host: HostInfo,
  startedAt: Date,
  runs: RunReport[],
  complete: boolean,
): ResultDocument {
  return {
    schemaVersion: SCHEMA_VERSION,
    tool: { name: TOOL.name, version: TOOL.version },
    startedAt: startedAt.toISOString(),
    host: { ...host },
    config: { ...cfg },
    complete,
    runs,
    comparison: compareRuns(runs),
  };
}

export async function runConfig(
  cfg: Config,
  log: (s: string) => void,
): Promise<{ doc: ResultDocument; text: string }> {
  const host = hostInfo(cfg);
  const startedAt = new Date();
  let pool = new CpuPool(cfg.cpus);
  const runs: RunReport[] = [];
  let complete = true;
  try {
    for (const strategy of cfg.strategies) {
      log(`running ${strategy}: ${cfg.cpus} CPUs, ${cfg.durationMs} ms after ${cfg.warmupMs} ms warm-up`);
      const run = await runStrategy(cfg, host, strategy, pool, cfg.cmdLog !== null);
      const report = collectRun(run, cfg.stats === 'full');
      runs.push(report);
      if (cfg.cmdLog !== null && run.cmdLog) writeFileAtomic(cmdLogPath(cfg.cmdLog, strategy), run.cmdLog);
      if (!run.complete) {
        complete = false;
        break;
      }
      if (run.poolBroken) pool = new CpuPool(cfg.cpus);
    }
  } finally {
    await pool.destroy();
  }
  const doc = buildDocument(cfg, host, startedAt, runs, complete && runs.length === cfg.strategies.length);
  return { doc, text: fullReport(cfg, host, runs, doc.comparison) };
}

export async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseArgs(argv);
  if (parsed.kind === 'exit') {
    (parsed.code === 0 ? process.stdout : process.stderr).write(parsed.output);
    return parsed.code;
  }
  const cfg = parsed.config;
  const log = (s: string): void => {
    if (!cfg.quiet) process.stderr.write(`${s}\n`);
  };
  const { doc, text } = await runConfig(cfg, log);
  if (!cfg.quiet) process.stdout.write(text);
  if (cfg.json !== null) writeFileAtomic(cfg.json, `${JSON.stringify(doc, null, 2)}\n`);
  if (!doc.complete) {
    process.stderr.write(`tlbsync-emu: run incomplete: ${doc.runs.flatMap((r) => r.errors).join('; ')}\n`);
    return EXIT_RUN_FAILED;
  }
  return EXIT_OK;
}
