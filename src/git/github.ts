/**
 * GitHub commit statuses (https://docs.github.com/en/rest/commits/statuses). This file holds the pure half:
 * turning a status job into the request GitHub expects. The delivery half (Octokit) joins it with the
 * providers issue.
 */
import type { StatusJobPayload } from "../model.ts";
import type { OutboundRequest } from "../http-request.ts";
import { toGitHubState } from "./state-tables.ts";

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

export function toGitHubStatusRequest(instance: GitHubRepoFields, job: StatusJobPayload): OutboundRequest {
  const base = (instance.gitHubOrgUrl ?? "").replace(/\/+$/, "");
  return {
    method: "POST",
    url: `${base}/${instance.gitHubGitOpsManifestsRepoName}/statuses/${job.commit}`,
    body: {
      state: toGitHubState(job.status.state),
      description: truncateDescription(job.status.description),
      context: job.status.context,
      target_url: job.callbackUrl,
    },
  };
}
