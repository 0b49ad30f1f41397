// Chrome Trace Event Format (JSON object form), which Perfetto and chrome://tracing open: one
// process, one track (thread) per emulated CPU and one for the SMMU, complete ("X") events for
// spans and counter ("C") events for the queue depth. Timestamps are microseconds on the clock all
// threads share, relative to the start of the window kept.
import { depthOf, depthQueueOf, Ev, type TraceEvent } from './ring.js';

export interface TraceTrack {
  /** Thread id in the trace (CPU number; the SMMU gets cpus). */
  readonly tid: number;
  readonly name: string;
  readonly events: readonly TraceEvent[];
}

export interface ChromeEvent {
  name: string;
  cat?: string;
  ph: 'X' | 'C' | 'M';
  ts?: number;
  dur?: number;
  pid: number;
  tid: number;
  args?: Record<string, string | number>;
}

export const TRACE_PID = 1;

export function toChromeTrace(
  tracks: readonly TraceTrack[],
  windowStartNs: number,
  windowEndNs: number,
  names: { lockClasses: readonly string[]; opcode: (op: number) => string },
  metadata: Record<string, unknown>,
): { traceEvents: ChromeEvent[]; displayTimeUnit: 'ns'; otherData: Record<string, unknown> } {
  const us = (ns: number): number => Math.round((ns - windowStartNs) / 10) / 100; // 10 ns resolution
  // Both ends rounded the same way keep nesting exact; the difference is rounded again so that
  // float noise (0.22000000000002728) does not reach the file.
  const dur = (start: number, d: number): number => Math.round((us(start + d) - us(start)) * 100) / 100;
  const events: ChromeEvent[] = [
    { name: 'process_name', ph: 'M', pid: TRACE_PID, tid: 0, args: { name: 'tlbsync-emu' } },
  ];
  for (const t of tracks) {
    events.push({ name: 'thread_name', ph: 'M', pid: TRACE_PID, tid: t.tid, args: { name: t.name } });
    events.push({
      name: 'thread_sort_index',
      ph: 'M',
      pid: TRACE_PID,
      tid: t.tid,
      args: { sort_index: t.tid },
    });
    for (const e of t.events) {
      if (e.startNs + e.durNs < windowStartNs || e.startNs > windowEndNs) continue;
      if (e.startNs < windowStartNs) continue; // a span cut by the window's start would nest wrongly
      const base = { pid: TRACE_PID, tid: t.tid, ts: us(e.startNs) };
      switch (e.kind) {
        case Ev.LOCK_WAIT:
          events.push({
            ...base,
            ph: 'X',
            cat: 'lock',
            name: `${names.lockClasses[e.arg]} wait`,
            dur: dur(e.startNs, e.durNs),
          });
          break;
        case Ev.LOCK_HOLD:
          events.push({
            ...base,
            ph: 'X',
            cat: 'lock',
            name: `${names.lockClasses[e.arg]} hold`,
            dur: dur(e.startNs, e.durNs),
          });
          break;
        case Ev.SYNC_WAIT:
          events.push({
            ...base,
            ph: 'X',
            cat: 'sync',
            name: 'CMD_SYNC wait',
            dur: dur(e.startNs, e.durNs),
            args: { sync: e.arg },
          });
          break;
        case Ev.UNMAP:
          events.push({
            ...base,
            ph: 'X',
            cat: 'dma',
            name: 'iommu_unmap',
            dur: dur(e.startNs, e.durNs),
            args: { pages: e.arg },
          });
          break;
        case Ev.SMMU_CMD:
          events.push({
            ...base,
            ph: 'X',
            cat: 'smmu',
            name: names.opcode(e.arg),
            dur: dur(e.startNs, e.durNs),
          });
          break;
        case Ev.QUEUE_DEPTH: {
          const q = depthQueueOf(e.arg);
          const name = q === 0 ? 'queue depth' : `ECMDQ ${q - 1} depth`;
          events.push({ ...base, ph: 'C', name, args: { entries: depthOf(e.arg) } });
          break;
        }
      }
    }
  }
  return { traceEvents: events, displayTimeUnit: 'ns', otherData: metadata };
}
