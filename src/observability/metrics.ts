/**
 * Prometheus metrics (names per DESIGN §10) on a registry of our own, served at GET /metrics. prom-client
 * does the text format; this file only declares what we count. Every label value comes from the config
 * (instance names, targets built from its URLs and names) or from a fixed set (results, kinds, outcomes,
 * classes), so no request can add series and no token can become a label.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { OUTBOUND_CLASSES } from "./outbound.ts";
import { VERSION } from "../core/version.ts";

/** Read at scrape time; a store that waits (PostgreSQL) answers with promises, which the scrape awaits. */
export interface OutboxGauges {
  /** Free bytes on the outbox's volume, when known. */
  freeBytes?(): number | undefined;
  depth(): number | Promise<number>;
  /** Jobs that gave up (kept for `outbox dead` and `outbox retry`). */
  dead(): number | Promise<number>;
  /** outbox.maxDepth of the running config: pending jobs at which webhooks are answered 503. */
  maxDepth(): number;
  oldestPendingAt(): number | undefined | Promise<number | undefined>;
  /** Targets waiting out a rate limit now, with their pending jobs. */
  rateLimited(): readonly { readonly target: string; readonly until: number; readonly pending: number }[] | Promise<readonly { readonly target: string; readonly until: number; readonly pending: number }[]>;
}

export interface Metrics {
  readonly registry: Registry;
  readonly webhooks: Counter<"operator" | "instance" | "result">;
  /** When the last webhook arrived, whatever its result; the daemon's start until the first one. */
  readonly lastWebhook: Gauge;
  /** Jobs entering the outbox: planned from webhooks, or found by the abandoned-PR sweep. */
  readonly jobsPlanned: Counter<"kind" | "target">;
  /** Delivery attempts by outcome: delivered and dead end a job, retried means another attempt follows. */
  readonly jobs: Counter<"kind" | "target" | "outcome">;
  readonly deliverySeconds: Histogram<"kind" | "outcome">;
  readonly outboundResponses: Counter<"target" | "class">;
  readonly configReloads: Counter<"result">;
  /** Outbox reads and writes that failed (a full disk, a read-only volume, a lock held past busy_timeout). */
  readonly storageErrors: Counter<"operation">;
  /** Points the outbox gauges at a live store (read at scrape time). */
  observeOutbox(gauges: OutboxGauges): void;
  /** Points the instances gauge at the running config (read at scrape time). */
  observeInstances(count: () => number): void;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const buildInfo = new Gauge({ name: "gitops_connector_build_info", help: "Build information", labelNames: ["version"], registers: [registry] });
  buildInfo.set({ version: VERSION }, 1);
  let outbox: OutboxGauges | undefined;
  let instances: (() => number) | undefined;
  new Gauge({
    name: "gitops_connector_instances",
    help: "Instances in the running config",
    registers: [registry],
    collect() {
      if (instances) this.set(instances());
    },
  });
  // Set from the start, so "no webhook for an hour" can fire for a daemon that never received one.
  const lastWebhook = new Gauge({
    name: "gitops_connector_last_webhook_timestamp_seconds",
    help: "Unix time of the last webhook received, whatever its result; the daemon's start time until the first",
    registers: [registry],
  });
  lastWebhook.setToCurrentTime();
  new Gauge({
    name: "gitops_connector_outbox_depth",
    help: "Pending jobs in the outbox (in flight included)",
    registers: [registry],
    async collect() {
      if (outbox) this.set(await outbox.depth());
    },
  });
  new Gauge({
    name: "gitops_connector_outbox_dead_jobs",
    help: "Jobs that gave up after outbox.maxAttempts or a permanent error (gitops-connector outbox dead lists them)",
    registers: [registry],
    async collect() {
      if (outbox) this.set(await outbox.dead());
    },
  });
  new Gauge({
    name: "gitops_connector_outbox_max_depth",
    help: "outbox.maxDepth: pending jobs at which webhooks are answered 503",
    registers: [registry],
    collect() {
      if (outbox) this.set(outbox.maxDepth());
    },
  });
  new Gauge({
    name: "gitops_connector_outbox_oldest_pending_seconds",
    help: "Age of the oldest pending job in seconds; 0 when none is pending",
    registers: [registry],
    async collect() {
      const oldest = await outbox?.oldestPendingAt();
      this.set(oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest) / 1000));
    },
  });
  new Gauge({
    name: "gitops_connector_outbox_volume_free_bytes",
    help: "Free bytes on the outbox's volume (absent for an in-memory outbox)",
    registers: [registry],
    collect() {
      this.reset();
      const free = outbox?.freeBytes?.();
      if (free !== undefined) this.set(free);
    },
  });
  // One series per target while it waits out a rate limit; a target whose wait is over drops out.
  new Gauge({
    name: "gitops_connector_outbox_rate_limited_jobs",
    help: "Pending jobs of a target that waits out a rate limit (Retry-After, GitHub's reset), by target",
    labelNames: ["target"],
    registers: [registry],
    async collect() {
      const limited = (await outbox?.rateLimited()) ?? [];
      this.reset();
      for (const blocked of limited) this.set({ target: blocked.target }, blocked.pending);
    },
  });
  new Gauge({
    name: "gitops_connector_outbox_rate_limit_remaining_seconds",
    help: "How long a rate-limited target still waits before it is called again, by target",
    labelNames: ["target"],
    registers: [registry],
    async collect() {
      const limited = (await outbox?.rateLimited()) ?? [];
      this.reset();
      const now = Date.now();
      for (const blocked of limited) this.set({ target: blocked.target }, Math.max(0, (blocked.until - now) / 1000));
    },
  });
  const configReloads = new Counter({
    name: "gitops_connector_config_reloads_total",
    help: "Config reloads, by result (success, failure)",
    labelNames: ["result"],
    registers: [registry],
  });
  // Both series exist from the start, so an alert on increase(…{result="failure"}) sees the first failure.
  for (const result of ["success", "failure"]) configReloads.inc({ result }, 0);
  const storageErrors = new Counter({
    name: "gitops_connector_storage_errors_total",
    help: "Outbox reads and writes that failed, by operation (intake, claim, record, probe, schedule)",
    labelNames: ["operation"],
    registers: [registry],
  });
  for (const operation of ["intake", "claim", "record", "probe", "schedule"]) storageErrors.inc({ operation }, 0);
  return {
    registry,
    webhooks: new Counter({
      name: "gitops_connector_webhooks_total",
      help: "Webhooks received, by operator, instance (a configured one or unknown) and result",
      labelNames: ["operator", "instance", "result"],
      registers: [registry],
    }),
    jobsPlanned: new Counter({
      name: "gitops_connector_jobs_planned_total",
      help: "Jobs enqueued in the outbox (planned from webhooks or by the abandoned-PR sweep), by kind and target",
      labelNames: ["kind", "target"],
      registers: [registry],
    }),
    jobs: new Counter({
      name: "gitops_connector_jobs_total",
      help: "Delivery attempts, by kind, target and outcome (delivered, retried, rate_limited, dead)",
      labelNames: ["kind", "target", "outcome"],
      registers: [registry],
    }),
    deliverySeconds: new Histogram({
      name: "gitops_connector_delivery_seconds",
      help: "Duration of delivery attempts in seconds, by kind and outcome (delivered, retried, rate_limited, dead)",
      labelNames: ["kind", "outcome"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    outboundResponses: new Counter({
      name: "gitops_connector_outbound_responses_total",
      help: `Outbound HTTP calls to providers and subscribers, by target and class (${OUTBOUND_CLASSES.join(", ")})`,
      labelNames: ["target", "class"],
      registers: [registry],
    }),
    lastWebhook,
    configReloads,
    storageErrors,
    observeOutbox(gauges) {
      outbox = gauges;
    },
    observeInstances(count) {
      instances = count;
    },
  };
}
