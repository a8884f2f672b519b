/**
 * Git providers keyed on the config's `gitRepositoryType`. Adding a provider is one file and one line in each
 * table here.
 */
import type { GitRepositoryType, StatusJobPayload } from "../model.ts";
import type { FetchLike, OutboundRequest } from "../http-request.ts";
import type { Logger } from "../observability/logger.ts";
import { createAzureReposRepository, toAzureReposStatusRequest, type AzureReposFields } from "./azure-repos.ts";
import { createGitHubRepository, toGitHubStatusRequest, type GitHubRepoFields } from "./github.ts";
import type { GitRepository } from "./repository.ts";

export type GitProviderFields = GitHubRepoFields & AzureReposFields & { readonly gitRepositoryType: GitRepositoryType };

const STATUS_REQUESTS: Record<GitRepositoryType, (instance: GitProviderFields, job: StatusJobPayload) => OutboundRequest> = {
  GITHUB: toGitHubStatusRequest,
  AZDO: toAzureReposStatusRequest,
};

/** The exact request that posts this status to the instance's git provider. */
export function toStatusRequest(instance: GitProviderFields, job: StatusJobPayload): OutboundRequest {
  return STATUS_REQUESTS[instance.gitRepositoryType](instance, job);
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
