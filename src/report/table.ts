// Every table the tool prints: the terminal's plain text (reports, compare, replay) and the
// bench's Markdown. Text columns are left-aligned, numbers right-aligned.

type Rows = readonly (readonly string[])[];

/** A plain-text table; `left` lists the text columns (default: the first). */
export function formatTable(headers: readonly string[], rows: Rows, left: readonly number[] = [0]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (left.includes(i) ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** A Markdown table; `align` has one letter per column, l or r (default: the first l, the rest r). */
export function markdownTable(headers: readonly string[], rows: Rows, align?: string): string {
  const al = align ?? headers.map((_, i) => (i === 0 ? 'l' : 'r')).join('');
  const sep = headers.map((_, i) => (al[i] === 'r' ? '---:' : '---'));
  return [headers, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

/** ns as microseconds with two decimals, lockstat's unit; '-' when not measured. */
export function us(ns: number | null): string {
  return ns === null ? '-' : (ns / 1000).toFixed(2);
}

export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function num(n: number, digits = 2): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function ratio(r: number | null): string {
  return r === null ? 'n/a' : `${r.toFixed(2)}x`;
}
