/**
 * The Azure Pipelines orchestrator through real fetch against the loopback fake, with a real Azure Repos (or
 * GitHub) repository provider: which PR a deployed commit came from, the callback data on it, the plan and
 * timeline checks, and the TaskCompleted event, with each token sent only where it belongs.
 */
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { tokenCredentials } from "../../src/clients/credentials.ts";
import { DeliveryError } from "../../src/core/delivery.ts";
import { createAzureReposRepository } from "../../src/git/azure-repos.ts";
import { createGitHubRepository } from "../../src/git/github.ts";
import type { OrchestratorJobPayload } from "../../src/core/model.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { createAzurePipelinesOrchestrator, describeAzurePipelinesCallback } from "../../src/orchestrators/azure-pipelines.ts";
import { USER_AGENT } from "../../src/core/version.ts";
import {
  isAzureCommitRead,
  isAzurePropertiesRead,
  isPlanEvent,
  isPlanRead,
  isPullsOfCommit,
  isTimelineRead,
  startFakeApi,
  type FakeApi,
} from "../support/fake-api.ts";

const SHA = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432";
const PAT = "azdoRepoPat0123456789abcdefghijklmnopqrstuvwx";
const ORCHESTRATOR_PAT = "azdoPipelinesPat9876543210zyxwvutsrqponmlkji";
const GITHUB_PAT = "ghp_manifestsOnGitHub0123456789";
const basic = (token: string) => `Basic ${Buffer.from(`:${token}`).toString("base64")}`;
const TOKEN_FORMS = [PAT, ORCHESTRATOR_PAT, GITHUB_PAT, ...[PAT, ORCHESTRATOR_PAT].map((t) => Buffer.from(`:${t}`).toString("base64"))];

const TASK_ID = "a6f3c1e2-4b5d-4e6f-8a9b-0c1d2e3f4a5b";
const JOB_ID = "12f1170f-54f2-53f3-20dd-22fc7dff55f9";
const PLAN_ID = "5e7f3a2b-1c4d-4e5f-9a8b-7c6d5e4f3a2b";
const PROJECT_ID = "8d2c6f8a-0e5b-4c7d-9f1e-2a3b4c5d6e7f";
const PLAN_PATH = `/org/${PROJECT_ID}/_apis/distributedtask/hubs/build/plans/${PLAN_ID}`;

const fake = startFakeApi();
/** Stands in for a host outside the instance's organization: it must never be called. */
const foreign = startFakeApi();
afterAll(async () => {
  await fake.stop();
  await foreign.stop();
});

let logs: string[] = [];
beforeEach(() => {
  fake.reset();
  foreign.reset();
  logs = [];
});

const logged = () => logs.map((line) => JSON.parse(line) as { level: string; msg: string } & Record<string, unknown>);
const logger = () => createLogger({ level: "debug", write: (line) => void logs.push(line) });

function callbackData(api: FakeApi = fake, overrides: Record<string, unknown> = {}) {
  return { taskid: TASK_ID, jobid: JOB_ID, planurl: api.azureCollectionUrl("org"), planid: PLAN_ID, projectid: PROJECT_ID, pr_num: "42", ...overrides };
}

const instance = () => ({
  name: "apps-azdo",
  azdoOrgUrl: fake.azureOrgUrl("org", "project"),
  azdoGitOpsRepoName: "manifests",
  azdoPrRepoName: "app-src",
  gitRepositoryType: "AZDO" as const,
});

function orchestrator(environment?: string) {
  const of = { ...instance(), ...(environment ? { environment } : {}) };
  const repository = createAzureReposRepository({ instance: of, credentials: tokenCredentials(PAT), userAgent: USER_AGENT });
  return createAzurePipelinesOrchestrator({ instance: of, credentials: tokenCredentials(ORCHESTRATOR_PAT), callbacks: repository.pipelineCallbacks!, userAgent: USER_AGENT, logger: logger() });
}

function gitHubOrchestrator() {
  const gitHubInstance = { ...instance(), gitRepositoryType: "GITHUB" as const, gitHubOrgUrl: fake.orgUrl("org"), gitHubGitOpsManifestsRepoName: "manifests" };
  const repository = createGitHubRepository({ instance: gitHubInstance, credentials: tokenCredentials(GITHUB_PAT), userAgent: USER_AGENT });
  return createAzurePipelinesOrchestrator({ instance: gitHubInstance, credentials: tokenCredentials(ORCHESTRATOR_PAT), callbacks: repository.pipelineCallbacks!, userAgent: USER_AGENT, logger: logger() });
}

const job = (outcome: OrchestratorJobPayload["outcome"] = "succeeded"): OrchestratorJobPayload => ({ commit: SHA, outcome, reconciler: "Application/guestbook" });
const signal = () => AbortSignal.timeout(5_000);

/** A merged PR 42 whose pipeline waits on it. */
function pipelineWaitsOnPr42(callback: unknown = callbackData()) {
  fake.setCommitMessage(SHA, "Merged PR 42: Deploy app-src 4183912345 to dev");
  fake.setPipelineCallback(42, callback);
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

function expectNoTokenIn(texts: readonly string[]) {
  for (const text of texts) for (const form of TOKEN_FORMS) expect(text).not.toContain(form);
}

describe("notify: Azure Repos manifests", () => {
  test("reads the commit and PR properties with pat, checks plan and timeline, then posts TaskCompleted with orchestratorPat", async () => {
    pipelineWaitsOnPr42();
    await orchestrator().notify(job(), signal());

    expect(fake.requests().map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /org/project/_apis/git/repositories/manifests/commits/${SHA}`,
      "GET /org/project/_apis/git/repositories/app-src/pullRequests/42/properties",
      `GET ${PLAN_PATH}`,
      `GET /org/${PROJECT_ID}/_apis/build/builds/501/timeline`,
      `POST ${PLAN_PATH}/events`,
    ]);
    for (const read of [...fake.requests(isAzureCommitRead), ...fake.requests(isAzurePropertiesRead)]) expect(read.headers.authorization).toBe(basic(PAT));
    for (const call of [...fake.requests(isPlanRead), ...fake.requests(isTimelineRead), ...fake.requests(isPlanEvent)])
      expect(call.headers.authorization).toBe(basic(ORCHESTRATOR_PAT));

    const [event] = fake.requests(isPlanEvent);
    expect(event?.query).toEqual({ "api-version": "2.0-preview.1" });
    expect(event?.body).toEqual({ name: "TaskCompleted", taskId: TASK_ID, jobId: JOB_ID, result: "succeeded" });
    expect(event?.headers["content-type"]).toBe("application/json");
    expect(event?.headers["user-agent"]).toBe(USER_AGENT);
    expect(fake.requests(isTimelineRead)[0]?.query).toEqual({ "api-version": "7.1" });

    const done = logged().find((line) => line.msg.startsWith("completed the Azure Pipelines task of PR 42"));
    expect(done).toMatchObject({ level: "info", instance: "apps-azdo", pullRequest: 42, outcome: "succeeded", planId: PLAN_ID, taskId: TASK_ID, jobId: JOB_ID });
    expect(foreign.requests()).toHaveLength(0);
  });

  test("a callback naming an environment is completed only by the instance of that environment", async () => {
    pipelineWaitsOnPr42(callbackData(fake, { environment: "prod" }));
    await orchestrator("dev").notify(job(), signal());
    await orchestrator().notify(job(), signal());
    expect(fake.requests(isPlanRead)).toEqual([]); // neither looks at the plan
    expect(logged().filter((line) => line.msg.includes("it waits for environment prod")).map((line) => line.environment ?? "none")).toEqual(["dev", "none"]);
    await orchestrator("prod").notify(job(), signal());
    expect(fake.requests(isPlanEvent).map((r) => r.body)).toEqual([{ name: "TaskCompleted", taskId: TASK_ID, jobId: JOB_ID, result: "succeeded" }]);
  });

  test("a callback naming no environment is completed by any instance, one of an environment too", async () => {
    pipelineWaitsOnPr42();
    await orchestrator("dev").notify(job(), signal());
    expect(fake.requests(isPlanEvent)).toHaveLength(1);
  });

  test("a failed deployment completes the task as failed", async () => {
    pipelineWaitsOnPr42();
    await orchestrator().notify(job("failed"), signal());
    expect(fake.requests(isPlanEvent).map((r) => r.body)).toEqual([{ name: "TaskCompleted", taskId: TASK_ID, jobId: JOB_ID, result: "failed" }]);
  });

  test("a planurl without its trailing slash reaches the same plan", async () => {
    pipelineWaitsOnPr42(callbackData(fake, { planurl: `${fake.url}/org` }));
    await orchestrator().notify(job(), signal());
    expect(fake.requests(isPlanEvent).map((r) => r.path)).toEqual([`${PLAN_PATH}/events`]);
  });

  test("a plan that already completed: no event, an info log saying why", async () => {
    pipelineWaitsOnPr42();
    fake.on("GET", PLAN_PATH, { body: { planId: PLAN_ID, state: "completed", result: "canceled", owner: { id: 501 } } });
    await orchestrator().notify(job(), signal());
    expect(fake.requests(isPlanEvent)).toHaveLength(0);
    expect(fake.requests(isTimelineRead)).toHaveLength(0);
    const skip = logged().find((line) => line.msg.includes("not completing the task of PR 42"));
    expect(skip?.level).toBe("info");
    expect(skip?.msg).toContain("its plan already completed");
    expect(skip?.msg).toContain(`deployment of ${SHA} succeeded`);
  });

  test("a job the build timeline shows completed (plan owner id = build id): no event", async () => {
    pipelineWaitsOnPr42();
    fake.on("GET", PLAN_PATH, { body: { planId: PLAN_ID, state: "inProgress", owner: { id: 8812, name: "20261121.3" } } });
    fake.on("GET", `/org/${PROJECT_ID}/_apis/build/builds/8812/timeline`, {
      body: { records: [{ id: "stage-1", type: "Stage", state: "inProgress" }, { id: JOB_ID.toUpperCase(), type: "Job", state: "completed", result: "canceled" }] },
    });
    await orchestrator().notify(job(), signal());
    expect(fake.requests(isTimelineRead).map((r) => r.path)).toEqual([`/org/${PROJECT_ID}/_apis/build/builds/8812/timeline`]);
    expect(fake.requests(isPlanEvent)).toHaveLength(0);
    expect(logged().find((line) => line.msg.includes("not completing the task of PR 42"))?.msg).toContain("its job already completed");
  });

  test("a timeline where the job is still running: the event is posted", async () => {
    pipelineWaitsOnPr42();
    fake.on("GET", /\/_apis\/build\/builds\/501\/timeline$/, { body: { records: [{ id: JOB_ID, type: "Job", state: "inProgress" }] } });
    await orchestrator().notify(job(), signal());
    expect(fake.requests(isPlanEvent)).toHaveLength(1);
  });

  test('a commit without "Merged PR <n>:": a logged skip, nothing after the commit read', async () => {
    fake.setCommitMessage(SHA, "Update dev image to 1.2.3");
    await orchestrator().notify(job(), signal());
    expect(fake.requests().map((r) => r.path)).toEqual([`/org/project/_apis/git/repositories/manifests/commits/${SHA}`]);
    const skip = logged().find((line) => line.level === "warn");
    expect(skip?.msg).toContain(`commit ${SHA} of instance apps-azdo was not merged from a pull request`);
    expect(skip?.msg).toContain('"Merged PR <n>:"');
    expect(skip).toMatchObject({ instance: "apps-azdo", commit: SHA });
  });

  test("a PR without callback data: a warning, no plan calls", async () => {
    fake.setCommitMessage(SHA, "Merged PR 42: Deploy");
    await orchestrator().notify(job(), signal());
    expect(fake.requests(isAzurePropertiesRead)).toHaveLength(1);
    expect(fake.requests(isPlanRead)).toHaveLength(0);
    expect(fake.requests(isPlanEvent)).toHaveLength(0);
    const warning = logged().find((line) => line.level === "warn");
    expect(warning?.msg).toBe("PR 42 of instance apps-azdo carries no callback data; no Azure Pipelines task to resume");
  });

  test("invalid callback JSON: a permanent error naming the PR, no plan calls", async () => {
    pipelineWaitsOnPr42('{"taskid": "$(System.TaskInstanceId)", ');
    const error = await failureOf(orchestrator().notify(job(), signal()));
    expect(error.permanent).toBe(true);
    expect(error.message).toStartWith("instance apps-azdo: the callback data on PR 42 is not JSON");
    expect(error.message).toContain("fix the pipeline step that writes it");
    expect(fake.requests(isPlanRead)).toHaveLength(0);
  });

  test("callback data missing a key: permanent, names the key", async () => {
    const { planid: _, ...withoutPlan } = callbackData();
    pipelineWaitsOnPr42(withoutPlan);
    const error = await failureOf(orchestrator().notify(job(), signal()));
    expect(error.permanent).toBe(true);
    expect(error.message).toContain("the callback data on PR 42 planid is missing");
    expect(fake.requests(isPlanRead)).toHaveLength(0);
  });

  test("a planurl outside the organization: permanent, and the orchestrator token goes nowhere", async () => {
    pipelineWaitsOnPr42(callbackData(foreign));
    const error = await failureOf(orchestrator().notify(job(), signal()));
    expect(error.permanent).toBe(true);
    expect(error.message).toContain(`the callback data on PR 42 points at ${foreign.url}/org/, outside the organization of azdoOrgUrl`);
    expect(error.message).toContain("check azdoOrgUrl");
    expect(foreign.requests()).toHaveLength(0);
    expect(fake.requests(isPlanRead)).toHaveLength(0);
    expect(fake.requests(isPlanEvent)).toHaveLength(0);
    expect(fake.requests().every((r) => r.headers.authorization !== basic(ORCHESTRATOR_PAT))).toBe(true);
  });

  test("a 404 on the plan: permanent, says the callback data is stale or orchestratorPat cannot see it", async () => {
    pipelineWaitsOnPr42();
    fake.failNext(1, { status: 404, body: { message: `TF400898: Plan ${PLAN_ID} not found.` } }, isPlanRead);
    const error = await failureOf(orchestrator().notify(job(), signal()));
    expect(error).toMatchObject({ permanent: true, status: 404 });
    expect(error.message).toContain(`plan ${PLAN_ID} of project ${PROJECT_ID} not found`);
    expect(error.message).toContain("orchestratorPat");
    expect(fake.requests(isPlanEvent)).toHaveLength(0);
  });

  test("a 401 on the event: permanent, check orchestratorPat (not pat)", async () => {
    pipelineWaitsOnPr42();
    fake.failNext(1, { status: 401, body: "" }, isPlanEvent);
    const error = await failureOf(orchestrator().notify(job(), signal()));
    expect(error).toMatchObject({ permanent: true, status: 401 });
    expect(error.message).toContain("(check orchestratorPat)");
  });

  test("a 503 on the event is retryable; a hang is cut by the signal and retryable", async () => {
    pipelineWaitsOnPr42();
    fake.failNext(1, { status: 503, body: "" }, isPlanEvent);
    expect(await failureOf(orchestrator().notify(job(), signal()))).toMatchObject({ permanent: false, status: 503 });

    fake.hang(isPlanEvent);
    const error = await failureOf(orchestrator().notify(job(), AbortSignal.timeout(200)));
    expect(error.permanent).toBe(false);
    expect(error.message).toContain(`no answer from Azure DevOps for instance apps-azdo (plan ${PLAN_ID} at ${fake.url}/org/)`);
    fake.unhang();
  });

  test("no log line and no error message carries a token", async () => {
    const messages: string[] = [];
    pipelineWaitsOnPr42();
    await orchestrator().notify(job(), signal());
    await orchestrator().abandoned!.fail(42, signal());
    fake.failNext(1, { status: 401, body: "" }, isPlanEvent);
    messages.push((await failureOf(orchestrator().notify(job(), signal()))).message);
    fake.failNext(1, { status: 403, body: { message: "Access denied" } }, isPlanRead);
    messages.push((await failureOf(orchestrator().notify(job(), signal()))).message);
    pipelineWaitsOnPr42(callbackData(foreign));
    messages.push((await failureOf(orchestrator().notify(job(), signal()))).message);
    expect(logs.length).toBeGreaterThan(1);
    expectNoTokenIn([...logs, ...messages]);
  });
});

describe("notify: GitHub manifests", () => {
  test("the merged PR and its body's callback come from GitHub with pat; the event goes to Azure DevOps with orchestratorPat", async () => {
    fake.on("GET", "/repos/org/manifests/commits/:sha/pulls", {
      body: [{ number: 42, state: "closed", merged_at: "2026-11-21T10:00:00Z", merge_commit_sha: SHA, body: "", closed_at: "2026-11-21T10:00:00Z" }],
    });
    fake.on("GET", "/repos/org/manifests/pulls/42", {
      body: { number: 42, state: "closed", body: `Deploy app-src to dev\n\n<!-- gitops-connector: ${JSON.stringify(callbackData())} -->` },
    });
    await gitHubOrchestrator().notify(job("failed"), signal());

    expect(fake.requests().map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /repos/org/manifests/commits/${SHA}/pulls`,
      "GET /repos/org/manifests/pulls/42",
      `GET ${PLAN_PATH}`,
      `GET /org/${PROJECT_ID}/_apis/build/builds/501/timeline`,
      `POST ${PLAN_PATH}/events`,
    ]);
    expect(fake.requests(isPullsOfCommit)[0]?.headers.authorization).toBe(`token ${GITHUB_PAT}`);
    expect(fake.requests(isPlanEvent)[0]?.headers.authorization).toBe(basic(ORCHESTRATOR_PAT));
    expect(fake.requests(isPlanEvent)[0]?.body).toEqual({ name: "TaskCompleted", taskId: TASK_ID, jobId: JOB_ID, result: "failed" });
  });

  test("a commit of no merged PR: a warning that says so the GitHub way, nothing else", async () => {
    await gitHubOrchestrator().notify(job(), signal());
    expect(fake.requests()).toHaveLength(1);
    expect(logged().find((line) => line.level === "warn")?.msg).toContain("(no merged PR has it as merge commit)");
  });
});

describe("failAbandoned", () => {
  test("completes the abandoned PR's task as failed, without reading any commit", async () => {
    fake.setPipelineCallback(42, callbackData());
    await orchestrator().abandoned!.fail(42, signal());
    expect(fake.requests(isAzureCommitRead)).toHaveLength(0);
    expect(fake.requests(isAzurePropertiesRead).map((r) => r.path)).toEqual(["/org/project/_apis/git/repositories/app-src/pullRequests/42/properties"]);
    const [event] = fake.requests(isPlanEvent);
    expect(event?.body).toEqual({ name: "TaskCompleted", taskId: TASK_ID, jobId: JOB_ID, result: "failed" });
    expect(event?.headers.authorization).toBe(basic(ORCHESTRATOR_PAT));
    expect(logged().find((line) => line.msg.startsWith("completed the Azure Pipelines task of PR 42"))?.msg).toContain("as failed (PR abandoned)");
  });

  test("an abandoned PR no task waits on: a warning, nothing posted", async () => {
    await orchestrator().abandoned!.fail(43, signal());
    expect(fake.requests(isPlanEvent)).toHaveLength(0);
    expect(logged().find((line) => line.level === "warn")?.msg).toBe("PR 43 of instance apps-azdo carries no callback data; no Azure Pipelines task to fail");
  });

  test("a plan that already completed (cancelled when the PR was abandoned): skipped", async () => {
    fake.setPipelineCallback(42, callbackData());
    fake.on("GET", PLAN_PATH, { body: { planId: PLAN_ID, state: "completed", owner: { id: 501 } } });
    await orchestrator().abandoned!.fail(42, signal());
    expect(fake.requests(isPlanEvent)).toHaveLength(0);
    expect(logged().find((line) => line.msg.includes("not completing"))?.msg).toContain("(PR abandoned): its plan already completed");
  });
});

describe("describeAzurePipelinesCallback (the dry run)", () => {
  test("names the reads and the event the notification makes", () => {
    const repository = createAzureReposRepository({ instance: instance(), credentials: tokenCredentials(PAT), userAgent: USER_AGENT });
    const plan = describeAzurePipelinesCallback(job("failed"), repository.pipelineCallbacks!);
    expect(plan.reads[0]).toBe(`GET ${fake.azureOrgUrl()}/_apis/git/repositories/manifests/commits/${SHA}`);
    expect(plan.reads[1]).toContain("/_apis/git/repositories/app-src/pullRequests/");
    expect(plan.request).toEqual({
      method: "POST",
      url: "{planurl}{projectid}/_apis/distributedtask/hubs/build/plans/{planid}/events?api-version=2.0-preview.1",
      body: { name: "TaskCompleted", taskId: "{taskid}", jobId: "{jobid}", result: "failed" },
    });
  });
});
