/**
 * CI/CD orchestrators keyed on the config's `ciCdOrchestratorType`. `NONE` means statuses only. Each entry
 * describes the call (what the dry run logs) and creates the orchestrator that makes it.
 */
import type { GitRepository } from "../git/repository.ts";
import type { GitRepositoryType, OrchestratorJobPayload, OrchestratorType } from "../core/model.ts";
import { apiBase, type FetchLike, type OutboundRequest } from "../clients/http.ts";
import type { Logger } from "../observability/logger.ts";
import { createAzurePipelinesOrchestrator, describeAzurePipelinesCallback, type AzurePipelinesFields } from "./azure-pipelines.ts";
import { createGitHubActionsOrchestrator, describeGitHubDispatch, type GitHubActionsFields } from "./github-actions.ts";

/** What notifying the orchestrator takes: the reads it needs first, then the call itself. */
export interface OrchestratorPlan {
  readonly reads: readonly string[];
  readonly request: OutboundRequest;
}

export type OrchestratorFields = GitHubActionsFields &
  AzurePipelinesFields & {
    readonly gitRepositoryType: GitRepositoryType;
    readonly ciCdOrchestratorType: OrchestratorType;
    readonly gitHubGitOpsManifestsRepoName?: string;
    readonly azdoGitOpsRepoName?: string;
  };

/** The commit-message read both orchestrators start with, against the manifests repository. */
function commitMessageRead(instance: OrchestratorFields, commit: string): string {
  if (instance.gitRepositoryType === "GITHUB") {
    return `GET ${apiBase(instance.gitHubOrgUrl)}/${instance.gitHubGitOpsManifestsRepoName}/commits/${commit}`;
  }
  return `GET ${apiBase(instance.azdoOrgUrl)}/_apis/git/repositories/${instance.azdoGitOpsRepoName}/commits/${commit}`;
}

export function describeOrchestratorCall(instance: OrchestratorFields, job: OrchestratorJobPayload): OrchestratorPlan | undefined {
  const read = commitMessageRead(instance, job.commit);
  switch (instance.ciCdOrchestratorType) {
    case "GITHUB":
      return describeGitHubDispatch(instance, job, read);
    case "AZDO":
      return describeAzurePipelinesCallback(instance, job, read);
    case "NONE":
      return undefined;
  }
}

/** What delivery needs from an orchestrator. */
export interface Orchestrator {
  /** The deployment of `job.commit` finished: resume (or fail) whatever waits on it. */
  notify(job: OrchestratorJobPayload, signal: AbortSignal): Promise<void>;
  /** A PR was abandoned: fail whatever waits on it. Only orchestrators that wait on PRs have it. */
  failAbandoned?(pullRequest: number, signal: AbortSignal): Promise<void>;
}

export interface OrchestratorOptions {
  readonly instance: OrchestratorFields & { readonly name: string; readonly commitMessagePattern?: RegExp };
  /** `orchestratorPat`, which defaults to `pat`. */
  readonly token: string;
  /** The instance's git repository provider (with `pat`), for the reads that come first. */
  readonly repository: GitRepository;
  readonly userAgent: string;
  readonly logger: Logger;
  readonly fetch?: FetchLike;
}

const ORCHESTRATORS: Record<OrchestratorType, ((options: OrchestratorOptions) => Orchestrator) | undefined> = {
  GITHUB: (options) =>
    createGitHubActionsOrchestrator({
      ...options,
      readCommitMessage: (sha, signal) => options.repository.readCommitMessage(sha, signal),
    }),
  AZDO: createAzurePipelinesOrchestrator,
  NONE: undefined,
};

/** Whether the instance's orchestrator is notified at all (`NONE`: statuses only). */
export function hasOrchestrator(type: OrchestratorType): boolean {
  return ORCHESTRATORS[type] !== undefined;
}

/** The instance's orchestrator; undefined for `NONE`. */
export function createOrchestrator(options: OrchestratorOptions): Orchestrator | undefined {
  return ORCHESTRATORS[options.instance.ciCdOrchestratorType]?.(options);
}
