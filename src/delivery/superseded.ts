/**
 * Delivers a `supersede` job (planned by src/core/planner.ts when a reconciler finishes a commit other than the last
 * one it finished): reads the commits in between from the git provider (its compare API: the first-parent chain,
 * so a merged PR's own branch commits are left out), drops those older than `abandonedPrCutoffHours` (no pipeline
 * waits that long), and plans each one through the outbox like a reported commit, so the same notify-once rules
 * hold across restarts and a job that is run twice plans nothing twice. The statuses, subscriber posts and
 * pipeline notifications it plans are ordinary jobs, delivered by the worker.
 */
import type { KnownCommit } from "../core/commit-knowledge.ts";
import { DeliveryError } from "../core/delivery.ts";
import type { Job, SupersedeJob } from "../core/model.ts";
import { planSupersededCommit } from "../core/planner-superseded.ts";
import { shortCommit, type Plan } from "../core/planner.ts";
import { MAX_SUPERSEDED_COMMITS } from "../git/provider.ts";
import type { Instance } from "../instances/compile.ts";
import type { Logger } from "../observability/logger.ts";

const HOUR_MS = 3_600_000;

export interface SupersededDeliveryOptions {
  /** The current config's instance by name; read per job so a reload applies at once. */
  readonly instanceNamed: (name: string) => Instance | undefined;
  /** Plans one commit in one outbox transaction (the store's submit); returns the jobs it enqueued. */
  readonly submit: (instance: string, commit: string, plan: (known: KnownCommit) => Plan) => Promise<readonly Job[]>;
  /** Commits older than this are not told (`scheduler.abandonedPrCutoffHours`). */
  readonly cutoffHours: () => number;
  readonly logger: Logger;
  readonly now?: () => number;
}

export interface SupersededDelivery {
  deliver(job: SupersedeJob, signal: AbortSignal): Promise<void>;
}

export function createSupersededDelivery(options: SupersededDeliveryOptions): SupersededDelivery {
  const log = options.logger.child({ component: "superseded" });
  const now = options.now ?? Date.now;

  return {
    async deliver(job, signal) {
      const instance = options.instanceNamed(job.instance);
      if (!instance) throw new DeliveryError(`instance ${job.instance} is no longer configured; its superseded commits cannot be told`, { permanent: true });
      const { commit, since, reconciler } = job.payload;
      const fields = { instance: instance.name, commit, since, reconciler };
      let commits;
      try {
        commits = await instance.repository.commitsBetween(since, commit, MAX_SUPERSEDED_COMMITS, signal);
      } catch (error) {
        // The last finished commit is gone (a force push) or unrelated: nothing can be told, and no retry helps.
        if (error instanceof DeliveryError && (error.status === 404 || error.status === 422)) {
          log.info({ ...fields, error: error.message }, `cannot compare ${shortCommit(since)}...${shortCommit(commit)}; no commit is treated as superseded`);
          return;
        }
        throw error;
      }
      const cutoff = now() - options.cutoffHours() * HOUR_MS;
      const recent = commits.filter((entry) => entry.committedAt === undefined || !(Date.parse(entry.committedAt) < cutoff));
      let jobs = 0;
      for (const entry of recent) {
        jobs += (await options.submit(instance.name, entry.sha, (known) => planSupersededCommit(entry.sha, job.payload, instance.planning, known))).length;
      }
      if (recent.length === 0) {
        log.debug(fields, `no commit between ${shortCommit(since)} and ${shortCommit(commit)} was superseded`);
        return;
      }
      log.info(
        { ...fields, superseded: recent.map((entry) => entry.sha), olderSkipped: commits.length - recent.length, jobs },
        `${recent.length} commit${recent.length === 1 ? "" : "s"} superseded by ${shortCommit(commit)} (${job.payload.outcome}) for ${reconciler}: ${jobs} job${jobs === 1 ? "" : "s"} planned`,
      );
    },
  };
}
