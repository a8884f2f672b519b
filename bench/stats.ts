/**
 * Small helpers the benchmarks share: percentiles, "median (min–max) of n runs" summaries, and a plain-text
 * table. Nothing here judges a number; benchmarks print figures and never fail on them (STYLE rule 13).
 */

/** Nearest-rank percentile (p in 0..100) of unsorted samples; NaN when there are none. */
export function percentile(samples: ArrayLike<number>, p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: number;
}

/** The median of per-run figures, with their spread. */
export function summarize(perRun: readonly number[]): Summary {
  const sorted = [...perRun].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { median, min: sorted[0] ?? Number.NaN, max: sorted.at(-1) ?? Number.NaN, runs: sorted.length };
}

/** `12,345 (11,900–12,800)` with `digits` decimals. */
export function formatSummary(summary: Summary, digits = 0, unit = ""): string {
  const f = (value: number) => value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return `${f(summary.median)}${unit} (${f(summary.min)}–${f(summary.max)})`;
}

/** A left-aligned text table with a header rule, for stdout and for pasting into bench/README.md. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? "").length)));
  const line = (cells: readonly string[]) => `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(" | ")} |`;
  return [line(header), `|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

export function mebibytes(bytes: number): number {
  return bytes / (1024 * 1024);
}

/** The same summary with every figure passed through `f` (a unit change: bytes → MiB, share → %). */
export function mapSummary(summary: Summary, f: (value: number) => number): Summary {
  return { ...summary, median: f(summary.median), min: f(summary.min), max: f(summary.max) };
}
