/**
 * Names of delivery targets. A target is the unit retries and rate limits apply to (one repository API, one
 * orchestrator, one subscriber), so one failing target never holds up another.
 */
import type { GitRepositoryType, OrchestratorType } from "./model.ts";

/** The instance fields that say where its jobs go. */
export interface TargetFields {
  readonly name: string;
  readonly gitRepositoryType: GitRepositoryType;
  readonly ciCdOrchestratorType: OrchestratorType;
  readonly gitHubOrgUrl?: string;
  readonly gitHubGitOpsManifestsRepoName?: string;
  readonly gitHubGitOpsRepoName?: string;
  readonly azdoOrgUrl?: string;
  readonly azdoGitOpsRepoName?: string;
  readonly azdoPrRepoName?: string;
}

/** Host and path only: a scheme says nothing, and user info (`user:token@`) must never reach a label or log. */
export const withoutScheme = (url: string | undefined) =>
  (url ?? "").replace(/^[a-z]+:\/\//i, "").replace(/^[^/@]*@/, "").replace(/\/+$/, "");

/** `github:api.github.com/repos/org/manifests` or `azdo:dev.azure.com/org/project/manifests`. */
export function gitTargetOf(instance: TargetFields): string {
  return instance.gitRepositoryType === "GITHUB"
    ? `github:${withoutScheme(instance.gitHubOrgUrl)}/${instance.gitHubGitOpsManifestsRepoName}`
    : `azdo:${withoutScheme(instance.azdoOrgUrl)}/${instance.azdoGitOpsRepoName}`;
}

/** `github-actions:…/app-src` or `azure-pipelines:dev.azure.com/org/project`; undefined for NONE. */
export function orchestratorTargetOf(instance: TargetFields): string | undefined {
  switch (instance.ciCdOrchestratorType) {
    case "GITHUB":
      return `github-actions:${withoutScheme(instance.gitHubOrgUrl)}/${instance.gitHubGitOpsRepoName}`;
    case "AZDO":
      return `azure-pipelines:${withoutScheme(instance.azdoOrgUrl)}`;
    case "NONE":
      return undefined;
  }
}

export function subscriberTargetOf(subscriberName: string): string {
  return `subscriber:${subscriberName}`;
}
