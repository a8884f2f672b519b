/**
 * What the rest of the connector needs from a git repository provider: post a commit status, read a commit's
 * message, and the pull-request reads an Azure Pipelines callback needs (which PR a merge commit came from,
 * the callback data the pipeline left on it, which PRs were abandoned). One implementation per provider:
 * src/git/github.ts, src/git/azure-repos.ts.
 */
import type { StatusJobPayload } from "../core/model.ts";

/** A pull request closed without being merged. */
export interface AbandonedPullRequest {
  readonly number: number;
  /** ISO 8601, as the provider reported it. */
  readonly closedAt?: string;
}

/** At most this many superseded commits are told per finished commit (the newest ones). */
export const MAX_SUPERSEDED_COMMITS = 100;

/** A commit that was the tip of the branch at some point: what a superseded commit is. */
export interface CommitOnBranch {
  readonly sha: string;
  /** ISO 8601 committer date, when the provider gave one. */
  readonly committedAt?: string;
}

/** The first-parent chain of `head`, newest first: each commit's first parent is the next one. */
export function firstParentChain(head: string, parentsOf: ReadonlyMap<string, readonly string[]>, stopAt: string, limit: number): string[] {
  const chain: string[] = [];
  let current = parentsOf.get(head)?.[0];
  while (current !== undefined && current !== stopAt && chain.length < limit && parentsOf.has(current)) {
    chain.push(current);
    current = parentsOf.get(current)?.[0];
  }
  return chain;
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
  /**
   * The commits that were the branch tip after `base` and before `head`: head's first-parent chain back to base,
   * both excluded, oldest first, at most `limit` (the newest ones). A merged PR's own branch commits are not on
   * it. Empty when base is not an ancestor (a rollback, a force push).
   */
  commitsBetween(base: string, head: string, limit: number, signal: AbortSignal): Promise<CommitOnBranch[]>;
}
