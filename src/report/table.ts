// Plain-text table layout for the terminal report: first column left-aligned, numbers right.

export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
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
