/**
 * The abandoned-PR sweep (DESIGN §7): a pipeline waiting on a PR that gets abandoned would otherwise wait until
 * its timeout. Every `scheduler.abandonedPrSweepSeconds` this lists, per instance whose orchestrator waits on
 * PRs (Azure Pipelines), the PRs abandoned within `abandonedPrCutoffHours`, and enqueues one job per PR to fail
 * its task. The outbox records each PR's once-key with its job, so a PR is handled at most once, across
 * restarts too; the job itself is retried like any other.
 */
import type { AbandonedPullRequestJob, Job } from "../core/model.ts";
import type { Instance } from "../instances/compile.ts";
import type { Logger } from "../observability/logger.ts";
import { withOutboundScope } from "../observability/outbound.ts";

const HOUR_MS = 3_600_000;

export interface AbandonedPrSweepOptions {
  /** The current config's instances; read per run so a reload applies. */
  readonly instances: () => readonly Instance[];
  /** Enqueues the job unless its once-key was ever enqueued (the outbox's enqueueOnce); true when enqueued. */
  readonly store: { enqueueOnce(onceKey: string, job: Job, now: number): Promise<boolean> };
  readonly cutoffHours: () => number;
  /** Bounds one instance's listing (the outbox's per-call timeout). */
  readonly timeoutMs: () => number;
  /** Called after jobs were enqueued (wakes the worker). */
  readonly onEnqueued: () => void;
  readonly logger: Logger;
  /** Aborts a sweep in progress when the daemon stops. */
  readonly stopSignal?: AbortSignal;
  readonly now?: () => number;
}

export interface AbandonedPrSweep {
  /** One sweep over every instance; never throws (each instance's failure is logged). Resolves with the jobs enqueued. */
  run(): Promise<number>;
}

/** The key under which a PR of an instance's repository is handled once. */
export function abandonedPrOnceKey(instance: Instance, pullRequest: number): string {
  return `abandoned-pr|${instance.name}|${instance.repository.target}|${pullRequest}`;
}

export function toAbandonedPrJob(instance: Instance, pullRequest: number, closedAt?: string): AbandonedPullRequestJob {
  return {
    kind: "abandoned-pr",
    instance: instance.name,
    target: instance.orchestrator?.target ?? `none:${instance.name}`,
    orderingKey: `${instance.name}|abandoned-pr|${pullRequest}`,
    payload: { pullRequest, ...(closedAt ? { closedAt } : {}) },
  };
}

export function createAbandonedPrSweep(options: AbandonedPrSweepOptions): AbandonedPrSweep {
  const log = options.logger.child({ component: "abandoned-pr-sweep" });
  const now = options.now ?? Date.now;
  // A failure that repeats every 30 s is logged as a warning once, then at debug until it changes.
  const lastFailure = new Map<string, string>();

  const callSignal = () => {
    const timeout = AbortSignal.timeout(options.timeoutMs());
    return options.stopSignal ? AbortSignal.any([timeout, options.stopSignal]) : timeout;
  };

  async function sweep(instance: Instance): Promise<number> {
    const waiting = instance.orchestrator?.abandoned;
    if (!waiting) return 0;
    const since = new Date(now() - options.cutoffHours() * HOUR_MS);
    // No job names a target yet: the listing's calls count under the git target they list.
    const abandoned = await withOutboundScope({ target: instance.repository.target }, () => waiting.list(since, callSignal()));
    let enqueued = 0;
    for (const pr of abandoned) {
      const job = toAbandonedPrJob(instance, pr.number, pr.closedAt);
      if (!(await options.store.enqueueOnce(abandonedPrOnceKey(instance, pr.number), job, now()))) continue;
      enqueued++;
      log.info({ instance: instance.name, pullRequest: pr.number, closedAt: pr.closedAt }, `PR ${pr.number} of instance ${instance.name} was abandoned: failing its pipeline task`);
    }
    return enqueued;
  }

  return {
    async run() {
      let total = 0;
      for (const instance of options.instances()) {
        if (options.stopSignal?.aborted) break;
        try {
          total += await sweep(instance);
          lastFailure.delete(instance.name);
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          const repeated = lastFailure.get(instance.name) === message;
          lastFailure.set(instance.name, message);
          (repeated ? log.debug : log.warn).call(log, { instance: instance.name, error: message }, `abandoned-PR sweep of instance ${instance.name} failed; next try in the next sweep`);
        }
      }
      if (total > 0) options.onEnqueued();
      return total;
    },
  };
}
