/**
 * `gitops-connector serve`: the flags, the log level's precedence, the config's first load and its token check,
 * and the signals; src/cli/daemon.ts assembles and runs the daemon itself.
 */
import { loadConfig, resolveConfigSource } from "../config/load.ts";
import { createLogger, createSecretRedactor, isLogLevel } from "../observability/logger.ts";
import { PRODUCT } from "../core/version.ts";
import { EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, parse } from "./args.ts";
import { startDaemon } from "./daemon.ts";
import { SERVE_USAGE } from "./usage.ts";

/** The exit code, or undefined while the daemon runs. */
/** Resolves with the exit code, or undefined while the daemon keeps the process running. */
export async function serve(args: string[]): Promise<number | undefined> {
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
  let daemon: Awaited<ReturnType<typeof startDaemon>> | undefined;
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
    daemon = await startDaemon({
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

