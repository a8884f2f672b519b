/**
 * Delivery: where a job goes once the worker claims it. One table of job kinds says, for each, how it is delivered
 * (through its instance's repository, subscriber, orchestrator or the superseded-commit reader) and how it is
 * described; the network delivery runs the first, the dry run logs the second, so the two never disagree about
 * where a job goes. Instances are looked up by name per job, so a config reload applies at once. Every failure is
 * a DeliveryError; config mistakes (a removed instance, a removed subscriber) are permanent, so the outbox does
 * not retry what no retry can fix.
 */
import type { FetchLike } from "../core/http.ts";
import { DeliveryError, type Delivery } from "../core/delivery.ts";
import type { Job, JobKind } from "../core/model.ts";
import type { Instance } from "../instances/compile.ts";
import type { Logger } from "../observability/logger.ts";
import { postToSubscriber, subscriberUrlOf } from "../subscribers/subscribers.ts";
import type { SupersededDelivery } from "./superseded.ts";
import { deliverPromotion, deliverPromotionNew, type PromotionRecord } from "./promotion.ts";

export interface DeliveryContext {
  readonly log: Logger;
  readonly fetch?: FetchLike;
  /** Tells the commits a finished one superseded; it plans through the outbox, so the daemon wires it. */
  readonly superseded?: SupersededDelivery;
  /** Records what a promotion job did in the read model. */
  readonly recordPromotion?: (record: PromotionRecord) => void;
}

interface Handler<K extends JobKind> {
  deliver(job: Extract<Job, { kind: K }>, instance: Instance, context: DeliveryContext, signal: AbortSignal): Promise<void>;
  describe(job: Extract<Job, { kind: K }>, instance: Instance): Record<string, unknown>;
}

const HANDLERS: { readonly [K in JobKind]: Handler<K> } = {
  status: {
    deliver: (job, instance, _context, signal) => instance.repository.postStatus(job.payload, signal),
    describe: (job, instance) => ({ request: instance.repository.describeStatus(job.payload) }),
  },
  subscriber: {
    deliver(job, instance, context, signal) {
      const url = subscriberUrlOf(job.payload, instance.subscribers);
      if (url === undefined)
        throw new DeliveryError(`subscriber ${job.payload.subscriber} is no longer configured for instance ${job.instance}; its post cannot be delivered`, { permanent: true });
      const name = job.payload.subscriber ?? (job.target.startsWith("subscriber:") ? job.target.slice("subscriber:".length) : undefined);
      return postToSubscriber(job.payload, url, signal, context.fetch, name);
    },
    describe: (job, instance) => ({
      request: { method: "POST", url: subscriberUrlOf(job.payload, instance.subscribers) ?? `<subscriber ${job.payload.subscriber} no longer configured>`, body: job.payload.body },
    }),
  },
  orchestrator: {
    async deliver(job, instance, context, signal) {
      if (!instance.orchestrator) {
        context.log.debug({ instance: instance.name, commit: job.payload.commit }, "orchestrator NONE: nothing to notify");
        return;
      }
      await instance.orchestrator.notify(job.payload, signal);
    },
    describe(job, instance) {
      const plan = instance.orchestrator?.describe(job.payload);
      return plan ? { reads: plan.reads, request: plan.request } : { note: "orchestrator NONE" };
    },
  },
  "abandoned-pr": {
    async deliver(job, instance, context, signal) {
      const abandoned = instance.orchestrator?.abandoned;
      if (!abandoned) {
        // The instance's orchestrator changed since the sweep queued this job: nothing waits on the PR any more.
        context.log.info({ instance: instance.name, pullRequest: job.payload.pullRequest }, "orchestrator no longer waits on pull requests; abandoned-PR job dropped");
        return;
      }
      await abandoned.fail(job.payload.pullRequest, signal);
    },
    describe: (job) => ({ note: `would fail the Azure Pipelines task waiting for abandoned PR ${job.payload.pullRequest}` }),
  },
  promotion: {
    deliver: (job, instance, context) => deliverPromotion(job, instance, context.log, context.recordPromotion),
    describe: (job) => ({
      note: `would read gitops-promotion.yaml and, when ${job.payload.kustomization} is a promotion environment's reconciler, ${job.payload.outcome === "succeeded" ? "open the next environment's PRs" : "post failure on them"} for what ${job.payload.commit} contains`,
    }),
  },
  "promotion-new": {
    deliver: (job, instance, context) => deliverPromotionNew(job, instance, context.log, context.recordPromotion),
    describe: (job) => ({ note: `would run promote new --group ${job.payload.group} --app ${job.payload.app} --tag ${job.payload.tag}` }),
  },
  supersede: {
    deliver(job, _instance, context, signal) {
      if (!context.superseded) throw new DeliveryError("superseded commits cannot be told here: no outbox to plan them in", { permanent: true });
      return context.superseded.deliver(job, signal);
    },
    describe: (job, instance) => ({
      reads: [instance.repository.describeCommitsBetween(job.payload.since, job.payload.commit)],
      note:
        `would tell each commit after ${job.payload.since} and before ${job.payload.commit} (first-parent chain, at most 100, ` +
        `none older than abandonedPrCutoffHours) this commit's ${job.payload.outcome}: its statuses, described as superseded, and its pipeline`,
    }),
  },
};

function handlerOf<K extends JobKind>(job: Extract<Job, { kind: K }>): Handler<K> {
  return HANDLERS[job.kind as K];
}

/** What the job would do on the wire (the dry run's line). */
export function describeJob(job: Job, instance: Instance | undefined): Record<string, unknown> {
  if (!instance) return { note: `instance ${job.instance} is no longer configured` };
  return handlerOf(job).describe(job as never, instance);
}

export interface DeliveryOptions {
  /** The current config's instance by name. */
  readonly instanceNamed: (name: string) => Instance | undefined;
  readonly logger: Logger;
  readonly fetch?: FetchLike;
  readonly superseded?: SupersededDelivery;
  readonly recordPromotion?: (record: PromotionRecord) => void;
}

/** Sends every job to where it goes. */
export function createNetworkDelivery(options: DeliveryOptions): Delivery {
  const context: DeliveryContext = {
    log: options.logger.child({ component: "network-delivery" }),
    fetch: options.fetch,
    superseded: options.superseded,
    recordPromotion: options.recordPromotion,
  };
  return {
    async deliver(job, signal) {
      const instance = options.instanceNamed(job.instance);
      if (!instance)
        throw new DeliveryError(`instance ${job.instance} is no longer configured; its ${job.kind} job for ${job.target} cannot be delivered`, { permanent: true });
      await handlerOf(job).deliver(job as never, instance, context, signal);
    },
  };
}

/** Makes no call: every job becomes one JSON log line saying exactly what would be sent and read. */
export function createDryRunDelivery(options: Pick<DeliveryOptions, "instanceNamed" | "logger">): Delivery {
  const log = options.logger.child({ component: "dry-run" });
  return {
    async deliver(job) {
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
