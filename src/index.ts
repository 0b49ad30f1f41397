// The library API of tlbsync-emu (`import { runConfig } from 'tlbsync-emu'`): run one configuration
// or a sweep, read the result documents back, render them. The CLI (dist/run.js) is built on this.
// Everything else under src/ is internal and may change between versions.
export { DEFAULTS, MAX_CPUS, MAX_PAGES, SWEEP_KEYS, hostInfo } from './config/config.js';
export type { Config, HostInfo, StatsMode, SweepKey, WaitMode } from './config/config.js';
export { UsageError } from './config/parse.js';
export { parseSweepSpec, parseSweeps, sweepPoints, SINGLE_RUN } from './config/sweep.js';
export type { Params, Plan, Point, SweepAxis } from './config/sweep.js';
export { checkCombinations } from './run/combinations.js';
export { buildDocument, cmdLogPath, runConfig, runInvocation, runSweep } from './run/invocation.js';
export type { Invocation } from './run/invocation.js';
export type { PlanDeps, PlanResult, RunHooks, RunInfo } from './run/run-plan.js';
export { runLine } from './run/progress-line.js';
export { compareDocs, formatCompare } from './report/compare-documents.js';
export { toCsv } from './report/csv.js';
export { renderHtmlReport } from './report/html.js';
export { loadResult } from './report/result-file.js';
export { SCHEMA_VERSION } from './report/types.js';
export type { ResultDocument, RunReport } from './report/types.js';
export type { RunOutcome } from './workload/orchestrator.js';
export { STRATEGY_NAMES } from './driver/strategies/index.js';
export { LOCK_NAMES } from './concurrency/lock.js';
export { TOOL } from './version.js';
export { ENGINE_NAMES, VIRTUAL_DEFAULTS } from './config/config.js';
export type { EngineName } from './config/config.js';
export { CALIBRATION_KIND, formatCalibration, parseCalibration } from './virtual/calibration.js';
export type { CalibrationFile } from './virtual/calibration.js';
export { VIRTUAL_CAPABILITIES } from './virtual/capabilities.js';
export type { VirtualRunReport } from './report/types.js';
