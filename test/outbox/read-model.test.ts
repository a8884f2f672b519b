/**
 * The deployments read model through the real store and intake on a SQLite file: what a webhook records with its
 * jobs, a delivered notification, a dead job with its retry command, superseded commits, the change log and its
 * listeners (told only after a commit), pruning, and reading after a restart.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { planSupersededCommit } from "../../src/core/planner-superseded.ts";
import type { Change } from "../../src/outbox/read-model.ts";
import { createOutboxIntake } from "../../src/outbox/intake.ts";
import { promised } from "../../src/outbox/promised.ts";
import { createSqliteOutboxStore, type SqliteOutboxStore } from "../../src/outbox/store.ts";
import { translateFlux } from "../../src/operators/flux.ts";
import { githubInstance } from "../support/instances.ts";
import { readFileSync } from "node:fs";

const T0 = 1_700_000_000_000;
const COMMIT = "1197955e4244c18bdb9b375076bcb6ca05414672";
const FIXTURES = join(import.meta.dir, "..", "fixtures", "flux");
const fixture = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name), "utf8"));

const stores: SqliteOutboxStore[] = [];
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
});

function setup(path = join(mkdtempSync(join(tmpdir(), "read-model-")), "outbox.db")) {
  let now = T0;
  const store = createSqliteOutboxStore({ path, now: () => now });
  stores.push(store);
  const intake = createOutboxIntake({ store: promised(store), maxDepth: () => 10_000, now: () => now });
  const instance = githubInstance({ subscribers: {} });
  const send = async (file: string, commit = COMMIT) => {
    const event = fixture(file);
    const translation = translateFlux({ ...event, metadata: { ...event.metadata, revision: `main@sha1:${commit}` } }, instance.translation);
    if (translation.kind !== "observation") throw new Error(translation.kind);
    return intake.submit(instance.planning, translation.observation);
  };
  return { store, send, path, instance, tick: (ms: number) => (now += ms), now: () => now };
}

describe("the deployments read model", () => {
  test("a webhook records its commit and reconciler with its jobs; success and the delivered notification follow", async () => {
    const { store, send, tick } = setup();
    await send("kustomization-progressing.json");
    let [deployment] = store.reader.deployments({ limit: 10 });
    expect(deployment).toMatchObject({ instance: "apps-dev", commit: COMMIT, state: "progressing", firstSeen: T0, lastSeen: T0 });
    expect(deployment!.reconcilers).toEqual([expect.objectContaining({ reconciler: "Kustomization/flux-system/apps-dev", context: "kustomization/apps-dev", state: "progressing", reason: "Progressing" })]);
    expect(deployment!.pendingJobs).toBeGreaterThan(0);

    tick(5_000);
    const jobs = await send("kustomization-reconciliation-succeeded.json");
    [deployment] = store.reader.deployments({ limit: 10 });
    expect(deployment).toMatchObject({ state: "succeeded", firstSeen: T0, lastSeen: T0 + 5_000 });
    expect(deployment!.notification).toBeUndefined();

    // The worker delivers everything: the orchestrator job becomes the notification.
    const claimed = store.claimDue({ now: T0 + 10_000, limit: 100, excludeTargets: [] });
    for (const job of claimed) store.markDone(job.id, T0 + 10_000);
    const more = store.claimDue({ now: T0 + 10_000, limit: 100, excludeTargets: [] });
    for (const job of more) store.markDone(job.id, T0 + 10_000);
    expect(jobs.some((job) => job.kind === "orchestrator")).toBe(true);
    deployment = store.reader.deployment("apps-dev", COMMIT);
    expect(deployment).toMatchObject({ notification: { outcome: "succeeded", at: T0 + 10_000 }, pendingJobs: 0, deadJobs: [] });
  });

  test("a dead job shows on its commit with its error and the command that replays it", async () => {
    const { store, send } = setup();
    await send("kustomization-health-check-failed.json");
    const [job] = store.claimDue({ now: T0, limit: 1, excludeTargets: [] });
    store.markDead(job!.id, T0, "GitHub answered 404 Not Found for org/manifests: check gitHubOrgUrl");
    const deployment = store.reader.deployment("apps-dev", COMMIT)!;
    expect(deployment.state).toBe("failed");
    expect(deployment.deadJobs).toEqual([{ id: job!.id, kind: job!.job.kind, target: job!.job.target, state: "dead", attempts: 1, error: "GitHub answered 404 Not Found for org/manifests: check gitHubOrgUrl", retry: `gitops-connector outbox retry ${job!.id}` }]);
  });

  test("listeners hear each change after its transaction commits, never of one rolled back; changesSince resumes", async () => {
    const { store, send } = setup();
    const heard: Change[] = [];
    store.reader.onChange((change) => heard.push(change));
    await send("kustomization-progressing.json");
    expect(heard).toEqual([{ seq: 1, at: T0, kind: "deployment", instance: "apps-dev", commit: COMMIT }]);
    expect(() => store.submit("apps-dev", "f".repeat(40), () => { throw new Error("plan failed"); }, T0)).toThrow("plan failed");
    expect(heard.length).toBe(1);
    await send("kustomization-reconciliation-succeeded.json", "a".repeat(40));
    expect(store.reader.changesSince(1, 10).map((change) => change.commit)).toEqual(["a".repeat(40)]);
    expect(store.reader.lastChange()).toBe(2);
  });

  test("a superseded commit is shown as superseded by the one that contains it; a finished record is not overwritten", async () => {
    const { store, send, instance } = setup();
    const older = "b".repeat(40);
    const supersede = { commit: COMMIT, since: "0".repeat(40), outcome: "succeeded" as const, reconciler: "Kustomization/flux-system/apps-dev", operator: "FLUX" as const, genre: "Kustomization", notifyOrchestrator: false,
      statuses: [{ context: "kustomization/apps-dev", name: "Status", state: "ReconciliationSucceeded", description: "superseded" }] };
    store.submit("apps-dev", older, (known) => planSupersededCommit(older, supersede, instance.planning, known), T0);
    expect(store.reader.deployment("apps-dev", older)).toMatchObject({ state: "superseded", supersededBy: COMMIT });
    await send("kustomization-reconciliation-succeeded.json");
    store.submit("apps-dev", COMMIT, (known) => planSupersededCommit(COMMIT, { ...supersede, commit: "c".repeat(40) }, instance.planning, known), T0);
    expect(store.reader.deployment("apps-dev", COMMIT)?.state).toBe("succeeded");
  });

  test("newest first, filtered by instance and state, paged with before; pruned with the commits; kept across a restart", async () => {
    const { store, send, tick, path } = setup();
    const commits = ["1", "2", "3"].map((digit) => digit.repeat(40)) as [string, string, string];
    for (const commit of commits) {
      await send("kustomization-reconciliation-succeeded.json", commit);
      tick(1_000);
    }
    await send("kustomization-health-check-failed.json", commits[1]);
    const page = store.reader.deployments({ limit: 2 });
    expect(page.map((deployment) => deployment.commit)).toEqual([commits[2], commits[1]]);
    expect(store.reader.deployments({ limit: 2, before: page[1]!.firstSeen }).map((d) => d.commit)).toEqual([commits[0]]);
    expect(store.reader.deployments({ limit: 10, states: ["failed"] }).map((d) => d.commit)).toEqual([commits[1]]);
    expect(store.reader.deployments({ limit: 10, instances: ["other"] })).toEqual([]);

    store.close();
    stores.splice(0);
    const reopened = createSqliteOutboxStore({ path, now: () => T0 });
    stores.push(reopened);
    expect(reopened.reader.deployments({ limit: 10 }).length).toBe(3);
    reopened.prune(T0, T0 + 1_500); // commits last seen before T0 + 1.5 s go
    expect(reopened.reader.deployments({ limit: 10 }).map((d) => d.commit).sort()).toEqual([commits[1], commits[2]].sort());
  });

  test("promotions are recorded and listed", async () => {
    const { store } = setup();
    store.recordPromotion({ instance: "apps-dev", group: "apps", app: "web", env: "qa", tag: "2.0.0", state: "open", pullRequest: { number: 7, url: "https://github.com/org/manifests/pull/7" }, commit: COMMIT }, T0);
    store.recordPromotion({ instance: "apps-dev", group: "apps", app: "web", env: "qa", tag: "2.1.0", state: "open", pullRequest: { number: 8, url: "https://github.com/org/manifests/pull/8" } }, T0 + 1);
    expect(store.reader.promotions()).toEqual([{ instance: "apps-dev", group: "apps", app: "web", env: "qa", tag: "2.1.0", state: "open", pullRequest: { number: 8, url: "https://github.com/org/manifests/pull/8" }, at: new Date(T0 + 1).toISOString() }]);
  });
});

describe("group commit", () => {
  test("webhooks of one turn are stored together: the same commit twice is planned once; one that would overfill is refused alone", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "group-commit-")), "outbox.db");
    const store = createSqliteOutboxStore({ path, now: () => T0 });
    stores.push(store);
    let batches = 0;
    const port = promised(store);
    const counted = { ...port, submitBatch: (submits: Parameters<NonNullable<typeof port.submitBatch>>[0]) => (batches += 1, port.submitBatch!(submits)) };
    const intake = createOutboxIntake({ store: counted, maxDepth: () => 4, now: () => T0 });
    const instance = githubInstance({ subscribers: {} });
    const observe = (commit: string) => {
      const event = fixture("kustomization-reconciliation-succeeded.json");
      const translation = translateFlux({ ...event, metadata: { ...event.metadata, revision: `main@sha1:${commit}` } }, instance.translation);
      if (translation.kind !== "observation") throw new Error(translation.kind);
      return translation.observation;
    };
    const results = await Promise.allSettled([
      intake.submit(instance.planning, observe("a".repeat(40))),
      intake.submit(instance.planning, observe("a".repeat(40))),
      intake.submit(instance.planning, observe("b".repeat(40))),
      intake.submit(instance.planning, observe("c".repeat(40))),
    ]);
    expect(batches).toBe(1);
    const jobs = results.map((result) => (result.status === "fulfilled" ? result.value.length : (result.reason as Error).name));
    // a: its status and dispatch; a again, in the same transaction: nothing new (notify-once); b and c would each
    // add three (status, dispatch, the supersede of a) to the two left under maxDepth 4: refused, alone.
    expect(jobs).toEqual([2, 0, "IntakeFullError", "IntakeFullError"]);
    expect(await port.pendingDepth()).toBe(2);
    // Nothing of a refused webhook stays: no deployment row, and sent again with room it is planned in full.
    expect(store.reader.deployments({ limit: 10 }).map((d) => d.commit)).toEqual(["a".repeat(40)]);
    const again = createOutboxIntake({ store: counted, maxDepth: () => 100, now: () => T0 });
    expect((await again.submit(instance.planning, observe("b".repeat(40)))).length).toBe(3);
  });
});
