/**
 * The command line (DESIGN §3): `serve`, `check-config`, `outbox`, `import-gitopsconfig`, `promote`, `version`. Exit codes:
 * 0 ok, 2 bad usage or config, 1 runtime failure. Each command lives in its own file here.
 */
import { basename } from "node:path";
import { PRODUCT, VERSION } from "../core/version.ts";
import { EXIT_OK, EXIT_USAGE, parse } from "./args.ts";
import { checkConfig } from "./check-config.ts";
import { importGitOpsConfig } from "./import-gitopsconfig.ts";
import { runOutboxCommand } from "./outbox.ts";
import { runPromote } from "./promote.ts";
import { serve } from "./serve.ts";
import { MAIN_USAGE, VERSION_USAGE } from "./usage.ts";

/** Runs one command; the exit code, or undefined while `serve` keeps the process running. */
function main(argv: string[]): number | undefined {
  const [command, ...rest] = argv;
  switch (command) {
    case "serve":
      void serve(rest).then((code) => {
        if (code !== undefined) process.exit(code);
      });
      return undefined;
    case "check-config":
      return checkConfig(rest);
    case "outbox":
      void runOutboxCommand(rest).then((code) => process.exit(code));
      return undefined;
    case "import-gitopsconfig":
      return importGitOpsConfig(rest);
    case "promote":
      void runPromote(rest).then((code) => process.exit(code));
      return undefined;
    case "version":
      parse(rest, {}, VERSION_USAGE);
      console.log(`${PRODUCT} ${VERSION}`);
      return EXIT_OK;
    case "-h":
    case "--help":
    case "help":
      console.log(MAIN_USAGE);
      return EXIT_OK;
    case "--version":
      console.log(`${PRODUCT} ${VERSION}`);
      return EXIT_OK;
    default:
      console.error(command ? `${PRODUCT}: unknown command "${command}"\n\n${MAIN_USAGE}` : MAIN_USAGE);
      return EXIT_USAGE;
  }
}

/** Invoked through a link or copy named gitops-promotion, the binary is `gitops-connector promote`. */
const invokedAs = basename(process.argv0).replace(/\.exe$/, "");
const code = invokedAs === "gitops-promotion" ? main(["promote", ...process.argv.slice(2)]) : main(process.argv.slice(2));
if (code !== undefined) process.exit(code);
