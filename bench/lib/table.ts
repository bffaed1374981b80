// Markdown tables for benchmark output: printed, and rendered into docs/benchmarks.md by
// scripts/benchmarks-doc.ts.

export interface Column<Row> {
  header: string;
  /** Right-align numbers. */
  align?: 'left' | 'right';
  cell: (row: Row) => string;
}

/** Renders rows as a GitHub markdown table with padded columns. Pipes in cells are escaped. */
export function markdownTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  const cells = rows.map((row) => columns.map((c) => c.cell(row).replaceAll('|', '\\|')));
  const widths = columns.map((c, i) => Math.max(3, c.header.length, ...cells.map((r) => r[i]!.length)));
  const pad = (text: string, i: number): string =>
    columns[i]!.align === 'right' ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
  const line = (values: readonly string[]): string => `| ${values.map(pad).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (columns[i]!.align === 'right' ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(columns.map((c) => c.header)), rule, ...cells.map((r) => line(r))].join('\n');
}

/** Fixed decimals, or an em dash for a missing value (NaN/undefined). */
export function fmt(value: number | undefined, decimals = 0): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** A ratio like "1.00x"; em dash when missing. */
export function fmtRatio(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '—' : `${value.toFixed(2)}x`;
}

/** Microseconds shown as milliseconds with two decimals. */
export function fmtMsFromUs(valueUs: number | undefined): string {
  return valueUs === undefined || !Number.isFinite(valueUs) ? '—' : (valueUs / 1000).toFixed(2);
}

/** Bytes shown as MiB with one decimal. */
export function fmtMiB(bytes: number | undefined): string {
  return bytes === undefined || !Number.isFinite(bytes) ? '—' : (bytes / 1024 / 1024).toFixed(1);
}
