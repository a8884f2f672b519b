/**
 * The durable intake: plans a webhook's observation and writes the jobs and the commit's new knowledge in one
 * SQLite transaction, before the webhook is answered 202. An event whose jobs would take the outbox past
 * `maxDepth` is refused whole (503 with Retry-After) instead of growing without bound, and so is one that cannot be
 * stored (503 while storage fails, see storage-health.ts).
 */
import { IntakeFullError, IntakeUnavailableError, type Intake } from "../core/intake.ts";
import { reconcilerId } from "../core/model.ts";
import { planJobs } from "../core/planner.ts";
import { describeStorageError, isStorageError, type StorageHealth } from "./storage-health.ts";
import type { IntakeStore } from "./types.ts";

/** What a full outbox tells senders to wait; Flux and Argo CD retry failed webhooks. */
const FULL_RETRY_AFTER_SECONDS = 30;

/** What senders are told to wait while the outbox cannot be written (a full disk, a read-only volume). */
const STORAGE_RETRY_AFTER_SECONDS = 10;

export function createOutboxIntake(options: {
  store: IntakeStore;
  maxDepth: () => number;
  now?: () => number;
  /** Called after each commit with jobs, to wake the worker. */
  onEnqueued?: () => void;
  /** Whether the outbox can be written; the intake reports its own failures and successes to it. */
  health?: StorageHealth;
}): Intake {
  const now = options.now ?? Date.now;
  /** The depth at which the last event was refused for room: not ready until the outbox drains below it. */
  let refusedAtDepth: number | undefined;
  const isFull = async () => {
    const depth = await options.store.pendingDepth();
    if (refusedAtDepth !== undefined && depth < refusedAtDepth) refusedAtDepth = undefined;
    return depth >= options.maxDepth() || refusedAtDepth !== undefined;
  };
  const unavailable = (error: unknown) =>
    new IntakeUnavailableError(
      `outbox storage failing (${describeStorageError(error)}): the event was not stored; retry later — see /readyz and the README's "Sizing the outbox volume"`,
      STORAGE_RETRY_AFTER_SECONDS,
    );
  return {
    async submit(instance, observation) {
      try {
        const jobs = await submitOrRefuse(instance, observation);
        options.health?.ok();
        return jobs;
      } catch (error) {
        if (!isStorageError(error)) throw error;
        options.health?.failed("intake", error);
        throw unavailable(error);
      }
    },
    async readiness() {
      const failing = options.health?.failing();
      if (failing) return { ready: false, reason: `outbox storage failing: ${failing}` };
      try {
        return (await isFull()) ? { ready: false, reason: `outbox full (outbox.maxDepth ${options.maxDepth()})` } : { ready: true };
      } catch (error) {
        if (!isStorageError(error)) throw error;
        options.health?.failed("intake", error);
        return { ready: false, reason: `outbox storage failing: ${describeStorageError(error)}` };
      }
    },
  };

  /** Plans and stores in one transaction; a plan that would take the outbox past maxDepth is rolled back. */
  async function submitOrRefuse(instance: Parameters<Intake["submit"]>[0], observation: Parameters<Intake["submit"]>[1]) {
    const depth = await options.store.pendingDepth();
    const left = options.maxDepth() - depth;
    const full = (wanted: number) => {
      refusedAtDepth = depth;
      return new IntakeFullError(
        `outbox full: ${refusedAtDepth} jobs pending and this event would add ${wanted} (outbox.maxDepth ${options.maxDepth()}); ` +
          "a target is probably down — see `gitops-connector outbox stats`",
        FULL_RETRY_AFTER_SECONDS,
      );
    };
    if (left <= 0) throw full(0);
    const jobs = await options.store.submit(
      instance.name,
      observation.commit,
      (known, context) => {
        const plan = planJobs(observation, instance, known, context.lastFinished);
        // Thrown inside the transaction, so nothing of this event is stored: Flux and Argo CD send it again.
        if (plan.jobs.length > left) throw full(plan.jobs.length);
        return plan;
      },
      now(),
      reconcilerId(observation.reconciler),
    );
    if (jobs.length > 0) options.onEnqueued?.();
    return jobs;
  }
}
