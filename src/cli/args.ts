/** Argument parsing every command shares: node:util's parseArgs, `-h/--help`, and the exit codes (DESIGN §3). */
import { parseArgs } from "node:util";
import { PRODUCT } from "../core/version.ts";

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

export type Options = Record<string, { type: "string" | "boolean"; short?: string }>;

/** The flags, or the usage printed and the process ended (0 for --help, 2 for a bad flag). */
export function parse(args: string[], options: Options, usage: string): Record<string, string | boolean | undefined> {
  try {
    const parsed = parseArgs({ args, options: { ...options, help: { type: "boolean", short: "h" } }, allowPositionals: false, strict: true });
    if (parsed.values.help) {
      console.log(usage);
      process.exit(EXIT_OK);
    }
    return parsed.values as Record<string, string | boolean | undefined>;
  } catch (error) {
    console.error(`${PRODUCT}: ${(error as Error).message}\n\n${usage}`);
    process.exit(EXIT_USAGE);
  }
}
