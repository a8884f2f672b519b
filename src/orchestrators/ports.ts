/**
 * The ports an orchestrator needs from the manifests repository, owned here and implemented by the git providers
 * that can (src/git/<provider>.ts): read a commit's message, and, for Azure Pipelines, find the pull request
 * behind a merge commit and the callback data the waiting task left on it. Orchestrators see the repository only
 * through these, so they never import a git provider.
 */

/** A pull request closed without being merged. */
export interface AbandonedPullRequest {
  readonly number: number;
  /** ISO 8601, as the provider reported it. */
  readonly closedAt?: string;
}

export interface CommitMessageReader {
  /** The full message of a commit in the manifests repository. */
  readCommitMessage(sha: string, signal: AbortSignal): Promise<string>;
  /** The read, as the dry run logs it. */
  describeCommitRead(sha: string): string;
}

/** Where a provider keeps an Azure Pipelines task's callback: a PR property (Azure Repos), a comment in its body. */
export interface PipelineCallbackSource {
  /** The pull request whose merge produced this commit; undefined when the commit came from none. */
  pullRequestOfCommit(sha: string, signal: AbortSignal): Promise<number | undefined>;
  /**
   * The callback data (JSON text `{taskid, jobid, planurl, planid, projectid, pr_num}`) the pipeline stored on the
   * pull request; undefined when it stored none.
   */
  callbackOf(pullRequest: number, signal: AbortSignal): Promise<string | undefined>;
  /** Pull requests with callback data abandoned (closed unmerged) at or after `since`. */
  abandonedSince(since: Date, signal: AbortSignal): Promise<AbandonedPullRequest[]>;
  /** The reads that find the PR of `commit` and its callback, as the dry run logs them. */
  describeReads(commit: string): string[];
  /** Why a commit has no PR, for the log line that says no task waits on it. */
  readonly noPullRequestHint: string;
}

/** The manifests repository as an orchestrator sees it. */
export interface ManifestsRepository extends CommitMessageReader {
  readonly pipelineCallbacks?: PipelineCallbackSource;
}
