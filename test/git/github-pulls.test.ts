/**
 * The pull-request reads of the GitHub provider (what an Azure Pipelines callback needs when the manifests live
 * on GitHub) through the real Octokit against the loopback fake: the PR a merge commit came from, the callback
 * comment in a PR body, and the abandoned-PR scan with its early stop.
 */
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { tokenCredentials } from "../../src/clients/credentials.ts";
import { DeliveryError } from "../../src/core/delivery.ts";
import { createGitHubRepository } from "../../src/git/github.ts";
import { USER_AGENT } from "../../src/core/version.ts";
import { isPullsOfCommit, startFakeApi, type RecordedRequest } from "../support/fake-api.ts";

const PAT = "ghp_pullsToken0123456789abcdef";
const SHA = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432";
const CALLBACK = {
  taskid: "a6f3c1e2-4b5d-4e6f-8a9b-0c1d2e3f4a5b",
  jobid: "12f1170f-54f2-53f3-20dd-22fc7dff55f9",
  planurl: "https://dev.azure.com/org/",
  planid: "5e7f3a2b-1c4d-4e5f-9a8b-7c6d5e4f3a2b",
  projectid: "8d2c6f8a-0e5b-4c7d-9f1e-2a3b4c5d6e7f",
  pr_num: "42",
};
const BODY_WITH_CALLBACK = `Deploy app-src 4183912345 to dev\n\n<!-- gitops-connector: ${JSON.stringify(CALLBACK)} -->\n`;

const fake = startFakeApi();
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

const repository = () =>
  createGitHubRepository({ instance: { name: "apps-dev", gitHubOrgUrl: fake.orgUrl("org"), gitHubGitOpsManifestsRepoName: "manifests" }, credentials: tokenCredentials(PAT), userAgent: USER_AGENT });
const signal = () => AbortSignal.timeout(5_000);

async function failureOf(promise: Promise<unknown>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DeliveryError) return error;
    throw error;
  }
  throw new Error("expected a DeliveryError");
}

/** A PR as GitHub lists it, with only the fields the provider reads (and a few it does not). */
function pull(number: number, options: { merged?: string | null; closed?: string | null; updated?: string; body?: string | null; mergeSha?: string | null; state?: string } = {}) {
  const closed = options.closed === undefined ? "2026-11-21T10:00:00Z" : options.closed;
  return {
    number,
    state: options.state ?? (closed ? "closed" : "open"),
    title: `Deploy ${number}`,
    body: options.body === undefined ? BODY_WITH_CALLBACK : options.body,
    merged_at: options.merged ?? null,
    closed_at: closed,
    updated_at: options.updated ?? closed ?? "2026-11-21T10:00:00Z",
    merge_commit_sha: options.mergeSha === undefined ? `${String(number).padStart(4, "0")}${"e".repeat(36)}` : options.mergeSha,
  };
}

describe("pullRequestOfCommit", () => {
  test("the PR whose merge_commit_sha is the commit, even when another merged PR is listed first", async () => {
    fake.on("GET", "/repos/org/manifests/commits/:sha/pulls", {
      body: [pull(41, { merged: "2026-11-20T09:00:00Z" }), pull(42, { merged: "2026-11-21T10:00:00Z", mergeSha: SHA })],
    });
    expect(await repository().pipelineCallbacks!.pullRequestOfCommit(SHA, signal())).toBe(42);
    const [read] = fake.requests(isPullsOfCommit);
    expect(read?.path).toBe(`/repos/org/manifests/commits/${SHA}/pulls`);
    expect(read?.headers.authorization).toBe(`token ${PAT}`);
  });

  test("undefined when GitHub lists no PR for the commit", async () => {
    expect(await repository().pipelineCallbacks!.pullRequestOfCommit(SHA, signal())).toBeUndefined();
    expect(fake.requests(isPullsOfCommit)).toHaveLength(1);
  });

  test("undefined when the commit is only on an open PR's branch", async () => {
    fake.on("GET", "/repos/org/manifests/commits/:sha/pulls", { body: [pull(43, { closed: null, merged: null })] });
    expect(await repository().pipelineCallbacks!.pullRequestOfCommit(SHA, signal())).toBeUndefined();
  });

  test("a 404 is permanent and names the repository", async () => {
    fake.failNext(1, { status: 404, body: { message: "Not Found" } }, isPullsOfCommit);
    const error = await failureOf(repository().pipelineCallbacks!.pullRequestOfCommit(SHA, signal()));
    expect(error).toMatchObject({ permanent: true, status: 404 });
    expect(error.message).toContain("org/manifests");
  });
});

describe("pipelineCallbackOf", () => {
  const isPullRead = (r: RecordedRequest) => r.method === "GET" && r.path === "/repos/org/manifests/pulls/42";

  test("the JSON in <!-- gitops-connector: {...} --> of the PR body", async () => {
    fake.on("GET", "/repos/org/manifests/pulls/42", { body: pull(42, { body: BODY_WITH_CALLBACK }) });
    const text = await repository().pipelineCallbacks!.callbackOf(42, signal());
    expect(JSON.parse(text!)).toEqual(CALLBACK);
    expect(fake.requests(isPullRead)[0]?.headers.authorization).toBe(`token ${PAT}`);
  });

  test("a multi-line comment", async () => {
    const body = `Deploy\n<!--\n  gitops-connector: ${JSON.stringify(CALLBACK, null, 2)}\n-->`;
    fake.on("GET", "/repos/org/manifests/pulls/42", { body: pull(42, { body }) });
    expect(JSON.parse((await repository().pipelineCallbacks!.callbackOf(42, signal()))!)).toEqual(CALLBACK);
  });

  test("undefined for a body without the comment, and for an empty body", async () => {
    fake.on("GET", "/repos/org/manifests/pulls/42", { body: pull(42, { body: "Deploy app-src to dev <!-- a reviewer's note -->" }) });
    expect(await repository().pipelineCallbacks!.callbackOf(42, signal())).toBeUndefined();
    fake.on("GET", "/repos/org/manifests/pulls/42", { body: pull(42, { body: null }) });
    expect(await repository().pipelineCallbacks!.callbackOf(42, signal())).toBeUndefined();
    expect(fake.requests(isPullRead)).toHaveLength(2);
  });

  test("a missing PR is a permanent error", async () => {
    const error = await failureOf(repository().pipelineCallbacks!.callbackOf(42, signal()));
    expect(error).toMatchObject({ permanent: true, status: 404 });
  });
});

describe("abandonedPullRequestsSince", () => {
  const SINCE = new Date("2026-11-18T13:00:00.000Z");
  const isList = (r: RecordedRequest) => r.method === "GET" && r.path === "/repos/org/manifests/pulls";

  test("lists closed PRs most recently updated first; keeps unmerged ones closed since the cutoff that carry the callback", async () => {
    fake.on("GET", "/repos/org/manifests/pulls", {
      body: [
        pull(50, { closed: "2026-11-21T10:00:00Z" }),
        pull(49, { closed: "2026-11-21T09:00:00Z", merged: "2026-11-21T09:00:00Z" }),
        pull(48, { closed: "2026-11-20T09:00:00Z", body: "Bump nginx" }),
        pull(47, { closed: "2026-11-18T13:00:00Z" }),
        pull(46, { closed: "2026-11-18T12:59:59Z", updated: "2026-11-19T00:00:00Z" }),
      ],
    });
    const found = await repository().pipelineCallbacks!.abandonedSince(SINCE, signal());
    expect(found).toEqual([
      { number: 50, closedAt: "2026-11-21T10:00:00Z" },
      { number: 47, closedAt: "2026-11-18T13:00:00Z" },
    ]);
    const [list] = fake.requests(isList);
    expect(list?.query).toEqual({ state: "closed", sort: "updated", direction: "desc", per_page: "100", page: "1" });
    expect(list?.headers.authorization).toBe(`token ${PAT}`);
  });

  test("a full page whose last PR is still recent asks for the next page; a short page ends the scan", async () => {
    fake.on("GET", "/repos/org/manifests/pulls", (request) => {
      const page = Number(request.query.page);
      const size = page === 1 ? 100 : 2;
      return { body: Array.from({ length: size }, (_, i) => pull(1000 - (page - 1) * 100 - i, { closed: "2026-11-20T00:00:00Z" })) };
    });
    expect(await repository().pipelineCallbacks!.abandonedSince(SINCE, signal())).toHaveLength(102);
    expect(fake.requests(isList).map((r) => r.query.page)).toEqual(["1", "2"]);
  });

  test("stops at a page whose last PR was updated before the cutoff", async () => {
    fake.on("GET", "/repos/org/manifests/pulls", () => ({
      body: [
        ...Array.from({ length: 99 }, (_, i) => pull(500 - i, { closed: "2026-11-20T00:00:00Z" })),
        pull(1, { closed: "2026-10-01T00:00:00Z" }),
      ],
    }));
    const found = await repository().pipelineCallbacks!.abandonedSince(SINCE, signal());
    expect(found).toHaveLength(99);
    expect(found.some((p) => p.number === 1)).toBe(false);
    expect(fake.requests(isList)).toHaveLength(1);
  });

  test("reads at most 5 pages", async () => {
    fake.on("GET", "/repos/org/manifests/pulls", (request) => ({
      body: Array.from({ length: 100 }, (_, i) => pull(Number(request.query.page) * 1000 + i, { closed: "2026-11-20T00:00:00Z" })),
    }));
    expect(await repository().pipelineCallbacks!.abandonedSince(SINCE, signal())).toHaveLength(500);
    expect(fake.requests(isList)).toHaveLength(5);
  });

  test("a 403 names the pull-request permission", async () => {
    fake.failNext(1, { status: 403, headers: { "x-ratelimit-remaining": "4999" }, body: { message: "Resource not accessible by personal access token" } }, isList);
    const error = await failureOf(repository().pipelineCallbacks!.abandonedSince(SINCE, signal()));
    expect(error).toMatchObject({ permanent: true, status: 403 });
    expect(error.message).toContain("Pull requests read");
  });
});
