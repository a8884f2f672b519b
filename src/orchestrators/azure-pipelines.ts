/**
 * Azure Pipelines: resume or fail the agentless task waiting for the PR whose merge produced the deployed
 * commit (DESIGN §7). The PR comes from the git repository provider (Azure Repos: `Merged PR <n>:` in the merge
 * commit; GitHub: the PR of the merge commit), and so does the callback data the pipeline stored on it. A plan
 * or job that already completed (cancelled, timed out) is skipped, since completing a task in it fails; then
 * `TaskCompleted` is posted with the orchestrator token. `describeAzurePipelinesCallback` is what the dry run logs.
 */
import * as v from "valibot";
import { DeliveryError } from "../core/delivery.ts";
import { createAzureDevOpsHttp } from "../clients/azure-devops.ts";
import type { GitRepository } from "../git/repository.ts";
import { apiBase, type FetchLike } from "../clients/http.ts";
import { describeUrl, type FailureParty } from "../clients/http-failure.ts";
import type { Outcome, OrchestratorJobPayload } from "../core/model.ts";
import type { Logger } from "../observability/logger.ts";
import {
  buildTimelineUrlOf,
  isJobCompleted,
  isForEnvironment,
  isOnOrganization,
  parsePipelineCallback,
  PlanAnswer,
  planEventsUrlOf,
  planUrlOf,
  TimelineAnswer,
  toTaskCompletedEvent,
  type PipelineCallback,
} from "./azure-pipelines-callback.ts";
import type { OrchestratorPlan } from "./registry.ts";

export interface AzurePipelinesFields {
  readonly environment?: string;
  readonly azdoOrgUrl?: string;
  readonly azdoPrRepoName?: string;
  readonly gitRepositoryType?: "GITHUB" | "AZDO";
}

export function describeAzurePipelinesCallback(
  instance: AzurePipelinesFields,
  job: OrchestratorJobPayload,
  readCommitMessage: string,
): OrchestratorPlan {
  const base = apiBase(instance.azdoOrgUrl);
  const prReads =
    instance.gitRepositoryType === "GITHUB"
      ? ["GET <repo>/commits/<sha>/pulls (the merged PR)", "GET <repo>/pulls/<n> (<!-- gitops-connector: {…} --> in its body)"]
      : [readCommitMessage, `GET ${base}/_apis/git/repositories/${instance.azdoPrRepoName}/pullRequests/<n from "Merged PR <n>:">/properties`];
  return {
    reads: [...prReads, "GET {planurl}{projectid}/_apis/distributedtask/hubs/build/plans/{planid}", "GET {planurl}{projectid}/_apis/build/builds/{plan owner id}/timeline"],
    request: {
      method: "POST",
      url: "{planurl}{projectid}/_apis/distributedtask/hubs/build/plans/{planid}/events?api-version=2.0-preview.1",
      body: { name: "TaskCompleted", taskId: "{taskid}", jobId: "{jobid}", result: job.outcome },
    },
  };
}

export interface AzurePipelinesOrchestrator {
  /** Completes the task waiting for the PR merged as `job.commit`; a commit of no PR, or a PR no task waits on, is a logged skip. */
  notify(job: OrchestratorJobPayload, signal: AbortSignal): Promise<void>;
  /** Fails the task waiting for an abandoned PR (the sweep); a PR no task waits on is a logged skip. */
  failAbandoned(pullRequest: number, signal: AbortSignal): Promise<void>;
}

export interface AzurePipelinesOrchestratorOptions {
  readonly instance: AzurePipelinesFields & { readonly name: string };
  /** `orchestratorPat`, which defaults to `pat`: sent to the plan's organization only. */
  readonly token: string;
  /** The instance's git repository provider (with its `pat`): finds the PR and reads its callback data. */
  readonly repository: Pick<GitRepository, "pullRequestOfCommit" | "pipelineCallbackOf">;
  readonly userAgent: string;
  readonly logger: Logger;
  readonly fetch?: FetchLike;
}

export function createAzurePipelinesOrchestrator(options: AzurePipelinesOrchestratorOptions): AzurePipelinesOrchestrator {
  const { instance, logger, repository } = options;
  const http = createAzureDevOpsHttp(options);
  const planParty = (callback: PipelineCallback): FailureParty => ({
    service: "Azure DevOps",
    instance: instance.name,
    resource: `plan ${callback.planid} at ${describeUrl(callback.planurl)}`,
    tokenKey: "orchestratorPat",
    permission: "Build (Read & execute) to complete the pipeline's task",
    notFound: `plan ${callback.planid} of project ${callback.projectid} not found at ${describeUrl(callback.planurl)}; the PR's callback data is stale or wrong, or orchestratorPat cannot see the project`,
  });

  async function readCallback(pullRequest: number, signal: AbortSignal): Promise<PipelineCallback | undefined> {
    const text = await repository.pipelineCallbackOf(pullRequest, signal);
    if (text === undefined) return undefined;
    const parsed = parsePipelineCallback(text);
    if (!parsed.ok)
      throw new DeliveryError(`instance ${instance.name}: the callback data on PR ${pullRequest} ${parsed.error}; fix the pipeline step that writes it`, { permanent: true });
    if (!isOnOrganization(parsed.callback.planurl, instance.azdoOrgUrl))
      throw new DeliveryError(
        `instance ${instance.name}: the callback data on PR ${pullRequest} points at ${describeUrl(parsed.callback.planurl)}, outside the organization of azdoOrgUrl; ` +
          "orchestratorPat is only sent to that organization (check azdoOrgUrl)",
        { permanent: true },
      );
    return parsed.callback;
  }

  /** Why the task can no longer be completed, or undefined when it still waits. */
  async function alreadyCompleted(callback: PipelineCallback, signal: AbortSignal): Promise<string | undefined> {
    const who = planParty(callback);
    const plan = v.safeParse(PlanAnswer, await http.send({ method: "GET", url: planUrlOf(callback) }, who, signal));
    if (!plan.success) return undefined;
    if (plan.output.state === "completed") return "its plan already completed";
    const buildId = plan.output.owner?.id;
    if (buildId === undefined) return undefined;
    const timeline = v.safeParse(TimelineAnswer, await http.send({ method: "GET", url: buildTimelineUrlOf(callback, buildId) }, who, signal));
    return timeline.success && isJobCompleted(timeline.output, callback.jobid) ? "its job already completed" : undefined;
  }

  async function completeTask(pullRequest: number, outcome: Outcome, cause: string, signal: AbortSignal): Promise<void> {
    const fields = { instance: instance.name, pullRequest, outcome };
    const callback = await readCallback(pullRequest, signal);
    if (!callback) {
      logger.warn(fields, `PR ${pullRequest} of instance ${instance.name} carries no callback data; no Azure Pipelines task to ${outcome === "succeeded" ? "resume" : "fail"}`);
      return;
    }
    const task = { ...fields, planId: callback.planid, taskId: callback.taskid, jobId: callback.jobid };
    if (!isForEnvironment(callback, instance.environment)) {
      logger.info(
        { ...task, environment: instance.environment, callbackEnvironment: callback.environment },
        `not completing the task of PR ${pullRequest} (${cause}): it waits for environment ${callback.environment}, ` +
          `and instance ${instance.name} is ${instance.environment ? `environment ${instance.environment}` : "of no environment"}`,
      );
      return;
    }
    const skip = await alreadyCompleted(callback, signal);
    if (skip) {
      logger.info(task, `not completing the task of PR ${pullRequest} (${cause}): ${skip}`);
      return;
    }
    await http.send({ method: "POST", url: planEventsUrlOf(callback), body: toTaskCompletedEvent(callback, outcome) }, planParty(callback), signal);
    logger.info(task, `completed the Azure Pipelines task of PR ${pullRequest} as ${outcome} (${cause})`);
  }

  return {
    async notify(job, signal) {
      const pullRequest = await repository.pullRequestOfCommit(job.commit, signal);
      if (pullRequest === undefined) {
        // A superseded commit is often a direct push that no pipeline waits on: no warning.
        (job.supersededBy ? logger.info : logger.warn).call(
          logger,
          { instance: instance.name, commit: job.commit, outcome: job.outcome },
          `commit ${job.commit} of instance ${instance.name} was not merged from a pull request ` +
            (instance.gitRepositoryType === "GITHUB" ? "(no merged PR has it as merge commit)" : '(its message has no "Merged PR <n>:")') +
            ", so no Azure Pipelines task waits on it",
        );
        return;
      }
      const cause = job.supersededBy
        ? `${job.commit} was superseded by ${job.supersededBy}, whose deployment ${job.outcome}`
        : `deployment of ${job.commit} ${job.outcome}`;
      await completeTask(pullRequest, job.outcome, cause, signal);
    },
    failAbandoned(pullRequest, signal) {
      return completeTask(pullRequest, "failed", "PR abandoned", signal);
    },
  };
}
