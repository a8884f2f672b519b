/**
 * The promotion port on Azure Repos (REST 7.1, fetch): items read at a commit, one push with `oldObjectId` for
 * the commit and the ref together (no force: a branch that exists gets the commit on its tip), PRs with
 * auto-complete (`deleteSourceBranch`, as gitops-promotion sets it), the metadata mirrored into a PR property,
 * `pullrequestquery` for the PR behind a merge commit, and statuses of genre `fluxcd` (what Flux and we post).
 */
import { createAzureDevOpsHttp, unexpectedAnswer, type AzureDevOpsHttp } from "../clients/azure-devops.ts";
import type { Credentials } from "../clients/credentials.ts";
import type { FailureParty } from "../clients/http-failure.ts";
import { DeliveryError } from "../core/delivery.ts";
import { apiBase, type FetchLike, type OutboundRequest } from "../core/http.ts";
import type { CommitStatus, MergedPullRequest, PromotionPullRequest, PromotionRepository, RepositoryFile } from "../promotion/port.ts";

export interface AzureReposPromotionOptions {
  /** `https://dev.azure.com/org/project`. */
  readonly orgUrl: string;
  readonly repo: string;
  readonly credentials: Credentials;
  readonly userAgent: string;
  readonly display: string;
  readonly fetch?: FetchLike;
  readonly http?: AzureDevOpsHttp;
}

const API = "api-version=7.1";
/** Where the metadata is mirrored on a PR (the body stays the source gitops-promotion reads). */
export const PROMOTION_PROPERTY = "gitops-promotion.metadata";
const MERGE_STRATEGY = { merge: "noFastForward", squash: "squash", rebase: "rebase" } as const;
const STATE: Readonly<Record<string, CommitStatus["state"]>> = { succeeded: "success", failed: "failure", error: "error" };
const AZURE_STATE = { success: "succeeded", failure: "failed", pending: "pending" } as const;
/** The genre of the statuses promotion posts itself (`gitops-connector/promotion/apps-dev` in Azure's UI). */
export const PROMOTION_GENRE = "gitops-connector";

interface AzurePullRequest {
  readonly pullRequestId: number;
  readonly title?: string;
  readonly description?: string;
  readonly sourceRefName?: string;
  readonly status?: string;
  readonly createdBy?: { readonly id?: string };
  readonly lastMergeSourceCommit?: { readonly commitId?: string };
  readonly lastMergeCommit?: { readonly commitId?: string };
  readonly closedDate?: string;
}

export function createAzureReposPromotion(options: AzureReposPromotionOptions): PromotionRepository {
  const base = `${apiBase(options.orgUrl)}/_apis/git/repositories/${encodeURIComponent(options.repo)}`;
  const http = options.http ?? createAzureDevOpsHttp({ credentials: options.credentials, userAgent: options.userAgent, fetch: options.fetch });
  const who = (permission: string): FailureParty => ({ service: "Azure DevOps", instance: "promote", resource: options.display, tokenKey: "the token", permission });
  const CODE = who("Code (Read & write)");
  const PULLS = who("Code (Read & write) and Pull Request Threads");
  const STATUS = who("Code (Status)");
  const send = (request: OutboundRequest, party: FailureParty, tolerate404 = false) =>
    http.send(request, party, AbortSignal.timeout(30_000), tolerate404 ? { tolerate: (status) => status === 404 } : undefined);
  const atCommit = (commit: string) => `versionDescriptor.version=${encodeURIComponent(commit)}&versionDescriptor.versionType=commit`;
  const webUrl = (id: number) => `${apiBase(options.orgUrl)}/_git/${encodeURIComponent(options.repo)}/pullrequest/${id}`;

  function toPullRequest(pr: AzurePullRequest): PromotionPullRequest {
    return {
      number: pr.pullRequestId,
      title: pr.title ?? "",
      body: pr.description ?? "",
      branch: (pr.sourceRefName ?? "").replace(/^refs\/heads\//, ""),
      headSha: pr.lastMergeSourceCommit?.commitId ?? "",
      url: webUrl(pr.pullRequestId),
    };
  }

  async function readPullRequest(id: number): Promise<AzurePullRequest> {
    const answer = (await send({ method: "GET", url: `${base}/pullrequests/${id}?${API}` }, PULLS)) as AzurePullRequest | undefined;
    if (typeof answer?.pullRequestId !== "number") throw unexpectedAnswer(PULLS, `pull request ${id} in an unknown format`);
    return answer;
  }

  async function mirrorMetadata(id: number, body: string): Promise<void> {
    const start = body.indexOf("<!-- metadata = ");
    const end = body.indexOf(" -->");
    if (start === -1 || end === -1) return;
    await send({
      method: "PATCH",
      url: `${base}/pullRequests/${id}/properties?${API}`,
      contentType: "application/json-patch+json",
      body: [{ op: "add", path: `/${PROMOTION_PROPERTY}`, value: body.slice(start + "<!-- metadata = ".length, end) }],
    }, PULLS);
  }

  async function readItem(commit: string, path: string): Promise<string | undefined> {
    const url = `${base}/items?path=${encodeURIComponent(`/${path}`)}&includeContent=true&${atCommit(commit)}&${API}`;
    const answer = (await send({ method: "GET", url }, CODE, true)) as { content?: unknown; isFolder?: boolean; value?: unknown } | undefined;
    if (answer === undefined || answer.value !== undefined || answer.isFolder === true) return undefined;
    if (typeof answer.content !== "string") {
      if ((answer as { message?: unknown }).message !== undefined) return undefined; // the tolerated 404's body
      throw unexpectedAnswer(CODE, `the item /${path} without its content`);
    }
    return answer.content;
  }

  return {
    location: options.display,

    async branchTip(branch) {
      const answer = (await send({ method: "GET", url: `${base}/refs?filter=${encodeURIComponent(`heads/${branch}`)}&${API}` }, CODE)) as { value?: { name?: string; objectId?: string }[] };
      return answer?.value?.find((ref) => ref.name === `refs/heads/${branch}`)?.objectId;
    },

    async listFiles(commit, folder) {
      const url = `${base}/items?path=${encodeURIComponent(`/${folder.replace(/\/+$/, "")}`)}&recursionLevel=full&${atCommit(commit)}&${API}`;
      const answer = (await send({ method: "GET", url }, CODE, true)) as { value?: { path?: string; objectId?: string; isFolder?: boolean; gitObjectType?: string }[] } | undefined;
      return (answer?.value ?? [])
        .filter((item) => item.isFolder !== true && item.gitObjectType !== "tree" && typeof item.path === "string" && typeof item.objectId === "string")
        .map((item): RepositoryFile => ({ path: item.path!.replace(/^\//, ""), id: item.objectId! }));
    },

    async readFile(commit, file) {
      const text = await readItem(commit, file.path);
      if (text === undefined) throw new DeliveryError(`Azure DevOps has no ${file.path} at ${commit.slice(0, 7)} in ${options.display}`, { permanent: true });
      return text;
    },

    readPath: readItem,

    async isAncestor(ancestor, descendant) {
      if (ancestor === descendant) return true;
      const url = `${base}/commits/${encodeURIComponent(descendant)}/mergebases?otherCommitId=${encodeURIComponent(ancestor)}&${API}`;
      const answer = (await send({ method: "GET", url }, CODE, true)) as { value?: { commitId?: string }[] } | undefined;
      return answer?.value?.some((commit) => commit.commitId === ancestor) === true;
    },

    async writeBranch(write) {
      const onto = write.currentTip ?? write.parent;
      const changes = [];
      for (const file of write.files) {
        const exists = onto === write.parent || (await readItem(onto, file.path)) !== undefined;
        changes.push({
          changeType: exists ? "edit" : "add",
          item: { path: `/${file.path}` },
          newContent: { content: Buffer.from(file.text, "utf8").toString("base64"), contentType: "base64Encoded" },
        });
      }
      const answer = (await send({
        method: "POST",
        url: `${base}/pushes?${API}`,
        body: { refUpdates: [{ name: `refs/heads/${write.branch}`, oldObjectId: onto }], commits: [{ comment: write.message, changes }] },
      }, CODE)) as { commits?: { commitId?: string }[]; refUpdates?: { newObjectId?: string }[] } | undefined;
      const commit = answer?.commits?.at(-1)?.commitId ?? answer?.refUpdates?.[0]?.newObjectId;
      if (typeof commit !== "string") throw unexpectedAnswer(CODE, "a push without its commit");
      return commit;
    },

    async openPullRequests(branch, baseBranch) {
      const query = `searchCriteria.sourceRefName=${encodeURIComponent(`refs/heads/${branch}`)}&searchCriteria.targetRefName=${encodeURIComponent(`refs/heads/${baseBranch}`)}&searchCriteria.status=active`;
      const answer = (await send({ method: "GET", url: `${base}/pullrequests?${query}&${API}` }, PULLS)) as { value?: AzurePullRequest[] };
      // Lists cut descriptions at 400 characters: read each PR whole before its metadata is parsed.
      return Promise.all((answer?.value ?? []).map(async (pr) => toPullRequest(await readPullRequest(pr.pullRequestId))));
    },

    async pullRequest(number) {
      return toPullRequest(await readPullRequest(number));
    },

    async createPullRequest({ branch, base: target, title, body }) {
      const created = (await send({
        method: "POST",
        url: `${base}/pullrequests?${API}`,
        body: { sourceRefName: `refs/heads/${branch}`, targetRefName: `refs/heads/${target}`, title, description: body },
      }, PULLS)) as AzurePullRequest | undefined;
      if (typeof created?.pullRequestId !== "number") throw unexpectedAnswer(PULLS, "a created pull request without its id");
      await mirrorMetadata(created.pullRequestId, body);
      return toPullRequest(created);
    },

    async updatePullRequest(number, { title, body }) {
      const updated = (await send({ method: "PATCH", url: `${base}/pullrequests/${number}?${API}`, body: { title, description: body } }, PULLS)) as AzurePullRequest | undefined;
      await mirrorMetadata(number, body);
      return toPullRequest(typeof updated?.pullRequestId === "number" ? updated : await readPullRequest(number));
    },

    async enableAutoMerge(pullRequest, method) {
      const pr = await readPullRequest(pullRequest.number);
      const by = pr.createdBy?.id;
      if (by === undefined) return { kind: "refused", message: `pull request ${pullRequest.number} does not say who created it, so auto-complete cannot be set` };
      await send({
        method: "PATCH",
        url: `${base}/pullrequests/${pullRequest.number}?${API}`,
        body: { autoCompleteSetBy: { id: by }, completionOptions: { deleteSourceBranch: true, mergeStrategy: MERGE_STRATEGY[method] } },
      }, PULLS);
      return { kind: "enabled" };
    },

    async mergedPullRequestOf(sha) {
      const answer = (await send({ method: "POST", url: `${base}/pullrequestquery?${API}`, body: { queries: [{ type: "lastMergeCommit", items: [sha] }] } }, PULLS)) as
        { results?: Record<string, AzurePullRequest[]>[] } | undefined;
      const found = answer?.results?.[0]?.[sha]?.[0];
      return found === undefined ? undefined : toPullRequest(await readPullRequest(found.pullRequestId));
    },

    async recentlyMergedPullRequests(baseBranch, limit) {
      const query = `searchCriteria.targetRefName=${encodeURIComponent(`refs/heads/${baseBranch}`)}&searchCriteria.status=completed&$top=${limit}`;
      const answer = (await send({ method: "GET", url: `${base}/pullrequests?${query}&${API}` }, PULLS)) as { value?: AzurePullRequest[] };
      const merged = (answer?.value ?? []).filter((pr) => typeof pr.lastMergeCommit?.commitId === "string");
      // Lists cut descriptions at 400 characters: re-read only those that carry promotion metadata.
      return Promise.all(merged.map(async (pr): Promise<MergedPullRequest> => {
        const whole = pr.description?.includes("<!-- metadata = ") ? await readPullRequest(pr.pullRequestId) : pr;
        return { ...toPullRequest(whole), mergeCommit: pr.lastMergeCommit!.commitId! };
      }));
    },

    async postStatus(sha, status) {
      await send({
        method: "POST",
        url: `${base}/commits/${encodeURIComponent(sha)}/statuses?${API}`,
        body: { state: AZURE_STATE[status.state], description: status.description, context: { name: status.context, genre: PROMOTION_GENRE } },
      }, STATUS);
    },

    async statuses(sha) {
      const answer = (await send({ method: "GET", url: `${base}/commits/${encodeURIComponent(sha)}/statuses?latestOnly=true&top=1000&${API}` }, STATUS)) as
        { value?: { state?: string; description?: string; context?: { name?: string; genre?: string } }[] };
      return (answer?.value ?? [])
        .filter((status) => status.context?.genre === "fluxcd" && typeof status.context.name === "string")
        .map((status): CommitStatus => ({ context: status.context!.name!, state: STATE[status.state ?? ""] ?? "pending", ...(status.description ? { description: status.description } : {}) }));
    },
  };
}
