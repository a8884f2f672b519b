/**
 * Azure Pipelines: resume or fail the agentless task waiting for the PR whose merge produced the deployed
 * commit (DESIGN §7). The PR and the callback data the pipeline stored on it come from the manifests repository's
 * `pipelineCallbacks` (Azure Repos: `Merged PR <n>:` in the merge commit and a PR property; GitHub and Gitea: the PR
 * of the merge commit and a comment in its body). A plan or job that already completed (cancelled, timed out) is
 * skipped, since completing a task in it fails; then `TaskCompleted` is posted with the orchestrator token. The
 * first outcome stands: a task completes once.
 */
import * as v from "valibot";
import { AzureDevOpsOrgUrl, AzurePrRepoName, createAzureDevOpsHttp, type AzureDevOpsHttp } from "../clients/azure-devops.ts";
import { describeUrl, type FailureParty } from "../clients/http-failure.ts";
import { DeliveryError } from "../core/delivery.ts";
import type { Outcome, OrchestratorJobPayload } from "../core/model.ts";
import { shortRepoLabel, withoutScheme } from "../core/targets.ts";
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
import type { Orchestrator, OrchestratorDeps, OrchestratorModule, OrchestratorPlan } from "./orchestrator.ts";
import type { PipelineCallbackSource } from "./ports.ts";

const KEYS = {
  azdoOrgUrl: AzureDevOpsOrgUrl,
  azdoPrRepoName: AzurePrRepoName,
};

export type AzurePipelinesFields = Partial<v.InferOutput<v.ObjectSchema<typeof KEYS, undefined>>> & {
  readonly environment?: string;
  readonly azdoGitOpsRepoName?: string;
};

export function describeAzurePipelinesCallback(job: OrchestratorJobPayload, callbacks: Pick<PipelineCallbackSource, "describeReads">): OrchestratorPlan {
  return {
    reads: [
      ...callbacks.describeReads(job.commit),
      "GET {planurl}{projectid}/_apis/distributedtask/hubs/build/plans/{planid}",
      "GET {planurl}{projectid}/_apis/build/builds/{plan owner id}/timeline",
    ],
    request: {
      method: "POST",
      url: "{planurl}{projectid}/_apis/distributedtask/hubs/build/plans/{planid}/events?api-version=2.0-preview.1",
      body: { name: "TaskCompleted", taskId: "{taskid}", jobId: "{jobid}", result: job.outcome },
    },
  };
}

export interface AzurePipelinesOrchestratorOptions extends Omit<OrchestratorDeps, "repository"> {
  readonly instance: AzurePipelinesFields & { readonly name: string };
  /** The manifests repository's callbacks (read with its `pat`): find the PR and its callback data. */
  readonly callbacks: PipelineCallbackSource;
  /** The HTTP client, authenticated with `credentials`, unless given. */
  readonly http?: AzureDevOpsHttp;
}

/** `azure-pipelines:dev.azure.com/org/project`. */
export function azurePipelinesTarget(instance: AzurePipelinesFields): string {
  return `azure-pipelines:${withoutScheme(instance.azdoOrgUrl)}`;
}

/**
 * Completes the task waiting for the PR merged as `job.commit`; a commit of no PR, or a PR no task waits on, is a
 * logged skip. Fails the task waiting for an abandoned PR (the sweep) the same way.
 */
export function createAzurePipelinesOrchestrator(options: AzurePipelinesOrchestratorOptions): Orchestrator {
  const { instance, logger, callbacks } = options;
  const http = options.http ?? createAzureDevOpsHttp(options);
  const planParty = (callback: PipelineCallback): FailureParty => ({
    service: "Azure DevOps",
    instance: instance.name,
    resource: `plan ${callback.planid} at ${describeUrl(callback.planurl)}`,
    tokenKey: "orchestratorPat",
    permission: "Build (Read & execute) to complete the pipeline's task",
    notFound: `plan ${callback.planid} of project ${callback.projectid} not found at ${describeUrl(callback.planurl)}; the PR's callback data is stale or wrong, or orchestratorPat cannot see the project`,
  });

  async function readCallback(pullRequest: number, signal: AbortSignal): Promise<PipelineCallback | undefined> {
    const text = await callbacks.callbackOf(pullRequest, signal);
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
    target: azurePipelinesTarget(instance),
    policy: { once: "commit", failures: true },
    describe: (job) => describeAzurePipelinesCallback(job, callbacks),
    async notify(job, signal) {
      const pullRequest = await callbacks.pullRequestOfCommit(job.commit, signal);
      if (pullRequest === undefined) {
        // A superseded commit is often a direct push that no pipeline waits on: no warning.
        (job.supersededBy ? logger.info : logger.warn).call(
          logger,
          { instance: instance.name, commit: job.commit, outcome: job.outcome },
          `commit ${job.commit} of instance ${instance.name} was not merged from a pull request ${callbacks.noPullRequestHint}, so no Azure Pipelines task waits on it`,
        );
        return;
      }
      const cause = job.supersededBy
        ? `${job.commit} was superseded by ${job.supersededBy}, whose deployment ${job.outcome}`
        : `deployment of ${job.commit} ${job.outcome}`;
      await completeTask(pullRequest, job.outcome, cause, signal);
    },
    abandoned: {
      list: (since, signal) => callbacks.abandonedSince(since, signal),
      fail: (pullRequest, signal) => completeTask(pullRequest, "failed", "PR abandoned", signal),
    },
  };
}

export const azurePipelines = {
  type: "AZDO",
  title: "Azure Pipelines",
  keys: KEYS,
  requires: [{ key: "azdoOrgUrl", fix: "the organization/project URL, e.g. https://dev.azure.com/org/project" }],
  needsPipelineCallbacks: true,
  describe: (instance) => `AZDO ${shortRepoLabel(instance.azdoOrgUrl, instance.azdoPrRepoName ?? instance.azdoGitOpsRepoName)}`,
  tokenUse: (instance) => `Azure Pipelines callbacks in ${withoutScheme(instance.azdoOrgUrl)}`,
  create(instance, deps) {
    const callbacks = deps.repository.pipelineCallbacks;
    // The config schema refuses this pairing; a caller that skipped it gets told here.
    if (!callbacks) throw new Error(`instance ${instance.name}: Azure Pipelines needs a git provider that keeps pipeline callbacks on pull requests`);
    return createAzurePipelinesOrchestrator({ ...deps, instance, callbacks });
  },
} satisfies OrchestratorModule<AzurePipelinesFields, typeof KEYS>;
