/**
 * Git providers keyed on the config's `gitRepositoryType`. Adding a provider is one file and one line in each
 * table here.
 */
import type { GitRepositoryType, StatusJobPayload } from "../core/model.ts";
import { apiBase, type FetchLike, type OutboundRequest } from "../clients/http.ts";
import type { Logger } from "../observability/logger.ts";
import { commitListSizeFor, createAzureReposRepository, toAzureReposStatusRequest, toCommitsBetweenRequest, type AzureReposFields } from "./azure-repos.ts";
import { createGitHubRepository, toGitHubStatusRequest, type GitHubRepoFields } from "./github.ts";
import { MAX_SUPERSEDED_COMMITS, type GitRepository } from "./repository.ts";

export type GitProviderFields = GitHubRepoFields & AzureReposFields & { readonly gitRepositoryType: GitRepositoryType };

const STATUS_REQUESTS: Record<GitRepositoryType, (instance: GitProviderFields, job: StatusJobPayload) => OutboundRequest> = {
  GITHUB: toGitHubStatusRequest,
  AZDO: toAzureReposStatusRequest,
};

/** The exact request that posts this status to the instance's git provider. */
export function toStatusRequest(instance: GitProviderFields, job: StatusJobPayload): OutboundRequest {
  return STATUS_REQUESTS[instance.gitRepositoryType](instance, job);
}

/** The read that lists the commits between two (what the dry run logs for a supersede job). */
export function describeCommitsBetween(instance: GitProviderFields, base: string, head: string): string {
  if (instance.gitRepositoryType === "GITHUB") return `GET ${apiBase(instance.gitHubOrgUrl)}/${instance.gitHubGitOpsManifestsRepoName}/compare/${base}...${head}`;
  const request = toCommitsBetweenRequest(instance, base, head, commitListSizeFor(MAX_SUPERSEDED_COMMITS));
  return `${request.method} ${request.url}`;
}

export interface GitRepositoryOptions {
  readonly instance: GitProviderFields & { readonly name: string };
  /** The instance's `pat`. */
  readonly token: string;
  readonly userAgent: string;
  readonly logger: Logger;
  readonly fetch?: FetchLike;
}

const REPOSITORIES: Record<GitRepositoryType, (options: GitRepositoryOptions) => GitRepository> = {
  GITHUB: createGitHubRepository,
  AZDO: createAzureReposRepository,
};

/** The provider for the instance's manifests repository. */
export function createGitRepository(options: GitRepositoryOptions): GitRepository {
  return REPOSITORIES[options.instance.gitRepositoryType](options);
}
