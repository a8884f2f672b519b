/**
 * GitHub commit statuses (https://docs.github.com/en/rest/commits/statuses) and commit reads
 * (https://docs.github.com/en/rest/commits/commits#get-a-commit). The pure half turns a status job into the
 * request GitHub expects (the dry run logs exactly that); the provider sends the same body through Octokit.
 */
import type { StatusJobPayload } from "../model.ts";
import { apiBase, type OutboundRequest } from "../http-request.ts";
import { toDeliveryError, type FailureParty } from "../http-failure.ts";
import type { Logger } from "../observability/logger.ts";
import { createGitHubClient, JSON_CONTENT_TYPE, requireGitHubLocation, type FetchLike } from "./github-client.ts";
import { toGitHubState, type GitHubState } from "./state-tables.ts";

export { parseGitHubOrgUrl, type GitHubApiLocation } from "./github-client.ts";

/** GitHub rejects longer descriptions. */
export const GITHUB_DESCRIPTION_LIMIT = 140;

export interface GitHubRepoFields {
  /** The original's `gitHubOrgUrl`: `https://api.github.com/repos/<owner>` (GitHub Enterprise: its API root + `/repos/<owner>`). */
  readonly gitHubOrgUrl?: string;
  readonly gitHubGitOpsManifestsRepoName?: string;
}

/** Cuts to GitHub's limit by characters (not UTF-16 units), marking the cut with an ellipsis. */
export function truncateDescription(text: string, limit = GITHUB_DESCRIPTION_LIMIT): string {
  const chars = Array.from(text);
  return chars.length <= limit ? text : `${chars.slice(0, limit - 1).join("")}…`;
}

export interface GitHubStatusBody {
  readonly state: GitHubState;
  readonly description: string;
  readonly context: string;
  readonly target_url: string;
}

/** The JSON body of `POST /repos/{owner}/{repo}/statuses/{sha}`: the one source for the dry run and the wire. */
export function toGitHubStatusBody(job: StatusJobPayload): GitHubStatusBody {
  return {
    state: toGitHubState(job.status.state),
    description: truncateDescription(job.status.description),
    context: job.status.context,
    target_url: job.callbackUrl,
  };
}

export function toGitHubStatusRequest(instance: GitHubRepoFields, job: StatusJobPayload): OutboundRequest {
  const base = apiBase(instance.gitHubOrgUrl);
  return {
    method: "POST",
    url: `${base}/${instance.gitHubGitOpsManifestsRepoName}/statuses/${job.commit}`,
    body: toGitHubStatusBody(job),
  };
}

/** What the rest of the connector needs from a git repository provider. */
export interface GitRepository {
  postStatus(job: StatusJobPayload, signal: AbortSignal): Promise<void>;
  /** The full message of a commit in the manifests repository. */
  readCommitMessage(sha: string, signal: AbortSignal): Promise<string>;
}

export interface GitHubRepositoryOptions {
  readonly instance: GitHubRepoFields & { readonly name: string };
  /** The instance's `pat`. */
  readonly token: string;
  readonly userAgent: string;
  readonly fetch?: FetchLike;
  readonly logger?: Logger;
}

/** A GitHub manifests repository; every failure is a DeliveryError (src/http-failure.ts decides retry or dead). */
export function createGitHubRepository(options: GitHubRepositoryOptions): GitRepository {
  const { instance } = options;
  const location = requireGitHubLocation(instance.name, instance.gitHubOrgUrl);
  const repo = instance.gitHubGitOpsManifestsRepoName ?? "";
  const octokit = createGitHubClient({ ...options, baseUrl: location.baseUrl });
  const who = (permission: string): FailureParty => ({
    service: "GitHub",
    instance: instance.name,
    resource: `${location.owner}/${repo}`,
    tokenKey: "pat",
    permission,
  });

  return {
    async postStatus(job, signal) {
      try {
        await octokit.request("POST /repos/{owner}/{repo}/statuses/{sha}", {
          owner: location.owner,
          repo,
          sha: job.commit,
          ...toGitHubStatusBody(job),
          headers: JSON_CONTENT_TYPE,
          request: { signal },
        });
      } catch (error) {
        throw toDeliveryError(error, who("the repo:status scope (fine-grained: Commit statuses read and write) for statuses"), signal);
      }
    },
    async readCommitMessage(sha, signal) {
      try {
        const response = await octokit.request("GET /repos/{owner}/{repo}/commits/{ref}", {
          owner: location.owner,
          repo,
          ref: sha,
          request: { signal },
        });
        return response.data.commit.message;
      } catch (error) {
        throw toDeliveryError(error, who("the repo scope (fine-grained: Contents read) to read commits"), signal);
      }
    },
  };
}
