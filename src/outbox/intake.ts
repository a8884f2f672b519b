/**
 * The durable intake: plans a webhook's observation and writes the jobs and the commit's new knowledge in one
 * SQLite transaction, before the webhook is answered 202. At `maxDepth` pending jobs it refuses (503 with
 * Retry-After) instead of growing without bound.
 */
import { IntakeFullError, type Intake } from "../intake.ts";
import { reconcilerId } from "../model.ts";
import { planJobs } from "../planner.ts";
import type { OutboxStore } from "./types.ts";

/** What a full outbox tells senders to wait; Flux and Argo CD retry failed webhooks. */
const FULL_RETRY_AFTER_SECONDS = 30;

export function createOutboxIntake(options: {
  store: OutboxStore;
  maxDepth: () => number;
  now?: () => number;
  /** Called after each commit with jobs, to wake the worker. */
  onEnqueued?: () => void;
}): Intake {
  const now = options.now ?? Date.now;
  const depthLeft = () => options.maxDepth() - options.store.pendingDepth();
  return {
    submit(instance, observation) {
      if (depthLeft() <= 0) {
        throw new IntakeFullError(
          `outbox full: ${options.store.pendingDepth()} jobs pending (outbox.maxDepth ${options.maxDepth()}); a target is probably down — see \`gitops-connector outbox stats\``,
          FULL_RETRY_AFTER_SECONDS,
        );
      }
      const jobs = options.store.submit(
        instance.name,
        observation.commit,
        (known, context) => planJobs(observation, instance, known, context.lastFinished),
        now(),
        reconcilerId(observation.reconciler),
      );
      if (jobs.length > 0) options.onEnqueued?.();
      return jobs;
    },
    readiness: () => (depthLeft() > 0 ? { ready: true } : { ready: false, reason: `outbox full (outbox.maxDepth ${options.maxDepth()})` }),
  };
}
