/** Plain-text tables and number formats for benchmark reports. */

export type Cell = string | number | null;

/**
 * Columns padded to their widest cell; the first column left-aligned, the others right-aligned
 * (numbers line up). null prints as "-".
 */
export function formatTable(headers: string[], rows: Cell[][]): string {
  const text = [headers, ...rows].map((row) => row.map((c) => (c === null ? "-" : String(c))));
  const widths = headers.map((_, col) => Math.max(...text.map((row) => (row[col] ?? "").length)));
  const line = (row: string[]) =>
    row
      .map((c, col) => (col === 0 ? c.padEnd(widths[col]) : c.padStart(widths[col])))
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(text[0]), rule, ...text.slice(1).map(line)].join("\n");
}

/** 0.0123 -> "1.23 %". */
export function pct(share: number | null, digits = 2): string | null {
  return share === null || !Number.isFinite(share) ? null : `${(share * 100).toFixed(digits)} %`;
}

/** An interval of shares in percent: { low: 0.856, high: 0.935 } -> "85.6-93.5". */
export function pctInterval({ low, high }: { low: number; high: number }, digits = 1): string {
  return `${(low * 100).toFixed(digits)}-${(high * 100).toFixed(digits)}`;
}

export function fixed(value: number | null, digits = 3): string | null {
  return value === null || !Number.isFinite(value) ? null : value.toFixed(digits);
}

export function verdict(pass: boolean): "PASS" | "MISS" {
  return pass ? "PASS" : "MISS";
}

export function heading(title: string): string {
  return `\n${title}\n${"=".repeat(title.length)}`;
}
