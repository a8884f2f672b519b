/**
 * The Gitea git provider (Forgejo too: it serves the same API), asked for in Azure/gitops-connector#76: commit
 * statuses (`POST /repos/{owner}/{repo}/statuses/{sha}`, the states `pending|success|error|failure|warning` and the
 * same contexts as on GitHub), commit reads, and the pull-request reads of an Azure Pipelines callback, kept like on
 * GitHub as a comment in the PR body. Gitea has no SDK of ours; src/clients/json-http.ts sends the requests with the
 * token as `Authorization: token …`. Reference: Gitea's own Swagger description, /api/swagger on any server.
 */
import * as v from "valibot";
import { tokenOf } from "../clients/credentials.ts";
import { createJsonHttp, type JsonHttp } from "../clients/json-http.ts";
import type { FailureParty } from "../clients/http-failure.ts";
import { DeliveryError } from "../core/delivery.ts";
import type { OutboundRequest } from "../core/http.ts";
import type { StatusJobPayload } from "../core/model.ts";
import { withoutScheme } from "../core/targets.ts";
import { findCallbackInPullRequestBody } from "../orchestrators/azure-pipelines-callback.ts";
import type { AbandonedPullRequest, PipelineCallbackSource } from "../orchestrators/ports.ts";
import { optionalHttpUrl, optionalText } from "../schema/parts.ts";
import { toGitHubState } from "./github.ts";
import { type CommitOnBranch, type GitProviderDeps, type GitProviderModule, type GitRepository } from "./provider.ts";

const ORG_URL_FORM = "https://<host>/api/v1/repos/<owner>";

/** `https://gitea.example.com/api/v1/repos/<owner>` → the API root and the owner; undefined for another shape. */
export function parseGiteaOrgUrl(orgUrl: string): { readonly apiRoot: string; readonly owner: string } | undefined {
  if (!URL.canParse(orgUrl)) return undefined;
  const url = new URL(orgUrl);
  const match = /^(.*\/api\/v1)\/repos\/([^/]+)\/*$/.exec(url.pathname);
  if (!match || !match[2]) return undefined;
  return { apiRoot: `${url.origin}${match[1]}`, owner: decodeURIComponent(match[2]) };
}

const KEYS = {
  /** `https://gitea.example.com/api/v1/repos/<owner>`: the API URL of the owner (a user or an organization). */
  giteaOrgUrl: v.pipe(
    optionalHttpUrl(`https://gitea.example.com/api/v1/repos/org`),
    v.check((url) => url === undefined || !URL.canParse(url) || parseGiteaOrgUrl(url) !== undefined, `must look like ${ORG_URL_FORM}`),
  ),
  giteaGitOpsManifestsRepoName: optionalText("a repository name"),
};

export type GiteaFields = Partial<v.InferOutput<v.ObjectSchema<typeof KEYS, undefined>>>;

/** The JSON body of a status: what the dry run shows and the wire carries. */
export function toGiteaStatusBody(job: StatusJobPayload) {
  return { state: toGitHubState(job.status.state), target_url: job.callbackUrl, description: job.status.description, context: job.status.context };
}

function repositoryUrl(instance: GiteaFields): string {
  const location = parseGiteaOrgUrl(instance.giteaOrgUrl ?? "");
  const root = location ? `${location.apiRoot}/repos/${encodeURIComponent(location.owner)}` : (instance.giteaOrgUrl ?? "").replace(/\/+$/, "");
  return `${root}/${encodeURIComponent(instance.giteaGitOpsManifestsRepoName ?? "")}`;
}

export function toGiteaStatusRequest(instance: GiteaFields, job: StatusJobPayload): OutboundRequest {
  return { method: "POST", url: `${repositoryUrl(instance)}/statuses/${encodeURIComponent(job.commit)}`, body: toGiteaStatusBody(job) };
}

function commitUrl(instance: GiteaFields, sha: string): string {
  // Without the stats, signature check and file list Gitea would otherwise compute for every read.
  return `${repositoryUrl(instance)}/git/commits/${encodeURIComponent(sha)}?stat=false&verification=false&files=false`;
}

const CommitAnswer = v.looseObject({
  sha: v.string(),
  commit: v.looseObject({ message: v.string(), committer: v.optional(v.nullable(v.looseObject({ date: v.optional(v.string()) }))) }),
  parents: v.optional(v.nullable(v.array(v.looseObject({ sha: v.string() })))),
});
const PullRequestAnswer = v.looseObject({
  number: v.number(),
  body: v.optional(v.nullable(v.string())),
  merged: v.optional(v.nullable(v.boolean())),
  closed_at: v.optional(v.nullable(v.string())),
  updated_at: v.optional(v.nullable(v.string())),
});

/** Gitea answers at most this many per page (its MAX_RESPONSE_ITEMS default), and a sweep reads this many pages. */
const PAGE_SIZE = 50;
const MAX_PAGES = 5;

export interface GiteaRepositoryOptions extends Omit<GitProviderDeps, "logger"> {
  readonly instance: GiteaFields & { readonly name: string };
  /** The HTTP client, authenticated with `credentials`, unless given. */
  readonly http?: JsonHttp;
}

export function giteaTarget(instance: GiteaFields): string {
  return `gitea:${withoutScheme(instance.giteaOrgUrl)}/${instance.giteaGitOpsManifestsRepoName}`;
}

/** `gitea.example.com/org/manifests`: the repository as a person finds it in the browser. */
function webLocation(instance: GiteaFields): string {
  return `${withoutScheme(instance.giteaOrgUrl).replace(/\/api\/v1\/repos\//, "/")}/${instance.giteaGitOpsManifestsRepoName ?? ""}`;
}

export function createGiteaRepository(options: GiteaRepositoryOptions): GitRepository {
  const { instance } = options;
  const http = options.http ?? createJsonHttp({ headers: { authorization: `token ${tokenOf(options.credentials)}` }, userAgent: options.userAgent, fetch: options.fetch });
  const who = (permission: string): FailureParty => ({
    service: "Gitea",
    instance: instance.name,
    resource: webLocation(instance),
    tokenKey: "pat",
    permission,
    notFound: `repository ${webLocation(instance)} not found or not visible to the token of instance ${instance.name} (check giteaOrgUrl, giteaGitOpsManifestsRepoName and pat)`,
  });
  const READ = "the read:repository scope to read commits and pull requests";
  const unexpected = (what: string) => new DeliveryError(`Gitea for instance ${instance.name} answered ${webLocation(instance)} with ${what}`, { permanent: true });

  async function readCommit(sha: string, signal: AbortSignal) {
    const answer = v.safeParse(CommitAnswer, await http.send({ method: "GET", url: commitUrl(instance, sha) }, who(READ), signal));
    if (!answer.success) throw unexpected(`a commit without a message (commit ${sha}); check giteaOrgUrl points at the Gitea API`);
    return answer.output;
  }

  async function readPullRequest(url: string, signal: AbortSignal) {
    const answer = v.safeParse(PullRequestAnswer, await http.send({ method: "GET", url }, who(READ), signal));
    if (!answer.success) throw unexpected("a pull request in an unknown format");
    return answer.output;
  }

  const pipelineCallbacks: PipelineCallbackSource = {
    async pullRequestOfCommit(sha, signal) {
      try {
        const pull = await readPullRequest(`${repositoryUrl(instance)}/commits/${encodeURIComponent(sha)}/pull`, signal);
        return pull.merged === false ? undefined : pull.number;
      } catch (error) {
        // Gitea answers 404 when no pull request has this commit.
        if (error instanceof DeliveryError && error.status === 404) return undefined;
        throw error;
      }
    },
    async callbackOf(pullRequest, signal) {
      return findCallbackInPullRequestBody((await readPullRequest(`${repositoryUrl(instance)}/pulls/${pullRequest}`, signal)).body);
    },
    async abandonedSince(since, signal) {
      const found: AbandonedPullRequest[] = [];
      for (let page = 1; page <= MAX_PAGES; page++) {
        const url = `${repositoryUrl(instance)}/pulls?state=closed&sort=recentupdate&page=${page}&limit=${PAGE_SIZE}`;
        const answer = v.safeParse(v.array(PullRequestAnswer), await http.send({ method: "GET", url }, who(READ), signal));
        if (!answer.success) throw unexpected("a pull request list in an unknown format");
        for (const pr of answer.output) {
          const closedAt = pr.closed_at ? Date.parse(pr.closed_at) : undefined;
          if (pr.merged || closedAt === undefined || closedAt < since.getTime()) continue;
          if (!findCallbackInPullRequestBody(pr.body)) continue;
          found.push({ number: pr.number, ...(pr.closed_at ? { closedAt: pr.closed_at } : {}) });
        }
        const oldest = answer.output.at(-1)?.updated_at;
        if (answer.output.length < PAGE_SIZE || (oldest && Date.parse(oldest) < since.getTime())) break;
      }
      return found;
    },
    describeReads: (commit) => [`GET ${repositoryUrl(instance)}/commits/${commit}/pull (the merged PR)`, `GET ${repositoryUrl(instance)}/pulls/<n> (<!-- gitops-connector: {…} --> in its body)`],
    noPullRequestHint: "(Gitea names no pull request for it)",
  };

  return {
    target: giteaTarget(instance),
    async postStatus(job, signal) {
      await http.send(toGiteaStatusRequest(instance, job), who("the write:repository scope to post commit statuses"), signal);
    },
    describeStatus: (job) => toGiteaStatusRequest(instance, job),
    async readCommitMessage(sha, signal) {
      return (await readCommit(sha, signal)).commit.message;
    },
    describeCommitRead: (sha) => `GET ${commitUrl(instance, sha)}`,
    /** Gitea's compare is newer than many servers: the first-parent chain is walked from head, one read a commit. */
    async commitsBetween(base, head, limit, signal) {
      const chain: CommitOnBranch[] = [];
      let current = (await readCommit(head, signal)).parents?.[0]?.sha;
      while (current !== undefined && current !== base) {
        if (chain.length >= limit) return []; // base is not within reach: not an ancestor, or too far back
        const commit = await readCommit(current, signal);
        const date = commit.commit.committer?.date;
        chain.push({ sha: commit.sha, ...(date ? { committedAt: date } : {}) });
        current = commit.parents?.[0]?.sha;
      }
      // A chain that never met base (a rollback, a force push) holds no superseded commit.
      return current === base ? chain.reverse() : [];
    },
    describeCommitsBetween: (base, head) => `GET ${commitUrl(instance, head)}, then each first parent back to ${base}`,
    pipelineCallbacks,
  };
}

export const gitea = {
  type: "GITEA",
  title: "Gitea",
  keys: KEYS,
  requires: [
    { key: "giteaOrgUrl", fix: `the API URL of the owner, e.g. https://gitea.example.com/api/v1/repos/org` },
    { key: "giteaGitOpsManifestsRepoName", fix: "the Gitea repository holding the manifests" },
  ],
  describe: (instance) => `GITEA ${[parseGiteaOrgUrl(instance.giteaOrgUrl ?? "")?.owner, instance.giteaGitOpsManifestsRepoName].filter(Boolean).join("/") || "?"}`,
  location: webLocation,
  stateOf: toGitHubState,
  pipelineCallbacks: true,
  create: (instance, deps) => createGiteaRepository({ ...deps, instance }),
} satisfies GitProviderModule<GiteaFields, typeof KEYS>;
