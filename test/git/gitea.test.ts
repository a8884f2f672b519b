/**
 * The Gitea provider module against the loopback fake: what reaches Gitea for a status (the same request the dry
 * run shows), how states and failures read, commit reads and the first-parent walk, the Azure Pipelines callback
 * reads, and the config keys it brings.
 */
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import * as v from "valibot";
import { tokenCredentials } from "../../src/clients/credentials.ts";
import { InstanceConfig } from "../../src/config/schema.ts";
import { describeInstance } from "../../src/config/describe.ts";
import { DeliveryError } from "../../src/core/delivery.ts";
import type { StatusJobPayload } from "../../src/core/model.ts";
import { USER_AGENT } from "../../src/core/version.ts";
import { createGiteaRepository, gitea, parseGiteaOrgUrl, toGiteaStatusRequest } from "../../src/git/gitea.ts";
import { isGiteaCommitRead, isGiteaStatusPost, startFakeApi } from "../support/fake-api.ts";
import { gitHubMergeMessage, HISTORY_SHAS, twoMergedPullRequests } from "../support/history.ts";

const PAT = "gitea_0123456789abcdefTESTTOKEN";
const SHA = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";
const fake = startFakeApi();
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

const fields = () => ({ name: "apps-gitea", giteaOrgUrl: fake.giteaOrgUrl("org"), giteaGitOpsManifestsRepoName: "manifests" });
const repository = (token = PAT) => createGiteaRepository({ instance: fields(), credentials: tokenCredentials(token), userAgent: USER_AGENT });
const signal = () => AbortSignal.timeout(5_000);

function statusJob(state = "ReconciliationSucceeded"): StatusJobPayload {
  return {
    commit: SHA,
    operator: "FLUX",
    genre: "Kustomization",
    reconciler: "Kustomization/flux-system/apps",
    status: { context: "kustomization/apps", name: "Status", state, description: "Applied revision: main@sha1:0a1b2c3" },
    callbackUrl: "https://gitea.example.com/org/manifests/commit",
    statusContext: "default",
  };
}

async function failureOf(promise: Promise<unknown>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DeliveryError) return error;
    throw error;
  }
  throw new Error("expected a DeliveryError");
}

describe("giteaOrgUrl", () => {
  test("names the API root and the owner; anything else is refused at load", () => {
    expect(parseGiteaOrgUrl("https://gitea.example.com/api/v1/repos/org")).toEqual({ apiRoot: "https://gitea.example.com/api/v1", owner: "org" });
    expect(parseGiteaOrgUrl("https://git.example.com/sub/api/v1/repos/team/")).toEqual({ apiRoot: "https://git.example.com/sub/api/v1", owner: "team" });
    for (const url of ["https://gitea.example.com/org", "https://gitea.example.com/api/v1/orgs/org"]) expect(parseGiteaOrgUrl(url)).toBeUndefined();
    const result = v.safeParse(InstanceConfig, {
      name: "apps-gitea",
      gitOpsOperatorType: "FLUX",
      gitRepositoryType: "GITEA",
      ciCdOrchestratorType: "NONE",
      gitOpsAppURL: "https://gitea.example.com/org/manifests/commit",
      giteaOrgUrl: "https://gitea.example.com/org",
    });
    expect(result.success).toBe(false);
    const messages = result.issues!.map((issue) => `${v.getDotPath(issue)}: ${issue.message}`);
    expect(messages).toContain("giteaOrgUrl: must look like https://<host>/api/v1/repos/<owner>");
    expect(messages).toContain("giteaGitOpsManifestsRepoName: required when gitRepositoryType is GITEA; set it to the Gitea repository holding the manifests");
  });

  test("check-config describes the instance by owner and repository", () => {
    const instance = v.parse(InstanceConfig, {
      name: "apps-gitea",
      gitOpsOperatorType: "FLUX",
      gitRepositoryType: "GITEA",
      ciCdOrchestratorType: "NONE",
      gitOpsAppURL: "https://gitea.example.com/org/manifests/commit",
      giteaOrgUrl: "https://gitea.example.com/api/v1/repos/org",
      giteaGitOpsManifestsRepoName: "manifests",
    });
    expect(describeInstance(instance)).toBe("apps-gitea: FLUX → GITEA org/manifests → NONE, 0 subscribers");
    expect(gitea.location(instance)).toBe("gitea.example.com/org/manifests");
  });
});

describe("postStatus: what reaches Gitea", () => {
  test("the body and path are what the dry run shows; the token goes as `token …`", async () => {
    const job = statusJob();
    await repository().postStatus(job, signal());
    const [request] = fake.requests(isGiteaStatusPost);
    expect(request?.path).toBe(`/api/v1/repos/org/manifests/statuses/${SHA}`);
    expect(request?.body).toEqual({ state: "success", target_url: "https://gitea.example.com/org/manifests/commit", description: "Applied revision: main@sha1:0a1b2c3", context: "kustomization/apps" });
    const described = toGiteaStatusRequest(fields(), job);
    expect(`${fake.url}${request?.path}`).toBe(described.url);
    expect(request?.body).toEqual(described.body as object);
    expect(request?.headers.authorization).toBe(`token ${PAT}`);
    expect(request?.headers["user-agent"]).toBe(USER_AGENT);
    expect(request?.headers["content-type"]).toBe("application/json");
  });

  test("states: Gitea has GitHub's words (and warning, which nothing maps to)", async () => {
    for (const [state, expected] of [["Progressing", "pending"], ["HealthCheckFailed", "failure"], ["Degraded", "error"], ["a-future-reason", "pending"]] as const) {
      expect(toGiteaStatusRequest(fields(), statusJob(state)).body).toMatchObject({ state: expected });
    }
  });

  test("401 is permanent and names pat; 404 names the repository keys; 503 is retried", async () => {
    fake.failNext(1, { status: 401, body: { message: "invalid token", url: "https://gitea.example.com/api/swagger" } });
    const unauthorized = await failureOf(repository().postStatus(statusJob(), signal()));
    expect(unauthorized.permanent).toBe(true);
    expect(unauthorized.message).toContain("pat");
    fake.failNext(1, { status: 404, body: { message: "repository does not exist" } });
    const missing = await failureOf(repository().postStatus(statusJob(), signal()));
    expect(missing.permanent).toBe(true);
    expect(missing.message).toContain("check giteaOrgUrl, giteaGitOpsManifestsRepoName and pat");
    fake.failNext(1, { status: 503, body: "Service Unavailable" });
    expect(await failureOf(repository().postStatus(statusJob(), signal()))).toMatchObject({ permanent: false, status: 503 });
    expect(unauthorized.message).not.toContain(PAT);
  });
});

describe("commits", () => {
  test("readCommitMessage reads the git commit without stats, signatures or files", async () => {
    fake.setCommitMessage(SHA, "Merge pull request 'deploy' (#7) from deploy/4183912345/0a1b2c3 into main");
    expect(await repository().readCommitMessage(SHA, signal())).toBe("Merge pull request 'deploy' (#7) from deploy/4183912345/0a1b2c3 into main");
    const [read] = fake.requests(isGiteaCommitRead);
    expect(read?.query).toEqual({ stat: "false", verification: "false", files: "false" });
    expect(repository().describeCommitRead(SHA)).toBe(`GET ${fake.giteaOrgUrl("org")}/manifests/git/commits/${SHA}?stat=false&verification=false&files=false`);
  });

  test("commitsBetween walks the first parents from head to base: the PRs' own commits are left out", async () => {
    fake.setHistory(twoMergedPullRequests(gitHubMergeMessage));
    const { O, A, B } = HISTORY_SHAS;
    const between = await repository().commitsBetween(O, B, 100, signal());
    expect(between.map((commit) => commit.sha)).toEqual([A]);
    expect(between[0]?.committedAt).toBeDefined();
    expect(await repository().commitsBetween(A, B, 100, signal())).toEqual([]);
    // A base that is no first-parent ancestor of head (a rollback): nothing is superseded.
    expect(await repository().commitsBetween(HISTORY_SHAS.b1, B, 100, signal())).toEqual([]);
    // Past the limit without meeting base: nothing rather than a guess.
    expect(await repository().commitsBetween(O, B, 0, signal())).toEqual([]);
  });
});

describe("pipeline callbacks (Azure Pipelines with Gitea manifests)", () => {
  test("the merged PR of a commit, its callback in the body; none when Gitea says 404", async () => {
    const callbacks = repository().pipelineCallbacks!;
    expect(await callbacks.pullRequestOfCommit(SHA, signal())).toBeUndefined();
    fake.on("GET", `/api/v1/repos/org/manifests/commits/${SHA}/pull`, { body: { number: 7, merged: true, body: "" } });
    fake.on("GET", "/api/v1/repos/org/manifests/pulls/7", { body: { number: 7, merged: true, body: 'Deploy\n<!-- gitops-connector: {"taskid":"t1","jobid":"j1"} -->' } });
    expect(await callbacks.pullRequestOfCommit(SHA, signal())).toBe(7);
    expect(await callbacks.callbackOf(7, signal())).toBe('{"taskid":"t1","jobid":"j1"}');
  });

  test("abandoned: closed unmerged PRs with a callback, since the cutoff", async () => {
    const callback = '<!-- gitops-connector: {"taskid":"t"} -->';
    fake.on("GET", "/api/v1/repos/org/manifests/pulls", {
      body: [
        { number: 9, merged: false, closed_at: "2026-11-21T11:00:00Z", updated_at: "2026-11-21T11:00:00Z", body: callback },
        { number: 8, merged: true, closed_at: "2026-11-21T10:00:00Z", updated_at: "2026-11-21T10:00:00Z", body: callback },
        { number: 6, merged: false, closed_at: "2026-11-21T09:00:00Z", updated_at: "2026-11-21T09:00:00Z", body: "no callback" },
        { number: 5, merged: false, closed_at: "2026-11-10T09:00:00Z", updated_at: "2026-11-10T09:00:00Z", body: callback },
      ],
    });
    const abandoned = await repository().pipelineCallbacks!.abandonedSince(new Date("2026-11-20T00:00:00Z"), signal());
    expect(abandoned).toEqual([{ number: 9, closedAt: "2026-11-21T11:00:00Z" }]);
    expect(fake.requests()[0]?.query).toEqual({ state: "closed", sort: "recentupdate", page: "1", limit: "50" });
  });
});
