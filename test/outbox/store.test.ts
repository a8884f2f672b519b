/**
 * The SQLite outbox store against real files under the temp dir (and :memory:): atomic submit, durable
 * knowledge, coalescing, per-key ordering, target blocks, retries, dead jobs, pruning, crash recovery, and
 * the errors a wrong file gives.
 */
import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NOTHING_KNOWN, type KnownCommit } from "../../src/core/commit-knowledge.ts";
import type { Job, OrchestratorJob, StatusJob } from "../../src/core/model.ts";
import { createSqliteOutboxStore, resolveOutboxPath, type SqliteOutboxStore } from "../../src/outbox/store.ts";
import { SCHEMA_VERSION } from "../../src/outbox/schema.ts";

const T0 = 1_700_000_000_000;
const GITHUB = "github:org/manifests";

function statusJob(options: { commit?: string; context?: string; state?: string; target?: string; orderingKey?: string; coalesce?: boolean } = {}): StatusJob {
  const commit = options.commit ?? "abc123";
  const context = options.context ?? "kustomization/apps-dev";
  const target = options.target ?? GITHUB;
  return {
    kind: "status",
    instance: "apps-dev",
    target,
    orderingKey: options.orderingKey ?? `${target}|${commit}|${context}`,
    ...(options.coalesce === false ? {} : { coalesceKey: `${target}|${commit}|${context}` }),
    payload: {
      commit,
      operator: "FLUX",
      genre: "Kustomization",
      reconciler: "Kustomization/flux-system/apps-dev",
      status: { context, name: "Status", state: options.state ?? "Progressing", description: "Reconciling" },
      callbackUrl: "https://flux.example.com",
      statusContext: "default",
    },
  };
}

function orchestratorJob(commit = "abc123"): OrchestratorJob {
  return {
    kind: "orchestrator",
    instance: "apps-dev",
    target: "github-actions:org/app",
    orderingKey: `github-actions:org/app|${commit}`,
    payload: { commit, outcome: "succeeded", reconciler: "Kustomization/flux-system/apps-dev" },
  };
}

const stores: SqliteOutboxStore[] = [];
function tempPath(): string {
  return join(mkdtempSync(join(tmpdir(), "gitops-connector-outbox-")), "data", "outbox.db");
}
function openStore(path = ":memory:"): SqliteOutboxStore {
  const store = createSqliteOutboxStore({ path, now: () => T0 });
  stores.push(store);
  return store;
}
afterEach(() => {
  for (const store of stores.splice(0)) {
    try {
      store.close();
    } catch {
      // already closed by the test
    }
  }
});

/** Submits jobs without touching the known state. */
function enqueue(store: SqliteOutboxStore, jobs: Job[], now = T0, commit = "abc123"): void {
  store.submit("apps-dev", commit, (known) => ({ jobs, known }), now);
}

const claimAll = (store: SqliteOutboxStore, now = T0, excludeTargets: string[] = []) =>
  store.claimDue({ now, limit: 100, excludeTargets });

describe("submit", () => {
  test("is atomic: a plan that throws leaves no job and no commit row", () => {
    const path = tempPath();
    const store = openStore(path);
    expect(() =>
      store.submit("apps-dev", "abc123", () => {
        throw new Error("planner bug");
      }, T0),
    ).toThrow("planner bug");
    expect(store.pendingDepth()).toBe(0);
    let seen: KnownCommit | undefined;
    store.submit("apps-dev", "abc123", (known) => ((seen = known), { jobs: [], known }), T0);
    expect(seen).toEqual(NOTHING_KNOWN);
  });

  test("a failing insert rolls back the knowledge written before it", () => {
    const store = openStore();
    const broken = { ...statusJob(), target: null } as unknown as Job; // NOT NULL violation
    const known: KnownCommit = { statuses: {}, notified: ["succeeded"] };
    expect(() => store.submit("apps-dev", "abc123", () => ({ jobs: [statusJob({ context: "a" }), broken], known }), T0)).toThrow();
    expect(store.pendingDepth()).toBe(0);
    store.submit("apps-dev", "abc123", (seen) => (expect(seen).toEqual(NOTHING_KNOWN), { jobs: [], known: seen }), T0);
  });

  test("in a batch, a webhook that fails between its writes fails the batch: nothing of any of its webhooks stays", () => {
    const store = openStore();
    const broken = { ...statusJob(), target: null } as unknown as Job; // NOT NULL violation, after the knowledge is written
    const known: KnownCommit = { statuses: {}, notified: ["succeeded"] };
    const request = (commit: string, jobs: Job[]) => ({ instance: "apps-dev", commit, now: T0, plan: () => ({ jobs, known }) });
    expect(() => store.submitBatch!([request("abc123", [statusJob({ context: "a" })]), request("def456", [statusJob({ context: "b" }), broken])])).toThrow();
    expect(store.pendingDepth()).toBe(0);
    for (const commit of ["abc123", "def456"]) store.submit("apps-dev", commit, (seen) => (expect(seen).toEqual(NOTHING_KNOWN), { jobs: [], known: seen }), T0);
  });

  test("returns the planned jobs and enqueues them due now", () => {
    const store = openStore();
    const jobs = [statusJob(), orchestratorJob()];
    expect(store.submit("apps-dev", "abc123", (known) => ({ jobs, known }), T0)).toEqual(jobs);
    expect(store.pendingDepth()).toBe(2);
    expect(store.oldestPendingAt()).toBe(T0);
    expect(store.nextDueAt()).toBe(T0);
    const claimed = claimAll(store);
    expect(claimed.map((stored) => stored.job)).toEqual(jobs);
    expect(claimed[0]).toMatchObject({ state: "pending", attempts: 0, nextAttemptAt: T0, createdAt: T0, updatedAt: T0 });
    expect(claimed[0]?.lastError).toBeUndefined();
  });

  test("known state and notify-once survive closing and reopening the file", () => {
    const path = tempPath();
    const first = createSqliteOutboxStore({ path });
    const known: KnownCommit = { statuses: { "kustomization/apps-dev": { state: "ReconciliationSucceeded", description: "Applied" } }, notified: ["succeeded"] };
    first.submit("apps-dev", "abc123", () => ({ jobs: [orchestratorJob()], known }), T0);
    first.close();

    const second = openStore(path);
    let seen: KnownCommit | undefined;
    second.submit("apps-dev", "abc123", (previous) => ((seen = previous), { jobs: [], known: previous }), T0 + 1);
    expect(seen).toEqual(known);
    second.submit("apps-dev", "other", (previous) => (expect(previous).toEqual(NOTHING_KNOWN), { jobs: [], known: previous }), T0);
    second.submit("dev-two", "abc123", (previous) => (expect(previous).toEqual(NOTHING_KNOWN), { jobs: [], known: previous }), T0);
    expect(second.pendingDepth()).toBe(1);
  });
});

describe("coalescing", () => {
  test("a newer status replaces the unclaimed pending one with the same key", () => {
    const store = openStore();
    enqueue(store, [statusJob({ state: "Progressing" })]);
    enqueue(store, [statusJob({ state: "ReconciliationSucceeded" })], T0 + 1);
    expect(store.pendingDepth()).toBe(1);
    expect(claimAll(store, T0 + 1).map((stored) => stored.job)).toEqual([statusJob({ state: "ReconciliationSucceeded" })]);
  });

  test("but not a claimed (in-flight) one: the newer queues behind it", () => {
    const store = openStore();
    enqueue(store, [statusJob({ state: "Progressing" })]);
    const [inFlight] = claimAll(store);
    enqueue(store, [statusJob({ state: "ReconciliationSucceeded" })], T0 + 1);
    expect(store.pendingDepth()).toBe(2);
    expect(claimAll(store, T0 + 1)).toEqual([]);
    store.markDone(inFlight!.id, T0 + 2);
    expect(claimAll(store, T0 + 2).map((stored) => stored.job.kind === "status" && stored.job.payload.status.state)).toEqual(["ReconciliationSucceeded"]);
  });

  test("jobs without a coalescing key, or with another one, are never replaced", () => {
    const store = openStore();
    enqueue(store, [orchestratorJob(), statusJob({ context: "a" })]);
    enqueue(store, [orchestratorJob(), statusJob({ context: "b" })], T0 + 1);
    expect(store.pendingDepth()).toBe(4);
  });
});

describe("claimDue", () => {
  const keyed = (orderingKey: string, context: string, target = GITHUB) => statusJob({ orderingKey, context, target, coalesce: false });

  test("runs one job per ordering key at a time, in order", () => {
    const store = openStore();
    enqueue(store, [keyed("A", "a1"), keyed("A", "a2"), keyed("B", "b1")]);
    const first = claimAll(store);
    expect(first.map((stored) => stored.job.kind === "status" && stored.job.payload.status.context)).toEqual(["a1", "b1"]);
    expect(claimAll(store)).toEqual([]);
    store.markDone(first[0]!.id, T0);
    expect(claimAll(store).map((stored) => stored.job.kind === "status" && stored.job.payload.status.context)).toEqual(["a2"]);
  });

  test("a retry scheduled in the future holds back the later jobs of its key", () => {
    const store = openStore();
    enqueue(store, [keyed("A", "a1"), keyed("A", "a2")]);
    const [a1] = claimAll(store);
    store.markRetry(a1!.id, T0, T0 + 5_000, "HTTP 502 from api.github.com");
    expect(claimAll(store, T0 + 4_999)).toEqual([]);
    expect(store.nextDueAt()).toBe(T0 + 5_000);
    const again = claimAll(store, T0 + 5_000);
    expect(again.map((stored) => stored.id)).toEqual([a1!.id]);
    expect(again[0]).toMatchObject({ attempts: 1, lastError: "HTTP 502 from api.github.com", nextAttemptAt: T0 + 5_000 });
  });

  test("a blocked target is skipped until the block passes; a block only ever extends", () => {
    const store = openStore();
    enqueue(store, [keyed("A", "a1"), keyed("B", "b1", "azdo:org/proj/repo")]);
    store.blockTarget(GITHUB, T0 + 60_000);
    store.blockTarget(GITHUB, T0 + 1_000);
    expect(claimAll(store).map((stored) => stored.job.target)).toEqual(["azdo:org/proj/repo"]);
    expect(store.nextDueAt()).toBe(T0 + 60_000);
    expect(claimAll(store, T0 + 59_999)).toEqual([]);
    expect(claimAll(store, T0 + 60_000).map((stored) => stored.job.target)).toEqual([GITHUB]);
  });

  test("excluded targets are left alone; the limit is honoured", () => {
    const store = openStore();
    enqueue(store, [keyed("A", "a1"), keyed("B", "b1", "azdo:org/proj/repo"), keyed("C", "c1"), keyed("D", "d1")]);
    expect(claimAll(store, T0, [GITHUB]).map((stored) => stored.job.target)).toEqual(["azdo:org/proj/repo"]);
    expect(store.claimDue({ now: T0, limit: 2, excludeTargets: [] }).map((stored) => stored.job.kind === "status" && stored.job.payload.status.context)).toEqual(["a1", "c1"]);
    expect(store.claimDue({ now: T0, limit: 0, excludeTargets: [] })).toEqual([]);
  });

  test("orders by due time, then by id", () => {
    const store = openStore();
    enqueue(store, [keyed("A", "a1"), keyed("B", "b1")]);
    const [a1] = store.claimDue({ now: T0, limit: 1, excludeTargets: [] });
    store.markRetry(a1!.id, T0, T0 + 10, "timeout");
    enqueue(store, [keyed("C", "c1")], T0 + 5);
    expect(claimAll(store, T0 + 10).map((stored) => stored.job.kind === "status" && stored.job.payload.status.context)).toEqual(["b1", "c1", "a1"]);
  });

  test("jobs not yet due are not claimed; nextDueAt says when", () => {
    const store = openStore();
    expect(store.nextDueAt()).toBeUndefined();
    enqueue(store, [keyed("A", "a1")], T0 + 100);
    expect(claimAll(store, T0)).toEqual([]);
    expect(store.nextDueAt()).toBe(T0 + 100);
    claimAll(store, T0 + 100);
    expect(store.nextDueAt()).toBeUndefined(); // claimed jobs are the worker's business
  });

  test("10k pending jobs behind a few in-flight keys: nothing claimable, nothing due", () => {
    // Its cost is measured in bench/ (claim at a backlog), not timed here.
    const store = openStore();
    const jobs = Array.from({ length: 10_000 }, (_, index) => keyed(`key-${index % 5}`, `c${index}`));
    enqueue(store, jobs);
    expect(claimAll(store)).toHaveLength(5);
    expect(claimAll(store)).toEqual([]);
    expect(store.nextDueAt()).toBeUndefined();
  });

  test("nextDueAt leaves out the targets it is told to (those at their share of deliveries)", () => {
    const store = openStore();
    const AZDO = "azdo:org/proj/repo";
    enqueue(store, [keyed("A", "a1"), keyed("B", "b1", AZDO)]);
    store.markRetry(claimAll(store, T0, [GITHUB])[0]!.id, T0, T0 + 3_000, "HTTP 502");
    expect(store.nextDueAt()).toBe(T0);
    expect(store.nextDueAt([GITHUB])).toBe(T0 + 3_000);
    expect(store.nextDueAt([GITHUB, AZDO])).toBeUndefined();
  });

  test("claims across many targets come in due order, then id order", () => {
    const store = openStore();
    const targets = ["subscriber:c", "subscriber:a", GITHUB, "subscriber:b"];
    enqueue(store, targets.map((target, n) => keyed(`K${n}`, `x${n}`, target)), T0 + 10);
    enqueue(store, targets.map((target, n) => keyed(`L${n}`, `y${n}`, target)), T0);
    const order = claimAll(store, T0 + 10).map((stored) => stored.job.kind === "status" && stored.job.payload.status.context);
    expect(order).toEqual(["y0", "y1", "y2", "y3", "x0", "x1", "x2", "x3"]);
  });
});

describe("retries and dead jobs", () => {
  test("markRetry counts attempts and keeps the last error; markDead keeps it for the dead list", () => {
    const store = openStore();
    enqueue(store, [statusJob()]);
    const [job] = claimAll(store);
    store.markRetry(job!.id, T0 + 1, T0 + 2, "HTTP 500");
    claimAll(store, T0 + 2);
    store.markRetry(job!.id, T0 + 3, T0 + 4, "HTTP 503");
    claimAll(store, T0 + 4);
    store.markDead(job!.id, T0 + 5, "HTTP 422: validation failed");
    expect(store.pendingDepth()).toBe(0);
    expect(store.deadJobs()).toEqual([
      { id: job!.id, job: statusJob(), state: "dead", attempts: 3, nextAttemptAt: T0 + 4, createdAt: T0, updatedAt: T0 + 5, lastError: "HTTP 422: validation failed" },
    ]);
  });

  test("retryDead re-queues one or all dead jobs, purgeDead deletes them", () => {
    const store = openStore();
    enqueue(store, [statusJob({ context: "a" }), statusJob({ context: "b" }), statusJob({ context: "c" }), statusJob({ context: "d" })]);
    const [a, b, c, d] = claimAll(store);
    for (const job of [a, b, c]) store.markDead(job!.id, T0, `failed ${job!.id}`);
    store.markDone(d!.id, T0);

    expect(store.retryDead(d!.id, T0)).toBe(0); // done, not dead
    expect(store.retryDead(9_999, T0)).toBe(0);
    expect(store.retryDead(a!.id, T0 + 10)).toBe(1);
    const [again] = claimAll(store, T0 + 10);
    expect(again).toMatchObject({ id: a!.id, attempts: 0, nextAttemptAt: T0 + 10, lastError: `failed ${a!.id}` });

    expect(store.retryDead("all", T0 + 20)).toBe(2);
    expect(store.deadJobs()).toEqual([]);
    for (const job of claimAll(store, T0 + 20)) store.markDead(job.id, T0 + 21, "again");
    expect(store.purgeDead()).toBe(2);
    expect(store.stats()).toEqual([{ kind: "status", target: GITHUB, state: "done", count: 1 }, { kind: "status", target: GITHUB, state: "pending", count: 1 }]);
  });

  test("stats counts jobs by kind, target and state", () => {
    const store = openStore();
    enqueue(store, [statusJob({ context: "a" }), statusJob({ context: "b" }), orchestratorJob()]);
    const claimed = claimAll(store);
    store.markDead(claimed[1]!.id, T0, "HTTP 404");
    expect(store.stats()).toEqual([
      { kind: "orchestrator", target: "github-actions:org/app", state: "pending", count: 1 },
      { kind: "status", target: GITHUB, state: "dead", count: 1 },
      { kind: "status", target: GITHUB, state: "pending", count: 1 },
    ]);
  });
});

describe("prune", () => {
  test("deletes old done jobs and untouched commits, keeps pending and dead jobs", () => {
    const store = openStore();
    const HOUR = 3_600_000;
    const noJobs = (known: KnownCommit) => ({ jobs: [], known: { ...known, notified: ["succeeded" as const] } });
    store.submit("apps-dev", "old", (known) => ({ jobs: [statusJob({ commit: "old", context: "a" }), statusJob({ commit: "old", context: "b" }), statusJob({ commit: "old", context: "c" })], known }), T0);
    const [done, dead] = claimAll(store);
    store.markDone(done!.id, T0);
    store.markDead(dead!.id, T0, "HTTP 404");
    store.submit("apps-dev", "recent", noJobs, T0 + 47 * HOUR);
    store.submit("apps-dev", "re-announced", noJobs, T0);
    store.submit("apps-dev", "re-announced", (known) => ({ jobs: [], known }), T0 + 47 * HOUR); // plans nothing, still touches

    expect(store.prune(T0 + 24 * HOUR, T0 + 24 * HOUR)).toEqual({ jobs: 1, commits: 1 });
    expect(store.stats().map((row) => `${row.state}:${row.count}`)).toEqual(["dead:1", "pending:1"]);
    let seen: KnownCommit | undefined;
    store.submit("apps-dev", "re-announced", (known) => ((seen = known), { jobs: [], known }), T0 + 48 * HOUR);
    expect(seen?.notified).toEqual(["succeeded"]);
    store.submit("apps-dev", "old", (known) => ((seen = known), { jobs: [], known }), T0 + 48 * HOUR);
    expect(seen).toEqual(NOTHING_KNOWN);
  });
});

describe("durability and sharing", () => {
  test("claims are the process's own: a killed process's job in flight is claimable by the next", () => {
    const path = tempPath();
    const daemon = createSqliteOutboxStore({ path });
    enqueue(daemon, [statusJob()]);
    expect(claimAll(daemon)).toHaveLength(1);
    expect(claimAll(daemon)).toEqual([]); // in flight here
    daemon.close(); // killed before markDone

    const restarted = openStore(path);
    expect(restarted.pendingDepth()).toBe(1);
    expect(claimAll(restarted).map((stored) => stored.job)).toEqual([statusJob()]);
  });

  test("releaseClaims drops this process's claims, and the claimed marks an earlier version left in the file", () => {
    const path = tempPath();
    const store = openStore(path);
    enqueue(store, [statusJob({ context: "a" }), statusJob({ context: "b" })]);
    const db = new Database(path);
    db.run("UPDATE jobs SET claimed = 1 WHERE id = 1"); // as a version that kept claims in the file left it
    expect(claimAll(store)).toHaveLength(2);
    expect(store.releaseClaims()).toBe(2);
    expect(db.query("SELECT COUNT(*) AS n FROM jobs WHERE claimed = 1").get()).toEqual({ n: 0 });
    db.close();
    expect(claimAll(store)).toHaveLength(2);
  });

  test("a file is in WAL mode; synchronous: full opens it too", () => {
    const path = tempPath();
    openStore(path).close();
    const db = new Database(path);
    expect(db.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    db.close();
    const full = createSqliteOutboxStore({ path, synchronous: "full" });
    full.close();
  });

  test("two stores on one file (daemon and CLI) see each other's writes", () => {
    const path = tempPath();
    const daemon = openStore(path);
    const cli = openStore(path);
    enqueue(daemon, [statusJob()]);
    const [job] = claimAll(daemon);
    daemon.markDead(job!.id, T0, "HTTP 404");
    expect(cli.deadJobs().map((stored) => stored.id)).toEqual([job!.id]);
    expect(cli.retryDead("all", T0 + 1)).toBe(1);
    expect(claimAll(daemon, T0 + 1)).toHaveLength(1);
    enqueue(cli, [orchestratorJob()], T0 + 2);
    expect(daemon.pendingDepth()).toBe(2);
  });

  test("a file from a newer gitops-connector is refused with what to do", () => {
    const path = tempPath();
    openStore(path).close();
    const db = new Database(path);
    db.run("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", [SCHEMA_VERSION + 1, T0]);
    db.close();
    expect(() => createSqliteOutboxStore({ path })).toThrow(
      `outbox ${path} has schema version ${SCHEMA_VERSION + 1}, this gitops-connector knows up to ${SCHEMA_VERSION}: upgrade gitops-connector or use another --data-dir`,
    );
  });

  test("a file that is not a database is named in the error", () => {
    const path = join(mkdtempSync(join(tmpdir(), "gitops-connector-outbox-")), "outbox.db");
    writeFileSync(path, "instances:\n  - name: apps-dev\n".repeat(20));
    expect(() => createSqliteOutboxStore({ path })).toThrow(`outbox ${path} is not a SQLite database`);
  });

  test("reopening an up-to-date file migrates nothing and keeps the jobs", () => {
    const path = tempPath();
    const first = createSqliteOutboxStore({ path });
    enqueue(first, [statusJob()]);
    first.close();
    expect(openStore(path).pendingDepth()).toBe(1);
  });
});

describe("resolveOutboxPath", () => {
  test.each([
    ["outbox.db", "./data", "data/outbox.db"],
    ["state/q.db", "/var/lib/gitops-connector", "/var/lib/gitops-connector/state/q.db"],
    ["/srv/outbox.db", "./data", "/srv/outbox.db"],
    [":memory:", "./data", ":memory:"],
    [undefined, "/data", "/data/outbox.db"],
  ])("%p in %s → %s", (configuredPath, dataDir, expected) => {
    expect(resolveOutboxPath({ configuredPath, dataDir })).toBe(expected);
  });
});

describe("retrying dead jobs keeps the order of states", () => {
  test("a dead status superseded by a newer status for the same context is not revived", () => {
    const store = openStore();
    enqueue(store, [statusJob({ state: "Progressing" })]);
    const [old] = claimAll(store);
    store.markDead(old!.id, T0, "422 from GitHub");
    enqueue(store, [statusJob({ state: "ReconciliationSucceeded" })], T0 + 1);
    const [newer] = claimAll(store, T0 + 1);
    store.markDone(newer!.id, T0 + 2);

    expect(store.retryDead(old!.id, T0 + 3)).toBe(0);
    expect(store.retryDead("all", T0 + 3)).toBe(0);
    expect(store.deadJobs().map((job) => job.id)).toEqual([old!.id]);
  });

  test("a dead status that nothing superseded is revived", () => {
    const store = openStore();
    enqueue(store, [statusJob({ state: "Progressing" })]);
    const [old] = claimAll(store);
    store.markDead(old!.id, T0, "503 forever");
    expect(store.retryDead(old!.id, T0 + 1)).toBe(1);
    expect(claimAll(store, T0 + 1).map((job) => job.id)).toEqual([old!.id]);
  });

  test("a revived older job of a key waits while a newer one of that key is in flight", () => {
    const store = openStore();
    enqueue(store, [orchestratorJob()]);
    const [first] = claimAll(store);
    store.markDead(first!.id, T0, "502 from GitHub");
    enqueue(store, [orchestratorJob()], T0 + 1);
    const [second] = claimAll(store, T0 + 1);
    expect(second).toBeDefined();
    expect(store.retryDead(first!.id, T0 + 2)).toBe(1);
    expect(claimAll(store, T0 + 2)).toEqual([]); // the key is busy
    store.markDone(second!.id, T0 + 3);
    expect(claimAll(store, T0 + 3).map((job) => job.id)).toEqual([first!.id]);
  });
});

describe("enqueueOnce (the abandoned-PR sweep)", () => {
  const HOUR = 3_600_000;
  const abandonedPrJob = (pullRequest = 42): Job => ({
    kind: "abandoned-pr",
    instance: "apps-azdo",
    target: "azure-pipelines:dev.azure.com/org/project",
    orderingKey: `apps-azdo|abandoned-pr|${pullRequest}`,
    payload: { pullRequest, closedAt: "2023-11-14T20:00:00Z" },
  });
  const KEY = "abandoned-pr|apps-azdo|azdo:dev.azure.com/org/project/manifests|42";

  test("enqueues the first time (due now), never again for the same key", () => {
    const store = openStore();
    expect(store.enqueueOnce(KEY, abandonedPrJob(), T0)).toBe(true);
    expect(store.enqueueOnce(KEY, abandonedPrJob(), T0 + 30_000)).toBe(false);
    expect(store.pendingDepth()).toBe(1);
    const [stored] = claimAll(store);
    expect(stored?.job).toEqual(abandonedPrJob());
    expect(stored?.nextAttemptAt).toBe(T0);
    store.markDone(stored!.id, T0 + 1);
    // Done (or dead) is still "enqueued once".
    expect(store.enqueueOnce(KEY, abandonedPrJob(), T0 + 60_000)).toBe(false);
    expect(store.pendingDepth()).toBe(0);
  });

  test("another key is another job", () => {
    const store = openStore();
    expect(store.enqueueOnce(KEY, abandonedPrJob(42), T0)).toBe(true);
    expect(store.enqueueOnce(KEY.replace("|42", "|43"), abandonedPrJob(43), T0)).toBe(true);
    expect(store.pendingDepth()).toBe(2);
  });

  test("the key survives a restart", () => {
    const path = tempPath();
    const first = createSqliteOutboxStore({ path });
    expect(first.enqueueOnce(KEY, abandonedPrJob(), T0)).toBe(true);
    first.close();
    const second = openStore(path);
    expect(second.enqueueOnce(KEY, abandonedPrJob(), T0 + 1)).toBe(false);
    expect(second.pendingDepth()).toBe(1);
  });

  test("is atomic: a job that cannot be inserted leaves no key behind", () => {
    const store = openStore();
    const broken = { ...abandonedPrJob(), target: null } as unknown as Job;
    expect(() => store.enqueueOnce(KEY, broken, T0)).toThrow();
    expect(store.pendingDepth()).toBe(0);
    expect(store.enqueueOnce(KEY, abandonedPrJob(), T0)).toBe(true);
  });

  test("pruneOnceKeys forgets keys recorded before the cutoff, and only those", () => {
    const store = openStore();
    store.enqueueOnce("old", abandonedPrJob(1), T0);
    store.enqueueOnce("new", abandonedPrJob(2), T0 + HOUR);
    expect(store.pruneOnceKeys(T0 + HOUR)).toBe(1);
    expect(store.pruneOnceKeys(T0 + HOUR)).toBe(0);
    expect(store.enqueueOnce("old", abandonedPrJob(1), T0 + 2 * HOUR)).toBe(true);
    expect(store.enqueueOnce("new", abandonedPrJob(2), T0 + 2 * HOUR)).toBe(false);
    // The jobs themselves are not touched.
    expect(store.pendingDepth()).toBe(3);
  });
});

describe("migration from schema version 1", () => {
  const HOUR = 3_600_000;
  /** The first migration as it shipped (src/outbox/schema.ts, MIGRATIONS[0]), copied so a change to it shows here. */
  const V1_SCHEMA = `
  CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL,
    instance        TEXT    NOT NULL,
    target          TEXT    NOT NULL,
    ordering_key    TEXT    NOT NULL,
    coalesce_key    TEXT,
    payload         TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
    claimed         INTEGER NOT NULL DEFAULT 0 CHECK (claimed IN (0, 1)),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_error      TEXT
  );
  CREATE INDEX jobs_due ON jobs (state, claimed, next_attempt_at);
  CREATE INDEX jobs_ordering_head ON jobs (ordering_key, id) WHERE state = 'pending';
  CREATE INDEX jobs_coalesce ON jobs (coalesce_key) WHERE state = 'pending';
  CREATE INDEX jobs_pending_created ON jobs (created_at) WHERE state = 'pending';
  CREATE INDEX jobs_done_updated ON jobs (updated_at) WHERE state = 'done';

  CREATE TABLE commits (
    instance   TEXT    NOT NULL,
    "commit"   TEXT    NOT NULL,
    known      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (instance, "commit")
  ) WITHOUT ROWID;
  CREATE INDEX commits_updated ON commits (updated_at);

  CREATE TABLE target_blocks (
    target        TEXT    PRIMARY KEY,
    blocked_until INTEGER NOT NULL
  ) WITHOUT ROWID;
  `;

  function createVersion1File(): string {
    const path = join(mkdtempSync(join(tmpdir(), "gitops-connector-outbox-")), "outbox.db");
    const db = new Database(path, { create: true });
    db.run("PRAGMA journal_mode = WAL");
    db.run(V1_SCHEMA);
    db.run("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    db.run("INSERT INTO schema_version (version, applied_at) VALUES (1, ?)", [T0 - HOUR]);
    const job = statusJob();
    db.run(
      "INSERT INTO jobs (kind, instance, target, ordering_key, coalesce_key, payload, state, claimed, attempts, next_attempt_at, created_at, updated_at, last_error) " +
        "VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, 2, ?, ?, ?, ?)",
      [job.kind, job.instance, job.target, job.orderingKey, job.coalesceKey ?? null, JSON.stringify(job), T0, T0 - HOUR, T0 - 1, "503 from GitHub"],
    );
    db.run('INSERT INTO commits (instance, "commit", known, updated_at) VALUES (?, ?, ?, ?)', ["apps-dev", "abc123", JSON.stringify({ ...NOTHING_KNOWN, notified: ["succeeded"] }), T0]);
    db.close();
    return path;
  }

  test("is migrated to the current version on open, keeping its jobs and knowledge", () => {
    const path = createVersion1File();
    const store = openStore(path);

    const [stored] = claimAll(store);
    expect(stored?.job).toEqual(statusJob());
    expect(stored).toMatchObject({ attempts: 2, lastError: "503 from GitHub", createdAt: T0 - HOUR });
    let seen: KnownCommit | undefined;
    store.submit("apps-dev", "abc123", (known) => ((seen = known), { jobs: [], known }), T0);
    expect(seen?.notified).toEqual(["succeeded"]);
    expect(store.enqueueOnce("abandoned-pr|apps-azdo|x|1", orchestratorJob("once"), T0)).toBe(true);
    expect(store.enqueueOnce("abandoned-pr|apps-azdo|x|1", orchestratorJob("once"), T0)).toBe(false);
    store.close();

    const db = new Database(path);
    // Version 2 (once_keys) and any later one are recorded as applied at this open.
    const versions = Array.from({ length: SCHEMA_VERSION }, (_, i) => ({ version: i + 1, applied_at: i === 0 ? T0 - HOUR : T0 }));
    expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(2);
    expect(db.query("SELECT version, applied_at FROM schema_version ORDER BY version").all()).toEqual(versions);
    expect(db.query("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'once_keys' AND name = 'once_keys_created'").all()).toHaveLength(1);
    db.close();
  });

  test("a second open migrates nothing more", () => {
    const path = createVersion1File();
    openStore(path).close();
    openStore(path).close();
    const db = new Database(path);
    expect(db.query("SELECT COUNT(*) AS n FROM schema_version").get()).toEqual({ n: SCHEMA_VERSION });
    db.close();
  });
});

describe("job counts (kept by triggers)", () => {
  /** What a walk of the rows says, read through a connection of its own (as the CLI would). */
  const counted = (path: string) => {
    const db = new Database(path, { readonly: true });
    try {
      const count = (state: string) => (db.query("SELECT COUNT(*) AS n FROM jobs WHERE state = ?").get(state) as { n: number }).n;
      return { pending: count("pending"), dead: count("dead") };
    } finally {
      db.close();
    }
  };
  const kept = (store: SqliteOutboxStore) => ({ pending: store.pendingDepth(), dead: store.deadCount() });

  test("match the rows after every kind of change: submit, coalescing, done, dead, retry, purge, prune", () => {
    const path = tempPath();
    const store = openStore(path);
    const submit = (jobs: Job[], at = T0) => store.submit("apps-dev", "abc123", (known) => ({ jobs, known }), at);
    submit([statusJob({ context: "a" }), statusJob({ context: "b" }), statusJob({ context: "c" }), orchestratorJob()]);
    expect(kept(store)).toEqual({ pending: 4, dead: 0 });
    submit([statusJob({ context: "a", state: "Succeeded" })]); // replaces the pending "a": still 4
    expect(kept(store)).toEqual(counted(path));
    expect(kept(store)).toEqual({ pending: 4, dead: 0 });

    const [first, second, third, fourth] = claimAll(store);
    store.releaseClaim(fourth!.id); // still pending, claimable again
    store.markDone(first!.id, T0);
    store.markDead(second!.id, T0, "422 from GitHub");
    store.markDoneMany!([{ id: third!.id, now: T0 }]);
    expect(kept(store)).toEqual({ pending: 1, dead: 1 });
    expect(kept(store)).toEqual(counted(path));

    expect(store.retryDead("all", T0)).toBe(1);
    expect(kept(store)).toEqual({ pending: 2, dead: 0 });
    for (const stored of claimAll(store)) store.markDead(stored.id, T0, "gone");
    expect(kept(store)).toEqual({ pending: 0, dead: 2 });
    expect(store.purgeDead()).toBe(2);
    expect(store.prune(T0 + 1, T0 + 1).jobs).toBe(2);
    expect(kept(store)).toEqual({ pending: 0, dead: 0 });
    expect(kept(store)).toEqual(counted(path));
  });

  test("count what another connection changes, and start from the rows of a file written before they were kept", () => {
    const path = tempPath();
    const store = openStore(path);
    store.submit("apps-dev", "abc123", (known) => ({ jobs: [statusJob({ context: "a" }), statusJob({ context: "b" })], known }), T0);
    const [stored] = claimAll(store);
    store.markDead(stored!.id, T0, "422");
    store.close();

    // Back to schema 7, as an older gitops-connector left the file, with one more pending job it wrote.
    const db = new Database(path);
    db.run("DROP TRIGGER jobs_counted_insert");
    db.run("DROP TRIGGER jobs_counted_delete");
    db.run("DROP TRIGGER jobs_counted_update");
    db.run("DROP TABLE job_counts");
    db.run("DELETE FROM schema_version WHERE version > 7");
    const job = statusJob({ context: "c" });
    db.run(
      "INSERT INTO jobs (kind, instance, target, ordering_key, coalesce_key, payload, state, claimed, attempts, next_attempt_at, created_at, updated_at, head) " +
        "VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, 0, ?, ?, ?, 1)",
      [job.kind, job.instance, job.target, job.orderingKey, job.coalesceKey ?? null, JSON.stringify(job), T0, T0, T0],
    );
    db.close();

    const reopened = openStore(path);
    expect(kept(reopened)).toEqual({ pending: 2, dead: 1 });
    // The CLI beside the daemon revives the dead job through a connection of its own.
    const cli = openStore(path);
    expect(cli.retryDead("all", T0)).toBe(1);
    expect(kept(reopened)).toEqual({ pending: 3, dead: 0 });
    expect(kept(reopened)).toEqual(counted(path));
  });
});

describe("reconcilers' last finished commits (superseded commits)", () => {
  const RECONCILER = "Kustomization/flux-system/apps-dev";
  const finish = (store: SqliteOutboxStore, commit: string, at = T0) => {
    let lastFinished: string | undefined;
    store.submit("apps-dev", commit, (known, context) => ((lastFinished = context.lastFinished), { jobs: [], known, finished: true }), at, RECONCILER);
    return lastFinished;
  };

  test("a submit naming its reconciler reads the last commit it finished, and a finish moves it, across reopening", () => {
    const path = tempPath();
    const store = openStore(path);
    expect(finish(store, "aaa111")).toBeUndefined();
    expect(finish(store, "bbb222")).toBe("aaa111");
    let seen: string | undefined = "unset";
    store.submit("apps-dev", "ccc333", (known, context) => ((seen = context.lastFinished), { jobs: [], known }), T0, RECONCILER); // not finished
    expect(seen).toBe("bbb222");
    store.close();
    const reopened = openStore(path);
    expect(finish(reopened, "ccc333")).toBe("bbb222");
    let other: string | undefined = "unset";
    reopened.submit("apps-prod", "ccc333", (known, context) => ((other = context.lastFinished), { jobs: [], known }), T0, RECONCILER);
    expect(other).toBeUndefined(); // per instance
  });

  test("pruned with the commits nobody mentions any more", () => {
    const store = openStore();
    finish(store, "aaa111", T0);
    store.prune(T0 + 1, T0 + 1);
    expect(finish(store, "bbb222", T0 + 2)).toBeUndefined();
  });
});

describe("keys SQLite cannot store as they are", () => {
  test("a job whose ordering key holds a lone surrogate is claimed once while in flight", () => {
    const store = openStore();
    const key = "apps-dev|abc123|kustomization/web\ud800x";
    store.submit("apps-dev", "abc123", (known) => ({ jobs: [{ ...statusJob(), orderingKey: key, coalesceKey: key }], known }), T0);
    const [first] = store.claimDue({ now: T0, limit: 5, excludeTargets: [] });
    expect(first).toBeDefined();
    expect(store.claimDue({ now: T0, limit: 5, excludeTargets: [] })).toEqual([]);
    store.markDone(first!.id, T0);
    expect(store.pendingDepth()).toBe(0);
  });
});

describe("the head of each ordering key", () => {
  const keyed = (n: number, key = "key") => statusJob({ commit: `c${n}`, context: `ctx${n}`, orderingKey: key, coalesce: false });

  test("a dead head hands over to the next; revived, it heads its key again and the other waits", () => {
    const store = openStore();
    enqueue(store, [keyed(1), keyed(2), keyed(3)]);
    const [first] = claimAll(store);
    expect((first!.job as StatusJob).payload.commit).toBe("c1");
    store.markDead(first!.id, T0, "404");
    const [second] = claimAll(store);
    expect((second!.job as StatusJob).payload.commit).toBe("c2");
    store.markRetry(second!.id, T0, T0 + 60_000, "502"); // c2 waits for its retry
    expect(store.retryDead(first!.id, T0)).toBe(1);
    expect(claimAll(store).map((job) => (job.job as StatusJob).payload.commit)).toEqual(["c1"]); // the lowest id leads again
  });

  test("a head coalesced away hands over to the next job of its key", () => {
    const store = openStore();
    enqueue(store, [statusJob({ commit: "x", context: "a", orderingKey: "k" }), statusJob({ commit: "y", context: "b", orderingKey: "k" })]);
    enqueue(store, [statusJob({ commit: "x", context: "a", orderingKey: "other", state: "ReconciliationSucceeded" })]); // replaces the head of "k"
    expect(claimAll(store).map((job) => `${(job.job as StatusJob).payload.commit}/${job.job.orderingKey}`).sort()).toEqual(["x/other", "y/k"]);
  });

  test("thousands queued behind one head do not hold up another key of the same target", () => {
    const store = openStore();
    enqueue(store, Array.from({ length: 3_000 }, (_, n) => keyed(n, "supersede")));
    enqueue(store, [keyed(9_999, "status")]);
    expect(store.nextDueAt([])).toBe(T0);
    const claimed = claimAll(store);
    expect(claimed.map((job) => job.job.orderingKey).sort()).toEqual(["status", "supersede"]);
    expect(store.nextDueAt([])).toBeUndefined(); // both heads in flight; the rest waits for one to finish
  });
});
