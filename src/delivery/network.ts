/**
 * The network delivery: routes each job to the instance's git repository provider (status), its subscriber,
 * its CI/CD orchestrator (deployment finished, PR abandoned), or the superseded-commit reader (src/superseded.ts). Providers come from src/providers.ts, read per
 * job so a config reload applies at once. Every failure is a DeliveryError; config mistakes (a removed
 * instance, a missing token) are permanent, so the outbox does not retry what no retry can fix.
 */
import { DeliveryError, type Delivery } from "../core/delivery.ts";
import type { FetchLike } from "../clients/http.ts";
import type { AbandonedPullRequestJob, Job, OrchestratorJob } from "../core/model.ts";
import type { Logger } from "../observability/logger.ts";
import { createProviders, type ProviderInstance, type Providers } from "../providers.ts";
import { postToSubscriber, subscriberUrlOf } from "../subscribers/subscribers.ts";
import type { SupersededDelivery } from "./superseded.ts";

/** The instance settings delivery reads; a full InstanceConfig fits. */
export type DeliveryInstance = ProviderInstance & { readonly subscribers?: Readonly<Record<string, string>> };

export interface NetworkDeliveryOptions {
  /** The current config's instance by name; read per job so a reload applies at once. */
  readonly instanceNamed: (name: string) => DeliveryInstance | undefined;
  readonly logger: Logger;
  readonly fetch?: FetchLike;
  /** Shared with the abandoned-PR sweep; built here when not given. */
  readonly providers?: Providers;
  /** Tells the commits a finished one superseded; it plans through the outbox, so the daemon wires it. */
  readonly superseded?: SupersededDelivery;
}

/** `subscriber:<name>` (src/targets.ts) → `<name>`, for messages. */
function subscriberNameOf(target: string): string | undefined {
  return target.startsWith("subscriber:") ? target.slice("subscriber:".length) : undefined;
}

export function createNetworkDelivery(options: NetworkDeliveryOptions): Delivery {
  const log = options.logger.child({ component: "network-delivery" });
  const providers = options.providers ?? createProviders({ logger: log, fetch: options.fetch });

  async function deliverToOrchestrator(instance: DeliveryInstance, job: OrchestratorJob, signal: AbortSignal) {
    const orchestrator = providers.orchestratorOf(instance);
    if (!orchestrator) {
      log.debug({ instance: instance.name, commit: job.payload.commit }, "orchestrator NONE: nothing to notify");
      return;
    }
    await orchestrator.notify(job.payload, signal);
  }

  async function failAbandoned(instance: DeliveryInstance, job: AbandonedPullRequestJob, signal: AbortSignal) {
    const orchestrator = providers.orchestratorOf(instance);
    if (!orchestrator?.failAbandoned) {
      // The instance's orchestrator changed since the sweep queued this job: nothing waits on the PR any more.
      log.info({ instance: instance.name, pullRequest: job.payload.pullRequest }, "orchestrator no longer waits on pull requests; abandoned-PR job dropped");
      return;
    }
    await orchestrator.failAbandoned(job.payload.pullRequest, signal);
  }

  return {
    async deliver(job: Job, signal: AbortSignal) {
      const instance = options.instanceNamed(job.instance);
      if (!instance)
        throw new DeliveryError(
          `instance ${job.instance} is no longer configured; its ${job.kind} job for ${job.target} cannot be delivered`,
          { permanent: true },
        );
      switch (job.kind) {
        case "status":
          return providers.repositoryOf(instance).postStatus(job.payload, signal);
        case "subscriber": {
          const url = subscriberUrlOf(job.payload, instance.subscribers ?? {});
          if (url === undefined)
            throw new DeliveryError(`subscriber ${job.payload.subscriber} is no longer configured for instance ${job.instance}; its post cannot be delivered`, { permanent: true });
          return postToSubscriber(job.payload, url, signal, options.fetch, subscriberNameOf(job.target));
        }
        case "orchestrator":
          return deliverToOrchestrator(instance, job, signal);
        case "abandoned-pr":
          return failAbandoned(instance, job, signal);
        case "supersede":
          if (!options.superseded) throw new DeliveryError("superseded commits cannot be told here: no outbox to plan them in", { permanent: true });
          return options.superseded.deliver(job, signal);
      }
    },
  };
}
