/**
 * The GitHub git provider: commit statuses (https://docs.github.com/en/rest/commits/statuses), commit reads and
 * compares (https://docs.github.com/en/rest/commits/commits), and the pull-request reads an Azure Pipelines
 * callback needs (its PR body carries the callback as a hidden comment). The pure half turns a status job into the
 * request GitHub expects (the dry run logs exactly that); the repository sends the same body through Octokit.
 */
import * as v from "valibot";
import { createGitHubPromotion } from "./github-promotion.ts";
import { createGitHubCalls, credentialKey, gitHubRepositoryLocation, type GitHubCalls, GitHubOrgUrl, JSON_CONTENT_TYPE, requireGitHubLocation } from "../clients/github.ts";
import { checkGitHubApp, gitHubAppCredentials, gitHubAppKeyNames, privateKeySchema } from "../clients/github-app.ts";
import { apiBase, type OutboundRequest } from "../core/http.ts";
import { toDeliveryError, type FailureParty } from "../clients/http-failure.ts";
import { DeliveryError } from "../core/delivery.ts";
import type { OperatorState, StatusJobPayload } from "../core/model.ts";
import { shortRepoLabel, withoutScheme } from "../core/targets.ts";
import { findCallbackInPullRequestBody } from "../orchestrators/azure-pipelines-callback.ts";
import type { AbandonedPullRequest, PipelineCallbackSource } from "../orchestrators/ports.ts";
import { optionalNumericId, optionalText } from "../schema/parts.ts";
import { firstParentChain, type GitProviderDeps, type GitProviderModule, type GitRepository } from "./provider.ts";
import { lookupState } from "./states.ts";

export type { GitRepository };

/** Closed PRs per page of the abandoned-PR scan, and the most pages one sweep reads. */
const PAGE_SIZE = 100;
const MAX_PAGES = 5;
const READ_PULLS = "the repo scope (fine-grained: Pull requests read) to read pull requests";

export { parseGitHubOrgUrl, type GitHubApiLocation } from "../clients/github.ts";

/** Commits per page of a compare; two pages at most are read (the first says how many there are). */
const COMPARE_PAGE_SIZE = 100;

/** GitHub rejects longer descriptions. */
export const GITHUB_DESCRIPTION_LIMIT = 140;

/** The config keys of a GitHub manifests repository. */
const KEYS = {
  /** The original's `gitHubOrgUrl`: `https://api.github.com/repos/<owner>` (GitHub Enterprise: its API root + `/repos/<owner>`). */
  gitHubOrgUrl: GitHubOrgUrl,
  gitHubGitOpsManifestsRepoName: optionalText("a repository name"),
  /** A GitHub App instead of `pat`: its id, the installation on the repository's owner, and its private key (`${file:…}`). */
  gitHubAppId: optionalNumericId("the GitHub App's id"),
  gitHubAppInstallationId: optionalNumericId("the id of the app's installation"),
  gitHubAppPrivateKey: privateKeySchema(),
};

const APP_KEYS = gitHubAppKeyNames("gitHub");

export type GitHubRepoFields = Partial<v.InferOutput<v.ObjectSchema<typeof KEYS, undefined>>>;

/** How GitHub spells an operator state (DESIGN §6); unmapped states are pending. */
export type GitHubState = "pending" | "success" | "failure" | "error";

export const GITHUB_STATES: Readonly<Record<string, GitHubState>> = Object.freeze({
  // Flux kustomize-controller
  ReconciliationSucceeded: "success",
  ReconciliationFailed: "failure",
  Progressing: "pending",
  DependencyNotReady: "pending",
  HealthCheckCanceled: "pending",
  HealthCheckFailed: "failure",
  PruneFailed: "failure",
  ArtifactFailed: "failure",
  BuildFailed: "failure",
  ValidationFailed: "failure",
  DirectoryCreationFailed: "failure",
  AccessDenied: "failure",
  InvalidCELExpression: "failure",
  FeatureGateDisabled: "failure",
  Suspended: "error",
  // Flux source-controller (NewArtifact events are ignored; mapped only so the table stays total by design)
  NewArtifact: "pending",
  GitOperationFailed: "failure",
  AuthenticationFailed: "failure",
  URLInvalid: "failure",
  StatOperationFailed: "failure",
  ArchiveOperationFailed: "failure",
  VerificationError: "failure",
  // The connector's own: neutral per-resource parts and fallbacks for unknown Flux reasons
  NotApplicable: "success",
  info: "pending",
  error: "failure",
  // Argo CD phase
  Running: "pending",
  Terminating: "pending",
  Inconclusive: "pending",
  Succeeded: "success",
  Failed: "failure",
  Error: "error",
  // Argo CD sync
  Synced: "success",
  OutOfSync: "pending",
  Unknown: "success",
  // Argo CD health (Progressing and Suspended above)
  Healthy: "success",
  Degraded: "error",
  Missing: "failure",
});

/** The GitHub commit status state for an operator state; `pending` when the state is not in the table. */
export function toGitHubState(state: OperatorState): GitHubState {
  return lookupState(GITHUB_STATES, state, "pending");
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

/** The Octokit calls a GitHub repository makes. */
export interface GitHubRepositoryCalls {
  readonly repos: Pick<GitHubCalls["repos"], "createCommitStatus" | "getCommit" | "compareCommitsWithBasehead" | "listPullRequestsAssociatedWithCommit">;
  readonly pulls: Pick<GitHubCalls["pulls"], "get" | "list">;
}

export interface GitHubRepositoryOptions extends Omit<GitProviderDeps, "logger"> {
  readonly instance: GitHubRepoFields & { readonly name: string };
  readonly logger?: GitProviderDeps["logger"];
  /** Octokit's, authenticated with `credentials`, unless given. */
  readonly calls?: GitHubRepositoryCalls;
}

/** `github:api.github.com/repos/org/manifests`. */
export function gitHubTarget(instance: GitHubRepoFields): string {
  return `github:${withoutScheme(instance.gitHubOrgUrl)}/${instance.gitHubGitOpsManifestsRepoName}`;
}

function describeCommitRead(instance: GitHubRepoFields, sha: string): string {
  return `GET ${apiBase(instance.gitHubOrgUrl)}/${instance.gitHubGitOpsManifestsRepoName}/commits/${sha}`;
}

/** A GitHub manifests repository. */
export function createGitHubRepository(options: GitHubRepositoryOptions): GitRepository {
  const { instance } = options;
  const location = requireGitHubLocation(instance.name, instance.gitHubOrgUrl);
  const repo = instance.gitHubGitOpsManifestsRepoName ?? "";
  const github = options.calls ?? createGitHubCalls({ ...options, baseUrl: location.baseUrl, instanceName: instance.name });
  const who = (permission: string): FailureParty => ({
    service: "GitHub",
    instance: instance.name,
    resource: `${location.owner}/${repo}`,
    tokenKey: credentialKey(options.credentials, "pat"),
    permission,
  });

  async function listPullRequestsOfCommit(sha: string, signal: AbortSignal) {
    try {
      const response = await github.repos.listPullRequestsAssociatedWithCommit({
        owner: location.owner,
        repo,
        commit_sha: sha,
        request: { signal },
      });
      return response.data;
    } catch (error) {
      throw toDeliveryError(error, who(READ_PULLS), signal);
    }
  }

  async function readCommitMessage(sha: string, signal: AbortSignal): Promise<string> {
    let data: Awaited<ReturnType<GitHubRepositoryCalls["repos"]["getCommit"]>>["data"];
    try {
      const response = await github.repos.getCommit({
        owner: location.owner,
        repo,
        ref: sha,
        request: { signal },
      });
      data = response.data;
    } catch (error) {
      throw toDeliveryError(error, who("the repo scope (fine-grained: Contents read) to read commits"), signal);
    }
    const message = data?.commit?.message;
    if (typeof message !== "string") {
      // An answer, but not a commit: a proxy's page, another API behind gitHubOrgUrl. No retry makes it one.
      throw new DeliveryError(
        `GitHub for instance ${instance.name} answered GET ${location.owner}/${repo}/commits/${sha} without commit.message; check gitHubOrgUrl points at the GitHub API`,
        { permanent: true },
      );
    }
    return message;
  }

  type Comparison = Awaited<ReturnType<GitHubRepositoryCalls["repos"]["compareCommitsWithBasehead"]>>["data"];

  async function compare(base: string, head: string, page: number, signal: AbortSignal): Promise<Comparison> {
    try {
      const response = await github.repos.compareCommitsWithBasehead({
        owner: location.owner,
        repo,
        basehead: `${base}...${head}`,
        per_page: COMPARE_PAGE_SIZE,
        page,
        request: { signal },
      });
      return response.data;
    } catch (error) {
      throw toDeliveryError(error, who("the repo scope (fine-grained: Contents read) to compare commits"), signal);
    }
  }

  const pipelineCallbacks: PipelineCallbackSource = {
    async pullRequestOfCommit(sha, signal) {
      const pulls = await listPullRequestsOfCommit(sha, signal);
      // A merge, squash or rebase makes the PR's merge_commit_sha the commit on the base branch.
      const merged = pulls.find((pr) => pr.merge_commit_sha === sha) ?? pulls.find((pr) => pr.merged_at);
      return merged?.number;
    },
    async callbackOf(pullRequest, signal) {
      try {
        const response = await github.pulls.get({
          owner: location.owner,
          repo,
          pull_number: pullRequest,
          request: { signal },
        });
        return findCallbackInPullRequestBody(response.data.body);
      } catch (error) {
        throw toDeliveryError(error, who(READ_PULLS), signal);
      }
    },
    async abandonedSince(since, signal) {
      const found: AbandonedPullRequest[] = [];
      for (let page = 1; page <= MAX_PAGES; page++) {
        let pulls;
        try {
          // Most recently updated first: closing updates a PR, so the scan stops at the first one older than `since`.
          pulls = await github.pulls.list({
            owner: location.owner,
            repo,
            state: "closed",
            sort: "updated",
            direction: "desc",
            per_page: PAGE_SIZE,
            page,
            request: { signal },
          });
        } catch (error) {
          throw toDeliveryError(error, who(READ_PULLS), signal);
        }
        for (const pr of pulls.data) {
          const closedAt = pr.closed_at ? Date.parse(pr.closed_at) : undefined;
          if (pr.merged_at || closedAt === undefined || closedAt < since.getTime()) continue;
          // Only PRs a pipeline waits on: the rest would each cost a read for nothing.
          if (!findCallbackInPullRequestBody(pr.body)) continue;
          found.push({ number: pr.number, closedAt: pr.closed_at ?? undefined });
        }
        const oldest = pulls.data.at(-1)?.updated_at;
        if (pulls.data.length < PAGE_SIZE || (oldest && Date.parse(oldest) < since.getTime())) break;
      }
      return found;
    },
    describeReads: (commit) => [`GET ${apiBase(instance.gitHubOrgUrl)}/${repo}/commits/${commit}/pulls (the merged PR)`, `GET ${apiBase(instance.gitHubOrgUrl)}/${repo}/pulls/<n> (<!-- gitops-connector: {…} --> in its body)`],
    noPullRequestHint: "(no merged PR has it as merge commit)",
  };

  return {
    target: gitHubTarget(instance),
    async commitsBetween(base, head, limit, signal) {
      // Commits come oldest first, a page at a time; the ones next to `head` are on the last page.
      const first = await compare(base, head, 1, signal);
      const pages = Math.ceil(first.total_commits / COMPARE_PAGE_SIZE);
      const commits = pages > 1 ? [...first.commits, ...(await compare(base, head, pages, signal)).commits] : first.commits;
      const parentsOf = new Map(commits.map((commit) => [commit.sha, commit.parents.map((parent) => parent.sha)]));
      const dates = new Map(commits.map((commit) => [commit.sha, commit.commit.committer?.date]));
      return firstParentChain(head, parentsOf, base, limit)
        .reverse()
        .map((sha) => ({ sha, ...(dates.get(sha) ? { committedAt: dates.get(sha) } : {}) }));
    },
    describeCommitsBetween: (base, head) => `GET ${apiBase(instance.gitHubOrgUrl)}/${repo}/compare/${base}...${head}`,
    async postStatus(job, signal) {
      try {
        await github.repos.createCommitStatus({
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
    describeStatus: (job) => toGitHubStatusRequest(instance, job),
    readCommitMessage,
    describeCommitRead: (sha) => describeCommitRead(instance, sha),
    pipelineCallbacks,
  };
}

export const github = {
  type: "GITHUB",
  title: "GitHub",
  keys: KEYS,
  requires: [
    { key: "gitHubOrgUrl", fix: "the API URL of the org, e.g. https://api.github.com/repos/org" },
    { key: "gitHubGitOpsManifestsRepoName", fix: "the GitHub repository holding the manifests" },
  ],
  check: (instance, report) => checkGitHubApp(instance, APP_KEYS, "pat", report),
  credentialsOf: (instance, context) => gitHubAppCredentials(instance, APP_KEYS, context.onSecret),
  describe: (instance) =>
    `GITHUB ${shortRepoLabel(instance.gitHubOrgUrl, instance.gitHubGitOpsManifestsRepoName)}${instance.gitHubAppId ? ` (GitHub App ${instance.gitHubAppId})` : ""}`,
  location: (instance) => gitHubRepositoryLocation(instance.gitHubOrgUrl, instance.gitHubGitOpsManifestsRepoName),
  stateOf: toGitHubState,
  pipelineCallbacks: true,
  create: (instance, deps) => createGitHubRepository({ ...deps, instance }),
  promotion: (instance, deps) =>
    createGitHubPromotion({
      location: requireGitHubLocation(instance.name, instance.gitHubOrgUrl),
      repo: instance.gitHubGitOpsManifestsRepoName ?? "",
      display: gitHubRepositoryLocation(instance.gitHubOrgUrl, instance.gitHubGitOpsManifestsRepoName),
      credentials: deps.credentials,
      userAgent: deps.userAgent,
      fetch: deps.fetch,
    }),
} satisfies GitProviderModule<GitHubRepoFields, typeof KEYS>;
