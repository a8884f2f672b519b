import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { tokenCredentials } from "../../src/clients/credentials.ts";
import { DeliveryError } from "../../src/core/delivery.ts";
import { createGitHubRepository, parseGitHubOrgUrl, toGitHubStatusBody, toGitHubStatusRequest } from "../../src/git/github.ts";
import type { StatusJobPayload } from "../../src/core/model.ts";
import { USER_AGENT } from "../../src/core/version.ts";
import { isCommitRead, isStatusPost, startFakeApi, type FakeCommit } from "../support/fake-api.ts";
import { gitHubMergeMessage, HISTORY_SHAS, twoMergedPullRequests } from "../support/history.ts";

const PAT = "ghp_0123456789abcdefTESTTOKEN";
const SHA = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";
const fake = startFakeApi();
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

function statusJob(overrides: Partial<StatusJobPayload["status"]> = {}): StatusJobPayload {
  return {
    commit: SHA,
    operator: "FLUX",
    genre: "Kustomization",
    reconciler: "Kustomization/flux-system/apps-dev",
    status: { context: "kustomization/apps-dev", name: "Status", state: "ReconciliationSucceeded", description: "Applied revision: main@sha1:0a1b2c3", ...overrides },
    callbackUrl: "https://github.com/org/manifests/commit",
    statusContext: "default",
  };
}

function repository(options: { credentials?: ReturnType<typeof tokenCredentials>; prefix?: string } = {}) {
  return createGitHubRepository({
    instance: { name: "apps-dev", gitHubOrgUrl: fake.orgUrl("org", options.prefix), gitHubGitOpsManifestsRepoName: "manifests" },
    credentials: options.credentials ?? tokenCredentials(PAT),
    userAgent: USER_AGENT,
  });
}

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

describe("parseGitHubOrgUrl", () => {
  test("github.com", () => {
    expect(parseGitHubOrgUrl("https://api.github.com/repos/org")).toEqual({ baseUrl: "https://api.github.com", owner: "org" });
    expect(parseGitHubOrgUrl("https://api.github.com/repos/org/")).toEqual({ baseUrl: "https://api.github.com", owner: "org" });
  });
  test("GitHub Enterprise Server keeps its API root", () => {
    expect(parseGitHubOrgUrl("https://ghe.example.com/api/v3/repos/platform")).toEqual({ baseUrl: "https://ghe.example.com/api/v3", owner: "platform" });
    expect(parseGitHubOrgUrl("http://127.0.0.1:8080/repos/org")).toEqual({ baseUrl: "http://127.0.0.1:8080", owner: "org" });
  });
  test("anything not ending in /repos/<owner> is refused", () => {
    for (const url of ["https://github.com/org", "https://api.github.com/orgs/org", "https://api.github.com/repos/org/manifests", "not a url", "ftp://x/repos/org"])
      expect(parseGitHubOrgUrl(url)).toBeUndefined();
  });
  test("a provider with such a URL fails permanently, saying the expected form", () => {
    expect(() =>
      createGitHubRepository({ instance: { name: "apps-dev", gitHubOrgUrl: "https://github.com/org", gitHubGitOpsManifestsRepoName: "m" }, credentials: tokenCredentials(PAT), userAgent: USER_AGENT }),
    ).toThrow(/gitHubOrgUrl "https:\/\/github.com\/org" must look like https:\/\/api.github.com\/repos\/<owner>/);
  });
});

describe("postStatus: what reaches GitHub", () => {
  test("the body is exactly what the dry run shows, at the path it shows", async () => {
    const job = statusJob();
    await repository().postStatus(job, signal());
    const [request] = fake.requests(isStatusPost);
    expect(request?.body).toEqual({
      state: "success",
      description: "Applied revision: main@sha1:0a1b2c3",
      context: "kustomization/apps-dev",
      target_url: "https://github.com/org/manifests/commit",
    });
    const described = toGitHubStatusRequest({ gitHubOrgUrl: fake.orgUrl(), gitHubGitOpsManifestsRepoName: "manifests" }, job);
    expect(request?.body).toEqual(described.body as object);
    expect(`${fake.url}${request?.path}`).toBe(described.url);
    expect(request?.path).toBe(`/repos/org/manifests/statuses/${SHA}`);
  });

  test.each([
    ["ReconciliationSucceeded", "success"],
    ["ReconciliationFailed", "failure"],
    ["Progressing", "pending"],
    ["Degraded", "error"],
    ["SomethingNew", "pending"],
  ])("state %s → %s", async (state, expected) => {
    await repository().postStatus(statusJob({ state }), signal());
    expect((fake.requests(isStatusPost)[0]?.body as { state: string }).state).toBe(expected);
  });

  test("a 500-character description is cut to 140 characters, ending in an ellipsis", async () => {
    const description = "x".repeat(500);
    await repository().postStatus(statusJob({ description }), signal());
    const sent = (fake.requests(isStatusPost)[0]?.body as { description: string }).description;
    expect(Array.from(sent)).toHaveLength(140);
    expect(sent).toBe(`${"x".repeat(139)}…`);
    expect(sent).toBe(toGitHubStatusBody(statusJob({ description })).description);
  });

  test("headers: JSON content type, our user agent, the token as Authorization", async () => {
    await repository().postStatus(statusJob(), signal());
    const headers = fake.requests(isStatusPost)[0]!.headers;
    expect(headers["content-type"]).toBe("application/json");
    expect(headers["user-agent"]).toStartWith("gitops-connector/");
    expect(headers["user-agent"]).toStartWith(USER_AGENT);
    expect(headers.authorization).toBe(`token ${PAT}`);
    expect(headers.accept).toContain("application/vnd.github");
  });

  test("a JWT-shaped token (a GitHub App) is sent as a bearer token", async () => {
    const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjF9.c2lnbmF0dXJl";
    await repository({ credentials: tokenCredentials(jwt) }).postStatus(statusJob(), signal());
    expect(fake.requests(isStatusPost)[0]!.headers.authorization?.toLowerCase()).toBe(`bearer ${jwt}`.toLowerCase());
  });

  test("GitHub Enterprise: calls go under /api/v3", async () => {
    await repository({ prefix: "/api/v3" }).postStatus(statusJob(), signal());
    expect(fake.requests(isStatusPost)[0]?.path).toBe(`/api/v3/repos/org/manifests/statuses/${SHA}`);
  });
});

describe("readCommitMessage", () => {
  test("returns the commit's message", async () => {
    fake.setCommitMessage(SHA, "Merge pull request #7 from org/deploy/99/abc/dev\n\nDeploy abc to dev");
    expect(await repository().readCommitMessage(SHA, signal())).toBe("Merge pull request #7 from org/deploy/99/abc/dev\n\nDeploy abc to dev");
    const read = fake.requests(isCommitRead)[0]!;
    expect(read.path).toBe(`/repos/org/manifests/commits/${SHA}`);
    expect(read.headers.authorization).toBe(`token ${PAT}`);
  });

  test("a missing commit (GitHub answers 422) is permanent and says so", async () => {
    fake.failNext(1, { status: 422, body: { message: `No commit found for SHA: ${SHA}`, documentation_url: "https://docs.github.com/rest" } });
    const error = await failureOf(repository().readCommitMessage(SHA, signal()));
    expect(error).toMatchObject({ permanent: true, status: 422 });
    expect(error.message).toContain(`No commit found for SHA: ${SHA}`);
  });
});

describe("failures through the real Octokit", () => {
  const attempt = () => failureOf(repository().postStatus(statusJob(), signal()));

  test("401: permanent, the pat is to check", async () => {
    fake.failNext(1, { status: 401, body: { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" } });
    const error = await attempt();
    expect(error).toMatchObject({ permanent: true, status: 401 });
    expect(error.message).toBe("401 from GitHub for instance apps-dev: the token for instance apps-dev is invalid or expired (check pat) (GitHub said: Bad credentials)");
  });

  test("403 without rate-limit headers: permanent, names the scope", async () => {
    fake.failNext(1, { status: 403, headers: { "x-ratelimit-remaining": "4990" }, body: { message: "Resource not accessible by personal access token" } });
    const error = await attempt();
    expect(error).toMatchObject({ permanent: true, status: 403 });
    expect(error.message).toContain("repo:status scope");
  });

  test("403 with x-ratelimit-remaining: 0: retryable after the reset", async () => {
    const reset = Math.floor(Date.now() / 1000) + 120;
    fake.failNext(1, {
      status: 403,
      headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) },
      body: { message: "API rate limit exceeded for user ID 1." },
    });
    const error = await attempt();
    expect(error.permanent).toBe(false);
    expect(error.retryAfterMs).toBeGreaterThan(115_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(120_000);
  });

  test("429 with Retry-After: retryable after it", async () => {
    fake.failNext(1, { status: 429, headers: { "retry-after": "7" }, body: { message: "secondary rate limit" } });
    expect(await attempt()).toMatchObject({ permanent: false, status: 429, retryAfterMs: 7_000 });
  });

  test("404: permanent, names the repository", async () => {
    fake.failNext(1, { status: 404, body: { message: "Not Found" } });
    const error = await attempt();
    expect(error).toMatchObject({ permanent: true, status: 404 });
    expect(error.message).toContain("repository org/manifests not found or not visible to the token of instance apps-dev");
  });

  test("422: permanent, carries GitHub's message", async () => {
    fake.failNext(1, { status: 422, body: { message: "Validation Failed", errors: [{ resource: "Status", code: "custom", message: "This SHA and context has reached the maximum number of statuses." }] } });
    const error = await attempt();
    expect(error).toMatchObject({ permanent: true, status: 422 });
    expect(error.message).toContain("Validation Failed: This SHA and context has reached the maximum number of statuses.");
  });

  test("502 from a proxy (HTML): retryable", async () => {
    fake.failNext(1, { status: 502, body: "<html><body>Bad Gateway</body></html>" });
    expect(await attempt()).toMatchObject({ permanent: false, status: 502 });
  });

  test("a closed port: retryable network error", async () => {
    const closed = startFakeApi();
    const url = closed.orgUrl();
    await closed.stop();
    const error = await failureOf(
      createGitHubRepository({ instance: { name: "apps-dev", gitHubOrgUrl: url, gitHubGitOpsManifestsRepoName: "manifests" }, credentials: tokenCredentials(PAT), userAgent: USER_AGENT }).postStatus(statusJob(), signal()),
    );
    expect(error.permanent).toBe(false);
    expect(error.status).toBeUndefined();
    expect(error.message).toContain("could not reach GitHub for instance apps-dev");
  });

  test("no failure message carries the token", async () => {
    for (const status of [400, 401, 403, 404, 422, 429, 500]) {
      fake.failNext(1, { status, body: { message: "Bad credentials" } });
      const error = await attempt();
      expect(error.message).not.toContain(PAT);
    }
  });
});

describe("commitsBetween (compare API)", () => {
  test("the first-parent chain after base and before head, oldest first, without the PRs' own branch commits", async () => {
    fake.setHistory(twoMergedPullRequests(gitHubMergeMessage));
    const { O, A, B } = HISTORY_SHAS;
    const commits = await repository().commitsBetween(O, B, 100, signal());
    expect(commits.map((commit) => commit.sha)).toEqual([A]);
    expect(commits[0]?.committedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    const [compare] = fake.requests((request) => request.path.includes("/compare/"));
    expect(compare).toMatchObject({ method: "GET", path: `/repos/org/manifests/compare/${O}...${B}`, query: { per_page: "100", page: "1" } });
    expect(compare?.headers.authorization).toBe(`token ${PAT}`);
  });

  test("head next to base, a rollback (head behind base) and base = head: nothing in between", async () => {
    fake.setHistory(twoMergedPullRequests(gitHubMergeMessage));
    const { O, A, B } = HISTORY_SHAS;
    expect(await repository().commitsBetween(A, B, 100, signal())).toEqual([]);
    expect(await repository().commitsBetween(B, O, 100, signal())).toEqual([]);
    expect(await repository().commitsBetween(B, B, 100, signal())).toEqual([]);
  });

  test("at most `limit`, the newest, and more than a page away the last page is read too", async () => {
    const chain: FakeCommit[] = [{ sha: "f".repeat(40), parents: [] }];
    for (let n = 1; n <= 150; n++) chain.push({ sha: n.toString(16).padStart(40, "0"), parents: [chain[n - 1]!.sha] });
    fake.setHistory(chain);
    const commits = await repository().commitsBetween(chain[0]!.sha, chain[150]!.sha, 10, signal());
    expect(commits.map((commit) => commit.sha)).toEqual(chain.slice(140, 150).map((commit) => commit.sha));
    expect(fake.requests((request) => request.path.includes("/compare/")).map((request) => request.query.page)).toEqual(["1", "2"]);
  });

  test("an unknown base is the API's 404, a permanent failure the caller can tell apart", async () => {
    fake.setHistory(twoMergedPullRequests(gitHubMergeMessage));
    const error = await failureOf(repository().commitsBetween("9".repeat(40), HISTORY_SHAS.B, 100, signal()));
    expect(error).toMatchObject({ permanent: true, status: 404 });
  });
});

describe("a commit read whose answer is not a commit", () => {
  test("is a permanent error naming the API and what to check, not a network failure", async () => {
    fake.on("GET", `/repos/org/manifests/commits/${SHA}`, { status: 200, body: { message: "this is a proxy's JSON, not a commit" } });
    const error = await failureOf(repository().readCommitMessage(SHA, signal()));
    expect(error).toMatchObject({ permanent: true });
    expect(error.message).toContain(`GitHub for instance apps-dev answered GET org/manifests/commits/${SHA} without commit.message`);
    expect(error.message).not.toContain("could not reach");
  });
});
