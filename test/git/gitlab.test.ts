/**
 * The GitLab provider module against the loopback fake (which, like GitLab, refuses a status the state it already
 * has): the request a status makes (the same the dry run shows), its states, the same-state answer counted as
 * delivered, the two token headers, commit reads and the first-parent walk, and the config keys it brings.
 */
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import * as v from "valibot";
import { tokenCredentials } from "../../src/clients/credentials.ts";
import { describeInstance } from "../../src/config/describe.ts";
import { InstanceConfig } from "../../src/config/schema.ts";
import { DeliveryError } from "../../src/core/delivery.ts";
import type { StatusJobPayload } from "../../src/core/model.ts";
import { USER_AGENT } from "../../src/core/version.ts";
import { createGitLabRepository, gitlab, toGitLabStatusRequest, type GitLabFields } from "../../src/git/gitlab.ts";
import { isGitLabCommitRead, isGitLabStatusPost, startFakeApi } from "../support/fake-api.ts";
import { gitHubMergeMessage, HISTORY_SHAS, twoMergedPullRequests } from "../support/history.ts";

const PAT = "glpat-0123456789abcdefTESTTOKEN";
const SHA = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";
const fake = startFakeApi();
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

const fields = (overrides: Partial<GitLabFields> = {}) => ({ name: "apps-gitlab", gitLabUrl: fake.gitLabUrl(), gitLabGitOpsManifestsProject: "platform/deploy/manifests", ...overrides });
const repository = (overrides: Partial<GitLabFields> = {}) => createGitLabRepository({ instance: fields(overrides), credentials: tokenCredentials(PAT), userAgent: USER_AGENT });
const signal = () => AbortSignal.timeout(5_000);

function statusJob(state = "ReconciliationSucceeded", description = "Applied revision: main@sha1:0a1b2c3"): StatusJobPayload {
  return {
    commit: SHA,
    operator: "FLUX",
    genre: "Kustomization",
    reconciler: "Kustomization/flux-system/apps",
    status: { context: "kustomization/apps", name: "Status", state, description },
    callbackUrl: "https://gitlab.com/platform/deploy/manifests/-/commit",
    statusContext: "default",
  };
}

const base = {
  name: "apps-gitlab",
  gitOpsOperatorType: "FLUX",
  gitRepositoryType: "GITLAB",
  ciCdOrchestratorType: "NONE",
  gitOpsAppURL: "https://gitlab.com/platform/manifests/-/commit",
  gitLabGitOpsManifestsProject: "platform/manifests",
};

describe("config", () => {
  test("gitLabUrl defaults to gitlab.com; check-config names the project", () => {
    const instance = v.parse(InstanceConfig, base);
    expect(instance.gitLabUrl).toBe("https://gitlab.com");
    expect(describeInstance(instance)).toBe("apps-gitlab: FLUX → GITLAB platform/manifests → NONE, 0 subscribers");
    expect(gitlab.location(instance)).toBe("gitlab.com/platform/manifests");
  });

  test("the project is required; Azure Pipelines cannot go with GitLab (its MRs carry no callback here); GitHub Actions can", () => {
    const missing = v.safeParse(InstanceConfig, { ...base, gitLabGitOpsManifestsProject: undefined });
    expect(missing.issues?.map((issue) => issue.message)).toContain("required when gitRepositoryType is GITLAB; set it to the project holding the manifests, e.g. group/manifests or its numeric id");
    const pipelines = v.safeParse(InstanceConfig, { ...base, ciCdOrchestratorType: "AZDO", azdoOrgUrl: "https://dev.azure.com/org/project" });
    expect(pipelines.issues?.map((issue) => `${v.getDotPath(issue)}: ${issue.message}`)).toEqual([
      "ciCdOrchestratorType: Azure Pipelines finds its waiting task through a pull request's callback data, which GitLab has no place for; use gitRepositoryType GITHUB, AZDO or GITEA, or ciCdOrchestratorType NONE",
    ]);
    const actions = v.safeParse(InstanceConfig, { ...base, ciCdOrchestratorType: "GITHUB", gitHubOrgUrl: "https://api.github.com/repos/org", gitHubGitOpsRepoName: "app-src" });
    expect(actions.success).toBe(true);
  });
});

describe("postStatus: what reaches GitLab", () => {
  test("the context goes in name; the project path is one encoded segment; the token as PRIVATE-TOKEN", async () => {
    const job = statusJob();
    await repository().postStatus(job, signal());
    const [request] = fake.requests(isGitLabStatusPost);
    expect(request?.path).toBe(`/api/v4/projects/platform%2Fdeploy%2Fmanifests/statuses/${SHA}`);
    expect(request?.body).toEqual({ state: "success", name: "kustomization/apps", target_url: "https://gitlab.com/platform/deploy/manifests/-/commit", description: "Applied revision: main@sha1:0a1b2c3" });
    const described = toGitLabStatusRequest(fields(), job);
    expect(described.url).toBe(`${fake.url}${request?.path}`);
    expect(request?.body).toEqual(described.body as object);
    expect(request?.headers["private-token"]).toBe(PAT);
    expect(request?.headers.authorization).toBeUndefined();
  });

  test("an OAuth token goes as a Bearer Authorization; a numeric project id as it is; a gitLabUrl with /api/v4 works", async () => {
    await repository({ gitLabTokenHeader: "Authorization", gitLabGitOpsManifestsProject: "4711", gitLabUrl: `${fake.gitLabUrl()}/api/v4` }).postStatus(statusJob(), signal());
    const [request] = fake.requests(isGitLabStatusPost);
    expect(request?.path).toBe(`/api/v4/projects/4711/statuses/${SHA}`);
    expect(request?.headers.authorization).toBe(`Bearer ${PAT}`);
    expect(request?.headers["private-token"]).toBeUndefined();
  });

  test("states: in progress is running, suspended canceled, failures failed", () => {
    for (const [state, expected] of [["Progressing", "running"], ["DependencyNotReady", "pending"], ["HealthCheckFailed", "failed"], ["Degraded", "failed"], ["Suspended", "canceled"], ["Running", "running"], ["Healthy", "success"], ["a-future-reason", "pending"]] as const) {
      expect(toGitLabStatusRequest(fields(), statusJob(state)).body).toMatchObject({ state: expected });
    }
  });

  test("a status already in the state asked for (400 Cannot transition) counts as delivered; another 400 does not", async () => {
    await repository().postStatus(statusJob("Progressing", "first"), signal());
    await repository().postStatus(statusJob("Progressing", "second: same state, new text"), signal());
    expect(fake.requests(isGitLabStatusPost).map((request) => request.answeredWith)).toEqual([201, 400]);
    await repository().postStatus(statusJob("ReconciliationSucceeded"), signal());
    expect(fake.requests(isGitLabStatusPost).at(-1)?.answeredWith).toBe(201);
    fake.failNext(1, { status: 400, body: { message: { state: ["does not have a valid value"] } } }, isGitLabStatusPost);
    const refused = await repository()
      .postStatus(statusJob("HealthCheckFailed"), signal())
      .then(() => undefined, (error: unknown) => error);
    expect(refused).toBeInstanceOf(DeliveryError);
    expect((refused as DeliveryError).permanent).toBe(true);
  });

  test("descriptions are cut to GitLab's 255 characters", () => {
    const body = toGitLabStatusRequest(fields(), statusJob("Progressing", "x".repeat(300))).body as { description: string };
    expect(Array.from(body.description)).toHaveLength(255);
    expect(body.description.endsWith("…")).toBe(true);
  });
});

describe("commits", () => {
  test("readCommitMessage and the first-parent walk", async () => {
    fake.setHistory(twoMergedPullRequests(gitHubMergeMessage));
    const { O, A, B } = HISTORY_SHAS;
    expect(await repository().readCommitMessage(B, signal())).toBe(gitHubMergeMessage(2, "B"));
    expect(fake.requests(isGitLabCommitRead)[0]?.path).toBe(`/api/v4/projects/platform%2Fdeploy%2Fmanifests/repository/commits/${B}`);
    expect((await repository().commitsBetween(O, B, 100, signal())).map((commit) => commit.sha)).toEqual([A]);
    expect(await repository().commitsBetween(HISTORY_SHAS.b1, B, 100, signal())).toEqual([]);
  });

  test("no pipeline callbacks: GitLab's merge requests carry none here", () => {
    expect(repository().pipelineCallbacks).toBeUndefined();
    expect(gitlab.pipelineCallbacks).toBe(false);
  });
});
