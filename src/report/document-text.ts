// The terminal text of a result document, whether it was just measured or read back from a file:
// the full report for one point run once, the sweep table otherwise.
import { DEFAULTS, type Config, type HostInfo } from '../config/config.js';
import type { AxisKey, SweepAxis } from '../config/sweep.js';
import { sweepReport } from './sweep-text.js';
import { fullReport } from './text.js';
import type { ResultDocument } from './types.js';

/** `points`: how many points the plan had (default: how many the runs show). */
export function documentText(doc: ResultDocument, points?: number): string {
  // A document of this schema holds the whole Config; DEFAULTS only fill what an older writer of
  // the same schema version did not know yet.
  const cfg = { ...DEFAULTS, ...doc.config } as Config;
  const host = doc.host as HostInfo;
  const sweep: SweepAxis[] | null = doc.sweep
    ? doc.sweep.axes.map((a) => ({ key: a.name as AxisKey, values: a.values }))
    : null;
  if (sweep === null && doc.repeat <= 1) return fullReport(cfg, host, doc.runs, doc.comparison);
  const n = points ?? new Set(doc.runs.map((r) => JSON.stringify(r.params))).size;
  return sweepReport(cfg, host, { sweep, repeat: doc.repeat }, n, doc.runs);
}
