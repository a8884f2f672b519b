/**
 * What promotion needs from a manifests repository: the promotion port. Promotion owns it; each git provider
 * that can promote implements it in one file (`src/git/github-promotion.ts`, `src/git/azure-repos-promotion.ts`),
 * through its API only: no clone, no working tree. Failures are `DeliveryError`s (src/core/delivery.ts), so a
 * rate limit says how long to wait.
 */

export interface RepositoryFile {
  /** Repository-relative, no leading slash: `apps/dev/web.yaml`. */
  readonly path: string;
  /** The provider's id for its content at that commit (a blob sha, an object id). */
  readonly id: string;
}

export interface FileContent {
  readonly path: string;
  readonly text: string;
}

export interface PromotionPullRequest {
  readonly number: number;
  readonly title: string;
  /** The whole description (Azure DevOps truncates it in lists; the port reads it whole). */
  readonly body: string;
  /** Branch name without `refs/heads/`. */
  readonly branch: string;
  readonly headSha: string;
  readonly url: string;
}

/** The latest status per context on a commit, every page of them. */
export interface CommitStatus {
  readonly context: string;
  readonly state: "pending" | "success" | "failure" | "error";
  readonly description?: string;
}

/** A merged PR and the commit its merge made on the base. */
export interface MergedPullRequest extends PromotionPullRequest {
  readonly mergeCommit: string;
}

/** A status promotion posts itself (`promotion/<group>-<env>`), a required check with no CI job behind it. */
export interface PostedStatus {
  readonly context: string;
  readonly state: "pending" | "success" | "failure";
  readonly description: string;
}

export type AutoMergeOutcome =
  | { readonly kind: "enabled" }
  /** The PR was already clean, so it was merged at once. */
  | { readonly kind: "merged" }
  /** The repository or branch cannot auto-merge; the message names the setting to change. */
  | { readonly kind: "refused"; readonly message: string };

export interface BranchWrite {
  readonly branch: string;
  /** The base tip every file was read at: the new commit's parent. */
  readonly parent: string;
  /** The branch's current tip, undefined when it does not exist yet. */
  readonly currentTip: string | undefined;
  readonly message: string;
  readonly files: readonly FileContent[];
}

export interface PromotionRepository {
  /** `github.com/org/manifests`: the repository in messages. */
  readonly location: string;
  /** A branch's tip commit, undefined when the branch does not exist. */
  branchTip(branch: string): Promise<string | undefined>;
  /** Every file under `folder` (recursively) at a commit. */
  listFiles(commit: string, folder: string): Promise<RepositoryFile[]>;
  readFile(commit: string, file: RepositoryFile): Promise<string>;
  /** A file by path at a commit; undefined when there is none. */
  readPath(commit: string, path: string): Promise<string | undefined>;
  /** True when `ancestor` is `descendant` or one of its ancestors. */
  isAncestor(ancestor: string, descendant: string): Promise<boolean>;
  /**
   * One commit with every file, then the branch moved once: created at it, or moved to it. Returns the commit.
   * The provider chooses the parent it can write without force where that is safer (Azure DevOps: on the
   * branch's tip), but the files always hold exactly `files`.
   */
  writeBranch(write: BranchWrite): Promise<string>;
  openPullRequests(branch: string, base: string): Promise<PromotionPullRequest[]>;
  pullRequest(number: number): Promise<PromotionPullRequest>;
  createPullRequest(request: { branch: string; base: string; title: string; body: string }): Promise<PromotionPullRequest>;
  updatePullRequest(number: number, change: { title: string; body: string }): Promise<PromotionPullRequest>;
  enableAutoMerge(pullRequest: PromotionPullRequest, method: "merge" | "squash" | "rebase"): Promise<AutoMergeOutcome>;
  /** The merged PR that brought `sha` into the base; undefined while the provider does not know one. */
  mergedPullRequestOf(sha: string): Promise<PromotionPullRequest | undefined>;
  statuses(sha: string): Promise<CommitStatus[]>;
  /** The PRs merged into `base` most recently, newest first, at most `limit`. */
  recentlyMergedPullRequests(base: string, limit: number): Promise<MergedPullRequest[]>;
  postStatus(sha: string, status: PostedStatus): Promise<void>;
}
