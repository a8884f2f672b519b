#!/usr/bin/env bun
/**
 * CLI entry: `serve`, `check-config`, `outbox`, `import-gitopsconfig`, `version` (DESIGN §3, §14). Exit codes: 0 ok, 2 bad usage or config,
 * 1 runtime failure. Parses arguments with node:util's parseArgs; everything else lives in its own module.
 */
import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";
import { CHECK_CONFIG_USAGE, IMPORT_USAGE, MAIN_USAGE, SERVE_USAGE, VERSION_USAGE } from "./usage.ts";
import { importGitOpsConfigs } from "../config/import-gitopsconfig.ts";
import { describeInstance, formatConfigErrors, loadConfig, resolveConfigSource } from "../config/load.ts";
import { createLogger, createSecretRedactor, isLogLevel } from "../observability/logger.ts";
import { runOutboxCommand } from "./outbox.ts";
import { startDaemon } from "./serve.ts";
import { PRODUCT, VERSION } from "../core/version.ts";

const EXIT_OK = 0;
const EXIT_RUNTIME = 1;
const EXIT_USAGE = 2;

type Options = Record<string, { type: "string" | "boolean"; short?: string }>;

function parse(args: string[], options: Options, usage: string) {
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

function checkConfig(args: string[]): number {
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
  console.log(`config ok${values["dry-run"] === true ? " for --dry-run" : ""}: ${result.config.source}`);
  for (const instance of result.config.instances) console.log(describeInstance(instance));
  return EXIT_OK;
}

function importGitOpsConfig(args: string[]): number {
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

function serve(args: string[]): number | undefined {
  const values = parse(
    args,
    { config: { type: "string" }, port: { type: "string" }, "data-dir": { type: "string" }, "dry-run": { type: "boolean" }, "log-level": { type: "string" } },
    SERVE_USAGE,
  );
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    console.error(`${PRODUCT}: --port must be an integer from 0 to 65535, got "${values.port}"`);
    return EXIT_USAGE;
  }
  // Precedence: --log-level, then LOG_LEVEL, then the config's logLevel, then info. An empty LOG_LEVEL (a
  // Kubernetes manifest rendering an unset value) counts as unset.
  const levelSource = values["log-level"] !== undefined ? "--log-level" : "LOG_LEVEL";
  const levelFlag = (values["log-level"] as string | undefined) ?? (process.env.LOG_LEVEL || undefined);
  if (levelFlag !== undefined && !isLogLevel(levelFlag)) {
    console.error(`${PRODUCT}: ${levelSource} must be one of fatal, error, warn, info, debug, trace, silent; got "${levelFlag}"`);
    return EXIT_USAGE;
  }

  const redactor = createSecretRedactor();
  const bootLogger = createLogger({ level: levelFlag ?? "info", redactor });
  const source = resolveConfigSource({ flag: values.config as string | undefined, env: process.env });
  if (!source.ok) {
    bootLogger.error({ component: "config" }, source.error);
    return EXIT_USAGE;
  }
  const load = () => loadConfig({ source: source.source, env: process.env });
  const result = load();
  if (!result.ok) {
    for (const error of result.errors) bootLogger.error({ component: "config", path: error.path }, error.message);
    bootLogger.error({ component: "config" }, `${result.errors.length} config error(s) in ${source.source.description}; not starting`);
    return EXIT_USAGE;
  }
  const logger = levelFlag ? bootLogger : createLogger({ level: result.config.logLevel ?? "info", redactor });

  const dryRun = values["dry-run"] === true;
  for (const error of result.config.missingTokens) {
    (dryRun ? logger.warn : logger.error).call(logger, { component: "config", path: error.path }, `${error.path}: ${error.message}${dryRun ? " (fine for --dry-run, which calls nothing)" : ""}`);
  }
  if (!dryRun && result.config.missingTokens.length > 0) {
    logger.error({ component: "config" }, `${result.config.missingTokens.length} token(s) missing in ${source.source.description}; not starting (--dry-run needs none)`);
    return EXIT_USAGE;
  }
  // Handlers go in before the server starts: a SIGTERM that arrives right after "listening" is logged must
  // still stop gracefully, not kill the process with the default action.
  let daemon: ReturnType<typeof startDaemon> | undefined;
  let stopSignal: string | undefined;
  const stop = (signal: string) => {
    stopSignal ??= signal;
    if (!daemon) return; // still starting: stopped right after start below
    daemon.stop(signal).then(
      () => process.exit(EXIT_OK),
      (error: unknown) => {
        logger.error({ component: "daemon", err: error }, "error while stopping");
        process.exit(EXIT_RUNTIME);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGHUP", () => daemon?.reload("SIGHUP"));

  try {
    daemon = startDaemon({
      config: result.config,
      reload: load,
      watchFile: source.source.kind === "file" ? source.source.path : undefined,
      port,
      dataDir: (values["data-dir"] as string | undefined) ?? "./data",
      dryRun,
      logger,
      logLevelFromCli: levelFlag !== undefined,
      redactor,
      onFatal() {
        const stopping = daemon ? daemon.stop("fatal") : Promise.resolve();
        // Bounded: whatever the stop waits for, the process goes.
        const deadline = setTimeout(() => process.exit(EXIT_RUNTIME), result.config.server.shutdownGraceMs + 2_000);
        void stopping.finally(() => {
          clearTimeout(deadline);
          process.exit(EXIT_RUNTIME);
        });
      },
    });
  } catch (error) {
    logger.fatal({ component: "daemon", err: error }, `could not start: ${(error as Error).message}`);
    return EXIT_RUNTIME;
  }
  if (stopSignal) stop(stopSignal);
  return undefined; // keep running
}

/** Runs one command; the exit code, or undefined while `serve` keeps the process running. */
function main(argv: string[]): number | undefined {
  const [command, ...rest] = argv;
  switch (command) {
    case "serve":
      return serve(rest);
    case "check-config":
      return checkConfig(rest);
    case "outbox":
      return runOutboxCommand(rest);
    case "import-gitopsconfig":
      return importGitOpsConfig(rest);
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

const code = main(process.argv.slice(2));
if (code !== undefined) process.exit(code);
