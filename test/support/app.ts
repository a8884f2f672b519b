/** Builds the real HTTP app with an in-memory intake and the dry-run delivery, capturing every log line. */
import type { Delivery } from "../../src/core/delivery.ts";
import type { Intake } from "../../src/core/intake.ts";
import { createDryRunDelivery } from "../../src/delivery/router.ts";
import type { Instance } from "../../src/instances/compile.ts";
import type { Logger } from "../../src/observability/logger.ts";
import { createLogger, createSecretRedactor } from "../../src/observability/logger.ts";
import { createMetrics } from "../../src/observability/metrics.ts";
import { translate } from "../../src/operators/index.ts";
import { createApp } from "../../src/server/app.ts";
import type { WebhookSettings } from "../../src/server/webhook.ts";
import { githubInstance } from "./instances.ts";
import { createMemoryLedger, planWithLedger, type CommitLedger } from "./ledger.ts";

/** Plans against an in-memory ledger and delivers at once, keeping nothing on disk. */
export function createDirectIntake(options: { ledger: CommitLedger; delivery: Delivery; logger: Logger }): Intake {
  const log = options.logger.child({ component: "intake" });
  return {
    async submit(instance, observation) {
      const jobs = planWithLedger(options.ledger, observation, instance);
      for (const job of jobs) {
        options.delivery.deliver(job, AbortSignal.timeout(10_000)).catch((error: unknown) => log.error({ err: error, job: job.kind }, "delivery failed"));
      }
      return jobs;
    },
    readiness: async () => ({ ready: true }),
  };
}

export interface TestApp {
  app: ReturnType<typeof createApp>;
  logs: string[];
  setDraining(draining: boolean): void;
  /** Parsed dry-run job lines logged so far. */
  dryRunJobs(): Array<{ job: { kind: string; instance: string; target: string }; payload: any; request?: any; reads?: string[] }>;
}

export function buildTestApp(
  options: Partial<Omit<WebhookSettings, "instances">> & { instances?: readonly Instance[]; intake?: (base: Intake) => Intake; secrets?: string[] } = {},
): TestApp {
  const logs: string[] = [];
  const redactor = createSecretRedactor(options.secrets ?? []);
  const logger = createLogger({ level: "debug", redactor, write: (line) => void logs.push(line) });
  const instances: readonly Instance[] = options.instances ?? [githubInstance()];
  const settings: WebhookSettings = {
    maxBodyBytes: options.maxBodyBytes ?? 1_048_576,
    auth: options.auth ?? { hmacKeys: [], bearerTokens: [] },
    instances,
  };
  const delivery = createDryRunDelivery({ logger, instanceNamed: (name) => instances.find((instance) => instance.name === name) });
  const base = createDirectIntake({ ledger: createMemoryLedger(), delivery, logger });
  const intake = options.intake ? options.intake(base) : base;
  let draining = false;
  const app = createApp({
    settings: () => settings,
    intake,
    translate,
    isDraining: () => draining,
    logger,
    metrics: createMetrics(),
    readiness: async () => (draining ? { ready: false, reason: "draining" } : intake.readiness()),
  });
  return {
    app,
    logs,
    setDraining: (value) => void (draining = value),
    dryRunJobs: () => logs.map((line) => JSON.parse(line)).filter((entry) => entry.component === "dry-run"),
  };
}

export function post(path: string, body: string | Uint8Array | ReadableStream, headers: Record<string, string> = { "content-type": "application/json" }): Request {
  return new Request(`http://localhost${path}`, { method: "POST", body: body as BodyInit, headers });
}

export async function fixtureText(operator: "flux" | "argocd", name: string): Promise<string> {
  return Bun.file(new URL(`../fixtures/${operator}/${name}`, import.meta.url)).text();
}
