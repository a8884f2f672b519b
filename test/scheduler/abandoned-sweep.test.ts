/**
 * The abandoned-PR sweep with a real SQLite outbox and real providers against the loopback fake: one job per
 * abandoned PR, once ever (across sweeps and restarts), only for instances whose orchestrator waits on PRs, one
 * instance's failure not stopping the others, the cutoff sent as minTime, and the stop signal honoured.
 */
import { afterAll, afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AbandonedPullRequestJob } from "../../src/core/model.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { abandonedPrOnceKey, createAbandonedPrSweep, type AbandonedPrSweepOptions } from "../../src/scheduler/abandoned-sweep.ts";
import { promised } from "../../src/outbox/promised.ts";
import { createSqliteOutboxStore, type SqliteOutboxStore } from "../../src/outbox/store.ts";
import type { Instance } from "../../src/instances/compile.ts";
import { azureConfig, compiled, githubConfig } from "../support/instances.ts";
import { isAzurePullRequestList, startFakeApi, type RecordedRequest } from "../support/fake-api.ts";

const NOW = Date.parse("2026-11-21T13:00:00.000Z");
const PAT = "azdoSweepPat0123456789abcdefghijklmnopqrstuv";

const fake = startFakeApi();
afterAll(() => fake.stop());

let logs: string[] = [];
let enqueuedCalls = 0;
const stores: SqliteOutboxStore[] = [];
const dirs: string[] = [];
beforeEach(() => {
  fake.reset();
  logs = [];
  enqueuedCalls = 0;
});
afterEach(() => {
  for (const store of stores.splice(0)) {
    try {
      store.close();
    } catch {
      // closed by the test
    }
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const logger = () => createLogger({ level: "debug", write: (line) => void logs.push(line) });
const logged = () => logs.map((line) => JSON.parse(line) as { level: string; msg: string } & Record<string, unknown>);

function openStore(path = ":memory:"): SqliteOutboxStore {
  const store = createSqliteOutboxStore({ path, now: () => NOW });
  stores.push(store);
  return store;
}

function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "gitops-connector-sweep-"));
  dirs.push(dir);
  return join(dir, "outbox.db");
}

function azdoInstance(name: string, org = "org", overrides: Record<string, unknown> = {}): Instance {
  return compiled(azureConfig({ name, azdoOrgUrl: fake.azureOrgUrl(org, "project"), azdoPrRepoName: "app-src", pat: PAT, ...overrides }));
}

function sweep(store: SqliteOutboxStore, instances: readonly Instance[], overrides: Partial<AbandonedPrSweepOptions> = {}) {
  const log = logger();
  return createAbandonedPrSweep({
    instances: () => instances,
    store: promised(store),
    cutoffHours: () => 72,
    timeoutMs: () => 2_000,
    onEnqueued: () => void enqueuedCalls++,
    logger: log,
    now: () => NOW,
    ...overrides,
  });
}

const abandoned = (id: number, closedDate = "2026-11-21T10:00:00Z") => ({ pullRequestId: id, status: "abandoned", closedDate, title: `Deploy ${id}` });

/** The fake lists these abandoned PRs for the PR repository of `org`. */
function listAbandoned(org: string, ...prs: ReturnType<typeof abandoned>[]) {
  fake.on("GET", `/${org}/project/_apis/git/repositories/app-src/pullrequests`, { body: { count: prs.length, value: prs } });
}

const queued = (store: SqliteOutboxStore) =>
  store
    .claimDue({ now: Number.MAX_SAFE_INTEGER, limit: 1_000, excludeTargets: [] })
    .map((stored) => stored.job as AbandonedPullRequestJob)
    .sort((a, b) => a.payload.pullRequest - b.payload.pullRequest);

const listedFor = (org: string) => (r: RecordedRequest) => isAzurePullRequestList(r) && r.path.startsWith(`/${org}/`);

describe("enqueueing", () => {
  test("the first sweep enqueues one abandoned-pr job per PR; the second enqueues none", async () => {
    const store = openStore();
    listAbandoned("org", abandoned(12, "2026-11-21T10:00:00Z"), abandoned(11, "2026-11-19T09:30:00Z"));
    const run = sweep(store, [azdoInstance("apps-azdo")]);

    expect(await run.run()).toBe(2);
    expect(enqueuedCalls).toBe(1);
    expect(await run.run()).toBe(0);
    expect(enqueuedCalls).toBe(1);
    expect(fake.requests(isAzurePullRequestList)).toHaveLength(2);

    const target = `azure-pipelines:127.0.0.1:${fake.port}/org/project`;
    expect(queued(store)).toEqual([
      { kind: "abandoned-pr", instance: "apps-azdo", target, orderingKey: "apps-azdo|abandoned-pr|11", payload: { pullRequest: 11, closedAt: "2026-11-19T09:30:00Z" } },
      { kind: "abandoned-pr", instance: "apps-azdo", target, orderingKey: "apps-azdo|abandoned-pr|12", payload: { pullRequest: 12, closedAt: "2026-11-21T10:00:00Z" } },
    ]);
    const found = logged().filter((line) => line.msg.includes("was abandoned: failing its pipeline task"));
    expect(found.map((line) => line.pullRequest).sort()).toEqual([11, 12]);
  });

  test("a PR abandoned after the first sweep is enqueued by the next, alone", async () => {
    const store = openStore();
    const run = sweep(store, [azdoInstance("apps-azdo")]);
    listAbandoned("org", abandoned(11));
    expect(await run.run()).toBe(1);
    listAbandoned("org", abandoned(13), abandoned(11));
    expect(await run.run()).toBe(1);
    expect(queued(store).map((job) => job.payload.pullRequest)).toEqual([11, 13]);
  });

  test("a restart (a new store on the same file, new providers) enqueues none of the PRs already handled", async () => {
    const path = tempPath();
    listAbandoned("org", abandoned(12), abandoned(11));
    const first = openStore(path);
    expect(await sweep(first, [azdoInstance("apps-azdo")]).run()).toBe(2);
    first.close();

    const second = openStore(path);
    expect(await sweep(second, [azdoInstance("apps-azdo")]).run()).toBe(0);
    expect(second.pendingDepth()).toBe(2);
    expect(fake.requests(isAzurePullRequestList)).toHaveLength(2);
  });

  test("the once-key is per instance and repository: the same PR number elsewhere is another PR", async () => {
    const store = openStore();
    listAbandoned("org", abandoned(11));
    listAbandoned("org2", abandoned(11));
    expect(await sweep(store, [azdoInstance("apps-one"), azdoInstance("apps-two", "org2")]).run()).toBe(2);
    expect(abandonedPrOnceKey(azdoInstance("apps-one"), 11)).not.toBe(abandonedPrOnceKey(azdoInstance("apps-one", "org2"), 11));
  });
});

describe("which instances are swept", () => {
  test("only instances whose orchestrator is Azure Pipelines, whatever their git provider", async () => {
    const store = openStore();
    listAbandoned("org", abandoned(21));
    fake.on("GET", "/repos/org/gh-manifests/pulls", {
      body: [{ number: 31, state: "closed", merged_at: null, closed_at: "2026-11-21T11:00:00Z", updated_at: "2026-11-21T11:00:00Z", body: '<!-- gitops-connector: {"taskid":"t"} -->' }],
    });
    const instances: Instance[] = [
      azdoInstance("azdo-pipelines"),
      azdoInstance("azdo-statuses-only", "org-none", { ciCdOrchestratorType: "NONE" }),
      compiled(githubConfig({ name: "github-actions", gitHubOrgUrl: fake.orgUrl("actions"), subscribers: {}, pat: "ghp_actionsToken" })),
      compiled(
        githubConfig({
          name: "github-with-pipelines",
          ciCdOrchestratorType: "AZDO",
          gitHubOrgUrl: fake.orgUrl("org"),
          gitHubGitOpsManifestsRepoName: "gh-manifests",
          azdoOrgUrl: fake.azureOrgUrl("org", "project"),
          subscribers: {},
          pat: "ghp_manifestsToken",
          orchestratorPat: PAT,
        }),
      ),
    ];
    expect(await sweep(store, instances).run()).toBe(2);
    expect(fake.requests().map((r) => `${r.method} ${r.path}`).sort()).toEqual([
      "GET /org/project/_apis/git/repositories/app-src/pullrequests",
      "GET /repos/org/gh-manifests/pulls",
    ]);
    expect(queued(store).map((job) => [job.instance, job.payload.pullRequest])).toEqual([
      ["azdo-pipelines", 21],
      ["github-with-pipelines", 31],
    ]);
  });

  test("the instance list is read per run, so a reload applies", async () => {
    const store = openStore();
    listAbandoned("org", abandoned(11));
    let instances: Instance[] = [azdoInstance("apps-azdo", "org", { ciCdOrchestratorType: "NONE" })];
    const run = sweep(store, [], { instances: () => instances });
    expect(await run.run()).toBe(0);
    instances = [azdoInstance("apps-azdo")];
    expect(await run.run()).toBe(1);
  });
});

describe("failures", () => {
  test("a failing listing for one instance is logged and does not stop the others", async () => {
    const store = openStore();
    listAbandoned("org1", abandoned(11));
    listAbandoned("org2", abandoned(22));
    fake.failNext(1, { status: 503, body: { message: "The service is temporarily unavailable" } }, listedFor("org1"));
    const run = sweep(store, [azdoInstance("apps-one", "org1"), azdoInstance("apps-two", "org2")]);

    expect(await run.run()).toBe(1);
    expect(queued(store).map((job) => job.instance)).toEqual(["apps-two"]);
    const warning = logged().find((line) => line.level === "warn");
    expect(warning?.msg).toBe("abandoned-PR sweep of instance apps-one failed; next try in the next sweep");
    expect(warning?.instance).toBe("apps-one");
    expect(warning?.error).toContain("503 from Azure DevOps for instance apps-one");

    // The next sweep tries apps-one again and catches up.
    expect(await run.run()).toBe(1);
    expect(queued(store).map((job) => job.instance)).toEqual(["apps-one"]);
  });

  test("the same failure again is logged at debug, not as another warning", async () => {
    const store = openStore();
    fake.failNext(2, { status: 503, body: "" }, listedFor("org1"));
    const run = sweep(store, [azdoInstance("apps-one", "org1")]);
    await run.run();
    await run.run();
    const failures = logged().filter((line) => line.msg.startsWith("abandoned-PR sweep of instance apps-one failed"));
    expect(failures.map((line) => line.level)).toEqual(["warn", "debug"]);
  });

  test("a hanging listing is cut by timeoutMs and logged", async () => {
    const store = openStore();
    fake.hang(listedFor("org1"));
    listAbandoned("org2", abandoned(22));
    const run = sweep(store, [azdoInstance("apps-one", "org1"), azdoInstance("apps-two", "org2")], { timeoutMs: () => 100 });
    expect(await run.run()).toBe(1);
    expect(logged().find((line) => line.level === "warn")?.error).toContain("no answer from Azure DevOps for instance apps-one");
    fake.unhang();
  });
});

describe("the cutoff", () => {
  test("is sent as minTime: now minus cutoffHours, read per run", async () => {
    const store = openStore();
    let hours = 72;
    const run = sweep(store, [azdoInstance("apps-azdo")], { cutoffHours: () => hours });
    await run.run();
    hours = 24;
    await run.run();
    expect(fake.requests(isAzurePullRequestList).map((r) => r.query["searchCriteria.minTime"])).toEqual(["2026-11-18T13:00:00.000Z", "2026-11-20T13:00:00.000Z"]);
  });

  test("a PR the server returns although it closed before the cutoff is not enqueued", async () => {
    const store = openStore();
    listAbandoned("org", abandoned(12, "2026-11-21T10:00:00Z"), abandoned(3, "2026-11-01T00:00:00Z"));
    expect(await sweep(store, [azdoInstance("apps-azdo")]).run()).toBe(1);
    expect(queued(store).map((job) => job.payload.pullRequest)).toEqual([12]);
  });
});

describe("stopSignal", () => {
  test("already aborted: nothing is listed", async () => {
    const store = openStore();
    listAbandoned("org", abandoned(11));
    const run = sweep(store, [azdoInstance("apps-azdo")], { stopSignal: AbortSignal.abort() });
    expect(await run.run()).toBe(0);
    expect(fake.requests()).toHaveLength(0);
    expect(enqueuedCalls).toBe(0);
    expect(logged().filter((line) => line.level === "warn")).toEqual([]);
  });

  test("aborted during a listing: the call is cut, the sweep ends without the other instances", async () => {
    const store = openStore();
    fake.hang(listedFor("org1"));
    listAbandoned("org2", abandoned(22));
    const controller = new AbortController();
    const run = sweep(store, [azdoInstance("apps-one", "org1"), azdoInstance("apps-two", "org2")], { stopSignal: controller.signal, timeoutMs: () => 10_000 });
    const pending = run.run();
    await fake.waitFor(listedFor("org1"));
    controller.abort();
    expect(await pending).toBe(0);
    expect(fake.requests(listedFor("org2"))).toHaveLength(0);
    expect(logged().filter((line) => line.instance === "apps-two")).toEqual([]);
    expect(store.pendingDepth()).toBe(0);
    fake.unhang();
  });
});
