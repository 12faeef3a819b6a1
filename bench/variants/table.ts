/**
 * Plain-text tables for the variants bench.
 * @module
 */

/** Prints `rows` under `head`, the first column left-aligned and the others right-aligned. */
export function printTable(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(line(r));
}

/** A number in 3 significant digits, exponent form when small. */
export function sig(x: number): string {
  if (x === 0) return "0";
  return Math.abs(x) < 1e-2 || Math.abs(x) >= 1e4 ? x.toExponential(2) : x.toPrecision(3);
}
