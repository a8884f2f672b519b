/**
 * What the rest of the connector needs from a git repository provider: post a commit status, read a commit's
 * message, and the pull-request reads an Azure Pipelines callback needs (which PR a merge commit came from,
 * the callback data the pipeline left on it, which PRs were abandoned). One implementation per provider:
 * src/git/github.ts, src/git/azure-repos.ts.
 */
import type { StatusJobPayload } from "../model.ts";

/** A pull request closed without being merged. */
export interface AbandonedPullRequest {
  readonly number: number;
  /** ISO 8601, as the provider reported it. */
  readonly closedAt?: string;
}

export interface GitRepository {
  postStatus(job: StatusJobPayload, signal: AbortSignal): Promise<void>;
  /** The full message of a commit in the manifests repository. */
  readCommitMessage(sha: string, signal: AbortSignal): Promise<string>;
  /** The pull request whose merge produced this commit; undefined when the commit came from none. */
  pullRequestOfCommit(sha: string, signal: AbortSignal): Promise<number | undefined>;
  /**
   * The Azure Pipelines callback data (JSON text `{taskid, jobid, planurl, planid, projectid, pr_num}`) the
   * pipeline stored on the pull request; undefined when it stored none.
   */
  pipelineCallbackOf(pullRequest: number, signal: AbortSignal): Promise<string | undefined>;
  /** Pull requests abandoned (closed unmerged) at or after `since`, newest first where the provider sorts. */
  abandonedPullRequestsSince(since: Date, signal: AbortSignal): Promise<AbandonedPullRequest[]>;
}
