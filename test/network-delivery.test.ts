import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { DeliveryError } from "../src/delivery.ts";
import type { Job, OrchestratorJob, StatusJob, SubscriberJob } from "../src/model.ts";
import { createNetworkDelivery, type DeliveryInstance } from "../src/network-delivery.ts";
import { createLogger } from "../src/observability/logger.ts";
import { isCommitRead, isDispatch, isStatusPost, startFakeApi } from "./support/fake-api.ts";

const SHA = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432";
const PAT = "ghp_repositoryToken000";
const ORCHESTRATOR_PAT = "ghp_orchestratorToken111";

const fake = startFakeApi();
afterAll(() => fake.stop());

let instances: DeliveryInstance[] = [];
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

function githubInstance(overrides: Partial<DeliveryInstance> = {}): DeliveryInstance {
  return {
    name: "apps-dev",
    gitRepositoryType: "GITHUB",
    ciCdOrchestratorType: "GITHUB",
    gitHubOrgUrl: fake.orgUrl("org"),
    gitHubGitOpsManifestsRepoName: "manifests",
    gitHubGitOpsRepoName: "app-src",
    pat: PAT,
    orchestratorPat: ORCHESTRATOR_PAT,
    ...overrides,
  };
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
    instances = [githubInstance({ orchestratorPat: undefined })];
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

  test("an instance without pat", async () => {
    instances = [githubInstance({ pat: undefined, orchestratorPat: undefined })];
    const error = await failureOf(statusJob());
    expect(error.permanent).toBe(true);
    expect(error.message).toBe("instance apps-dev has no pat: set pat (e.g. ${GITHUB_TOKEN})");
    expect(fake.requests()).toHaveLength(0);
  });

  test("an orchestrator without any token", async () => {
    instances = [githubInstance({ pat: undefined, orchestratorPat: undefined })];
    const error = await failureOf(orchestratorJob());
    expect(error.permanent).toBe(true);
    expect(error.message).toContain("instance apps-dev has no orchestratorPat and no pat");
  });

  test("a gitHubOrgUrl Octokit cannot use", async () => {
    instances = [githubInstance({ gitHubOrgUrl: "https://github.com/org" })];
    const error = await failureOf(statusJob());
    expect(error.permanent).toBe(true);
    expect(error.message).toContain("gitHubOrgUrl");
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
