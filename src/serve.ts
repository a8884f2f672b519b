/**
 * `gitops-connector serve`: assembles the daemon from the validated config — logger, intake, delivery, HTTP
 * server, config reloader — and owns its lifecycle (SIGHUP reload, SIGTERM/SIGINT graceful stop).
 */
import { resolve } from "node:path";
import { createMemoryLedger } from "./commit-ledger.ts";
import type { Config } from "./config/load.ts";
import { createConfigReloader } from "./config/reload.ts";
import { createDryRunDelivery } from "./dry-run.ts";
import { createDirectIntake, type Intake } from "./intake.ts";
import type { Logger, SecretRedactor } from "./observability/logger.ts";
import { createMetrics } from "./observability/metrics.ts";
import { translate } from "./operators/index.ts";
import { createApp } from "./server/app.ts";
import type { WebhookSettings } from "./server/webhook.ts";
import { PRODUCT, VERSION } from "./version.ts";
import type { LoadResult } from "./config/load.ts";

export interface ServeOptions {
  config: Config;
  /** Loads the config again from the same source, for reloads. */
  reload: () => LoadResult;
  /** The file to watch for changes; undefined in legacy env mode. */
  watchFile?: string;
  port?: number;
  dataDir: string;
  dryRun: boolean;
  logger: Logger;
  redactor: SecretRedactor;
}

export interface RunningDaemon {
  readonly url: string;
  /** Reloads the config now (SIGHUP); false when the new config was rejected and the old one kept. */
  reload(trigger: string): boolean;
  stop(reason: string): Promise<void>;
}

function toWebhookSettings(config: Config): WebhookSettings {
  return {
    maxBodyBytes: config.server.maxBodyBytes,
    auth: { hmacKeys: config.hmacKeys, bearerTokens: config.bearerTokens },
    instances: config.instances,
  };
}

export function startDaemon(options: ServeOptions): RunningDaemon {
  const { logger, redactor } = options;
  let config = options.config;
  let settings = toWebhookSettings(config);
  let draining = false;
  redactor.setSecrets(config.secrets);

  const metrics = createMetrics();
  const delivery = createDryRunDelivery({ logger, instanceNamed: (name) => config.instances.find((instance) => instance.name === name) });
  const directIntake = createDirectIntake({ ledger: createMemoryLedger(), delivery, logger });
  const intake: Intake = {
    submit(instance, observation) {
      const jobs = directIntake.submit(instance, observation);
      for (const job of jobs) metrics.jobsPlanned.inc({ kind: job.kind, target: job.target });
      return jobs;
    },
    readiness: () => directIntake.readiness(),
  };

  const app = createApp({
    settings: () => settings,
    intake,
    translate,
    isDraining: () => draining,
    logger,
    metrics,
    readiness: () => (draining ? { ready: false, reason: "draining" } : intake.readiness()),
  });

  const port = options.port ?? config.server.port;
  app.listen({ hostname: config.server.host, port });
  const url = `http://${config.server.host}:${app.server?.port ?? port}`;

  const reloader = createConfigReloader({
    load() {
      const next = options.reload();
      if (!next.ok) metrics.configReloads.inc({ result: "failure" });
      return next;
    },
    watchFile: options.watchFile,
    logger,
    onReload(next) {
      redactor.setSecrets([...config.secrets, ...next.secrets]);
      if (next.server.port !== config.server.port || next.server.host !== config.server.host) {
        logger.warn({ component: "config" }, "server.host/server.port changed: takes effect on restart");
      }
      config = next;
      settings = toWebhookSettings(next);
      redactor.setSecrets(next.secrets);
      metrics.configReloads.inc({ result: "success" });
    },
  });
  reloader.start();

  logger.info(
    {
      component: "daemon",
      version: VERSION,
      url,
      dryRun: options.dryRun,
      dataDir: resolve(options.dataDir),
      config: config.source,
      instances: config.instances.map((instance) => instance.name),
    },
    `${PRODUCT} listening`,
  );

  return {
    url,
    reload: (trigger) => reloader.reload(trigger),
    async stop(reason) {
      if (draining) return;
      draining = true;
      logger.info({ component: "daemon", reason }, "stopping: no new webhooks accepted");
      reloader.stop();
      await app.stop();
      logger.info({ component: "daemon" }, "stopped");
    },
  };
}
