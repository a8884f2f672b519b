/**
 * The durable intake: plans a webhook's observation and writes the jobs and the commit's new knowledge in one
 * SQLite transaction, before the webhook is answered 202. An event whose jobs would take the outbox past
 * `maxDepth` is refused whole (503 with Retry-After) instead of growing without bound, and so is one that cannot be
 * stored (503 while storage fails, see storage-health.ts).
 */
import { IntakeFullError, IntakeUnavailableError, type Intake } from "../core/intake.ts";
import { reconcilerId, type Job } from "../core/model.ts";
import { planJobs } from "../core/planner.ts";
import { describeStorageError, isStorageError, type StorageHealth } from "./storage-health.ts";
import type { IntakeStore } from "./types.ts";

/** What a full outbox tells senders to wait; Flux and Argo CD retry failed webhooks. */
const FULL_RETRY_AFTER_SECONDS = 30;

/** What senders are told to wait while the outbox cannot be written (a full disk, a read-only volume). */
const STORAGE_RETRY_AFTER_SECONDS = 10;

type Submitted = Parameters<Intake["submit"]>;

interface Waiting {
  readonly instance: Submitted[0];
  readonly observation: Submitted[1];
  resolve(jobs: readonly Job[]): void;
  reject(error: unknown): void;
}

export function createOutboxIntake(options: {
  store: IntakeStore;
  maxDepth: () => number;
  /** The pending depth the maxDepth check reads; the store's own count unless given (PostgreSQL: a cached one). */
  depth?: () => Promise<number>;
  now?: () => number;
  /** Called after each commit with jobs, to wake the worker. */
  onEnqueued?: () => void;
  /** Whether the outbox can be written; the intake reports its own failures and successes to it. */
  health?: StorageHealth;
}): Intake {
  const now = options.now ?? Date.now;
  const pendingDepth = options.depth ?? (() => options.store.pendingDepth());
  /** The depth at which the last event was refused for room: not ready until the outbox drains below it. */
  let refusedAtDepth: number | undefined;
  /** The webhooks of this turn of the event loop, stored together (group commit). */
  let waiting: Waiting[] = [];
  const isFull = async () => {
    const depth = await pendingDepth();
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

  /** The outbox full for an event that would add `wanted` jobs at `depth` pending. */
  function full(depth: number, wanted: number) {
    refusedAtDepth = depth;
    return new IntakeFullError(
      `outbox full: ${depth} jobs pending and this event would add ${wanted} (outbox.maxDepth ${options.maxDepth()}); ` +
        "a target is probably down — see `gitops-connector outbox stats`",
      FULL_RETRY_AFTER_SECONDS,
    );
  }


  /**
   * Group commit: the webhooks that arrive in one turn of the event loop are stored in one transaction (each in
   * a savepoint of its own) and each is answered once it has committed; a driver without batches gets them one
   * at a time. A plan that would take the outbox past maxDepth is rolled back alone.
   */
  function submitOrRefuse(instance: Submitted[0], observation: Submitted[1]): Promise<readonly Job[]> {
    if (options.store.submitBatch === undefined) return submitAlone(instance, observation);
    return new Promise((resolve, reject) => {
      waiting.push({ instance, observation, resolve, reject });
      if (waiting.length === 1) setImmediate(() => void flush());
    });
  }

  async function flush(): Promise<void> {
    const batch = waiting;
    waiting = [];
    try {
      const depth = await pendingDepth();
      let left = options.maxDepth() - depth;
      const at = now();
      const outcomes = await options.store.submitBatch!(
        batch.map(({ instance, observation }) => ({
          instance: instance.name,
          commit: observation.commit,
          now: at,
          reconciler: reconcilerId(observation.reconciler),
          plan: (known, context) => {
            if (left <= 0) throw full(depth, 0);
            const plan = planJobs(observation, instance, known, context.lastFinished);
            // Thrown inside its savepoint, so nothing of this event is stored: Flux and Argo CD send it again.
            if (plan.jobs.length > left) throw full(depth, plan.jobs.length);
            left -= plan.jobs.length;
            return plan;
          },
        })),
      );
      outcomes.forEach((outcome, index) => ("error" in outcome ? batch[index]!.reject(outcome.error) : batch[index]!.resolve(outcome.jobs)));
      if (outcomes.some((outcome) => "jobs" in outcome && outcome.jobs.length > 0)) options.onEnqueued?.();
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    }
  }

  /** One webhook, one transaction. */
  async function submitAlone(instance: Submitted[0], observation: Submitted[1]) {
    const depth = await pendingDepth();
    const left = options.maxDepth() - depth;
    if (left <= 0) throw full(depth, 0);
    const jobs = await options.store.submit(
      instance.name,
      observation.commit,
      (known, context) => {
        const plan = planJobs(observation, instance, known, context.lastFinished);
        // Thrown inside the transaction, so nothing of this event is stored: Flux and Argo CD send it again.
        if (plan.jobs.length > left) throw full(depth, plan.jobs.length);
        return plan;
      },
      now(),
      reconcilerId(observation.reconciler),
    );
    if (jobs.length > 0) options.onEnqueued?.();
    return jobs;
  }
}
