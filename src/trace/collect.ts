// After a run: read every thread's trace ring, keep the last --trace-window, and turn it into
// Chrome Trace Event Format events (one process per strategy run, one track per CPU and the SMMU).
import { OPCODE_NAMES } from '../hardware/commands.js';
import { regionOff } from '../hardware/layout.js';
import type { StrategyRun } from '../workload/orchestrator.js';
import { TRACE_PID, toChromeTrace, type ChromeEvent } from './chrome.js';
import { readRing, traceCapacity, traceRingOff, TRACE_REGION, type TraceEvent } from './ring.js';

export interface StrategyTrace {
  readonly strategy: string;
  readonly events: ChromeEvent[];
  /** Events dropped because the rings wrapped before the window's start (window then shorter). */
  readonly wrapped: boolean;
}

export function collectTrace(run: StrategyRun, windowMs: number, pid: number): StrategyTrace {
  const { layout, views } = run;
  const threads = layout.cpus + 1;
  const capacity = traceCapacity(threads);
  const base = regionOff(layout, TRACE_REGION);
  const tracks = [];
  let end = 0;
  const perThread: TraceEvent[][] = [];
  for (let t = 0; t < threads; t++) {
    const evs = readRing(views.f64, traceRingOff(base, t, capacity), capacity);
    perThread.push(evs);
    for (const e of evs) end = Math.max(end, e.startNs + e.durNs);
  }
  // Not before 0: a virtual run's clock starts there (a threads run's clock is far beyond it).
  const start = Math.max(0, end - windowMs * 1e6);
  let wrapped = false;
  for (let t = 0; t < threads; t++) {
    const evs = perThread[t];
    // A full ring whose oldest event is inside the window lost the window's beginning.
    if (evs.length === capacity && evs[0].startNs > start) wrapped = true;
    tracks.push({ tid: t, name: t < layout.cpus ? `cpu ${t}` : 'SMMU', events: evs });
  }
  const { traceEvents } = toChromeTrace(
    tracks,
    start,
    end,
    { lockClasses: layout.lockClasses, opcode: (op) => OPCODE_NAMES[op] ?? `opcode 0x${op.toString(16)}` },
    {},
  );
  for (const e of traceEvents) e.pid = pid;
  traceEvents[0].args = { name: run.strategy };
  return { strategy: run.strategy, events: traceEvents, wrapped };
}

export function traceDocument(
  traces: readonly StrategyTrace[],
  metadata: Record<string, unknown>,
): { traceEvents: ChromeEvent[]; displayTimeUnit: 'ns'; otherData: Record<string, unknown> } {
  return {
    traceEvents: traces.flatMap((t) => t.events),
    displayTimeUnit: 'ns',
    otherData: { ...metadata, truncatedByRingSize: traces.filter((t) => t.wrapped).map((t) => t.strategy) },
  };
}

export { TRACE_PID };
