/**
 * The dry-run delivery: every job becomes one JSON log line saying exactly what would be sent (method, URL,
 * body) and, for orchestrators, what would be read first. Makes no network call at all.
 */
import type { Delivery } from "../core/delivery.ts";
import { describeCommitsBetween, toStatusRequest, type GitProviderFields } from "../git/registry.ts";
import type { Job } from "../core/model.ts";
import type { Logger } from "../observability/logger.ts";
import { subscriberUrlOf } from "../subscribers/subscribers.ts";
import { describeOrchestratorCall, type OrchestratorFields } from "../orchestrators/registry.ts";

export type DryRunInstance = GitProviderFields & OrchestratorFields & { readonly name: string; readonly subscribers?: Readonly<Record<string, string>> };

/** What the job would do on the wire. */
export function describeJob(job: Job, instance: DryRunInstance | undefined): Record<string, unknown> {
  if (!instance) return { note: `instance ${job.instance} is no longer configured` };
  switch (job.kind) {
    case "status":
      return { request: toStatusRequest(instance, job.payload) };
    case "subscriber":
      return { request: { method: "POST", url: subscriberUrlOf(job.payload, instance.subscribers ?? {}) ?? `<subscriber ${job.payload.subscriber} no longer configured>`, body: job.payload.body } };
    case "orchestrator": {
      const plan = describeOrchestratorCall(instance, job.payload);
      return plan ? { reads: plan.reads, request: plan.request } : { note: "orchestrator NONE" };
    }
    case "abandoned-pr":
      return { note: `would fail the Azure Pipelines task waiting for abandoned PR ${job.payload.pullRequest}` };
    case "supersede":
      return {
        reads: [describeCommitsBetween(instance, job.payload.since, job.payload.commit)],
        note:
          `would tell each commit after ${job.payload.since} and before ${job.payload.commit} (first-parent chain, at most 100, ` +
          `none older than abandonedPrCutoffHours) this commit's ${job.payload.outcome}: its statuses, described as superseded, and its pipeline`,
      };
  }
}

export function createDryRunDelivery(options: {
  logger: Logger;
  instanceNamed: (name: string) => DryRunInstance | undefined;
}): Delivery {
  const log = options.logger.child({ component: "dry-run" });
  return {
    async deliver(job, _signal) {
      log.info(
        {
          job: { kind: job.kind, instance: job.instance, target: job.target, orderingKey: job.orderingKey },
          payload: job.payload,
          ...describeJob(job, options.instanceNamed(job.instance)),
        },
        `dry-run ${job.kind} job`,
      );
    },
  };
}
