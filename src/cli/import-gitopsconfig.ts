/** `gitops-connector import-gitopsconfig FILE|-`: the original's GitOpsConfig objects → our instances (DESIGN §14). */
import { readFileSync } from "node:fs";
import { importGitOpsConfigs } from "../config/import-gitopsconfig.ts";
import { PRODUCT } from "../core/version.ts";
import { EXIT_OK, EXIT_USAGE } from "./args.ts";
import { IMPORT_USAGE } from "./usage.ts";

export function importGitOpsConfig(args: string[]): number {
  const [file, ...extra] = args;
  if (file === "-h" || file === "--help") {
    console.log(IMPORT_USAGE);
    return EXIT_OK;
  }
  if (!file || extra.length > 0) {
    console.error(`${PRODUCT}: import-gitopsconfig takes one FILE, or - for stdin\n\n${IMPORT_USAGE}`);
    return EXIT_USAGE;
  }
  let text: string;
  try {
    text = readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (error) {
    console.error(`${PRODUCT}: cannot read ${file === "-" ? "stdin" : file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    return EXIT_USAGE;
  }
  const result = importGitOpsConfigs(text);
  if (!result.ok) {
    for (const error of result.errors) console.error(error);
    console.error(`${result.errors.length} error${result.errors.length === 1 ? "" : "s"}; nothing imported`);
    return EXIT_USAGE;
  }
  process.stdout.write(result.yaml);
  return EXIT_OK;
}

