/**
 * The GitLab git provider: commit statuses (`POST /projects/:id/statuses/:sha`, the states
 * `pending|running|success|failed|canceled`, the context in `name`) and commit reads, on gitlab.com or a
 * self-managed instance (`gitLabUrl`). GitLab pull requests (merge requests) carry no Azure Pipelines callback here,
 * so its instances notify GitHub Actions or nothing. GitLab refuses to move a status to the state it already has
 * (400 "Cannot transition status via :run from :running"): the status is already what we wanted, so that answer
 * counts as delivered. Requests go through src/clients/json-http.ts rather than @gitbeaker/rest, which calls the
 * global fetch and so would escape the per-target outbound accounting (README, "Why GitLab calls use fetch").
 */
import * as v from "valibot";
import { tokenOf } from "../clients/credentials.ts";
import { createJsonHttp, type JsonHttp } from "../clients/json-http.ts";
import { apiMessageOf, type FailureParty } from "../clients/http-failure.ts";
import { DeliveryError } from "../core/delivery.ts";
import type { OutboundRequest } from "../core/http.ts";
import type { OperatorState, StatusJobPayload } from "../core/model.ts";
import { withoutScheme } from "../core/targets.ts";
import { choice, optionalHttpUrl, optionalText } from "../schema/parts.ts";
import { GITHUB_STATES } from "./github.ts";
import { type CommitOnBranch, type GitProviderDeps, type GitProviderModule, type GitRepository } from "./provider.ts";
import { lookupState } from "./states.ts";

export const GITLAB_COM = "https://gitlab.com";

const KEYS = {
  /** The server: `https://gitlab.com` (the default) or a self-managed one; its API is `<gitLabUrl>/api/v4`. */
  gitLabUrl: optionalHttpUrl("https://gitlab.example.com"),
  /** `group/subgroup/project`, or the project's numeric id. */
  gitLabGitOpsManifestsProject: optionalText("a project path such as group/manifests, or its numeric id"),
  /** How `pat` is sent: `PRIVATE-TOKEN` (personal, project and group access tokens) or `Authorization` (an OAuth token, as Bearer). */
  gitLabTokenHeader: v.optional(choice(["PRIVATE-TOKEN", "Authorization"]), "PRIVATE-TOKEN"),
};

export type GitLabFields = Partial<v.InferOutput<v.ObjectSchema<typeof KEYS, undefined>>>;

export type GitLabState = "pending" | "running" | "success" | "failed" | "canceled";

/** GitHub's table in GitLab's words, where GitLab has a word GitHub lacks: in progress is running, suspended canceled. */
const FROM_GITHUB: Readonly<Record<string, GitLabState>> = { pending: "pending", success: "success", failure: "failed", error: "failed" };
export const GITLAB_STATES: Readonly<Record<string, GitLabState>> = Object.freeze({
  ...Object.fromEntries(Object.entries(GITHUB_STATES).map(([state, github]) => [state, FROM_GITHUB[github] ?? "pending"])),
  Progressing: "running",
  Running: "running",
  Terminating: "running",
  Suspended: "canceled",
});

export function toGitLabState(state: OperatorState): GitLabState {
  return lookupState(GITLAB_STATES, state, "pending");
}

/** GitLab keeps 255 characters of a description. */
const DESCRIPTION_LIMIT = 255;

export function toGitLabStatusBody(job: StatusJobPayload) {
  const chars = Array.from(job.status.description);
  const description = chars.length <= DESCRIPTION_LIMIT ? job.status.description : `${chars.slice(0, DESCRIPTION_LIMIT - 1).join("")}…`;
  return { state: toGitLabState(job.status.state), name: job.status.context, target_url: job.callbackUrl, description };
}

/** `https://gitlab.com/api/v4`; a gitLabUrl written with its `/api/v4` is taken as it is. */
function apiRoot(instance: GitLabFields): string {
  const server = (instance.gitLabUrl ?? GITLAB_COM).replace(/\/+$/, "").replace(/\/api\/v4$/, "");
  return `${server}/api/v4`;
}

function projectUrl(instance: GitLabFields): string {
  return `${apiRoot(instance)}/projects/${encodeURIComponent(instance.gitLabGitOpsManifestsProject ?? "")}`;
}

export function toGitLabStatusRequest(instance: GitLabFields, job: StatusJobPayload): OutboundRequest {
  return { method: "POST", url: `${projectUrl(instance)}/statuses/${encodeURIComponent(job.commit)}`, body: toGitLabStatusBody(job) };
}

function commitUrl(instance: GitLabFields, sha: string): string {
  return `${projectUrl(instance)}/repository/commits/${encodeURIComponent(sha)}`;
}

const CommitAnswer = v.looseObject({
  id: v.string(),
  message: v.string(),
  parent_ids: v.optional(v.nullable(v.array(v.string()))),
  committed_date: v.optional(v.nullable(v.string())),
});

/** GitLab's answer when a status already has the state asked for: nothing left to do. */
export function isSameStateRefusal(status: number, body: unknown): boolean {
  return status === 400 && /cannot transition status/i.test(apiMessageOf(body) ?? "");
}

export interface GitLabRepositoryOptions extends Omit<GitProviderDeps, "logger"> {
  readonly instance: GitLabFields & { readonly name: string };
  /** The HTTP client, authenticated with `credentials`, unless given. */
  readonly http?: JsonHttp;
}

/** `gitlab.com/group/manifests`. */
function webLocation(instance: GitLabFields): string {
  return `${withoutScheme(instance.gitLabUrl ?? GITLAB_COM).replace(/\/api\/v4$/, "")}/${instance.gitLabGitOpsManifestsProject ?? ""}`;
}

export function gitLabTarget(instance: GitLabFields): string {
  return `gitlab:${webLocation(instance)}`;
}

export function createGitLabRepository(options: GitLabRepositoryOptions): GitRepository {
  const { instance } = options;
  const token = tokenOf(options.credentials);
  const headers: Record<string, string> = instance.gitLabTokenHeader === "Authorization" ? { authorization: `Bearer ${token}` } : { "private-token": token };
  const http = options.http ?? createJsonHttp({ headers, userAgent: options.userAgent, fetch: options.fetch });
  const who = (permission: string): FailureParty => ({
    service: "GitLab",
    instance: instance.name,
    resource: webLocation(instance),
    tokenKey: "pat",
    permission,
    notFound: `project ${webLocation(instance)} not found or not visible to the token of instance ${instance.name} (check gitLabUrl, gitLabGitOpsManifestsProject and pat)`,
  });
  const READ = "the read_api scope (or api) to read commits";

  async function readCommit(sha: string, signal: AbortSignal) {
    const answer = v.safeParse(CommitAnswer, await http.send({ method: "GET", url: commitUrl(instance, sha) }, who(READ), signal));
    if (!answer.success)
      throw new DeliveryError(`GitLab for instance ${instance.name} answered ${webLocation(instance)} with a commit without a message (commit ${sha}); check gitLabUrl`, { permanent: true });
    return answer.output;
  }

  return {
    target: gitLabTarget(instance),
    async postStatus(job, signal) {
      await http.send(toGitLabStatusRequest(instance, job), who("the api scope (Developer role) to post commit statuses"), signal, { tolerate: isSameStateRefusal });
    },
    describeStatus: (job) => toGitLabStatusRequest(instance, job),
    async readCommitMessage(sha, signal) {
      return (await readCommit(sha, signal)).message;
    },
    describeCommitRead: (sha) => `GET ${commitUrl(instance, sha)}`,
    /** The first-parent chain walked from head, one read a commit (the compare API is not needed for a handful). */
    async commitsBetween(base, head, limit, signal) {
      const chain: CommitOnBranch[] = [];
      let current = (await readCommit(head, signal)).parent_ids?.[0];
      while (current !== undefined && current !== base) {
        if (chain.length >= limit) return [];
        const commit = await readCommit(current, signal);
        chain.push({ sha: commit.id, ...(commit.committed_date ? { committedAt: commit.committed_date } : {}) });
        current = commit.parent_ids?.[0];
      }
      return current === base ? chain.reverse() : [];
    },
    describeCommitsBetween: (base, head) => `GET ${commitUrl(instance, head)}, then each first parent back to ${base}`,
  };
}

export const gitlab = {
  type: "GITLAB",
  title: "GitLab",
  keys: KEYS,
  requires: [{ key: "gitLabGitOpsManifestsProject", fix: "the project holding the manifests, e.g. group/manifests or its numeric id" }],
  defaults: (instance) => ({ gitLabUrl: instance.gitLabUrl ?? GITLAB_COM }),
  describe: (instance) => `GITLAB ${instance.gitLabGitOpsManifestsProject ?? "?"}`,
  location: webLocation,
  stateOf: toGitLabState,
  pipelineCallbacks: false,
  create: (instance, deps) => createGitLabRepository({ ...deps, instance }),
} satisfies GitProviderModule<GitLabFields, typeof KEYS>;
