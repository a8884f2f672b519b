/**
 * Prometheus metrics (names per DESIGN §10) on a registry of our own, served at GET /metrics. prom-client
 * does the text format; this file only declares what we count.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { VERSION } from "../version.ts";

export interface Metrics {
  readonly registry: Registry;
  readonly webhooks: Counter<"operator" | "instance" | "result">;
  readonly jobsPlanned: Counter<"kind" | "target">;
  readonly configReloads: Counter<"result">;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const buildInfo = new Gauge({ name: "gitops_connector_build_info", help: "Build information", labelNames: ["version"], registers: [registry] });
  buildInfo.set({ version: VERSION }, 1);
  return {
    registry,
    webhooks: new Counter({
      name: "gitops_connector_webhooks_total",
      help: "Webhooks received, by operator, instance and result",
      labelNames: ["operator", "instance", "result"],
      registers: [registry],
    }),
    jobsPlanned: new Counter({
      name: "gitops_connector_jobs_planned_total",
      help: "Jobs planned from webhooks, by kind and target",
      labelNames: ["kind", "target"],
      registers: [registry],
    }),
    configReloads: new Counter({
      name: "gitops_connector_config_reloads_total",
      help: "Config reloads, by result",
      labelNames: ["result"],
      registers: [registry],
    }),
  };
}
