/**
 * Delivering promotion jobs: the outbox retries what fails (a DeliveryError from the provider), and what no retry
 * can fix (no gitops-promotion.yaml, a marker missing) goes dead with its reason, shown by `outbox dead`.
 */
import { DeliveryError } from "../core/delivery.ts";
import type { PromotionRecord } from "../core/deployments.ts";
import type { PromotionJob, PromotionNewJob } from "../core/model.ts";
import type { Instance } from "../instances/compile.ts";
import type { Logger } from "../observability/logger.ts";
import { advancePromotion } from "../promotion/advance.ts";
import { promoteNew, type CommandContext } from "../promotion/commands.ts";
import { PromotionConfigError } from "../promotion/config.ts";
import { MarkerError } from "../promotion/edit-manifest.ts";
import { PromotionError } from "../promotion/promote-to.ts";

function contextOf(instance: Instance, log: Logger): CommandContext {
  if (instance.promotion === undefined) {
    throw new DeliveryError(`instance ${instance.name} no longer has promotion on; its promotion job cannot be delivered`, { permanent: true });
  }
  return {
    repository: instance.promotion,
    warn: (message) => log.warn({ instance: instance.name }, message),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: () => Date.now(),
  };
}

/** Promotion's own errors are facts about the repository: permanent. Provider failures pass through classified. */
async function permanentOnPromotionErrors<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof PromotionError || error instanceof PromotionConfigError || error instanceof MarkerError) {
      throw new DeliveryError(error.message, { permanent: true });
    }
    throw error;
  }
}

export type { PromotionRecord };

type Record_ = ((record: PromotionRecord) => void) | undefined;

export async function deliverPromotion(job: PromotionJob, instance: Instance, log: Logger, record: Record_): Promise<void> {
  const context = contextOf(instance, log);
  const result = await permanentOnPromotionErrors(() => advancePromotion(context, job.payload));
  if (result.kind === "not-a-promotion") {
    log.debug({ instance: instance.name, commit: job.payload.commit, reason: result.reason }, "not a promotion reconciler");
    return;
  }
  for (const app of result.apps) {
    record?.({
      instance: instance.name,
      group: result.group,
      app: app.app,
      env: result.next,
      tag: app.tag,
      state: app.outcome === "blocked" ? "blocked" : app.outcome === "unchanged" || app.outcome === "skipped" ? "unchanged" : "open",
      ...(app.pullRequest !== undefined ? { pullRequest: { number: app.pullRequest, url: app.url ?? "" } } : {}),
      commit: job.payload.commit,
      chain: result.chain,
    });
  }
  log.info({ instance: instance.name, commit: job.payload.commit, group: result.group, env: result.env, next: result.next, apps: result.apps }, `promotion ${result.group}: ${result.env} → ${result.next}`);
}

export async function deliverPromotionNew(job: PromotionNewJob, instance: Instance, log: Logger, record: Record_): Promise<void> {
  const context = contextOf(instance, log);
  const outcome = await permanentOnPromotionErrors(() => promoteNew(context, job.payload));
  if (outcome.env !== undefined) {
    record?.({
      instance: instance.name,
      group: job.payload.group,
      app: job.payload.app,
      env: outcome.env,
      tag: job.payload.tag,
      state: outcome.kind === "created" || outcome.kind === "updated" ? "open" : "unchanged",
      ...(outcome.pullRequest ? { pullRequest: { number: outcome.pullRequest.number, url: outcome.pullRequest.url } } : {}),
    });
  }
  log.info({ instance: instance.name, group: job.payload.group, app: job.payload.app, tag: job.payload.tag, outcome: outcome.kind, ...(outcome.pullRequest ? { pullRequest: outcome.pullRequest.number } : {}) }, `promote new ${job.payload.group}/${job.payload.app} ${job.payload.tag}: ${outcome.kind}`);
}
