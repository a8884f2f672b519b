import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { DeliveryError } from "../../src/core/delivery.ts";
import type { Job, OrchestratorJob, StatusJob, SubscriberJob } from "../../src/core/model.ts";
import { createNetworkDelivery } from "../../src/delivery/router.ts";
import type { Instance } from "../../src/instances/compile.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { compiled, githubConfig, azureConfig } from "../support/instances.ts";
import { isCommitRead, isDispatch, isStatusPost, startFakeApi } from "../support/fake-api.ts";
import type { AbandonedPullRequestJob } from "../../src/core/model.ts";
import { isAzureCommitRead, isAzurePropertiesRead, isAzureStatusPost, isPlanEvent } from "../support/fake-api.ts";

const SHA = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432";
const PAT = "ghp_repositoryToken000";
const ORCHESTRATOR_PAT = "ghp_orchestratorToken111";

const fake = startFakeApi();
afterAll(() => fake.stop());

let instances: Instance[] = [];
let logs: string[] = [];
let fetchCalls = 0;
const countingFetch = (input: string | URL | Request, init?: RequestInit) => {
  fetchCalls++;
  return fetch(input, init);
};

beforeEach(() => {
  fake.reset();
  logs = [];
  fetchCalls = 0;
  instances = [githubInstance()];
});

/** A GitHub instance compiled from config keys, its calls through the counting fetch. */
function githubInstance(overrides: Record<string, unknown> = {}): Instance {
  return compiled(githubConfig({ gitHubOrgUrl: fake.orgUrl("org"), subscribers: {}, pat: PAT, orchestratorPat: ORCHESTRATOR_PAT, ...overrides }), countingFetch);
}

function delivery() {
  return createNetworkDelivery({
    instanceNamed: (name) => instances.find((instance) => instance.name === name),
    logger: createLogger({ level: "debug", write: (line) => void logs.push(line) }),
    fetch: countingFetch,
  });
}

const statusJob = (instance = "apps-dev"): StatusJob => ({
  kind: "status",
  instance,
  target: "github:127.0.0.1/repos/org/manifests",
  orderingKey: `${instance}|${SHA}|kustomization/apps-dev`,
  payload: {
    commit: SHA,
    operator: "FLUX",
    genre: "Kustomization",
    reconciler: "Kustomization/flux-system/apps-dev",
    status: { context: "kustomization/apps-dev", name: "Status", state: "ReconciliationSucceeded", description: "Applied revision: main@sha1:9f8e7d6" },
    callbackUrl: "https://github.com/org/manifests/commit",
    statusContext: "default",
  },
});

const subscriberJob = (): SubscriberJob => ({
  kind: "subscriber",
  instance: "apps-dev",
  target: "subscriber:spektate",
  orderingKey: `apps-dev|${SHA}|subscriber:spektate`,
  payload: {
    url: `${fake.url}/api/flux`,
    body: {
      commit_id: SHA,
      status_name: "Status",
      state: "ReconciliationSucceeded",
      message: "Applied revision: main@sha1:9f8e7d6",
      callback_url: "https://github.com/org/manifests/commit",
      gitops_operator: "Flux",
      genre: "Kustomization",
      context: "kustomization/apps-dev",
      instance: "apps-dev",
      reconciler: "Kustomization/flux-system/apps-dev",
    },
  },
});

const orchestratorJob = (outcome: "succeeded" | "failed" = "succeeded"): OrchestratorJob => ({
  kind: "orchestrator",
  instance: "apps-dev",
  target: "github-actions:127.0.0.1/repos/org/app-src",
  orderingKey: `apps-dev|${SHA}`,
  payload: { commit: SHA, outcome, reconciler: "Kustomization/flux-system/apps-dev" },
});

const signal = () => AbortSignal.timeout(5_000);
const failureOf = (job: Job, abort: AbortSignal = signal()) =>
  delivery()
    .deliver(job, abort)
    .then(
      () => {
        throw new Error("expected the delivery to fail");
      },
      (error: unknown) => {
        expect(error).toBeInstanceOf(DeliveryError);
        return error as DeliveryError;
      },
    );

describe("routing", () => {
  test("a status job posts the commit status with pat, through the injected fetch", async () => {
    await delivery().deliver(statusJob(), signal());
    const [post] = fake.requests(isStatusPost);
    expect(post?.path).toBe(`/repos/org/manifests/statuses/${SHA}`);
    expect(post?.headers.authorization).toBe(`token ${PAT}`);
    expect(fetchCalls).toBe(1);
  });

  test("a subscriber job posts to the subscriber", async () => {
    await delivery().deliver(subscriberJob(), signal());
    expect(fake.requests().map((r) => `${r.method} ${r.path}`)).toEqual(["POST /api/flux"]);
    expect(fetchCalls).toBe(1);
  });

  test("an orchestrator job reads the commit with pat and dispatches with orchestratorPat", async () => {
    await delivery().deliver(orchestratorJob(), signal());
    expect(fake.requests(isCommitRead)[0]?.headers.authorization).toBe(`token ${PAT}`);
    const dispatch = fake.requests(isDispatch)[0];
    expect(dispatch?.path).toBe("/repos/org/app-src/dispatches");
    expect(dispatch?.headers.authorization).toBe(`token ${ORCHESTRATOR_PAT}`);
    expect(dispatch?.body).toMatchObject({ event_type: "sync-success", client_payload: { runid: "4183912345" } });
  });

  test("without orchestratorPat the dispatch uses pat", async () => {
    instances = [compiled(githubConfig({ gitHubOrgUrl: fake.orgUrl("org"), subscribers: {}, pat: PAT }), countingFetch)];
    await delivery().deliver(orchestratorJob("failed"), signal());
    expect(fake.requests(isDispatch)[0]?.headers.authorization).toBe(`token ${PAT}`);
    expect(fake.requests(isDispatch)[0]?.body).toMatchObject({ event_type: "sync-failure" });
  });

  test("orchestrator NONE: nothing is sent", async () => {
    instances = [githubInstance({ ciCdOrchestratorType: "NONE" })];
    await delivery().deliver(orchestratorJob(), signal());
    expect(fake.requests()).toHaveLength(0);
  });

  test("a reload (a new instance object) takes effect at the next job", async () => {
    const network = delivery();
    await network.deliver(statusJob(), signal());
    instances = [githubInstance({ pat: "ghp_rotatedToken222" })];
    await network.deliver(statusJob(), signal());
    expect(fake.requests(isStatusPost).map((r) => r.headers.authorization)).toEqual([`token ${PAT}`, "token ghp_rotatedToken222"]);
  });
});

describe("config problems are permanent", () => {
  test("a job whose instance is no longer configured", async () => {
    const error = await failureOf(statusJob("apps-gone"));
    expect(error.permanent).toBe(true);
    expect(error.message).toContain("instance apps-gone is no longer configured");
    expect(fake.requests()).toHaveLength(0);
  });

});

describe("timeouts", () => {
  test("a hanging GitHub: the signal's timeout ends the call as retryable", async () => {
    fake.hang();
    const error = await failureOf(statusJob(), AbortSignal.timeout(100));
    expect(error.permanent).toBe(false);
    expect(error.status).toBeUndefined();
    expect(error.message).toContain("no answer from GitHub for instance apps-dev (org/manifests)");
    expect(fake.requests(isStatusPost)).toHaveLength(1);
  });

  test("an abort while the orchestrator waits on the commit read: retryable, no dispatch", async () => {
    fake.hang(isCommitRead);
    const controller = new AbortController();
    const pending = failureOf(orchestratorJob(), controller.signal);
    await fake.waitFor(isCommitRead);
    controller.abort();
    const error = await pending;
    expect(error.permanent).toBe(false);
    fake.unhang();
    expect(fake.requests(isDispatch)).toHaveLength(0);
  });

  test("a retryable GitHub answer stays retryable through the delivery", async () => {
    fake.failNext(1, { status: 502, body: "Bad Gateway" });
    expect(await failureOf(statusJob())).toMatchObject({ permanent: false, status: 502 });
  });
});

describe("Azure DevOps", () => {
  const AZDO_PAT = "azdoRepoPat0123456789abcdefghijklmnopqrstuvwx";
  const PIPELINES_PAT = "azdoPipelinesPat9876543210zyxwvutsrqponmlkji";
  const basic = (token: string) => `Basic ${Buffer.from(`:${token}`).toString("base64")}`;
  const PLAN_PATH = "/org/8d2c6f8a-0e5b-4c7d-9f1e-2a3b4c5d6e7f/_apis/distributedtask/hubs/build/plans/5e7f3a2b-1c4d-4e5f-9a8b-7c6d5e4f3a2b";
  const callback = () => ({
    taskid: "a6f3c1e2-4b5d-4e6f-8a9b-0c1d2e3f4a5b",
    jobid: "12f1170f-54f2-53f3-20dd-22fc7dff55f9",
    planurl: fake.azureCollectionUrl("org"),
    planid: "5e7f3a2b-1c4d-4e5f-9a8b-7c6d5e4f3a2b",
    projectid: "8d2c6f8a-0e5b-4c7d-9f1e-2a3b4c5d6e7f",
    pr_num: "42",
  });

  function azureInstance(overrides: Record<string, unknown> = {}): Instance {
    return compiled(
      azureConfig({ gitOpsOperatorType: "FLUX", azdoOrgUrl: fake.azureOrgUrl("org", "project"), azdoPrRepoName: "app-src", pat: AZDO_PAT, orchestratorPat: PIPELINES_PAT, ...overrides }),
      countingFetch,
    );
  }

  const azureStatusJob = (): StatusJob => ({ ...statusJob("apps-azdo"), target: "azdo:127.0.0.1/org/project/manifests" });
  const abandonedPrJob = (instance = "apps-azdo"): AbandonedPullRequestJob => ({
    kind: "abandoned-pr",
    instance,
    target: "azure-pipelines:127.0.0.1/org/project",
    orderingKey: `${instance}|abandoned-pr|42`,
    payload: { pullRequest: 42, closedAt: "2026-11-21T10:00:00Z" },
  });

  test("a status job of an AZDO instance posts to Azure Repos with pat, through the injected fetch", async () => {
    instances = [azureInstance()];
    await delivery().deliver(azureStatusJob(), signal());
    const [post] = fake.requests(isAzureStatusPost);
    expect(post?.path).toBe(`/org/project/_apis/git/repositories/manifests/commits/${SHA}/statuses`);
    expect(post?.query).toEqual({ "api-version": "7.1" });
    expect(post?.headers.authorization).toBe(basic(AZDO_PAT));
    expect(post?.body).toMatchObject({ state: "succeeded", context: { name: "kustomization/apps-dev", genre: "fluxcd" } });
    expect(fake.requests(isStatusPost)).toHaveLength(0);
    expect(fetchCalls).toBe(1);
  });

  test("an abandoned-pr job reaches failAbandoned: TaskCompleted with result failed, sent with orchestratorPat", async () => {
    instances = [azureInstance()];
    fake.setPipelineCallback(42, callback());
    await delivery().deliver(abandonedPrJob(), signal());
    expect(fake.requests(isAzureCommitRead)).toHaveLength(0);
    expect(fake.requests(isAzurePropertiesRead)[0]?.headers.authorization).toBe(basic(AZDO_PAT));
    const [event] = fake.requests(isPlanEvent);
    expect(event?.path).toBe(`${PLAN_PATH}/events`);
    expect(event?.body).toEqual({ name: "TaskCompleted", taskId: callback().taskid, jobId: callback().jobid, result: "failed" });
    expect(event?.headers.authorization).toBe(basic(PIPELINES_PAT));
    expect(fetchCalls).toBe(fake.requests().length);
  });

  test("an orchestrator job of an AZDO instance resumes the task of the merged PR", async () => {
    instances = [azureInstance()];
    fake.setCommitMessage(SHA, "Merged PR 42: Deploy app-src 4183912345 to dev");
    fake.setPipelineCallback(42, callback());
    await delivery().deliver({ ...orchestratorJob(), instance: "apps-azdo", target: "azure-pipelines:127.0.0.1/org/project" }, signal());
    expect(fake.requests(isAzureCommitRead)[0]?.headers.authorization).toBe(basic(AZDO_PAT));
    expect(fake.requests(isPlanEvent).map((r) => r.body)).toEqual([{ name: "TaskCompleted", taskId: callback().taskid, jobId: callback().jobid, result: "succeeded" }]);
    expect(fake.requests(isDispatch)).toHaveLength(0);
  });

  test("an abandoned-pr job for an instance whose orchestrator no longer waits on PRs is dropped, with a log", async () => {
    instances = [githubInstance({ name: "apps-azdo" })];
    await delivery().deliver(abandonedPrJob(), signal());
    expect(fake.requests()).toHaveLength(0);
    const dropped = logs.map((line) => JSON.parse(line)).find((line) => line.msg?.includes("abandoned-PR job dropped"));
    expect(dropped).toMatchObject({ level: "info", instance: "apps-azdo", pullRequest: 42 });
  });

  test("a planurl outside the organization makes the job dead, not retried", async () => {
    instances = [azureInstance()];
    fake.setPipelineCallback(42, { ...callback(), planurl: "https://attacker.example.com/org/" });
    const error = await failureOf(abandonedPrJob());
    expect(error.permanent).toBe(true);
    expect(fake.requests(isPlanEvent)).toHaveLength(0);
  });
});
