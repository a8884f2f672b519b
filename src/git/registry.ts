/**
 * Git providers keyed on the config's `gitRepositoryType`. Adding a provider is one file and one line here.
 */
import type { GitRepositoryType, StatusJobPayload } from "../model.ts";
import type { OutboundRequest } from "../http-request.ts";
import { toAzureReposStatusRequest, type AzureReposFields } from "./azure-repos.ts";
import { toGitHubStatusRequest, type GitHubRepoFields } from "./github.ts";

export type GitProviderFields = GitHubRepoFields & AzureReposFields & { readonly gitRepositoryType: GitRepositoryType };

const STATUS_REQUESTS: Record<GitRepositoryType, (instance: GitProviderFields, job: StatusJobPayload) => OutboundRequest> = {
  GITHUB: toGitHubStatusRequest,
  AZDO: toAzureReposStatusRequest,
};

/** The exact request that posts this status to the instance's git provider. */
export function toStatusRequest(instance: GitProviderFields, job: StatusJobPayload): OutboundRequest {
  return STATUS_REQUESTS[instance.gitRepositoryType](instance, job);
}
