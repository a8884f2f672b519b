/**
 * The promotion port on GitHub, through the API only: reads at one commit with the Git Data API (one tree walk
 * down the group/env folder, then a blob per manifest), one commit with every changed file (a tree on the base
 * commit's tree, a commit on it), one ref move; PRs through REST; auto-merge through GraphQL
 * (`enablePullRequestAutoMerge`), merging at once when GitHub says the PR is already clean.
 */
import { createGitHubPromotionCalls, credentialKey, type GitHubPromotionCalls, type GitHubPullRequestData, type GitHubApiLocation } from "../clients/github.ts";
import { toDeliveryError, type FailureParty } from "../clients/http-failure.ts";
import type { Credentials } from "../clients/credentials.ts";
import { DeliveryError } from "../core/delivery.ts";
import type { FetchLike } from "../core/http.ts";
import type { AutoMergeOutcome, CommitStatus, MergedPullRequest, PromotionPullRequest, PromotionRepository, RepositoryFile } from "../promotion/port.ts";

export interface GitHubPromotionOptions {
  readonly location: GitHubApiLocation;
  readonly repo: string;
  readonly credentials: Credentials;
  readonly userAgent: string;
  /** `github.com/org/manifests`. */
  readonly display: string;
  readonly fetch?: FetchLike;
  readonly calls?: GitHubPromotionCalls;
  /** The waits between PR creations while a fresh ref settles (tests shorten them). */
  readonly settleMs?: readonly number[];
}

const STATUS_PAGE = 100;
/** Waits before asking again for a PR GitHub refused while a fresh ref settled. */
const SETTLE_MS = [1000, 3000];
const CONTENTS = "the repo scope (fine-grained: Contents read and write)";
const PULLS = "the repo scope (fine-grained: Pull requests read and write)";
const STATUSES = "the repo:status scope (fine-grained: Commit statuses read)";
const STATUS_WRITE = "the repo:status scope (fine-grained: Commit statuses read and write)";

export function createGitHubPromotion(options: GitHubPromotionOptions): PromotionRepository {
  const { location, repo } = options;
  const owner = location.owner;
  const github = options.calls ?? createGitHubPromotionCalls({ baseUrl: location.baseUrl, credentials: options.credentials, userAgent: options.userAgent, fetch: options.fetch });
  const who = (permission: string): FailureParty => ({ service: "GitHub", instance: "promote", resource: `${owner}/${repo}`, tokenKey: credentialKey(options.credentials, "the token"), permission });
  async function call<T>(permission: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw toDeliveryError(error, who(permission));
    }
  }
  const statusOf = (error: unknown) => (error as { status?: unknown }).status;

  async function treeOf(sha: string, recursive: boolean) {
    return (await call(CONTENTS, () => github.git.getTree({ owner, repo, tree_sha: sha, ...(recursive ? { recursive: "1" } : {}) }))).data;
  }

  function toPullRequest(data: GitHubPullRequestData): PromotionPullRequest {
    return { number: data.number, title: data.title, body: data.body ?? "", branch: data.head.ref, headSha: data.head.sha, url: data.html_url };
  }

  return {
    location: options.display,

    async branchTip(branch) {
      try {
        return (await github.git.getRef({ owner, repo, ref: `heads/${branch}` })).data.object.sha;
      } catch (error) {
        if (statusOf(error) === 404) return undefined;
        throw toDeliveryError(error, who(CONTENTS));
      }
    },

    async listFiles(commit, folder) {
      // Walk down to the folder's tree, then list it recursively: a few calls, whatever the repository's size.
      let tree = (await call(CONTENTS, () => github.git.getCommit({ owner, repo, commit_sha: commit }))).data.tree.sha;
      const segments = folder.split("/").filter((segment) => segment !== "");
      for (const segment of segments) {
        const entry = (await treeOf(tree, false)).tree.find((item) => item.path === segment && item.type === "tree");
        if (entry?.sha === undefined) return [];
        tree = entry.sha;
      }
      const listing = await treeOf(tree, true);
      if (listing.truncated) throw new DeliveryError(`GitHub truncated the listing of ${folder} in ${owner}/${repo} (over 100,000 entries or 7 MB); split the folder`, { permanent: true });
      const prefix = segments.length === 0 ? "" : `${segments.join("/")}/`;
      return listing.tree
        .filter((item) => item.type === "blob" && item.path !== undefined && item.sha !== undefined)
        .map((item): RepositoryFile => ({ path: `${prefix}${item.path}`, id: item.sha! }));
    },

    async readFile(_commit, file) {
      const blob = (await call(CONTENTS, () => github.git.getBlob({ owner, repo, file_sha: file.id }))).data;
      return blob.encoding === "base64" ? Buffer.from(blob.content, "base64").toString("utf8") : blob.content;
    },

    async readPath(commit, path) {
      let data: unknown;
      try {
        data = (await github.repos.getContent({ owner, repo, path, ref: commit })).data;
      } catch (error) {
        if (statusOf(error) === 404) return undefined;
        throw toDeliveryError(error, who(CONTENTS));
      }
      const file = data as { type?: unknown; content?: unknown; encoding?: unknown; sha?: unknown };
      if (file.type !== "file" || typeof file.content !== "string") return undefined;
      if (file.encoding === "base64" && file.content !== "") return Buffer.from(file.content, "base64").toString("utf8");
      // Over 1 MB the contents API leaves content empty; the blob has it.
      return typeof file.sha === "string" ? this.readFile(commit, { path, id: file.sha }) : undefined;
    },

    async isAncestor(ancestor, descendant) {
      if (ancestor === descendant) return true;
      try {
        const { status } = (await github.repos.compareCommitsWithBasehead({ owner, repo, basehead: `${ancestor}...${descendant}`, per_page: 1 })).data;
        return status === "ahead" || status === "identical";
      } catch (error) {
        if (statusOf(error) === 404) return false;
        throw toDeliveryError(error, who(CONTENTS));
      }
    },

    async writeBranch(write) {
      const baseTree = (await call(CONTENTS, () => github.git.getCommit({ owner, repo, commit_sha: write.parent }))).data.tree.sha;
      const tree = (await call(CONTENTS, () =>
        github.git.createTree({ owner, repo, base_tree: baseTree, tree: write.files.map((file) => ({ path: file.path, mode: "100644" as const, type: "blob" as const, content: file.text })) }),
      )).data.sha;
      const commit = (await call(CONTENTS, () => github.git.createCommit({ owner, repo, message: write.message, tree, parents: [write.parent] }))).data.sha;
      if (write.currentTip === undefined) {
        try {
          await github.git.createRef({ owner, repo, ref: `refs/heads/${write.branch}`, sha: commit });
          return commit;
        } catch (error) {
          if (statusOf(error) !== 422) throw toDeliveryError(error, who(CONTENTS));
          // Created meanwhile by another run: move it, as we would have.
        }
      }
      await call(CONTENTS, () => github.git.updateRef({ owner, repo, ref: `heads/${write.branch}`, sha: commit, force: true }));
      return commit;
    },

    async openPullRequests(branch, base) {
      const { data } = await call(PULLS, () => github.pulls.list({ owner, repo, state: "open", base, head: `${owner}:${branch}`, per_page: 100 }));
      return data.map(toPullRequest);
    },

    async pullRequest(number) {
      return toPullRequest((await call(PULLS, () => github.pulls.get({ owner, repo, pull_number: number }))).data);
    },

    async createPullRequest({ branch, base, title, body }) {
      // Right after a ref moves, GitHub may not see the branch's commits yet: "No commits between", or a 404.
      for (const wait of [...options.settleMs ?? SETTLE_MS, undefined]) {
        try {
          return toPullRequest((await github.pulls.create({ owner, repo, head: branch, base, title, body })).data);
        } catch (error) {
          const settling = statusOf(error) === 404 || (statusOf(error) === 422 && /no commits between/i.test(String((error as Error).message)));
          if (!settling || wait === undefined) throw toDeliveryError(error, who(PULLS));
          await new Promise((resolve) => setTimeout(resolve, wait));
        }
      }
      throw new Error("unreachable");
    },

    async updatePullRequest(number, { title, body }) {
      return toPullRequest((await call(PULLS, () => github.pulls.update({ owner, repo, pull_number: number, title, body }))).data);
    },

    async enableAutoMerge(pullRequest, method) {
      return enableAutoMerge(github, { owner, repo }, pullRequest, method, call);
    },

    async mergedPullRequestOf(sha) {
      const { data } = await call(PULLS, () => github.repos.listPullRequestsAssociatedWithCommit({ owner, repo, commit_sha: sha }));
      const merged = data.find((pr) => pr.merged_at !== null && pr.merge_commit_sha === sha) ?? data.find((pr) => pr.merged_at !== null);
      return merged === undefined ? undefined : toPullRequest(merged);
    },

    async recentlyMergedPullRequests(base, limit) {
      const { data } = await call(PULLS, () => github.pulls.list({ owner, repo, state: "closed", base, sort: "updated", direction: "desc", per_page: Math.min(limit, 100) }));
      return data
        .filter((pr) => pr.merged_at !== null && pr.merge_commit_sha !== null)
        .sort((a, b) => Date.parse(b.merged_at!) - Date.parse(a.merged_at!))
        .map((pr): MergedPullRequest => ({ ...toPullRequest(pr), mergeCommit: pr.merge_commit_sha! }));
    },

    async postStatus(sha, status) {
      await call(STATUS_WRITE, () => github.repos.createCommitStatus({ owner, repo, sha, state: status.state, context: status.context, description: status.description }));
    },

    async statuses(sha) {
      const all: CommitStatus[] = [];
      for (let page = 1; ; page += 1) {
        const { data } = await call(STATUSES, () => github.repos.getCombinedStatusForRef({ owner, repo, ref: sha, per_page: STATUS_PAGE, page }));
        for (const status of data.statuses) {
          all.push({ context: status.context, state: status.state as CommitStatus["state"], ...(status.description ? { description: status.description } : {}) });
        }
        if (data.statuses.length < STATUS_PAGE || all.length >= data.total_count) return all;
      }
    },
  };
}

export const PULL_REQUEST_STATE_QUERY = `query PromotionPullRequest($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) {
    autoMergeAllowed
    pullRequest(number: $number) { id mergeStateStatus viewerCanEnableAutoMerge autoMergeRequest { enabledAt } }
  }
}`;

export const ENABLE_AUTO_MERGE_MUTATION = `mutation EnablePromotionAutoMerge($pullRequestId: ID!, $mergeMethod: PullRequestMergeMethod!, $expectedHeadOid: GitObjectID) {
  enablePullRequestAutoMerge(input: {pullRequestId: $pullRequestId, mergeMethod: $mergeMethod, expectedHeadOid: $expectedHeadOid}) {
    pullRequest { number autoMergeRequest { enabledAt } }
  }
}`;

interface PullRequestState {
  readonly repository: {
    readonly autoMergeAllowed: boolean;
    readonly pullRequest: { readonly id: string; readonly mergeStateStatus: string; readonly viewerCanEnableAutoMerge: boolean; readonly autoMergeRequest: { readonly enabledAt: string } | null };
  };
}

/** Merge states in which GitHub refuses auto-merge because the PR could be merged right now. */
const MERGEABLE_NOW = new Set(["CLEAN", "UNSTABLE", "HAS_HOOKS"]);

async function enableAutoMerge(
  github: GitHubPromotionCalls,
  { owner, repo }: { owner: string; repo: string },
  pullRequest: PromotionPullRequest,
  method: "merge" | "squash" | "rebase",
  call: <T>(permission: string, run: () => Promise<T>) => Promise<T>,
): Promise<AutoMergeOutcome> {
  const state = await call(PULLS, () => github.graphql<PullRequestState>(PULL_REQUEST_STATE_QUERY, { owner, name: repo, number: pullRequest.number }));
  const pr = state.repository.pullRequest;
  if (pr.autoMergeRequest !== null) return { kind: "enabled" };
  const mergeNow = async (): Promise<AutoMergeOutcome> => {
    await call(PULLS, () => github.pulls.merge({ owner, repo, pull_number: pullRequest.number, merge_method: method, sha: pullRequest.headSha }));
    return { kind: "merged" };
  };
  if (MERGEABLE_NOW.has(pr.mergeStateStatus)) return mergeNow();
  if (!state.repository.autoMergeAllowed) {
    return { kind: "refused", message: `${owner}/${repo} does not allow auto-merge: turn on Settings → General → "Allow auto-merge"` };
  }
  try {
    await github.graphql(ENABLE_AUTO_MERGE_MUTATION, { pullRequestId: pr.id, mergeMethod: method.toUpperCase(), expectedHeadOid: pullRequest.headSha });
    return { kind: "enabled" };
  } catch (error) {
    const message = (error as Error).message ?? "";
    if (/clean status|unstable status/i.test(message)) return mergeNow();
    if (/not allowed for this repository/i.test(message)) return { kind: "refused", message: `${owner}/${repo} does not allow auto-merge: turn on Settings → General → "Allow auto-merge"` };
    if (/protected branch rules not configured/i.test(message)) {
      return { kind: "refused", message: `the base branch of ${owner}/${repo} has no protection rule: add one with a required status check (Settings → Branches), or auto-merge has nothing to wait for` };
    }
    throw toDeliveryError(error, { service: "GitHub", instance: "promote", resource: `${owner}/${repo}`, tokenKey: "the token", permission: PULLS });
  }
}
