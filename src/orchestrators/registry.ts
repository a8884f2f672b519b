/**
 * CI/CD orchestrators keyed on the config's `ciCdOrchestratorType`. `NONE` means statuses only.
 */
import type { GitRepositoryType, OrchestratorJobPayload, OrchestratorType } from "../model.ts";
import { apiBase, type OutboundRequest } from "../http-request.ts";
import { describeAzurePipelinesCallback, type AzurePipelinesFields } from "./azure-pipelines.ts";
import { describeGitHubDispatch, type GitHubActionsFields } from "./github-actions.ts";

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
