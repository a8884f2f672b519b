/**
 * One benchmark section as bench/run.ts runs it and as its own file runs it alone (`bun bench/<file>.ts
 * [--quick]`): an id for `--only`, a title, whether it starts the compiled daemon (the binary is then built
 * once, before it), the measurement and the tables. A section prints progress lines through `log` and never
 * judges a figure (STYLE rule 13).
 */
import { relative } from "node:path";
import { benchBinary } from "./harness.ts";

export interface BenchOptions {
  /** Fewer or shorter runs (never fewer than 3 per figure). */
  readonly quick: boolean;
  /** A progress line (one per run), printed as it happens. */
  readonly log: (line: string) => void;
}

export interface DaemonBenchOptions extends BenchOptions {
  /** The compiled daemon (benchBinary()). */
  readonly binary: string;
}

export type Section<R> = {
  /** The name `--only` takes. */
  readonly id: string;
  /** One line saying what is measured. */
  readonly title: string;
  format(result: R): string;
} & (
  | { readonly needsBinary: true; run(options: DaemonBenchOptions): Promise<R> }
  | { readonly needsBinary: false; run(options: BenchOptions): Promise<R> }
);

/** Runs the section with `options`, building (or reusing) the binary first when it needs one. */
export async function runSection<R>(section: Section<R>, options: BenchOptions): Promise<R> {
  return section.needsBinary ? section.run({ ...options, binary: await benchBinary() }) : section.run(options);
}

/** The `import.meta.main` of a section's file: `[--quick]` only (anything else: usage, exit 2), then its tables. */
export async function runAlone<R>(section: Section<R>, args: readonly string[] = process.argv.slice(2)): Promise<void> {
  const unknown = args.filter((arg) => arg !== "--quick");
  if (unknown.length > 0) {
    console.error(`usage: bun ${relative(process.cwd(), process.argv[1] ?? "")} [--quick]   (unknown: ${unknown.join(" ")})`);
    process.exit(2);
  }
  const quick = args.includes("--quick");
  console.log(`${section.title}${quick ? " (--quick)" : ""}, ${new Date().toISOString()}, bun ${Bun.version}`);
  const started = performance.now();
  const result = await runSection(section, { quick, log: (line) => console.log(line) });
  console.log(`\n${section.format(result)}`);
  console.log(`\n${((performance.now() - started) / 1000).toFixed(1)} s`);
}
