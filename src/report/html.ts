// Self-contained HTML report: the charts of charts.ts rendered to inline SVG on Node (vega-lite
// compiles each spec to vega, vega renders it headless with no canvas), a table of the numbers
// behind them, and the run's configuration and host. No scripts, no fonts, no network: a
// Content-Security-Policy forbids every fetch, so the file opens the same offline as online.
import type { TopLevelSpec } from 'vega-lite';
import { chartEntries, summarize, type ChartEntry, type Summary } from './charts.js';
import type { ResultDocument } from './types.js';

// vega and vega-lite take ~250 ms to load: only a run that writes a report pays for them, not the
// start-up of every run.
const loadVega = async () => {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  return {
    parse: vega.parse,
    View: vega.View,
    vegaVersion: vega.version,
    compile: vl.compile,
    vegaLiteVersion: vl.version,
  };
};

type Logger = NonNullable<NonNullable<Parameters<typeof import('vega-lite').compile>[1]>['logger']>;

export interface RenderedChart {
  entry: ChartEntry;
  /** The chart as an SVG document (null when entry.spec is null). */
  svg: string | null;
  /** What vega-lite and vega warned about while compiling and rendering (kept off the console). */
  warnings: string[];
}

function collectingLogger(warnings: string[]): Logger {
  let level = 0;
  const logger: Logger = {
    level(l?: number) {
      if (l === undefined) return level;
      level = l;
      return logger;
    },
    error(...args: unknown[]) {
      warnings.push(`error: ${args.map(String).join(' ')}`);
      return logger;
    },
    warn(...args: unknown[]) {
      warnings.push(args.map(String).join(' '));
      return logger;
    },
    info() {
      return logger;
    },
    debug() {
      return logger;
    },
  };
  return logger;
}

/** One vega-lite spec to an SVG string. */
export async function renderSvg(spec: TopLevelSpec, warnings: string[] = []): Promise<string> {
  const { compile, parse, View } = await loadVega();
  const logger = collectingLogger(warnings);
  const vg = compile(spec, { logger }).spec;
  const view = new View(parse(vg), { renderer: 'none', logger });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export async function renderCharts(doc: ResultDocument): Promise<RenderedChart[]> {
  const out: RenderedChart[] = [];
  for (const entry of chartEntries(doc)) {
    const warnings: string[] = [];
    const svg = entry.spec === null ? null : await renderSvg(entry.spec, warnings);
    out.push({ entry, svg, warnings });
  }
  return out;
}

function esc(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function fmt(n: number | null, digits = 0): string {
  if (n === null) return '–';
  if (!Number.isFinite(n)) return String(n);
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function value(v: unknown): string {
  if (v === null || v === undefined) return 'none';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return String(v);
  if (Array.isArray(v) && v.length === 0) return 'none';
  if (Array.isArray(v) && v.every((x) => typeof x !== 'object' || x === null)) return v.join(', ');
  return JSON.stringify(v);
}

const CSS = `
:root { color-scheme: light; }
body { font-family: 'DejaVu Sans', 'Liberation Sans', Arial, sans-serif; color: #222; background: #f6f6f4;
  margin: 0; padding: 24px; line-height: 1.45; }
main { max-width: 1000px; margin: 0 auto; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 12px; border-bottom: 1px solid #ccc; padding-bottom: 4px; }
.meta { color: #555; margin: 0 0 16px; font-size: 14px; }
.warning { background: #fff4e5; border: 2px solid #e07b00; border-left-width: 8px; padding: 10px 14px;
  margin: 12px 0; border-radius: 4px; font-size: 14px; }
.warning strong { color: #a14f00; }
.error { background: #fdecea; border-color: #c62828; }
.error strong { color: #8e1c1c; }
figure.chart { background: #fff; border: 1px solid #ddd; border-radius: 6px; margin: 0 0 20px;
  padding: 14px 16px 10px; overflow-x: auto; }
figure.chart svg { display: block; max-width: 100%; height: auto; }
figure.chart figcaption { font-size: 13.5px; color: #444; margin-top: 8px; }
figure.chart .empty { font-size: 14px; color: #666; padding: 24px 8px; border: 1px dashed #bbb; }
figure.chart h3 { font-size: 15px; margin: 0 0 8px; }
table { border-collapse: collapse; font-size: 13px; background: #fff; margin: 0 0 12px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: right; vertical-align: top; }
td { white-space: nowrap; }
th { background: #f0f0ee; }
td.l, th.l { text-align: left; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; font-size: 13.5px;
  background: #fff; border: 1px solid #ddd; padding: 10px 14px; margin: 0 0 12px; }
dl.kv dt { font-weight: bold; } dl.kv dd { margin: 0; font-family: 'DejaVu Sans Mono', monospace; }
footer { color: #777; font-size: 12px; margin-top: 32px; }
`;

function warnings(doc: ResultDocument, s: Summary): string {
  const parts: string[] = [];
  const h = doc.host;
  const over = s.points.filter((p) => p.oversubscribed);
  if (h.oversubscribed || over.length > 0) {
    const xs = [...new Set(over.map((p) => p.cpus))].sort((a, b) => a - b);
    const detail = h.oversubscribed
      ? `${h.threads} threads (the emulated CPUs plus the SMMU thread) ran on ${h.cores} cores.`
      : `the host has ${h.cores} cores.`;
    const points =
      xs.length > 0 && s.xs.length > 1
        ? ` Runs at ${xs.join(', ')} CPUs had more threads than cores (triangles in the charts).`
        : '';
    parts.push(
      `<div class="warning" id="oversubscribed" role="alert"><strong>Oversubscribed host:</strong> ${esc(detail)}` +
        `${esc(points)} Lock holders get preempted by the scheduler, so absolute rates are far below what a ` +
        `core per thread gives and lock waits include time slices: compare strategies with each other, ` +
        `not with hardware numbers.</div>`,
    );
  }
  const bad = doc.runs.filter((r) => !r.complete);
  if (!doc.complete || bad.length > 0) {
    const list = bad
      .map(
        (r) => `${r.strategy} at ${r.cpus} CPUs (${r.outcome}${r.errors.length ? `: ${r.errors[0]}` : ''})`,
      )
      .join('; ');
    parts.push(
      `<div class="warning error" id="incomplete" role="alert"><strong>Incomplete:</strong> ` +
        `${esc(list || 'not every planned run was made')}. The charts show only what was measured.</div>`,
    );
  }
  return parts.join('\n');
}

function figure(c: RenderedChart): string {
  const e = c.entry;
  const body =
    c.svg === null
      ? `<h3>${esc(e.title)}</h3><div class="empty">Nothing to draw: ${esc(e.reason ?? 'no data')}.</div>`
      : c.svg;
  return (
    `<figure class="chart" id="chart-${esc(e.id)}" data-chart="${esc(e.id)}" data-empty="${c.svg === null}" ` +
    `aria-label="${esc(e.title)}">\n${body}\n<figcaption><strong>How to read this:</strong> ${esc(e.caption)}` +
    `</figcaption>\n</figure>`
  );
}

function numbersTable(s: Summary): string {
  const head = [
    '<th class="l">strategy</th>',
    '<th class="l">engine</th>',
    '<th>CPUs</th>',
    '<th>runs</th>',
    '<th>unmaps/s</th>',
    '<th>unmaps/s per CPU</th>',
    '<th>model bound unmaps/s</th>',
    '<th>commands/unmap</th>',
    '<th>syncs/unmap</th>',
    ...s.locks.map((l) => `<th>${esc(l)} wait p99 (µs)</th>`),
    '<th>threads &gt; cores</th>',
  ];
  const rows = s.points.map((p) => {
    const cmds = Object.values(p.commandsPerUnmap).reduce((a, b) => a + b, 0);
    const cells = [
      `<td class="l">${esc(p.series)}${p.complete ? '' : ' (incomplete)'}</td>`,
      `<td class="l">${p.engine}</td>`,
      `<td>${fmt(p.cpus)}</td>`,
      `<td>${fmt(p.repetitions)}</td>`,
      `<td>${fmt(p.unmapsPerSec.mean)}</td>`,
      `<td>${fmt(p.perCpuUnmapsPerSec.mean)}</td>`,
      `<td>${fmt(p.modelBoundUnmapsPerSec)}</td>`,
      `<td>${fmt(cmds, 2)}</td>`,
      `<td>${fmt(p.syncsPerUnmap, 2)}</td>`,
      ...s.locks.map((name) => {
        const l = p.locks.find((x) => x.name === name);
        return `<td>${l?.waitP99Ns ? fmt(l.waitP99Ns.mean / 1000, 2) : '–'}</td>`;
      }),
      `<td>${p.oversubscribed ? 'yes' : 'no'}</td>`,
    ];
    return `<tr>${cells.join('')}</tr>`;
  });
  const reps =
    s.maxRepetitions > 1 ? ` Values are means over the repetitions of each (point, strategy).` : '';
  return (
    `<p class="meta">Each row is one sweep point and strategy, as the charts plot it.${reps} The model bound ` +
    `is what the modelled SMMU alone would allow (one command at a time at the configured latencies).</p>\n` +
    `<table id="numbers-table"><thead><tr>${head.join('')}</tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table>`
  );
}

function configSection(doc: ResultDocument): string {
  const h = doc.host;
  const host: [string, string][] = [
    ['CPU model', h.cpuModel],
    ['cores', String(h.cores)],
    [
      'threads wanting a core',
      `${h.threads}${h.oversubscribed ? ' (OVERSUBSCRIBED: more than cores)' : ''}` +
        (doc.runs.some((r) => r.engine === 'virtual') ? ' (virtual runs: one thread, virtual time)' : ''),
    ],
    ['wait policy', h.waitPolicy],
    ['Node.js', h.nodeVersion],
    ['platform', `${h.platform} ${h.arch}`],
  ];
  const run: [string, string][] = [
    ['tool', `${doc.tool.name} ${doc.tool.version}`],
    ['started', doc.startedAt],
    ['schema version', String(doc.schemaVersion)],
    [
      'sweep',
      doc.sweep === null
        ? 'none (a single point)'
        : doc.sweep.axes.map((a) => `${a.name} = ${a.values.join(', ')}`).join('; '),
    ],
    ['repetitions per point', String(doc.repeat)],
    ['runs', String(doc.runs.length)],
    ['complete', doc.complete ? 'yes' : 'NO'],
  ];
  const dl = (id: string, kv: [string, string][]): string =>
    `<dl class="kv" id="${id}">${kv.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>`;
  const cfg = Object.entries(doc.config).map(([k, v]) => [k, value(v)] as [string, string]);
  return (
    `<h3>Run</h3>\n${dl('run-info', run)}\n<h3>Host</h3>\n${dl('host-info', host)}\n` +
    `<h3>Configuration</h3>\n${dl('config-info', cfg)}`
  );
}

export async function renderHtmlReport(doc: ResultDocument): Promise<string> {
  const { vegaVersion, vegaLiteVersion } = await loadVega();
  const s = summarize(doc);
  const charts = await renderCharts(doc);
  const strategies = s.series.length > 0 ? [...new Set(s.points.map((p) => p.strategy))].join(', ') : 'none';
  const points = s.xs.length > 1 ? `${s.xs.length} CPU counts (${s.xs.join(', ')})` : `one point`;
  const title = `tlbsync-emu report: ${strategies}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header>
<h1>${esc(doc.tool.name)}: what TLB-invalidation strategies cost</h1>
<p class="meta">Strategies ${esc(strategies)}; ${esc(points)}; ${fmt(doc.runs.length)} run${doc.runs.length === 1 ? '' : 's'}; started ${esc(doc.startedAt)}; ${esc(doc.tool.name)} ${esc(doc.tool.version)}.</p>
</header>
${warnings(doc, s)}
<section id="charts">
<h2>Charts</h2>
${charts.length === 0 ? '<p class="empty">The document holds no runs: nothing to chart.</p>' : charts.map(figure).join('\n')}
</section>
<section id="numbers">
<h2>Numbers behind the charts</h2>
${numbersTable(s)}
</section>
<section id="configuration">
<h2>Configuration and host</h2>
${configSection(doc)}
</section>
<footer>Generated offline from the run's result document; charts rendered to SVG with vega ${esc(vegaVersion)} and vega-lite ${esc(vegaLiteVersion)}.</footer>
</main>
</body>
</html>
`;
}
