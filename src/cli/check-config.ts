/**
 * `gitops-connector check-config`: loads the config as `serve` would (schema, `${…}` expansion, the tokens a live
 * run needs), compiles its instances, and prints one line per instance; every error with its path otherwise.
 */
import { describeInstance, formatConfigErrors, loadConfig, resolveConfigSource } from "../config/load.ts";
import { PRODUCT, USER_AGENT } from "../core/version.ts";
import { compileInstances } from "../instances/compile.ts";
import { createLogger } from "../observability/logger.ts";
import { EXIT_OK, EXIT_USAGE, parse } from "./args.ts";
import { CHECK_CONFIG_USAGE } from "./usage.ts";

export function checkConfig(args: string[]): number {
  const values = parse(args, { config: { type: "string" }, "dry-run": { type: "boolean" } }, CHECK_CONFIG_USAGE);
  const source = resolveConfigSource({ flag: values.config as string | undefined, env: process.env });
  if (!source.ok) {
    console.error(`${PRODUCT}: ${source.error}`);
    return EXIT_USAGE;
  }
  const result = loadConfig({ source: source.source, env: process.env });
  if (!result.ok) {
    for (const line of formatConfigErrors(result.errors)) console.error(line);
    console.error(`${result.errors.length} error${result.errors.length === 1 ? "" : "s"} in ${source.source.description}`);
    return EXIT_USAGE;
  }
  // A live run needs its tokens; `--dry-run` checks the config as a dry run would use it, which calls nothing.
  if (result.config.missingTokens.length > 0) {
    const dryRun = values["dry-run"] === true;
    for (const line of formatConfigErrors(result.config.missingTokens)) console.error(dryRun ? `warning: ${line}` : line);
    if (!dryRun) {
      const count = result.config.missingTokens.length;
      console.error(`${count} error${count === 1 ? "" : "s"} in ${source.source.description} (a --dry-run needs no tokens: check-config --dry-run)`);
      return EXIT_USAGE;
    }
  }
  // Builds every repository and orchestrator as serve does, so what passes here is what serve runs.
  compileInstances(result.config.instances, { userAgent: USER_AGENT, logger: createLogger({ level: "silent" }) });
  console.log(`config ok${values["dry-run"] === true ? " for --dry-run" : ""}: ${result.config.source}`);
  for (const instance of result.config.instances) console.log(describeInstance(instance));
  return EXIT_OK;
}

