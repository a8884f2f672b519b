import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { tokenCredentials } from "../../src/clients/credentials.ts";
import { DeliveryError } from "../../src/core/delivery.ts";
import { createGitHubRepository } from "../../src/git/github.ts";
import type { OrchestratorJobPayload } from "../../src/core/model.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { createGitHubActionsOrchestrator, extractDispatchIds } from "../../src/orchestrators/github-actions.ts";
import { USER_AGENT } from "../../src/core/version.ts";
import { isCommitRead, isDispatch, startFakeApi } from "../support/fake-api.ts";

const MANIFESTS_COMMIT = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432";
const SOURCE_SHA = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";
/** GitHub's merge commit message for the PR the CD workflow opens from branch deploy/<run id>/<source sha>/<env>. */
const MERGE_MESSAGE = `Merge pull request #42 from org/deploy/4183912345/${SOURCE_SHA}/dev\n\nDeploy ${SOURCE_SHA.slice(0, 7)} to dev`;
const PAT = "ghp_repositoryToken000";
const ORCHESTRATOR_PAT = "ghp_orchestratorToken111";

const fake = startFakeApi();
afterAll(() => fake.stop());
let logs: string[] = [];
beforeEach(() => {
  fake.reset();
  logs = [];
});

function orchestrator(overrides: { commitMessagePattern?: RegExp } = {}) {
  const instance = {
    name: "apps-dev",
    gitHubOrgUrl: fake.orgUrl("org"),
    gitHubGitOpsManifestsRepoName: "manifests",
    gitHubGitOpsRepoName: "app-src",
    ...overrides,
  };
  const logger = createLogger({ level: "debug", write: (line) => void logs.push(line) });
  const repository = createGitHubRepository({ instance, credentials: tokenCredentials(PAT), userAgent: USER_AGENT });
  return createGitHubActionsOrchestrator({
    instance,
    credentials: tokenCredentials(ORCHESTRATOR_PAT),
    repository,
    userAgent: USER_AGENT,
    logger,
  });
}

const job = (outcome: OrchestratorJobPayload["outcome"] = "succeeded"): OrchestratorJobPayload => ({
  commit: MANIFESTS_COMMIT,
  outcome,
  reconciler: "Kustomization/flux-system/apps-dev",
});
const signal = () => AbortSignal.timeout(5_000);

describe("extractDispatchIds", () => {
  test("the original's split('/')[2] and [3] on GitHub's merge message", () => {
    expect(MERGE_MESSAGE.split("/")[2]).toBe("4183912345");
    expect(extractDispatchIds(MERGE_MESSAGE)).toEqual({ runid: "4183912345", sha: SOURCE_SHA });
  });

  test("a sha that ends the title stops at the first whitespace (the original sent the body along)", () => {
    const message = `Merge pull request #7 from org/deploy/555/${SOURCE_SHA}\n\nrelease notes`;
    expect(message.split("/")[3]).toBe(`${SOURCE_SHA}\n\nrelease notes`);
    expect(extractDispatchIds(message)).toEqual({ runid: "555", sha: SOURCE_SHA });
  });

  test("a bare deploy/<runid>/<sha> message puts the sha at [2]: such repositories need a pattern", () => {
    const message = `deploy/4183912345/${SOURCE_SHA}/dev`;
    expect(extractDispatchIds(message)).toEqual({ runid: SOURCE_SHA, sha: "dev" });
    expect(extractDispatchIds(message, /deploy\/(?<runid>\d+)\/(?<sha>[0-9a-f]+)/)).toEqual({ runid: "4183912345", sha: SOURCE_SHA });
  });

  test("messages that do not carry both values", () => {
    expect(extractDispatchIds("Bump nginx to 1.27 (#12)")).toBeUndefined();
    expect(extractDispatchIds("update apps/dev")).toBeUndefined();
    expect(extractDispatchIds("a/b/c/")).toBeUndefined();
    expect(extractDispatchIds("run 5 sha abc", /deploy\/(?<runid>\d+)\/(?<sha>[0-9a-f]+)/)).toBeUndefined();
  });
});

describe("notify", () => {
  test("reads the manifests commit with pat, then dispatches sync-success with orchestratorPat", async () => {
    fake.setCommitMessage(MANIFESTS_COMMIT, MERGE_MESSAGE);
    await orchestrator().notify(job(), signal());

    const read = fake.requests(isCommitRead);
    expect(read.map((r) => r.path)).toEqual([`/repos/org/manifests/commits/${MANIFESTS_COMMIT}`]);
    expect(read[0]!.headers.authorization).toBe(`token ${PAT}`);

    const [dispatch] = fake.requests(isDispatch);
    expect(dispatch?.path).toBe("/repos/org/app-src/dispatches");
    expect(dispatch?.body).toEqual({
      event_type: "sync-success",
      client_payload: { sha: SOURCE_SHA, runid: "4183912345", commitmessage: MERGE_MESSAGE },
    });
    expect(dispatch?.headers.authorization).toBe(`token ${ORCHESTRATOR_PAT}`);
    expect(dispatch?.headers["content-type"]).toBe("application/json");
    expect(dispatch?.headers["user-agent"]).toStartWith(USER_AGENT);
    expect(fake.requests().map((r) => r.method)).toEqual(["GET", "POST"]);
  });

  test("a failed deployment dispatches sync-failure", async () => {
    fake.setCommitMessage(MANIFESTS_COMMIT, MERGE_MESSAGE);
    await orchestrator().notify(job("failed"), signal());
    expect((fake.requests(isDispatch)[0]?.body as { event_type: string }).event_type).toBe("sync-failure");
  });

  test("a custom commitMessagePattern", async () => {
    const message = `chore(deploy): promote ${SOURCE_SHA} [run 777]`;
    fake.setCommitMessage(MANIFESTS_COMMIT, message);
    await orchestrator({ commitMessagePattern: /promote (?<sha>[0-9a-f]{40}) \[run (?<runid>\d+)\]/ }).notify(job(), signal());
    expect(fake.requests(isDispatch)[0]?.body).toEqual({
      event_type: "sync-success",
      client_payload: { sha: SOURCE_SHA, runid: "777", commitmessage: message },
    });
  });

  test("a message without run id and sha: no dispatch, a warning, and no error", async () => {
    fake.setCommitMessage(MANIFESTS_COMMIT, "Bump nginx to 1.27 (#12)");
    await orchestrator().notify(job(), signal());
    expect(fake.requests(isDispatch)).toHaveLength(0);
    const warning = logs.map((line) => JSON.parse(line)).find((line) => line.level === "warn");
    expect(warning?.msg).toContain(`no GitHub Actions dispatch for commit ${MANIFESTS_COMMIT} of instance apps-dev`);
    expect(warning?.msg).toContain("set commitMessagePattern");
    expect(warning?.commitMessage).toBe("Bump nginx to 1.27 (#12)");
  });

  test("a failed commit read fails the notification (retried by the outbox), before any dispatch", async () => {
    fake.failNext(1, { status: 503, body: { message: "Service Unavailable" } }, isCommitRead);
    const error = await orchestrator().notify(job(), signal()).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error).toMatchObject({ permanent: false, status: 503 });
    expect(fake.requests(isDispatch)).toHaveLength(0);
  });

  test("a 404 on dispatch names the workflow repository and orchestratorPat", async () => {
    fake.setCommitMessage(MANIFESTS_COMMIT, MERGE_MESSAGE);
    fake.failNext(1, { status: 404, body: { message: "Not Found" } }, isDispatch);
    const error = (await orchestrator().notify(job(), signal()).then(() => undefined, (e: unknown) => e)) as DeliveryError;
    expect(error.permanent).toBe(true);
    expect(error.message).toContain("repository org/app-src not found or not visible to the token of instance apps-dev");
    expect(error.message).toContain("orchestratorPat");
  });

  test("a 403 on dispatch names the contents permission", async () => {
    fake.setCommitMessage(MANIFESTS_COMMIT, MERGE_MESSAGE);
    fake.failNext(1, { status: 403, body: { message: "Resource not accessible by personal access token" } }, isDispatch);
    const error = (await orchestrator().notify(job(), signal()).then(() => undefined, (e: unknown) => e)) as DeliveryError;
    expect(error.permanent).toBe(true);
    expect(error.message).toContain("Contents read and write");
  });
});
