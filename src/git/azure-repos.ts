/**
 * The Azure Repos git provider: commit statuses (https://learn.microsoft.com/rest/api/azure/devops/git/statuses/create),
 * commit messages and lists, and the pull-request reads of an Azure Pipelines callback (PR list by status, PR
 * properties). The pure half turns a status job into the request Azure DevOps expects (the dry run logs exactly
 * that); the repository sends it through src/clients/azure-devops.ts.
 */
import { createAzureReposPromotion } from "./azure-repos-promotion.ts";
import * as v from "valibot";
import { AzureDevOpsOrgUrl, AzurePrRepoName, createAzureDevOpsHttp, unexpectedAnswer, type AzureDevOpsHttp } from "../clients/azure-devops.ts";
import { apiBase, type OutboundRequest } from "../core/http.ts";
import type { FailureParty } from "../clients/http-failure.ts";
import type { OperatorState, StatusJobPayload } from "../core/model.ts";
import { shortRepoLabel, withoutScheme } from "../core/targets.ts";
import { CALLBACK_PROPERTY, parseMergedPullRequestNumber } from "../orchestrators/azure-pipelines-callback.ts";
import type { AbandonedPullRequest, PipelineCallbackSource } from "../orchestrators/ports.ts";
import { optionalText } from "../schema/parts.ts";
import { firstParentChain, MAX_SUPERSEDED_COMMITS, type GitProviderDeps, type GitProviderModule, type GitRepository } from "./provider.ts";
import { lookupState } from "./states.ts";

export const AZDO_API_VERSION = "7.1";
/** PRs per page of the abandoned-PR list, and the most pages one sweep reads. */
const PAGE_SIZE = 100;
const MAX_PAGES = 10;

/** The config keys of an Azure Repos manifests repository. */
const KEYS = {
  /** `https://dev.azure.com/<org>/<project>` */
  azdoOrgUrl: AzureDevOpsOrgUrl,
  azdoGitOpsRepoName: optionalText("a repository name"),
  /** Where the pipeline's PRs live; defaults to azdoGitOpsRepoName. */
  azdoPrRepoName: AzurePrRepoName,
};

export type AzureReposFields = Partial<v.InferOutput<v.ObjectSchema<typeof KEYS, undefined>>>;

export type AzureReposState = "pending" | "succeeded" | "failed" | "error" | "notApplicable";

export const AZURE_REPOS_STATES: Readonly<Record<string, AzureReposState>> = Object.freeze({
  // Flux kustomize-controller
  ReconciliationSucceeded: "succeeded",
  ReconciliationFailed: "failed",
  Progressing: "pending",
  // The original mapped this to `error`; it is transient (Flux retries once the dependency is ready), and an
  // error status would mark a deployment broken that is merely waiting. GitHub already had it as pending.
  DependencyNotReady: "pending",
  HealthCheckCanceled: "pending",
  HealthCheckFailed: "failed",
  PruneFailed: "failed",
  ArtifactFailed: "failed",
  BuildFailed: "failed",
  ValidationFailed: "failed",
  DirectoryCreationFailed: "failed",
  AccessDenied: "failed",
  InvalidCELExpression: "failed",
  FeatureGateDisabled: "failed",
  Suspended: "error",
  // Flux source-controller
  NewArtifact: "pending",
  GitOperationFailed: "failed",
  AuthenticationFailed: "failed",
  URLInvalid: "failed",
  StatOperationFailed: "failed",
  ArchiveOperationFailed: "failed",
  VerificationError: "failed",
  // The connector's own
  NotApplicable: "notApplicable",
  info: "pending",
  error: "failed",
  // Argo CD phase
  Running: "pending",
  Terminating: "pending",
  Inconclusive: "pending",
  Succeeded: "succeeded",
  Failed: "failed",
  Error: "error",
  // Argo CD sync
  Synced: "succeeded",
  OutOfSync: "pending",
  Unknown: "notApplicable",
  // Argo CD health
  Healthy: "succeeded",
  Degraded: "error",
  Missing: "failed",
});

/** The Azure Repos status state for an operator state; `pending` when the state is not in the table. */
export function toAzureReposState(state: OperatorState): AzureReposState {
  return lookupState(AZURE_REPOS_STATES, state, "pending");
}

/**
 * Azure Repos shows `genre/name` under each status. Default contexts put our unique context in `name` and
 * the genre gitops-promotion looks for (`fluxcd`, `argocd`) in `genre`; legacy keeps the original's pair.
 */
export function toAzureReposContext(job: StatusJobPayload): { name: string; genre: string } {
  if (job.statusContext === "legacy") return { name: job.status.name, genre: job.genre };
  return { name: job.status.context, genre: job.operator === "FLUX" ? "fluxcd" : "argocd" };
}

function repositoryUrl(instance: AzureReposFields, repository: string | undefined): string {
  return `${apiBase(instance.azdoOrgUrl)}/_apis/git/repositories/${encodeURIComponent(repository ?? "")}`;
}

export function toAzureReposStatusRequest(instance: AzureReposFields, job: StatusJobPayload): OutboundRequest {
  const context = toAzureReposContext(job);
  return {
    method: "POST",
    url: `${repositoryUrl(instance, instance.azdoGitOpsRepoName)}/commits/${encodeURIComponent(job.commit)}/statuses?api-version=${AZDO_API_VERSION}`,
    body: {
      state: toAzureReposState(job.status.state),
      description: `${job.status.name}: ${job.status.description}`,
      // Azure Repos merges statuses whose context and targetUrl are equal, so the noop parameter keeps them apart.
      // A gitOpsAppURL with its own query gets it as one more parameter (the original always added `?`).
      targetUrl: `${job.callbackUrl}${job.callbackUrl.includes("?") ? "&" : "?"}noop=${encodeURIComponent(context.name)}`,
      context,
    },
  };
}

/**
 * The abandoned PRs closed since `since`. Azure DevOps filters by closing time itself (queryTimeRangeType
 * closed), so a repository with years of abandoned PRs costs one page per sweep, not all of them.
 */
export function toAbandonedPullRequestsRequest(instance: AzureReposFields, since: Date, skip: number): OutboundRequest {
  const query = new URLSearchParams({
    "searchCriteria.status": "abandoned",
    "searchCriteria.queryTimeRangeType": "closed",
    "searchCriteria.minTime": since.toISOString(),
    $top: String(PAGE_SIZE),
    $skip: String(skip),
    "api-version": AZDO_API_VERSION,
  });
  // The vendor's description spells the list `pullrequests` and the properties `pullRequests`; Azure DevOps
  // itself ignores case, the contract does not.
  return { method: "GET", url: `${repositoryUrl(instance, instance.azdoPrRepoName ?? instance.azdoGitOpsRepoName)}/pullrequests?${query}` };
}

const CommitAnswer = v.looseObject({ comment: v.string() });
const CommitListAnswer = v.looseObject({
  value: v.array(
    v.looseObject({
      commitId: v.string(),
      parents: v.optional(v.nullable(v.array(v.string()))),
      comment: v.optional(v.string()),
      committer: v.optional(v.nullable(v.looseObject({ date: v.optional(v.string()) }))),
    }),
  ),
});

/** How many commits to read for `limit` superseded ones: room for merged PRs' own commits, which are in the range. */
export const commitListSizeFor = (limit: number) => Math.min(1000, limit * 10 + 1);

/**
 * The commits reachable from `head` and not from `base` (`git log base..head`), newest first: what a range of
 * superseded commits is read from.
 * https://learn.microsoft.com/rest/api/azure/devops/git/commits/get-commits
 */
export function toCommitsBetweenRequest(instance: AzureReposFields, base: string, head: string, top: number): OutboundRequest {
  const query = new URLSearchParams({
    "searchCriteria.itemVersion.version": head,
    "searchCriteria.itemVersion.versionType": "commit",
    "searchCriteria.compareVersion.version": base,
    "searchCriteria.compareVersion.versionType": "commit",
    "searchCriteria.$top": String(top),
    "api-version": AZDO_API_VERSION,
  });
  return { method: "GET", url: `${repositoryUrl(instance, instance.azdoGitOpsRepoName)}/commits?${query}` };
}
const PullRequestList = v.looseObject({
  value: v.array(v.looseObject({ pullRequestId: v.number(), status: v.optional(v.string()), closedDate: v.optional(v.string()) })),
});
/** The wire format of PR properties: `{count, value: {<key>: {$type, $value}}}`. */
const PropertiesAnswer = v.looseObject({
  value: v.optional(v.nullable(v.record(v.string(), v.looseObject({ $value: v.optional(v.unknown()) })))),
});

export interface AzureReposRepositoryOptions extends Omit<GitProviderDeps, "logger"> {
  readonly instance: AzureReposFields & { readonly name: string };
  /** The HTTP client, authenticated with `credentials`, unless given. */
  readonly http?: AzureDevOpsHttp;
}

/** `azdo:dev.azure.com/org/project/manifests`. */
export function azureReposTarget(instance: AzureReposFields): string {
  return `azdo:${withoutScheme(instance.azdoOrgUrl)}/${instance.azdoGitOpsRepoName}`;
}

/** An Azure Repos manifests repository. */
export function createAzureReposRepository(options: AzureReposRepositoryOptions): GitRepository {
  const { instance } = options;
  const http = options.http ?? createAzureDevOpsHttp(options);
  const prRepository = instance.azdoPrRepoName ?? instance.azdoGitOpsRepoName;
  const where = (repository: string | undefined) => `${withoutScheme(instance.azdoOrgUrl)}/${repository}`;
  const who = (repository: string | undefined, permission: string, repoKey: string): FailureParty => ({
    service: "Azure DevOps",
    instance: instance.name,
    resource: where(repository),
    tokenKey: "pat",
    permission,
    notFound: `repository ${where(repository)} not found or not visible to the token of instance ${instance.name} (check azdoOrgUrl, ${repoKey} and pat)`,
  });
  const manifests = (permission: string) => who(instance.azdoGitOpsRepoName, permission, "azdoGitOpsRepoName");
  const pullRequests = who(prRepository, "Code (Read) to read pull requests", instance.azdoPrRepoName ? "azdoPrRepoName" : "azdoGitOpsRepoName");

  async function readCommitMessage(sha: string, signal: AbortSignal): Promise<string> {
    const party = manifests("Code (Read) to read commits");
    const url = `${repositoryUrl(instance, instance.azdoGitOpsRepoName)}/commits/${encodeURIComponent(sha)}?api-version=${AZDO_API_VERSION}`;
    const answer = v.safeParse(CommitAnswer, await http.send({ method: "GET", url }, party, signal));
    if (!answer.success) throw unexpectedAnswer(party, `a commit without a comment (commit ${sha})`);
    return answer.output.comment;
  }

  const pipelineCallbacks: PipelineCallbackSource = {
    async pullRequestOfCommit(sha, signal) {
      return parseMergedPullRequestNumber(await readCommitMessage(sha, signal));
    },
    async callbackOf(pullRequest, signal) {
      const url = `${repositoryUrl(instance, prRepository)}/pullRequests/${pullRequest}/properties?api-version=${AZDO_API_VERSION}`;
      const answer = v.safeParse(PropertiesAnswer, await http.send({ method: "GET", url }, pullRequests, signal));
      if (!answer.success) throw unexpectedAnswer(pullRequests, `PR ${pullRequest} properties in an unknown format`);
      const value = answer.output.value?.[CALLBACK_PROPERTY]?.$value;
      if (value === undefined || value === null) return undefined;
      return typeof value === "string" ? value : JSON.stringify(value);
    },
    async abandonedSince(since, signal) {
      const found: AbandonedPullRequest[] = [];
      for (let page = 0; page < MAX_PAGES; page++) {
        const request = toAbandonedPullRequestsRequest(instance, since, page * PAGE_SIZE);
        const answer = v.safeParse(PullRequestList, await http.send(request, pullRequests, signal));
        if (!answer.success) throw unexpectedAnswer(pullRequests, "a pull request list in an unknown format");
        for (const pr of answer.output.value) {
          // Filtered again here: an older server may ignore the time range and return every abandoned PR.
          if (pr.status !== undefined && pr.status !== "abandoned") continue;
          if (pr.closedDate !== undefined && Date.parse(pr.closedDate) < since.getTime()) continue;
          found.push({ number: pr.pullRequestId, ...(pr.closedDate ? { closedAt: pr.closedDate } : {}) });
        }
        if (answer.output.value.length < PAGE_SIZE) break;
      }
      return found;
    },
    describeReads: (commit) => [describeCommitRead(commit), `GET ${repositoryUrl(instance, prRepository)}/pullRequests/<n from "Merged PR <n>:">/properties`],
    noPullRequestHint: '(its message has no "Merged PR <n>:")',
  };

  function describeCommitRead(sha: string): string {
    return `GET ${repositoryUrl(instance, instance.azdoGitOpsRepoName)}/commits/${sha}`;
  }

  return {
    target: azureReposTarget(instance),
    async postStatus(job, signal) {
      await http.send(toAzureReposStatusRequest(instance, job), manifests("Code (Status) to post commit statuses"), signal);
    },
    describeStatus: (job) => toAzureReposStatusRequest(instance, job),
    async commitsBetween(base, head, limit, signal) {
      const party = manifests("Code (Read) to read commits");
      const answer = v.safeParse(CommitListAnswer, await http.send(toCommitsBetweenRequest(instance, base, head, commitListSizeFor(limit)), party, signal));
      if (!answer.success) throw unexpectedAnswer(party, `a commit list in an unknown format (${base}..${head})`);
      const commits = answer.output.value;
      const dateOf = (commit: (typeof commits)[number]) => (commit.committer?.date ? { committedAt: commit.committer.date } : {});
      if (commits.every((commit) => Array.isArray(commit.parents))) {
        const byId = new Map(commits.map((commit) => [commit.commitId, commit]));
        const parentsOf = new Map(commits.map((commit) => [commit.commitId, commit.parents ?? []]));
        return firstParentChain(head, parentsOf, base, limit)
          .reverse()
          .map((sha) => ({ sha, ...dateOf(byId.get(sha)!) }));
      }
      // Without parents the branch's own commits are told apart by Azure Repos' PR merge message, "Merged PR <n>: …".
      return commits
        .filter((commit) => commit.commitId !== head && parseMergedPullRequestNumber(commit.comment ?? "") !== undefined)
        .slice(0, limit)
        .reverse()
        .map((commit) => ({ sha: commit.commitId, ...dateOf(commit) }));
    },
    describeCommitsBetween(base, head) {
      const request = toCommitsBetweenRequest(instance, base, head, commitListSizeFor(MAX_SUPERSEDED_COMMITS));
      return `${request.method} ${request.url}`;
    },
    readCommitMessage,
    describeCommitRead,
    pipelineCallbacks,
  };
}

export const azureRepos = {
  type: "AZDO",
  title: "Azure Repos",
  keys: KEYS,
  requires: [
    { key: "azdoOrgUrl", fix: "the organization/project URL, e.g. https://dev.azure.com/org/project" },
    { key: "azdoGitOpsRepoName", fix: "the Azure Repos repository holding the manifests" },
  ],
  defaults: (instance) => ({ azdoPrRepoName: instance.azdoPrRepoName ?? instance.azdoGitOpsRepoName }),
  describe: (instance) => `AZDO ${shortRepoLabel(instance.azdoOrgUrl, instance.azdoGitOpsRepoName)}`,
  location: (instance) => `${withoutScheme(instance.azdoOrgUrl)}/_git/${instance.azdoGitOpsRepoName ?? ""}`,
  stateOf: toAzureReposState,
  pipelineCallbacks: true,
  create: (instance, deps) => createAzureReposRepository({ ...deps, instance }),
  promotion: (instance, deps) =>
    createAzureReposPromotion({
      orgUrl: instance.azdoOrgUrl ?? "",
      repo: instance.azdoGitOpsRepoName ?? "",
      display: `${withoutScheme(instance.azdoOrgUrl)}/_git/${instance.azdoGitOpsRepoName ?? ""}`,
      credentials: deps.credentials,
      userAgent: deps.userAgent,
      fetch: deps.fetch,
    }),
} satisfies GitProviderModule<AzureReposFields, typeof KEYS>;
