/**
 * The GitHub repository and GitHub Actions over an object literal that `satisfies` the Octokit calls they
 * declare, no HTTP: what each call is given (owner, repo, body, the outbox's signal), the compare's paging,
 * and how a thrown Octokit error becomes a DeliveryError. The wire itself is covered against the loopback fake
 * (github.test.ts) and GitHub's description (test/contract).
 */
import { describe, expect, test } from "bun:test";
import { tokenCredentials } from "../../src/clients/credentials.ts";
import { DeliveryError } from "../../src/core/delivery.ts";
import type { StatusJobPayload } from "../../src/core/model.ts";
import { USER_AGENT } from "../../src/core/version.ts";
import { createGitHubRepository, type GitHubRepositoryCalls } from "../../src/git/github.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { createGitHubActionsOrchestrator, type GitHubActionsCalls } from "../../src/orchestrators/github-actions.ts";

const SHA = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";
const INSTANCE = { name: "apps-dev", gitHubOrgUrl: "https://ghe.example.com/api/v3/repos/org", gitHubGitOpsManifestsRepoName: "manifests", gitHubGitOpsRepoName: "app-src" };

const job: StatusJobPayload = {
  commit: SHA,
  operator: "FLUX",
  genre: "Kustomization",
  reconciler: "Kustomization/flux-system/apps-dev",
  status: { context: "kustomization/apps-dev", name: "Status", state: "ReconciliationSucceeded", description: "Applied revision: main@sha1:0a1b2c3" },
  callbackUrl: "https://github.com/org/manifests/commit",
  statusContext: "default",
};

/** What Octokit throws for an HTTP error answer: a status and the response it came with. */
function octokitError(status: number, message: string) {
  return Object.assign(new Error(message), { status, response: { status, headers: {}, data: { message } } });
}

const unused = (): Promise<never> => Promise.reject(new Error("not called in this test"));

function callsWith(overrides: { repos?: Partial<GitHubRepositoryCalls["repos"]>; pulls?: Partial<GitHubRepositoryCalls["pulls"]> }) {
  const made: Array<{ readonly call: string; readonly params: Record<string, unknown> }> = [];
  // Records each call, then answers as the test says; the literal below is what `satisfies` checks.
  const record = <Call extends (params: never) => Promise<unknown>>(call: string, answer: Call): Call =>
    ((params: never) => {
      made.push({ call, params: params as Record<string, unknown> });
      return answer(params);
    }) as Call;
  const calls = {
    repos: {
      createCommitStatus: record("createCommitStatus", overrides.repos?.createCommitStatus ?? unused),
      getCommit: record("getCommit", overrides.repos?.getCommit ?? unused),
      compareCommitsWithBasehead: record("compareCommitsWithBasehead", overrides.repos?.compareCommitsWithBasehead ?? unused),
      listPullRequestsAssociatedWithCommit: record("listPullRequestsAssociatedWithCommit", overrides.repos?.listPullRequestsAssociatedWithCommit ?? unused),
    },
    pulls: { get: record("pulls.get", overrides.pulls?.get ?? unused), list: record("pulls.list", overrides.pulls?.list ?? unused) },
  } satisfies GitHubRepositoryCalls;
  return { calls, made };
}

const repositoryOver = (calls: GitHubRepositoryCalls) => createGitHubRepository({ instance: INSTANCE, credentials: tokenCredentials("unused"), userAgent: USER_AGENT, calls });

describe("the GitHub repository over its declared Octokit calls", () => {
  test("a status is one createCommitStatus with the owner, repo, body and the outbox's signal", async () => {
    const { calls, made } = callsWith({ repos: { createCommitStatus: async () => ({}) } });
    const signal = AbortSignal.timeout(5_000);
    await repositoryOver(calls).postStatus(job, signal);
    expect(made).toEqual([
      {
        call: "createCommitStatus",
        params: {
          owner: "org",
          repo: "manifests",
          sha: SHA,
          state: "success",
          description: "Applied revision: main@sha1:0a1b2c3",
          context: "kustomization/apps-dev",
          target_url: "https://github.com/org/manifests/commit",
          headers: { "content-type": "application/json" },
          request: { signal },
        },
      },
    ]);
  });

  test("a compare of 250 commits reads pages 1 and 3 and keeps the first-parent chain", async () => {
    const shas = Array.from({ length: 250 }, (_, i) => `c${String(i).padStart(39, "0")}`);
    const commit = (i: number) => ({ sha: shas[i]!, parents: i === 0 ? [{ sha: "base" }] : [{ sha: shas[i - 1]! }], commit: { committer: { date: `2026-12-01T00:00:${String(i % 60).padStart(2, "0")}Z` } } });
    const { calls, made } = callsWith({
      repos: {
        compareCommitsWithBasehead: async (params) => {
          const page = params.page ?? 1;
          return { data: { total_commits: 250, commits: shas.slice((page - 1) * 100, page * 100).map((_, i) => commit((page - 1) * 100 + i)) } };
        },
      },
    });
    const chain = await repositoryOver(calls).commitsBetween("base", shas[249]!, 100, AbortSignal.timeout(5_000));
    expect(made.map(({ params }) => [params.basehead, params.page])).toEqual([
      [`base...${shas[249]}`, 1],
      [`base...${shas[249]}`, 3],
    ]);
    // The commits between base and head, oldest first, head itself not: page 3 holds 200..249, and the walk
    // stops at 200, whose parent stood on the page not read (the newest 100 is all a pipeline is told of anyway).
    expect(chain.map((entry) => entry.sha)).toEqual(shas.slice(200, 249));
    expect(chain[0]?.committedAt).toBe("2026-12-01T00:00:20Z");
  });

  test("a 404 from Octokit is a permanent DeliveryError naming the instance, the repository and pat", async () => {
    const { calls } = callsWith({ repos: { createCommitStatus: () => Promise.reject(octokitError(404, "Not Found")) } });
    const error = await repositoryOver(calls).postStatus(job, AbortSignal.timeout(5_000)).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(DeliveryError);
    expect((error as DeliveryError).permanent).toBe(true);
    expect((error as DeliveryError).message).toContain("apps-dev");
    expect((error as DeliveryError).message).toContain("org/manifests");
    expect((error as DeliveryError).message).toContain("pat");
  });

  test("an answer without commit.message is a permanent error that points at gitHubOrgUrl", async () => {
    const { calls } = callsWith({ repos: { getCommit: async () => ({ data: { commit: {} } }) } });
    const error = await repositoryOver(calls).readCommitMessage(SHA, AbortSignal.timeout(5_000)).catch((thrown: unknown) => thrown);
    expect((error as DeliveryError).permanent).toBe(true);
    expect((error as DeliveryError).message).toContain("check gitHubOrgUrl");
  });
});

describe("GitHub Actions over its declared Octokit call", () => {
  test("one createDispatchEvent to the workflow's repository with the run id and sha of the commit message", async () => {
    const made: Array<Record<string, unknown>> = [];
    const calls = { repos: { createDispatchEvent: async (params: Parameters<GitHubActionsCalls["repos"]["createDispatchEvent"]>[0]) => void made.push(params) } } satisfies GitHubActionsCalls;
    const message = `Merge pull request #7 from org/deploy/4183912345/${"f".repeat(40)}`;
    const repository = callsWith({ repos: { getCommit: async () => ({ data: { commit: { message } } }) } });
    const orchestrator = createGitHubActionsOrchestrator({
      instance: INSTANCE,
      credentials: tokenCredentials("unused"),
      repository: repositoryOver(repository.calls),
      userAgent: USER_AGENT,
      logger: createLogger({ level: "fatal", write: () => {} }),
      calls,
    });
    await orchestrator.notify({ commit: SHA, outcome: "succeeded", reconciler: "Kustomization/flux-system/apps-dev" }, AbortSignal.timeout(5_000));
    expect(repository.made.map(({ call, params }) => [call, params.ref])).toEqual([["getCommit", SHA]]);
    expect(made).toHaveLength(1);
    expect(made[0]).toMatchObject({ owner: "org", repo: "app-src", event_type: "sync-success", client_payload: { runid: "4183912345", sha: "f".repeat(40), commitmessage: message } });
  });
});

