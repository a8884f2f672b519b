/**
 * The Azure Repos provider through real fetch against the loopback fake: the status request (path, query, body)
 * for Flux, Argo CD and legacy contexts, commit reads, the merge-commit PR number, the pipeline's callback
 * property, and the abandoned-PR listing with its time range and paging.
 */
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { tokenCredentials } from "../../src/clients/credentials.ts";
import { DeliveryError } from "../../src/core/delivery.ts";
import { createAzureReposRepository, toAbandonedPullRequestsRequest, toAzureReposStatusRequest, type AzureReposFields } from "../../src/git/azure-repos.ts";
import type { StatusJobPayload } from "../../src/core/model.ts";
import { USER_AGENT } from "../../src/core/version.ts";
import {
  DEFAULT_AZURE_COMMIT_MESSAGE,
  isAzureCommitRead,
  isAzurePropertiesRead,
  isAzurePullRequestList,
  isAzureStatusPost,
  startFakeApi,
  type RecordedRequest,
} from "../support/fake-api.ts";
import { azureMergeMessage, HISTORY_SHAS, twoMergedPullRequests } from "../support/history.ts";

const PAT = "azdoRepoPat0123456789abcdefghijklmnopqrstuvwxyz";
const PAT_BASIC = Buffer.from(`:${PAT}`).toString("base64");
const SHA = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";
const APP_URL = "https://dev.azure.com/org/project/_git/manifests";
const CALLBACK = {
  taskid: "a6f3c1e2-4b5d-4e6f-8a9b-0c1d2e3f4a5b",
  jobid: "12f1170f-54f2-53f3-20dd-22fc7dff55f9",
  planurl: "https://dev.azure.com/org/",
  planid: "5e7f3a2b-1c4d-4e5f-9a8b-7c6d5e4f3a2b",
  projectid: "8d2c6f8a-0e5b-4c7d-9f1e-2a3b4c5d6e7f",
  pr_num: "42",
};

const fake = startFakeApi();
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

function fields(overrides: Partial<AzureReposFields> = {}): AzureReposFields & { name: string } {
  return { name: "apps-azdo", azdoOrgUrl: fake.azureOrgUrl(), azdoGitOpsRepoName: "manifests", ...overrides };
}

function repository(overrides: Partial<AzureReposFields> = {}) {
  return createAzureReposRepository({ instance: fields(overrides), credentials: tokenCredentials(PAT), userAgent: USER_AGENT });
}

function fluxJob(overrides: Partial<StatusJobPayload> = {}, status: Partial<StatusJobPayload["status"]> = {}): StatusJobPayload {
  return {
    commit: SHA,
    operator: "FLUX",
    genre: "Kustomization",
    reconciler: "Kustomization/flux-system/apps-dev",
    status: { context: "kustomization/apps-dev", name: "Status", state: "ReconciliationSucceeded", description: "Applied revision: main@sha1:0a1b2c3", ...status },
    callbackUrl: APP_URL,
    statusContext: "default",
    ...overrides,
  };
}

function argoJob(overrides: Partial<StatusJobPayload> = {}): StatusJobPayload {
  return {
    commit: SHA,
    operator: "ARGOCD",
    genre: "ArgoCD",
    reconciler: "Application/guestbook",
    status: { context: "application/guestbook/health", name: "Health", state: "Healthy", description: "Healthy: 3 of 3 resources Healthy" },
    callbackUrl: APP_URL,
    statusContext: "default",
    ...overrides,
  };
}

const signal = () => AbortSignal.timeout(5_000);
const STATUS_PATH = `/org/project/_apis/git/repositories/manifests/commits/${SHA}/statuses`;

async function failureOf(promise: Promise<unknown>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DeliveryError) return error;
    throw error;
  }
  throw new Error("expected a DeliveryError");
}

/** The full URL a recorded request was sent to, for comparing with a described request. */
const sentUrl = (request: RecordedRequest | undefined) => {
  const query = new URLSearchParams(request?.query ?? {}).toString();
  return `${fake.url}${request?.path}${query ? `?${query}` : ""}`;
};

describe("postStatus: what reaches Azure Repos", () => {
  test("a Flux status: path, api-version and body exactly, as the dry run describes it", async () => {
    const job = fluxJob();
    await repository().postStatus(job, signal());
    const [post] = fake.requests(isAzureStatusPost);
    expect(post?.path).toBe(STATUS_PATH);
    expect(post?.query).toEqual({ "api-version": "7.1" });
    expect(post?.body).toEqual({
      state: "succeeded",
      description: "Status: Applied revision: main@sha1:0a1b2c3",
      targetUrl: `${APP_URL}?noop=kustomization%2Fapps-dev`,
      context: { name: "kustomization/apps-dev", genre: "fluxcd" },
    });
    expect(new URL((post?.body as { targetUrl: string }).targetUrl).searchParams.get("noop")).toBe("kustomization/apps-dev");
    const described = toAzureReposStatusRequest(fields(), job);
    expect(described.method).toBe("POST");
    expect(described.url).toBe(`${fake.url}${STATUS_PATH}?api-version=7.1`);
    expect(post?.body).toEqual(described.body as object);
    expect(post?.headers.authorization).toBe(`Basic ${PAT_BASIC}`);
    expect(fake.requests()).toHaveLength(1);
  });

  test("an Argo CD status: genre argocd, context name from the status context", async () => {
    await repository().postStatus(argoJob(), signal());
    expect(fake.requests(isAzureStatusPost)[0]?.body).toEqual({
      state: "succeeded",
      description: "Health: Healthy: 3 of 3 resources Healthy",
      targetUrl: `${APP_URL}?noop=application%2Fguestbook%2Fhealth`,
      context: { name: "application/guestbook/health", genre: "argocd" },
    });
  });

  test("legacy statusContext keeps the original's pair: name = status name, genre = the operator's genre", async () => {
    await repository().postStatus(fluxJob({ statusContext: "legacy" }, { context: "Status" }), signal());
    await repository().postStatus(argoJob({ statusContext: "legacy", status: { context: "Sync", name: "Sync", state: "OutOfSync", description: "OutOfSync" } }), signal());
    const [flux, argo] = fake.requests(isAzureStatusPost).map((r) => r.body as { context: unknown; targetUrl: string; state: string });
    expect(flux?.context).toEqual({ name: "Status", genre: "Kustomization" });
    expect(flux?.targetUrl).toBe(`${APP_URL}?noop=Status`);
    expect(argo?.context).toEqual({ name: "Sync", genre: "ArgoCD" });
    expect(argo?.state).toBe("pending");
  });

  test("a gitOpsAppURL that already has a query keeps it intact: noop is appended as another parameter", async () => {
    const appUrl = "https://weave.example.com/kustomization/details?clusterName=Default&name=apps-dev&namespace=flux-system";
    await repository().postStatus(fluxJob({ callbackUrl: appUrl }), signal());
    const targetUrl = new URL((fake.requests(isAzureStatusPost)[0]?.body as { targetUrl: string }).targetUrl);
    expect(targetUrl.searchParams.get("namespace")).toBe("flux-system");
    expect(targetUrl.searchParams.get("noop")).toBe("kustomization/apps-dev");
    expect(targetUrl.toString()).toBe(`${appUrl}&noop=kustomization%2Fapps-dev`);
  });

  test.each([
    ["ReconciliationSucceeded", "succeeded"],
    ["ReconciliationFailed", "failed"],
    ["HealthCheckFailed", "failed"],
    ["Progressing", "pending"],
    ["DependencyNotReady", "pending"],
    ["NotApplicable", "notApplicable"],
    ["Suspended", "error"],
    ["Degraded", "error"],
    ["SomethingNew", "pending"],
  ])("state %s → %s", async (state, expected) => {
    await repository().postStatus(fluxJob({}, { state }), signal());
    expect((fake.requests(isAzureStatusPost)[0]?.body as { state: string }).state).toBe(expected);
  });

  test("a repository name with a space and an azdoOrgUrl with a trailing slash", async () => {
    await repository({ azdoGitOpsRepoName: "gitops manifests", azdoOrgUrl: `${fake.azureOrgUrl()}/` }).postStatus(fluxJob(), signal());
    const [post] = fake.requests(isAzureStatusPost);
    expect(post?.path).toBe(`/org/project/_apis/git/repositories/gitops%20manifests/commits/${SHA}/statuses`);
  });

  test("403 names the Code (Status) permission; 404 names azdoGitOpsRepoName", async () => {
    fake.failNext(1, { status: 403, body: { message: "TF401027: You need the Git 'GenericContribute' permission to perform this action." } }, isAzureStatusPost);
    const forbidden = await failureOf(repository().postStatus(fluxJob(), signal()));
    expect(forbidden).toMatchObject({ permanent: true, status: 403 });
    expect(forbidden.message).toContain("Code (Status)");

    fake.failNext(1, { status: 404, body: { message: "TF401019: The Git repository with name or identifier manifests does not exist or you do not have permissions for the operation you are attempting." } });
    const missing = await failureOf(repository().postStatus(fluxJob(), signal()));
    expect(missing).toMatchObject({ permanent: true, status: 404 });
    expect(missing.message).toContain(`repository 127.0.0.1:${fake.port}/org/project/manifests not found or not visible to the token of instance apps-azdo`);
    expect(missing.message).toContain("azdoGitOpsRepoName");
    expect(missing.message).toContain("TF401019");
    expect(missing.message).not.toContain(PAT);
    expect(missing.message).not.toContain(PAT_BASIC);
  });
});

describe("readCommitMessage and pullRequestOfCommit", () => {
  test("reads the commit's comment from the manifests repository", async () => {
    fake.setCommitMessage(SHA, "Merged PR 42: Deploy app-src 4183912345 to dev\n\nRelated work items: #7");
    expect(await repository().readCommitMessage(SHA, signal())).toBe("Merged PR 42: Deploy app-src 4183912345 to dev\n\nRelated work items: #7");
    const [read] = fake.requests(isAzureCommitRead);
    expect(read?.path).toBe(`/org/project/_apis/git/repositories/manifests/commits/${SHA}`);
    expect(read?.query).toEqual({ "api-version": "7.1" });
    expect(read?.headers.authorization).toBe(`Basic ${PAT_BASIC}`);
  });

  test("a commit answer without a comment is a permanent error naming the commit", async () => {
    fake.failNext(1, { status: 200, body: { commitId: SHA } }, isAzureCommitRead);
    const error = await failureOf(repository().readCommitMessage(SHA, signal()));
    expect(error.permanent).toBe(true);
    expect(error.message).toContain(`a commit without a comment (commit ${SHA})`);
  });

  test('the PR number from "Merged PR <n>: …"', async () => {
    fake.setCommitMessage(SHA, "Merged PR 42: Deploy app-src 4183912345 to dev");
    expect(await repository().pipelineCallbacks!.pullRequestOfCommit(SHA, signal())).toBe(42);
    expect(await repository().pipelineCallbacks!.pullRequestOfCommit("ffffffffffffffffffffffffffffffffffffffff", signal())).toBe(7);
    expect(DEFAULT_AZURE_COMMIT_MESSAGE).toStartWith("Merged PR 7:");
  });

  test("undefined for a commit that was not merged from a PR", async () => {
    fake.setCommitMessage(SHA, "Update dev image to 1.2.3");
    expect(await repository().pipelineCallbacks!.pullRequestOfCommit(SHA, signal())).toBeUndefined();
    expect(fake.requests().map((r) => `${r.method} ${r.path}`)).toEqual([`GET /org/project/_apis/git/repositories/manifests/commits/${SHA}`]);
  });
});

describe("pipelineCallbackOf", () => {
  test("reads the callback-task-id $value from the properties of the PR in azdoPrRepoName", async () => {
    fake.setPipelineCallback(42, CALLBACK);
    const text = await repository({ azdoPrRepoName: "app-src" }).pipelineCallbacks!.callbackOf(42, signal());
    expect(JSON.parse(text!)).toEqual(CALLBACK);
    const [read] = fake.requests(isAzurePropertiesRead);
    expect(read?.path).toBe("/org/project/_apis/git/repositories/app-src/pullRequests/42/properties");
    expect(read?.query).toEqual({ "api-version": "7.1" });
    expect(read?.headers.authorization).toBe(`Basic ${PAT_BASIC}`);
  });

  test("the text is passed on as stored (parsing is the orchestrator's job)", async () => {
    fake.setPipelineCallback(42, '{"taskid": "t"');
    expect(await repository().pipelineCallbacks!.callbackOf(42, signal())).toBe('{"taskid": "t"');
  });

  test("without azdoPrRepoName the PR is read from azdoGitOpsRepoName", async () => {
    fake.setPipelineCallback(42, CALLBACK);
    expect(await repository().pipelineCallbacks!.callbackOf(42, signal())).toBeString();
    expect(fake.requests(isAzurePropertiesRead)[0]?.path).toBe("/org/project/_apis/git/repositories/manifests/pullRequests/42/properties");
  });

  test("undefined when the PR carries no callback-task-id (other properties do not count)", async () => {
    expect(await repository().pipelineCallbacks!.callbackOf(43, signal())).toBeUndefined();
    fake.on("GET", /\/pullRequests\/44\/properties$/, {
      body: { count: 1, value: { "Microsoft.Git.PullRequest.SourceRefName": { $type: "System.String", $value: "refs/heads/deploy" } } },
    });
    expect(await repository().pipelineCallbacks!.callbackOf(44, signal())).toBeUndefined();
  });

  test("a 404 names azdoPrRepoName", async () => {
    fake.failNext(1, { status: 404, body: { message: "TF401180: The requested pull request was not found." } }, isAzurePropertiesRead);
    const error = await failureOf(repository({ azdoPrRepoName: "app-src" }).pipelineCallbacks!.callbackOf(42, signal()));
    expect(error.permanent).toBe(true);
    expect(error.message).toContain("azdoPrRepoName");
    expect(error.message).toContain("/org/project/app-src");
  });
});

describe("abandonedPullRequestsSince", () => {
  const SINCE = new Date("2026-11-18T13:00:00.000Z");
  const pr = (id: number, closedDate: string, status = "abandoned") => ({ pullRequestId: id, status, closedDate, title: `Deploy ${id}` });

  test("asks for abandoned PRs closed since the cutoff, in the PR repository, with paging", async () => {
    fake.on("GET", /\/pullrequests$/i, { body: { count: 2, value: [pr(12, "2026-11-21T10:00:00Z"), pr(11, "2026-11-19T09:30:00Z")] } });
    const found = await repository({ azdoPrRepoName: "app-src" }).pipelineCallbacks!.abandonedSince(SINCE, signal());
    expect(found).toEqual([
      { number: 12, closedAt: "2026-11-21T10:00:00Z" },
      { number: 11, closedAt: "2026-11-19T09:30:00Z" },
    ]);
    const [list] = fake.requests(isAzurePullRequestList);
    expect(list?.path).toBe("/org/project/_apis/git/repositories/app-src/pullrequests");
    expect(list?.query).toEqual({
      "searchCriteria.status": "abandoned",
      "searchCriteria.queryTimeRangeType": "closed",
      "searchCriteria.minTime": "2026-11-18T13:00:00.000Z",
      $top: "100",
      $skip: "0",
      "api-version": "7.1",
    });
    expect(list?.headers.authorization).toBe(`Basic ${PAT_BASIC}`);
    expect(sentUrl(list)).toBe(toAbandonedPullRequestsRequest(fields({ azdoPrRepoName: "app-src" }), SINCE, 0).url);
  });

  test("a full page of 100 asks for the next; a shorter page ends the listing", async () => {
    fake.on("GET", /\/pullrequests$/i, (request) => {
      const skip = Number(request.query.$skip);
      const size = skip === 0 ? 100 : 3;
      return { body: { count: size, value: Array.from({ length: size }, (_, i) => pr(1000 - skip - i, "2026-11-20T00:00:00Z")) } };
    });
    const found = await repository().pipelineCallbacks!.abandonedSince(SINCE, signal());
    expect(found).toHaveLength(103);
    expect(new Set(found.map((p) => p.number)).size).toBe(103);
    expect(fake.requests(isAzurePullRequestList).map((r) => [r.query.$skip, r.query.$top])).toEqual([
      ["0", "100"],
      ["100", "100"],
    ]);
  });

  test("stops after 10 pages even when the server keeps answering full pages", async () => {
    fake.on("GET", /\/pullrequests$/i, (request) => ({
      body: { count: 100, value: Array.from({ length: 100 }, (_, i) => pr(Number(request.query.$skip) + i + 1, "2026-11-20T00:00:00Z")) },
    }));
    expect(await repository().pipelineCallbacks!.abandonedSince(SINCE, signal())).toHaveLength(1000);
    expect(fake.requests(isAzurePullRequestList)).toHaveLength(10);
  });

  test("PRs closed before the cutoff, or not abandoned, are dropped even when the server returns them", async () => {
    fake.on("GET", /\/pullrequests$/i, {
      body: {
        count: 5,
        value: [
          pr(5, "2026-11-20T00:00:00Z"),
          pr(4, "2026-11-18T13:00:00.000Z"),
          pr(3, "2026-11-18T12:59:59.999Z"),
          pr(2, "2025-01-01T00:00:00Z"),
          pr(1, "2026-11-20T00:00:00Z", "completed"),
        ],
      },
    });
    expect((await repository().pipelineCallbacks!.abandonedSince(SINCE, signal())).map((p) => p.number)).toEqual([5, 4]);
  });

  test("a repository name with a space is URL-encoded", async () => {
    await repository({ azdoPrRepoName: "app src" }).pipelineCallbacks!.abandonedSince(SINCE, signal());
    expect(fake.requests(isAzurePullRequestList)[0]?.path).toBe("/org/project/_apis/git/repositories/app%20src/pullrequests");
  });

  test("a list in an unknown shape is a permanent error; a 503 is retryable", async () => {
    fake.failNext(1, { status: 200, body: { count: 1, value: [{ id: "x" }] } }, isAzurePullRequestList);
    const unknown = await failureOf(repository().pipelineCallbacks!.abandonedSince(SINCE, signal()));
    expect(unknown.permanent).toBe(true);
    expect(unknown.message).toContain("a pull request list in an unknown format");

    fake.failNext(1, { status: 503, body: "" }, isAzurePullRequestList);
    expect(await failureOf(repository().pipelineCallbacks!.abandonedSince(SINCE, signal()))).toMatchObject({ permanent: false, status: 503 });
  });
});

describe("commitsBetween (commit list between two versions)", () => {
  test("asks for head's commits not in base, and keeps the first-parent chain when the answer has parents", async () => {
    fake.setHistory(twoMergedPullRequests(azureMergeMessage));
    const { O, A, B } = HISTORY_SHAS;
    expect((await repository().commitsBetween(O, B, 100, AbortSignal.timeout(5_000))).map((commit) => commit.sha)).toEqual([A]);
    const [list] = fake.requests((request) => request.method === "GET" && request.path.endsWith("/commits"));
    expect(list).toMatchObject({
      path: "/org/project/_apis/git/repositories/manifests/commits",
      query: {
        "searchCriteria.itemVersion.version": B,
        "searchCriteria.itemVersion.versionType": "commit",
        "searchCriteria.compareVersion.version": O,
        "searchCriteria.compareVersion.versionType": "commit",
        "searchCriteria.$top": "1000",
        "api-version": "7.1",
      },
    });
    expect(list?.headers.authorization).toBe(`Basic ${PAT_BASIC}`);
  });

  test("without parents, the merge commits of PRs (\"Merged PR <n>:\") stand for the branch", async () => {
    fake.setHistory(twoMergedPullRequests(azureMergeMessage), { azureParents: false });
    const { O, A, B } = HISTORY_SHAS;
    expect((await repository().commitsBetween(O, B, 100, AbortSignal.timeout(5_000))).map((commit) => commit.sha)).toEqual([A]);
  });
});
